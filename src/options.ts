/**
 * Every option of WebSocketServer and of the client WebSocket: its default,
 * its type and range check, resolved in one place. `undefined` always means
 * "the default" (options are often passed through from a config object), a
 * wrong type throws a TypeError and an out-of-range number a RangeError
 * naming the option, so a careless value fails at construction instead of
 * turning into a NaN allocation or a 1 ms timer on a live connection.
 */

import { constants as bufferConstants } from 'node:buffer';
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type http from 'node:http';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import type https from 'node:https';
import { checkHeartbeatOptions, type HeartbeatOptions } from './heartbeat.ts';
import { DEFAULT_MAX_FRAGMENTS } from './protocol/parser.ts';
import type { PerMessageDeflateOptions } from './protocol/permessage-deflate.ts';
import type { TopicAdapter } from './adapters/interface.ts';
// Types only (erased): finishRequest's second argument.
import type { WebSocket } from './websocket.ts';

/** Defaults; see the README's limits table. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
export const DEFAULT_CLOSE_TIMEOUT = 30_000;
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
export const DEFAULT_MAX_HEADER_COUNT = 100;
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
export const DEFAULT_MAX_REDIRECTS = 10;
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

type Options = Record<string, unknown>;

function describe(value: unknown): string {
  return value === null ? 'null' : typeof value;
}

/** A boolean option; undefined gives the default. */
export function booleanOption(options: Options, name: string, fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`The "${name}" option must be a boolean, not ${describe(value)}`);
  return value;
}

/** A function option; undefined (or null, as ws's defaults are) gives undefined. */
export function functionOption<T extends (...args: never[]) => unknown>(options: Options, name: string): T | undefined {
  const value = options[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'function') throw new TypeError(`The "${name}" option must be a function, not ${describe(value)}`);
  return value as T;
}

/** A string option; undefined or null gives undefined. */
export function stringOption(options: Options, name: string): string | undefined {
  const value = options[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new TypeError(`The "${name}" option must be a string, not ${describe(value)}`);
  return value;
}

interface NumberRange {
  /** Smallest accepted value. */
  min: number;
  /** Largest accepted value; default no bound. */
  max?: number;
  integer?: boolean;
  /** 0 means "no limit" and resolves to this value instead. */
  zeroMeans?: number;
}

/** A number option, checked against `range`; undefined gives the default. */
export function numberOption(options: Options, name: string, fallback: number, range: NumberRange): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`The "${name}" option must be a number, not ${describe(value)}`);
  }
  if (range.integer !== false && !Number.isInteger(value)) throw new RangeError(`The "${name}" option must be an integer`);
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (value < range.min || value > max) {
    throw new RangeError(`The "${name}" option must be from ${range.min} to ${max}, not ${value}`);
  }
  if (value === 0 && range.zeroMeans !== undefined) return range.zeroMeans;
  return value;
}

/** Limits on messages, in bytes or counts: 0 means no limit, as in ws. */
function limitOption(options: Options, name: string, fallback: number, unlimited: number): number {
  return numberOption(options, name, fallback, { min: 0, max: unlimited, zeroMeans: unlimited });
}

/**
 * A timeout in milliseconds: at least 1, at most what setTimeout can wait
 * (longer values fire at once in Node).
 */
export function millisecondsOption(options: Options, name: string, fallback: number): number {
  return numberOption(options, name, fallback, { min: 1, max: 2 ** 31 - 1 });
}

/** The `perMessageDeflate` option: false when off, true or an object otherwise. */
export function deflateOption(options: Options, fallback: boolean): boolean | PerMessageDeflateOptions {
  const value = options.perMessageDeflate;
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`The "perMessageDeflate" option must be a boolean or an object, not ${describe(value)}`);
  }
  return value as PerMessageDeflateOptions;
}

