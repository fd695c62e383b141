/**
 * Raw peers for the differential tests: a TCP client that sends exact bytes
 * to a server and records exactly what comes back, and a TCP server that
 * records exactly what a client sends and answers with canned bytes. Frames
 * are encoded and decoded here, independently of src/, so the reference the
 * two libraries are measured against does not depend on the code under test.
 */

import { createHash } from 'node:crypto';
import net from 'node:net';
import zlib from 'node:zlib';

export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A fixed Sec-WebSocket-Key, so a server's whole 101 answer is deterministic. */
export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** A fixed masking key for frames the raw client sends. */
export const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

export const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;
const OP_NAMES: Record<number, string> = { 0: 'cont', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** A masking key, or null for an unmasked frame (as a server sends). Default: MASK. */
  mask?: Buffer | null;
  /** Announce this payload length instead of the real one (for truncated or huge frames). */
  length?: number;
}

/** One frame's bytes. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const mask = spec.mask === undefined ? MASK : spec.mask;
  const length = spec.length ?? payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
  head[0] = (spec.fin === false ? 0 : 0x80) | (spec.rsv1 ? 0x40 : 0) | (spec.rsv2 ? 0x20 : 0) | (spec.rsv3 ? 0x10 : 0) | spec.opcode;
  if (lengthBytes === 0) head[1] = length;
  else if (lengthBytes === 2) {
    head[1] = 126;
    head.writeUInt16BE(length, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  let body = payload;
  if (mask) {
    head[1] |= 0x80;
    mask.copy(head, 2 + lengthBytes);
    body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  }
  return Buffer.concat([head, body]);
}

export const textFrame = (payload: string | Buffer, spec: Partial<FrameSpec> = {}): Buffer =>
  encodeFrame({ opcode: OP.text, payload, ...spec });
export const binaryFrame = (payload: Buffer, spec: Partial<FrameSpec> = {}): Buffer => encodeFrame({ opcode: OP.binary, payload, ...spec });
export const closeFrame = (code?: number, reason = '', spec: Partial<FrameSpec> = {}): Buffer =>
  encodeFrame({ opcode: OP.close, payload: code === undefined ? Buffer.alloc(0) : closePayload(code, reason), ...spec });

export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

export interface Frame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  /** The masking key, or null for an unmasked frame. */
  mask: Buffer | null;
  /** Unmasked payload. */
  payload: Buffer;
  /** The frame's bytes exactly as received. */
  raw: Buffer;
}

/** Decodes the complete frames at the start of `data`; returns them and how many bytes they took. */
export function decodeFrames(data: Buffer): { frames: Frame[]; used: number } {
  const frames: Frame[] = [];
  let offset = 0;
  while (data.length - offset >= 2) {
    const b0 = data[offset];
    const b1 = data[offset + 1];
    let length = b1 & 0x7f;
    let pos = offset + 2;
    if (length === 126) {
      if (data.length < pos + 2) break;
      length = data.readUInt16BE(pos);
      pos += 2;
    } else if (length === 127) {
      if (data.length < pos + 8) break;
      length = Number(data.readBigUInt64BE(pos));
      pos += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    if (data.length < pos + (masked ? 4 : 0) + length) break;
    let mask: Buffer | null = null;
    if (masked) {
      mask = Buffer.from(data.subarray(pos, pos + 4));
      pos += 4;
    }
    const payload = Buffer.from(data.subarray(pos, pos + length));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      mask,
      payload,
      raw: Buffer.from(data.subarray(offset, pos + length)),
    });
    offset = pos + length;
  }
  return { frames, used: offset };
}

/** Bytes as readable text when printable ASCII, else hex; long ones by length and digest. */
export function bytes(data: Uint8Array): string {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buffer.length > 200) return `${buffer.length} bytes sha1:${createHash('sha1').update(buffer).digest('hex').slice(0, 12)}`;
  if (buffer.length === 0) return '""';
  let printable = true;
  for (const byte of buffer) if (byte < 0x20 || byte > 0x7e) printable = false;
  return printable ? JSON.stringify(buffer.toString('latin1')) : `hex:${buffer.toString('hex')}`;
}

/**
 * A frame in one line, e.g. `text "hi"`, `binary(more) rsv1 hex:0102`,
 * `close 1000 "bye"`. The masking key is left out (it is random unless a
 * test fixes it; see `Frame.raw` for the exact bytes).
 */
