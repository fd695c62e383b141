/**
 * The options both ends share: the limits and behaviour of an open
 * connection, their defaults (the README's limits table) and their checks.
 * `undefined` always means "the default" (options are often passed through
 * from a config object).
 */

import { constants as bufferConstants } from 'node:buffer';
import { DEFAULT_MAX_FRAGMENTS } from '../protocol/parser.ts';
import { booleanOption, functionOption, limitOption, MAX_TIMER, millisecondsOption, numberOption, type Options } from './values.ts';

/** Defaults; see the README's limits table. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
export const DEFAULT_CLOSE_TIMEOUT = 30_000;
/** Bytes queued in user space (beyond what the kernel took) before a connection is failed with 1008. */
export const DEFAULT_MAX_BUFFERED_AMOUNT = 64 * 1024 * 1024;
export { DEFAULT_MAX_FRAGMENTS };
/**
 * Received chunks held by one connection's parser. By design the parser
 * holds only what one frame header or control frame needs (at most 139
 * one-byte chunks), so the default never triggers; it exists because ws has
 * the option.
 */
export const DEFAULT_MAX_BUFFERED_CHUNKS = 262_144;
/**
 * Automatic pongs not yet written: a peer that pings without reading our
 * answers would otherwise grow our send buffer for free.
 */
export const DEFAULT_MAX_PENDING_AUTO_PONGS = 128;
/**
 * Bytes past which send() returns false and the message iterator stops
 * reading: Node 22's stream default, large enough that a 16 KiB socket
 * write never waits on it, small next to maxBufferedAmount.
 */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/**
 * Largest message received as a stream (`ws.messages({ stream: true })`):
 * nothing of it is held, so memory does not bound it, only what a reader
 * may be made to write somewhere; a default that careless code cannot
 * leave open-ended.
 */
export const DEFAULT_MAX_STREAM_PAYLOAD = 4 * 1024 * 1024 * 1024;

/**
 * The largest message a Buffer can hold: "no limit" (0, as in ws) still
 * stops here, with close 1009, instead of failing the allocation.
 */
export const MAX_MESSAGE_SIZE = bufferConstants.MAX_LENGTH;

export interface HeartbeatOptions {
  /** Milliseconds between pings. */
  interval: number;
  /** Milliseconds to wait, after a ping, for anything from the peer before the connection is destroyed. */
  timeout: number;
}

/** Options both ends share: limits and behaviour of an open connection. */
export interface ConnectionOptions {
  /** Largest message accepted, in bytes; default 64 MiB; 0 for no limit (as in ws). More → close 1009. */
  maxPayload?: number;
  /** Milliseconds to wait for the closing handshake before destroying the socket; default 30 s. */
  closeTimeout?: number;
  /** Most frames in one received message; default 131,072; 0 for no limit. More → close 1009. */
  maxFragments?: number;
  /** Most received chunks buffered at once by the parser; default 262,144; 0 for no limit. More → close 1008. */
  maxBufferedChunks?: number;
  /** Bytes that may wait to be sent; default 64 MiB. More → close 1008. */
  maxBufferedAmount?: number;
  /** Automatic pongs not yet written; default 128; 0 for no limit. More → close 1008. */
  maxPendingAutoPongs?: number;
  /**
   * Bytes of flow control, as in Node streams; default 64 KiB. Sending:
   * send() returns false once `bufferedAmount` reaches it, and 'drain'
   * follows when everything was handed to the kernel. Receiving: messages
   * an iterator or a WebSocketStream has not pulled stay within it (the
   * socket is not read past it). `maxBufferedAmount` stays the hard cap.
   */
  highWaterMark?: number;
  /**
   * Largest message received as a stream (`ws.messages({ stream: true })`),
   * inflated size with compression; default 4 GiB; 0 for no limit (2^53 - 1).
   * More → close 1009. `maxPayload` applies to messages received whole.
   */
  maxStreamPayload?: number;
  /** Ping every `interval` ms, destroy the connection if silent for `timeout` ms; default off. */
  heartbeat?: HeartbeatOptions;
  /** Answer pings with pongs automatically; default true. */
  autoPong?: boolean;
  /**
   * Whether several 'message', 'ping' and 'pong' events may be emitted in one
   * tick; default true. False emits at most one per macrotask (setImmediate),
   * as browsers do, at some cost in throughput.
   */
  allowSynchronousEvents?: boolean;
  /** Do not check that text messages and close reasons are UTF-8; default false. Only for trusted peers. */
  skipUTF8Validation?: boolean;
  /**
   * Client only: fills the 4-byte masking key of each frame we send
   * (synchronously); default: cryptographically random keys. For tests and
   * benchmarks; a predictable mask weakens RFC 6455's proxy protection.
   */
  generateMask?: (mask: Buffer) => void;
}