export function resolveConnectionOptions(options: ConnectionOptions): ResolvedConnectionOptions {
  const raw = options as Options;
  const heartbeat = options.heartbeat ?? null;
  checkHeartbeatOptions(heartbeat ?? undefined);
  return {
    maxPayload: limitOption(raw, 'maxPayload', DEFAULT_MAX_PAYLOAD, MAX_MESSAGE_SIZE),
    closeTimeout: millisecondsOption(raw, 'closeTimeout', DEFAULT_CLOSE_TIMEOUT),
    maxFragments: limitOption(raw, 'maxFragments', DEFAULT_MAX_FRAGMENTS, Number.MAX_SAFE_INTEGER),
    maxBufferedChunks: limitOption(raw, 'maxBufferedChunks', DEFAULT_MAX_BUFFERED_CHUNKS, Number.MAX_SAFE_INTEGER),
    // 0 is "no limit" here too, and stays 0: the check is skipped.
    maxBufferedAmount: numberOption(raw, 'maxBufferedAmount', DEFAULT_MAX_BUFFERED_AMOUNT, { min: 0 }),
    maxPendingAutoPongs: limitOption(raw, 'maxPendingAutoPongs', DEFAULT_MAX_PENDING_AUTO_PONGS, Number.MAX_SAFE_INTEGER),
    highWaterMark: numberOption(raw, 'highWaterMark', DEFAULT_HIGH_WATER_MARK, { min: 0 }),
    maxStreamPayload: limitOption(raw, 'maxStreamPayload', DEFAULT_MAX_STREAM_PAYLOAD, Number.MAX_SAFE_INTEGER),
    heartbeat,
    autoPong: booleanOption(raw, 'autoPong', true),
    allowSynchronousEvents: booleanOption(raw, 'allowSynchronousEvents', true),
    skipUTF8Validation: booleanOption(raw, 'skipUTF8Validation', false),
    generateMask: functionOption<(mask: Buffer) => void>(raw, 'generateMask') ?? null,
  };
}

/** What a server needs of a request: node:http's IncomingMessage fits. */
export interface UpgradeRequest {
  method?: string;
  url?: string;
  httpVersion?: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders?: string[];
  socket?: Duplex;
}

export interface VerifyClientInfo {
  origin: string | undefined;
  secure: boolean;
  req: UpgradeRequest;
}

export type VerifyClientCallback = (
  result: boolean,
  code?: number,
  message?: string,
  headers?: Record<string, string | number | readonly string[]>,
) => void;

export interface ServerOptions extends ConnectionOptions {
  /** Listen on this port with netws' own node:net server. */
  port?: number;
  host?: string;
  backlog?: number;
  /** Take upgrades from this node:http or node:https server. */
  server?: EventEmitter;
  /** Take upgrades only through handleUpgrade(). */
  noServer?: boolean;
  /** Accept only this request path (the query string is ignored); others get 400, as in ws. */
  path?: string;
  /** Picks the subprotocol; default: the client's first. Return false for none. */
  handleProtocols?: (protocols: Set<string>, req: UpgradeRequest) => string | false;
  /** Accepts or rejects a handshake, synchronously (return) or with the callback. */
  verifyClient?:
    | ((info: VerifyClientInfo) => boolean)
    | ((info: VerifyClientInfo, callback: VerifyClientCallback) => void);
  /** Milliseconds for the whole opening handshake (request head and verifyClient); default 10 s. */
  handshakeTimeout?: number;
  /** Standalone only: largest request head in bytes; default 16 KiB. */
  maxHeaderSize?: number;
  /** Standalone only: most header lines; default 100. */
  maxHeaderCount?: number;
  /** Keep connected clients in `clients`; default true. */
  clientTracking?: boolean;
  /**
   * Accept permessage-deflate (RFC 7692) when a client offers it: `true`
   * for the defaults, or the settings. Default false: compression costs
   * memory and CPU per connection, so it is opt-in.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** The class of server-side connections: WebSocket or a subclass (as in ws). */
  WebSocket?: new (address: null, protocols?: undefined, options?: ServerOptions) => object;
  /**
   * Shares topics with other servers: publish() reaches their subscribers
   * too (netws/redis's RedisAdapter, or InProcessBus's adapters). Default
   * none: topics stay in this server. Can be changed later (`wss.adapter`).
   */
  adapter?: TopicAdapter | null;
}

export interface ResolvedServerOptions extends ResolvedConnectionOptions {
  port: number | undefined;
  host: string | undefined;
  backlog: number | undefined;
  server: EventEmitter | undefined;
  noServer: boolean;
  path: string | undefined;
  handleProtocols: ServerOptions['handleProtocols'];
  verifyClient: ServerOptions['verifyClient'];
  handshakeTimeout: number;
  maxHeaderSize: number;
  maxHeaderCount: number;
  clientTracking: boolean;
  perMessageDeflate: boolean | PerMessageDeflateOptions;
  adapter: TopicAdapter | null;
}

/**
 * The `adapter` option (and `wss.adapter = value`): an object with
 * TopicAdapter's methods, or null; undefined gives null.
 */