export function describeFrame(frame: Frame, inflate?: (payload: Buffer) => Buffer): string {
  const flags = [
    frame.fin ? '' : '(more)',
    frame.rsv1 ? ' rsv1' : '',
    frame.rsv2 ? ' rsv2' : '',
    frame.rsv3 ? ' rsv3' : '',
    frame.mask ? ' masked' : '',
  ].join('');
  const name = OP_NAMES[frame.opcode] ?? `op${frame.opcode}`;
  let payload = frame.payload;
  if (frame.rsv1 && inflate) payload = inflate(payload);
  if (frame.opcode === OP.close && payload.length >= 2) {
    return `${name}${flags} ${payload.readUInt16BE(0)} ${bytes(payload.subarray(2))}`;
  }
  return `${name}${flags} ${bytes(payload)}`;
}

/**
 * An inflater for the messages of one direction of a permessage-deflate
 * connection, in order. It keeps what it inflated as the dictionary of the
 * next message, so messages compressed with context takeover read too (and
 * those compressed without it do not look at the dictionary).
 */
export function inflater(): (payload: Buffer) => Buffer {
  let history = Buffer.alloc(0);
  return (payload) => {
    const input = Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]);
    const options: zlib.ZlibOptions = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
    if (history.length > 0) options.dictionary = history.subarray(-32768);
    const out = zlib.inflateRawSync(input, options);
    history = Buffer.concat([history, out]).subarray(-32768);
    return out;
  };
}

export interface HttpHead {
  /** Request or status line. */
  start: string;
  /** Header fields in the order received, names as sent. */
  headers: Array<[string, string]>;
  /** The body, when the head announced a Content-Length. */
  body: string;
}

/** Header lines that legitimately vary from run to run and are left out of comparisons. */
const VARYING_HEADERS = new Set(['date']);

/**
 * A head in a comparable form: the start line, the header fields as
 * `name: value` with lowercase names, and the body. The Date header is
 * dropped (it varies); `replace` rewrites values that vary from run to run
 * (a random key, a port). Fields are sorted by name, stably: the order of
 * fields with different names carries no meaning in HTTP (RFC 9110 5.3),
 * the relative order of repeated ones does and is kept.
 */
export function headShape(head: HttpHead, replace: Array<[string, string]> = []): { start: string; headers: string[]; body: string } {
  const fix = (text: string): string => {
    for (const [from, to] of replace) text = text.split(from).join(to);
    return text;
  };
  const fields = head.headers
    .filter(([name]) => !VARYING_HEADERS.has(name.toLowerCase()))
    .map(([name, value]) => [name.toLowerCase(), fix(value)] as const);
  fields.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { start: fix(head.start), headers: fields.map(([name, value]) => `${name}: ${value}`), body: fix(head.body) };
}

/** How a server's refusal is compared: see refusalShape. */
export type RefusalBody = 'generated' | 'user';

/**
 * A server's refusal (any answer but 101) in the form compared between the
 * libraries: headShape without Content-Type and Content-Length, and a body
 * the library wrote itself shown as '(generated)' ('' when there is none).
 * A decided difference (issue 11; DIFFERENCES.md, "refusal answers"): netws
 * answers `text/plain; charset=utf-8` in its own words, ws `text/html` in
 * its own, so refusals compare by status, the other header fields (the
 * ones a user supplies among them) and a body the user supplied
 * (`body: 'user'`, verifyClient's message), which is kept as it is.
 * Answers written by user code (an http handler, a wsClientError listener)
 * are compared whole, with headShape.
 */
export function refusalShape(head: HttpHead, body: RefusalBody = 'generated'): ReturnType<typeof headShape> {
  const shape = headShape(head);
  if (head.start.includes(' 101 ')) return shape;
  shape.headers = shape.headers.filter((field) => !field.startsWith('content-type:') && !field.startsWith('content-length:'));
  if (body === 'generated' && shape.body !== '') shape.body = '(generated)';
  return shape;
}