/** ConnectionOptions with every default applied. */
export interface ResolvedConnectionOptions {
  maxPayload: number;
  closeTimeout: number;
  maxFragments: number;
  maxBufferedChunks: number;
  maxBufferedAmount: number;
  maxPendingAutoPongs: number;
  highWaterMark: number;
  maxStreamPayload: number;
  heartbeat: HeartbeatOptions | null;
  autoPong: boolean;
  allowSynchronousEvents: boolean;
  skipUTF8Validation: boolean;
  generateMask: ((mask: Buffer) => void) | null;
}

/** The `heartbeat` option: an object whose interval and timeout would neither ping in a busy loop nor never time out. */
function heartbeatOption(options: Options): HeartbeatOptions | null {
  const value = options.heartbeat;
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object') throw new TypeError('The "heartbeat" option must be an object { interval, timeout }');
  for (const name of ['interval', 'timeout'] as const) {
    const field = (value as Options)[name];
    if (typeof field !== 'number' || Number.isNaN(field)) throw new TypeError(`heartbeat.${name} must be a number of milliseconds`);
    if (!(field >= 1 && field <= MAX_TIMER)) throw new RangeError(`heartbeat.${name} must be from 1 to ${MAX_TIMER} milliseconds`);
  }
  return value as HeartbeatOptions;
}

/** The `highWaterMark` option (of the connection, or of one messages() call). */
export function highWaterMarkOption(options: Options, fallback: number): number {
  return numberOption(options, 'highWaterMark', fallback, { min: 0 });
}

export function resolveConnectionOptions(options: ConnectionOptions): ResolvedConnectionOptions {
  const raw = options as Options;
  return {
    maxPayload: limitOption(raw, 'maxPayload', DEFAULT_MAX_PAYLOAD, MAX_MESSAGE_SIZE),
    closeTimeout: millisecondsOption(raw, 'closeTimeout', DEFAULT_CLOSE_TIMEOUT),
    maxFragments: limitOption(raw, 'maxFragments', DEFAULT_MAX_FRAGMENTS, Number.MAX_SAFE_INTEGER),
    maxBufferedChunks: limitOption(raw, 'maxBufferedChunks', DEFAULT_MAX_BUFFERED_CHUNKS, Number.MAX_SAFE_INTEGER),
    // 0 is "no limit" here too, and stays 0: the check is skipped.
    maxBufferedAmount: numberOption(raw, 'maxBufferedAmount', DEFAULT_MAX_BUFFERED_AMOUNT, { min: 0 }),
    maxPendingAutoPongs: limitOption(raw, 'maxPendingAutoPongs', DEFAULT_MAX_PENDING_AUTO_PONGS, Number.MAX_SAFE_INTEGER),
    highWaterMark: highWaterMarkOption(raw, DEFAULT_HIGH_WATER_MARK),
    maxStreamPayload: limitOption(raw, 'maxStreamPayload', DEFAULT_MAX_STREAM_PAYLOAD, Number.MAX_SAFE_INTEGER),
    heartbeat: heartbeatOption(raw),
    autoPong: booleanOption(raw, 'autoPong', true),
    allowSynchronousEvents: booleanOption(raw, 'allowSynchronousEvents', true),
    skipUTF8Validation: booleanOption(raw, 'skipUTF8Validation', false),
    generateMask: functionOption<(mask: Buffer) => void>(raw, 'generateMask') ?? null,
  };
}
