/** Shared test tools: frame builders, loopback listeners, event waits. */

import { once } from 'node:events';
import net from 'node:net';
import { writeHeader, headerSize } from '../src/protocol/frame.ts';
import { applyMask } from '../src/protocol/mask.ts';
import { WebSocket, WebSocketServer } from '../src/index.ts';

export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  rsv?: number; // bits 0x4 (rsv1), 0x2 (rsv2), 0x1 (rsv3)
  mask?: boolean;
  /** Force the 7-bit length field (to build invalid frames). */
  length7?: number;
  key?: Buffer;
}

/** Builds one frame as a peer would send it (masked unless mask: false). */
export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const masked = spec.mask ?? true;
  const key = spec.key ?? Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const size = headerSize(payload.length, masked);
  const out = Buffer.alloc(size + payload.length);
  writeHeader(out, 0, spec.opcode, spec.fin ?? true, false, payload.length, masked ? key : null);
  out[0] |= (spec.rsv ?? 0) << 4;
  if (spec.length7 !== undefined) out[1] = (out[1] & 0x80) | spec.length7;
  payload.copy(out, size);
  if (masked) applyMask(out.subarray(size), key);
  return out;
}

export const text = (payload: string | Buffer, options: Partial<FrameSpec> = {}): Buffer => frame({ opcode: 1, payload, ...options });
export const binary = (payload: Buffer, options: Partial<FrameSpec> = {}): Buffer => frame({ opcode: 2, payload, ...options });

export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

/** Unmasked frames as a server sends them, decoded for assertions. */
export interface DecodedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Decodes a byte stream of complete frames (unmasking if needed). */
export function decodeFrames(data: Buffer): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let offset = 0;
  while (offset < data.length) {
    const b0 = data[offset];
    const b1 = data[offset + 1];
    let length = b1 & 0x7f;
    let pos = offset + 2;
    if (length === 126) {
      length = data.readUInt16BE(pos);
      pos += 2;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(pos));
      pos += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Buffer | null = null;
    if (masked) {
      key = data.subarray(pos, pos + 4);
      pos += 4;
    }
    const payload = Buffer.from(data.subarray(pos, pos + length));
    if (key) applyMask(payload, key);
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0xf, masked, payload });
    offset = pos + length;
  }
  return frames;
}

export function portOf(server: { address(): unknown }): number {
  return (server.address() as net.AddressInfo).port;
}

/**
 * Resolves with the args of the next `event`, or rejects after `ms`. Unlike
 * events.once, an 'error' event does not reject (tests wait for errors too).
 */
export function waitFor<T extends unknown[] = unknown[]>(emitter: NodeJS.EventEmitter, event: string, ms = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, listener);
      reject(new Error(`timed out after ${ms} ms waiting for '${event}'`));
    }, ms);
    function listener(...args: unknown[]): void {
      clearTimeout(timer);
      resolve(args as T);
    }
    emitter.once(event, listener);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw TCP connection collecting everything the peer sends until it closes. */
export async function rawConnect(port: number): Promise<{ socket: net.Socket; received: () => Buffer; closed: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await once(socket, 'connect');
  return { socket, received: () => Buffer.concat(chunks), closed };
}

export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export function upgradeRequest(path = '/', extra: string[] = [], key = SAMPLE_KEY): string {
  return [
    `GET ${path} HTTP/1.1`,
    'Host: localhost',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    ...extra,
    '',
    '',
  ].join('\r\n');
}

/**
 * A predicate for uvu's assert.throws: passing an error class directly checks
 * nothing there (it is called as a function and always returns truthy).
 */
export function isError(type: new (...args: never[]) => Error): (error: unknown) => boolean {
  return (error) => error instanceof type;
}

/** A predicate for assert.throws: a DOMException named `name` (SyntaxError, InvalidAccessError, ...). */
export function isDOMException(name: string): (error: unknown) => boolean {
  return (error) => error instanceof DOMException && error.name === name;
}

/** A netws server and a connected netws client, with the server side of the connection. */
export async function pair(serverOptions: Record<string, unknown> = {}, clientOptions: Record<string, unknown> = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...serverOptions });
  await waitFor(wss, 'listening');
  const serverSide = waitFor<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`, clientOptions);
  await waitFor(client, 'open');
  const [server] = await serverSide;
  const stop = async () => {
    for (const ws of wss.clients) ws.terminate();
    client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
  return { wss, client, server, stop };
}

/** Resolves once `condition()` holds (checked every 5 ms); rejects after `ms` with what was awaited. */
export async function until(condition: () => boolean, ms = 2000, what = 'a condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