export function headerValue(head: HttpHead, name: string): string | undefined {
  return head.headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

export function headerValues(head: HttpHead, name: string): string[] {
  return head.headers.filter(([key]) => key.toLowerCase() === name.toLowerCase()).map(([, value]) => value);
}

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/**
 * One raw TCP connection, either end: everything received is kept, and
 * readers wait (with a timeout) for a head, frames, or the end.
 */
export class RawSocket {
  readonly socket: net.Socket;
  /** Every byte received, in order. */
  received: Buffer = Buffer.alloc(0);
  /** Bytes already consumed by readHead()/readFrames(). */
  private consumed = 0;
  ended = false;
  closed = false;
  private readonly waiters = new Set<() => void>();

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('connect', () => this.wake());
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawSocket> {
    const socket = net.connect(port, host);
    const raw = new RawSocket(socket);
    await raw.until(() => socket.readyState === 'open' || raw.closed, 2000, 'connect');
    if (raw.closed) throw new Error(`could not connect to ${host}:${port}`);
    return raw;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves once `done()` holds, checked on every event; rejects after `ms`. */
  until(done: () => boolean, ms: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        if (!done()) return;
        this.waiters.delete(waiter);
        realClearTimeout(timer);
        resolve();
      };
      const timer = realSetTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`raw socket: timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      this.waiters.add(waiter);
    });
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Bytes not consumed yet. */
  get rest(): Buffer {
    return this.received.subarray(this.consumed);
  }

  /**
   * Reads one HTTP head (and its Content-Length body, if any). Rejects if
   * the connection ends first or after `ms`.
   */
  async readHead(ms = 1000): Promise<HttpHead> {
    let head: HttpHead | null = null;
    await this.until(
      () => {
        head = this.tryHead();
        return head !== null || this.closed;
      },
      ms,
      'an HTTP head',
    );
    if (head === null) throw new Error(`raw socket: closed before a complete HTTP head (got ${bytes(this.rest)})`);
    return head;
  }

  private tryHead(): HttpHead | null {
    const rest = this.rest;
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) return null;
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
    }
    const lengthHeader = headers.find(([name]) => name.toLowerCase() === 'content-length');
    const length = lengthHeader ? Number(lengthHeader[1]) : 0;
    if (rest.length < end + 4 + length) {
      // A body cut short by the close is returned as it is.
      if (!this.closed) return null;
    }
    const body = rest.subarray(end + 4, end + 4 + length).toString('latin1');
    this.consumed += Math.min(rest.length, end + 4 + length);
    return { start: lines[0], headers, body };
  }

  /** Waits for `count` complete frames after what was consumed, and consumes them. */
  async readFrames(count: number, ms = 1000): Promise<Frame[]> {
    await this.until(() => decodeFrames(this.rest).frames.length >= count || this.closed, ms, `${count} frame(s)`);
    const { frames } = decodeFrames(this.rest);
    const taken = frames.slice(0, count);
    for (const frame of taken) this.consumed += frame.raw.length;
    if (taken.length < count) {
      throw new Error(`raw socket: closed after ${taken.length} of ${count} frames (${taken.map((f) => describeFrame(f)).join(', ')})`);
    }
    return taken;
  }

  /** Every complete frame received so far (and not consumed), consumed. */
  takeFrames(): Frame[] {
    const { frames, used } = decodeFrames(this.rest);
    this.consumed += used;
    return frames;
  }

  /** Waits until the peer has closed the connection; returns whether it did within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    try {
      await this.until(() => this.closed || this.ended, ms, 'the end of the connection');
      return true;
    } catch {
      return false;
    }
  }

  /** Frames until the peer ends the connection (or `ms` passes), described. */
  async framesUntilEnd(ms = 2000, inflate?: (payload: Buffer) => Buffer): Promise<string[]> {
    await this.closedWithin(ms);
    return this.takeFrames().map((frame) => describeFrame(frame, inflate));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A request the raw client sends to upgrade. */
export function upgradeRequest(options: { path?: string; key?: string; version?: string; headers?: string[]; host?: string } = {}): string {
  return [
    `GET ${options.path ?? '/'} HTTP/1.1`,
    `Host: ${options.host ?? '127.0.0.1'}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${options.key ?? KEY}`,
    `Sec-WebSocket-Version: ${options.version ?? '13'}`,
    ...(options.headers ?? []),
    '',
    '',
  ].join('\r\n');
}

/** The 101 answer a raw server gives to a client's request head. */
export function switchingProtocols(request: HttpHead, extra: string[] = []): string {
  const key = headerValue(request, 'sec-websocket-key') ?? '';
  return [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptFor(key)}`,
    ...extra,
    '',
    '',
  ].join('\r\n');
}

/** A raw TCP server: each accepted connection is a RawSocket, in order. */
export class RawServer {
  readonly server: net.Server;
  readonly connections: RawSocket[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(server: net.Server) {
    this.server = server;
    server.on('connection', (socket) => {
      this.connections.push(new RawSocket(socket));
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  static async listen(): Promise<RawServer> {
    const server = net.createServer();
    const raw = new RawServer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return raw;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The `index`th connection (0-based), waiting for it up to `ms`. */
  connection(index = 0, ms = 2000): Promise<RawSocket> {
    if (this.connections.length > index) return Promise.resolve(this.connections[index]);
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        if (this.connections.length <= index) return;
        this.waiters.delete(waiter);
        realClearTimeout(timer);
        resolve(this.connections[index]);
      };
      const timer = realSetTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`raw server: timed out after ${ms} ms waiting for connection ${index}`));
      }, ms);
      this.waiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