export function checkAdapter(value: unknown): TopicAdapter | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object') throw new TypeError(`An adapter must be an object, not ${describe(value)}`);
  for (const name of ['attach', 'detach', 'subscribe', 'unsubscribe', 'publish']) {
    if (typeof (value as Options)[name] !== 'function') {
      throw new TypeError(`An adapter must have a ${name}() method (see TopicAdapter)`);
    }
  }
  return value as TopicAdapter;
}

/** A port: a number 0-65535, or its decimal string (an environment variable passed on as it is). */
function portOption(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const port = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value;
  return numberOption({ port }, 'port', 0, { min: 0, max: 65_535 });
}

/**
 * A server's options with every default applied and every value checked.
 * Exactly one of `port`, `server` and `noServer` must be given (null and
 * undefined count as not given, as in ws).
 */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('WebSocketServer needs an options object');
  }
  const raw = options as Options;
  const port = portOption(raw.port);
  const server = (raw.server ?? undefined) as EventEmitter | undefined;
  const noServer = raw.noServer === null ? false : booleanOption(raw, 'noServer', false);
  const modes = Number(port !== undefined) + Number(server !== undefined) + Number(noServer);
  if (modes !== 1) {
    throw new TypeError('Exactly one of the "port", "server" and "noServer" options must be given');
  }
  if (server !== undefined && typeof server.on !== 'function') {
    throw new TypeError('The "server" option must be a node:http or node:https server');
  }
  return {
    ...resolveConnectionOptions(options),
    port,
    host: stringOption(raw, 'host'),
    backlog: raw.backlog === null ? undefined : numberOption(raw, 'backlog', 0, { min: 0 }) || undefined,
    server,
    noServer,
    path: stringOption(raw, 'path'),
    handleProtocols: functionOption(raw, 'handleProtocols'),
    verifyClient: functionOption(raw, 'verifyClient'),
    handshakeTimeout: millisecondsOption(raw, 'handshakeTimeout', DEFAULT_HANDSHAKE_TIMEOUT),
    maxHeaderSize: numberOption(raw, 'maxHeaderSize', DEFAULT_MAX_HEADER_SIZE, { min: 1 }),
    maxHeaderCount: numberOption(raw, 'maxHeaderCount', DEFAULT_MAX_HEADER_COUNT, { min: 1 }),
    clientTracking: booleanOption(raw, 'clientTracking', true),
    perMessageDeflate: deflateOption(raw, false),
    adapter: checkAdapter(raw.adapter),
  };
}

/**
 * node:http's request options (https.request's for wss:, TLS settings
 * included), passed through to http.request as ws does. The ones the
 * handshake decides itself are left out: the URL gives host, port, path and
 * socketPath, and the handshake has its own timeout.
 */
type HttpRequestOptions = Omit<
  https.RequestOptions,
  'headers' | 'timeout' | 'host' | 'hostname' | 'port' | 'path' | 'protocol' | 'socketPath' | 'method' | 'createConnection'
>;

/** Header values as users give them: a string, a number, or several values (one line each). */
export type ClientHeaderValue = string | number | readonly string[];

export interface ClientOptions extends ConnectionOptions, HttpRequestOptions {
  /** Subprotocols, when not given as the constructor's second argument. */
  protocols?: string | string[];
  /** Extra request headers: an array value sends one line per element; `Host` replaces the generated one. */
  headers?: Record<string, ClientHeaderValue>;
  /** The Origin header (Sec-WebSocket-Origin with protocolVersion 8); none by default. */
  origin?: string;
  /** The Sec-WebSocket-Version sent: 13 (default) or 8. */
  protocolVersion?: number;
  /** Milliseconds for each request of the opening handshake (a redirect starts a new one); default 10 s; 0 for none. */
  handshakeTimeout?: number;
  /** Largest response head accepted, in bytes (node:http's maxHeaderSize); default 16 KiB. */
  maxHeaderSize?: number;
  /** Follow a 3xx answer that has a Location header; default false. */
  followRedirects?: boolean;
  /** Most redirects followed in one handshake; default 10. */
  maxRedirects?: number;
  /**
   * Offer permessage-deflate (RFC 7692): `true` for the defaults, or the
   * settings; default true, as browsers do. Used only if the server accepts.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** An http.Agent (https.Agent for wss:) that opens the connection: a proxy tunnel, say; default none (a direct connection). */
  agent?: http.RequestOptions['agent'];
  /** "user:password" sent as Authorization: Basic (credentials in the URL do the same). */
  auth?: http.RequestOptions['auth'];
  /** Resolves the host name instead of dns.lookup. */
  lookup?: http.RequestOptions['lookup'];
  /** Local address to connect from. */
  localAddress?: string;
  /** 4 or 6 to force an address family for the host name lookup. */
  family?: number;
  /** Opens the transport (http.request's option): called with the request options, returns any Duplex. */
  createConnection?: (options: http.ClientRequestArgs, oncreate: (error: Error | null, socket: Duplex) => void) => Duplex | null | undefined;
  /** Called with the request and the WebSocket in place of `request.end()`, which it must call. */
  finishRequest?: (request: http.ClientRequest, websocket: WebSocket) => void;
  /**
   * Open the WebSocket as a stream of an HTTP/2 connection (RFC 8441) when
   * the server allows it, else over HTTP/1.1. `true`: for wss: URLs
   * without `agent` or `createConnection`, on a connection netws shares
   * among the WebSockets to the same origin (ALPN picks the protocol); a
   * ClientHttp2Session: on that session, which stays the caller's. Default
   * false.
   */
  http2?: boolean | ClientHttp2Session;
}

