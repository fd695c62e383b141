/**
 * The neutral load generator: raw node:net clients that use neither netws
 * nor ws. Each connection performs the opening handshake itself, then keeps
 * a window of pre-masked binary frames in flight and counts echoed bytes.
 * Echoed frames all have the same size, so counting bytes counts frames; the
 * generator does no parsing and no masking while it runs.
 */

import net from 'node:net';
import { headerSize, writeHeader } from '../src/protocol/frame.ts';
import { applyMask } from '../src/protocol/mask.ts';

const KEY = Buffer.from([0x1f, 0x2e, 0x3d, 0x4c]);
const REQUEST = Buffer.from(
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
);
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Opens a connection and completes the handshake (status 101 checked).
 * `onFrameBytes` then receives every byte after the response head.
 */
export function openConnection(port: number, onFrameBytes: (bytes: number) => void): Promise<net.Socket> {
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
      if (!head.subarray(0, 12).equals(Buffer.from('HTTP/1.1 101'))) {
        socket.destroy();
        reject(new Error(`handshake refused: ${head.subarray(0, end).toString('latin1')}`));
        return;
      }
      socket.on('error', () => {});
      socket.on('data', (data: Buffer) => onFrameBytes(data.length));
      const rest = head.length - end - 4;
      if (rest > 0) onFrameBytes(rest);
      resolve(socket);
    };
    socket.on('data', onHead);
    socket.once('error', reject);
    socket.write(REQUEST);
  });
}

/** Opens `count` sockets with `open`, at most `parallel` handshakes under way. */
export async function openMany(count: number, parallel: number, open: (index: number) => Promise<net.Socket>): Promise<net.Socket[]> {
  const sockets: net.Socket[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      sockets[index] = await open(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return sockets;
}

/** Opens `count` connections with at most `parallel` handshakes under way. */
export function openConnections(
  port: number,
  count: number,
  parallel: number,
  onFrameBytes: (index: number, bytes: number) => void,
): Promise<net.Socket[]> {
  return openMany(count, parallel, (index) => openConnection(port, (bytes) => onFrameBytes(index, bytes)));
}

export function closeAll(sockets: net.Socket[]): Promise<void> {
  return Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.destroyed) return resolve();
          socket.once('close', () => resolve());
          socket.destroy();
        }),
    ),
  ).then(() => {});
}

export interface EchoOptions {
  port: number;
  size: number;
  connections: number;
  /** Frames in flight per connection. */
  window: number;
  warmupMs: number;
  measureMs: number;
  /** The server echoes the masked frames byte for byte instead of reframing them. */
  rawEcho?: boolean;
}

export interface EchoResult {
  messagesPerSecond: number;
  bytesPerSecond: number;
  /** Every message echoed, warm-up included (for costs per message). */
  messages: number;
}

/** One whole masked frame of `payload`, as a client sends it (`rsv1`: a compressed message). */
export function maskedFrame(opcode: number, payload: Buffer, rsv1 = false): Buffer {
  const size = headerSize(payload.length, true);
  const frame = Buffer.allocUnsafe(size + payload.length);
  writeHeader(frame, 0, opcode, true, rsv1, payload.length, KEY);
  payload.copy(frame, size);
  applyMask(frame.subarray(size), KEY);
  return frame;
}

/** `count` masked binary frames of `size` bytes, as a client sends them, back to back. */
export function maskedFrames(size: number, count: number): Buffer {
  const one = headerSize(size, true) + size;
  const out = Buffer.alloc(one * count);
  const payload = Buffer.alloc(size, 0x61);
  for (let i = 0; i < count; i++) {
    const offset = writeHeader(out, i * one, 2, true, false, size, KEY);
    payload.copy(out, offset);
    applyMask(out.subarray(offset, offset + size), KEY);
  }
  return out;
}

/** Runs an echo load and returns the rate of echoed messages in the measured interval. */
export async function runEcho(options: EchoOptions): Promise<EchoResult> {
  const { size, connections, window } = options;
  const sentFrame = headerSize(size, true) + size;
  const echoedFrame = options.rawEcho ? sentFrame : headerSize(size, false) + size;
  const frames = maskedFrames(size, window);
  let running = true;
  let counted = 0;
  const receivedBytes = new Float64Array(connections);
  const receivedFrames = new Float64Array(connections);
  const sockets = await openConnections(options.port, connections, 64, (index, bytes) => {
    const total = (receivedBytes[index] += bytes);
    const done = Math.floor(total / echoedFrame);
    const fresh = done - receivedFrames[index];
    if (fresh === 0) return;
    receivedFrames[index] = done;
    counted += fresh;
    // Refill the window: one write per batch of echoes, as a fast client would.
    if (running) sockets[index].write(frames.subarray(0, fresh * sentFrame));
  });
  for (const socket of sockets) socket.write(frames);
  await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
  const startCount = counted;
  const start = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, options.measureMs));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const messages = counted - startCount;
  running = false;
  await closeAll(sockets);
  return { messagesPerSecond: messages / seconds, bytesPerSecond: (messages * size) / seconds, messages: counted };
}
