/**
 * The neutral load generator for compressed traffic: raw node:net clients
 * that use neither netws nor ws. Each connection offers permessage-deflate
 * (with or without context takeover), then replays ONE pre-compressed,
 * pre-masked JSON text frame: a frame compressed on its own references
 * nothing before it, so it is valid under context takeover too, and the
 * generator does no compressing, masking or inflating while it runs. It
 * counts the server's (compressed) echoes by their frame headers.
 */

import net from 'node:net';
import zlib from 'node:zlib';
import { FrameCounter } from './frame-counter.ts';
import { closeAll, maskedFrame, openMany } from './load-generator.ts';

const HEAD_END = Buffer.from('\r\n\r\n');

/** What the client offers: the same for netws and ws, so both negotiate the same parameters. */
export const OFFERS = {
  /** No context takeover either way: every message compressed on its own (netws's default). */
  fresh: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  /** Context takeover both ways (ws's default). */
  takeover: 'permessage-deflate',
} as const;
export type DeflateMode = keyof typeof OFFERS;

/** JSON-like text of `size` bytes: chat-message objects, as most compressed WebSocket traffic is. */
export function jsonText(size: number): Buffer {
  let text = '[';
  for (let i = 0; text.length < size; i++) {
    text +=
      JSON.stringify({
        id: i,
        room: `room-${i % 17}`,
        user: `user${i % 97}`,
        text: `message number ${i} in the room`,
        ts: 1_700_000_000_000 + i * 37,
      }) + ',';
  }
  return Buffer.from(text.slice(0, size));
}

/** One masked text frame with RSV1 set: `payload` deflated on its own (RFC 7692 7.2.1), as a client sends it. */
export function compressedFrame(payload: Buffer): Buffer {
  const deflated = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return maskedFrame(1, deflated.subarray(0, deflated.length - 4), true);
}

/** Opens a connection offering `mode`; resolves once the 101 (with permessage-deflate) arrived. */
export function openDeflateConnection(port: number, mode: DeflateMode, onData: (chunk: Buffer) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let head: Buffer = Buffer.alloc(0);
    const onHead = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end === -1) return;
      socket.removeListener('data', onHead);
      socket.removeListener('error', reject);
      const text = head.subarray(0, end).toString('latin1');
      if (!text.startsWith('HTTP/1.1 101') || !/permessage-deflate/i.test(text)) {
        socket.destroy();
        reject(new Error(`no permessage-deflate: ${text}`));
        return;
      }
      socket.on('error', () => {});
      socket.on('data', onData);
      if (head.length > end + 4) onData(head.subarray(end + 4));
      resolve(socket);
    };
    socket.on('data', onHead);
    socket.once('error', reject);
    socket.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: ${OFFERS[mode]}\r\n\r\n`,
    );
  });
}

export function openDeflateConnections(
  port: number,
  mode: DeflateMode,
  count: number,
  onData: (index: number, chunk: Buffer) => void,
): Promise<net.Socket[]> {
  return openMany(count, 256, (index) => openDeflateConnection(port, mode, (chunk) => onData(index, chunk)));
}

export interface DeflateEchoOptions {
  port: number;
  mode: DeflateMode;
  size: number;
  /** The message (default: JSON-like text of `size` bytes). */
  payload?: Buffer;
  connections: number;
  /** Frames in flight per connection. */
  window: number;
  warmupMs: number;
  measureMs: number;
}

/** Echo of compressed messages: messages echoed per second in the measured interval. */
export async function runDeflateEcho(options: DeflateEchoOptions): Promise<number> {
  const frame = compressedFrame(options.payload ?? jsonText(options.size));
  const burst = Buffer.concat(Array.from({ length: options.window }, () => frame));
  const counters = Array.from({ length: options.connections }, () => new FrameCounter());
  let running = true;
  let counted = 0;
  const sockets = await openDeflateConnections(options.port, options.mode, options.connections, (index, chunk) => {
    const fresh = counters[index].push(chunk);
    if (fresh === 0) return;
    counted += fresh;
    // Refill the window: one write per batch of echoes, as a fast client would.
    if (running) sockets[index].write(fresh === options.window ? burst : burst.subarray(0, fresh * frame.length));
  });
  for (const socket of sockets) socket.write(burst);
  await sleep(options.warmupMs);
  const startCount = counted;
  const start = process.hrtime.bigint();
  await sleep(options.measureMs);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const messages = counted - startCount;
  running = false;
  await closeAll(sockets);
  return messages / seconds;
}

export interface FixedRateOptions {
  port: number;
  mode: DeflateMode;
  size: number;
  connections: number;
  /** Messages per second, all connections together. */
  rate: number;
  durationMs: number;
}

/**
 * Sends compressed messages at a fixed rate (round-robin over the
 * connections, every 10 ms) and returns how many were echoed: the server's
 * CPU time over that span, read by the caller, gives CPU per message.
 */
export async function runFixedRate(options: FixedRateOptions, during: () => Promise<void>): Promise<{ sent: number; echoed: number }> {
  const frame = compressedFrame(jsonText(options.size));
  const counters = Array.from({ length: options.connections }, () => new FrameCounter());
  let echoed = 0;
  const sockets = await openDeflateConnections(options.port, options.mode, options.connections, (index, chunk) => {
    echoed += counters[index].push(chunk);
  });
  let sent = 0;
  let next = 0;
  const started = Date.now();
  const tick = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * options.rate);
    while (sent < due) {
      sockets[next].write(frame);
      next = (next + 1) % sockets.length;
      sent++;
    }
  }, 10);
  await during();
  clearInterval(tick);
  // The last echoes.
  const deadline = Date.now() + 2000;
  while (echoed < sent && Date.now() < deadline) await sleep(10);
  await closeAll(sockets);
  return { sent, echoed };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