/** The client options the handshake reads, with every default applied. */
export interface ResolvedClientOptions {
  /** 0: no timeout. */
  handshakeTimeout: number;
  maxHeaderSize: number;
  followRedirects: boolean;
  maxRedirects: number;
  protocolVersion: 8 | 13;
  origin: string | undefined;
  /** Names and values as given, checked with node:http's rules. */
  headers: Array<[string, ClientHeaderValue]>;
  perMessageDeflate: boolean | PerMessageDeflateOptions;
  createConnection: ClientOptions['createConnection'];
  finishRequest: ClientOptions['finishRequest'];
  /** false: HTTP/1.1 only. */
  http2: boolean | ClientHttp2Session;
}

/** The `headers` option: a plain object whose names and values node:http would accept. */
function headersOption(options: Options): Array<[string, ClientHeaderValue]> {
  const value = options.headers;
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`The "headers" option must be an object, not ${Array.isArray(value) ? 'an array' : describe(value)}`);
  }
  const headers = Object.entries(value as Record<string, ClientHeaderValue>);
  for (const [name, header] of headers) {
    validateHeaderName(name);
    for (const one of Array.isArray(header) ? header : [header]) validateHeaderValue(name, one);
  }
  return headers;
}

/** The `http2` option: a boolean, or a session (anything with request() and remoteSettings, duck-typed). */
function http2Option(options: Options): boolean | ClientHttp2Session {
  const value = options.http2;
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  const session = value as Partial<ClientHttp2Session>;
  if (typeof value !== 'object' || typeof session.request !== 'function' || typeof session.ping !== 'function') {
    throw new TypeError(`The "http2" option must be a boolean or a ClientHttp2Session, not ${describe(value)}`);
  }
  return value as ClientHttp2Session;
}

/**
 * A client's handshake options with every default applied and every value
 * checked; ws's meanings (handshakeTimeout 0: none). The connection options
 * are resolveConnectionOptions's; everything else is node:http's and is
 * checked by http.request itself.
 */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const raw = options as Options;
  const protocolVersion = raw.protocolVersion;
  if (protocolVersion !== undefined && typeof protocolVersion !== 'number') {
    throw new TypeError(`The "protocolVersion" option must be a number, not ${describe(protocolVersion)}`);
  }
  if (protocolVersion !== undefined && protocolVersion !== 8 && protocolVersion !== 13) {
    throw new RangeError(`The "protocolVersion" option must be 8 or 13, not ${protocolVersion}`);
  }
  return {
    handshakeTimeout: numberOption(raw, 'handshakeTimeout', DEFAULT_HANDSHAKE_TIMEOUT, { min: 0, max: 2 ** 31 - 1 }),
    maxHeaderSize: numberOption(raw, 'maxHeaderSize', DEFAULT_MAX_HEADER_SIZE, { min: 1 }),
    followRedirects: booleanOption(raw, 'followRedirects', false),
    maxRedirects: numberOption(raw, 'maxRedirects', DEFAULT_MAX_REDIRECTS, { min: 0 }),
    protocolVersion: protocolVersion ?? 13,
    origin: stringOption(raw, 'origin'),
    headers: headersOption(raw),
    perMessageDeflate: deflateOption(raw, true),
    createConnection: functionOption(raw, 'createConnection'),
    finishRequest: functionOption(raw, 'finishRequest'),
    http2: http2Option(raw),
  };
}
