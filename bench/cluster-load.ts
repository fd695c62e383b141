/**
 * The neutral load generator of `npm run bench:cluster`: raw node:net
 * clients that use neither netws nor Socket.IO's client. Subscribers read
 * server frames; for Socket.IO they speak engine.io's framing themselves
 * (the open packet, "40" to join the namespace, "3" to each ping).
 * Publishers send masked text frames carrying a send timestamp, which the
 * subscribers read back for the end-to-end latency (one process, one clock).
 *
 *   netws:    publisher → "r7|T<ns>|xxxx"           subscriber ← "T<ns>|xxxx"
 *   Socket.IO publisher → 42["pub","r7","T<ns>|xxxx"] subscriber ← 42["m","T<ns>|xxxx"]
 */

import net from 'node:net';
import { maskedFrame } from './load-generator.ts';

export type Dialect = 'netws' | 'socketio';

const HEAD_END = Buffer.from('\r\n\r\n');
const LETTER_T = 0x54;
/** Payload padding: every message is about 64 bytes of payload. */
const PAD = 'x'.repeat(40);

/** A masked text frame, as a client sends it. */
export function maskedText(text: string): Buffer {
  return maskedFrame(1, Buffer.from(text));
}

function request(dialect: Dialect, query: string): string {
  const path = dialect === 'socketio' ? `/socket.io/?EIO=4&transport=websocket&${query}` : `/?${query}`;
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
  );
}

/** Latencies in 10 µs buckets up to 10 s. */
export class LatencyHistogram {
  private readonly buckets = new Uint32Array(1_000_001);
  count = 0;

  add(ms: number): void {
    this.buckets[Math.min(1_000_000, Math.max(0, Math.round(ms * 100)))]++;
    this.count++;
  }

  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= rank) return i / 100;
    }
    return NaN;
  }

  reset(): void {
    this.buckets.fill(0);
    this.count = 0;
  }
}

export interface LoadCounters {
  delivered: number;
  latency: LatencyHistogram;
  /** Latencies are recorded only while true (the measured window). */
  measuring: boolean;
}

/** The nanosecond clock of this process, from its start (small enough for a double). */
const start = process.hrtime.bigint();
export const nowNs = (): number => Number(process.hrtime.bigint() - start);

/**
 * Reads server frames from one socket: text payloads go to `onText(buffer,
 * start, end)`. Server frames are unmasked and, with compression off, whole
 * messages; only a frame split across reads is copied.
 */
function frameReader(onText: (data: Buffer, start: number, end: number) => void): (chunk: Buffer) => void {
  let pending: Buffer | null = null;
  return (chunk) => {
    const data = pending === null ? chunk : Buffer.concat([pending, chunk]);
    pending = null;
    let offset = 0;
    while (data.length - offset >= 2) {
      const opcode = data[offset] & 0x0f;
      let length = data[offset + 1] & 0x7f;
      let header = 2;
      if (length === 126) {
        if (data.length - offset < 4) break;
        length = data.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (data.length - offset < 10) break;
        length = Number(data.readBigUInt64BE(offset + 2));
        header = 10;
      }
      if (data.length - offset < header + length) break;
      if (opcode === 1) onText(data, offset + header, offset + header + length);
      offset += header + length;
    }
    if (offset < data.length) pending = data.subarray(offset);
  };
}

/** The send time in a payload ("...T<ns>|..."), or -1. */
function sentAt(data: Buffer, from: number, to: number): number {
  const t = data.indexOf(LETTER_T, from);
  if (t === -1 || t >= to) return -1;
  let value = 0;
  for (let i = t + 1; i < to; i++) {
    const digit = data[i] - 0x30;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  return value;
}

const PONG = maskedText('3');
const CONNECT_NAMESPACE = maskedText('40');

/** Opens one WebSocket (and, for Socket.IO, joins the namespace); resolves when it can receive. */
export function openClient(dialect: Dialect, port: number, query: string, counters: LoadCounters | null): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let head: Buffer = Buffer.alloc(0);
    let ready = false;
    const becomeReady = (): void => {
      ready = true;
      socket.removeListener('error', reject);
      socket.on('error', () => {});
      resolve(socket);
    };
    const onText = (data: Buffer, start: number, end: number): void => {
      if (dialect === 'socketio' && !ready) {
        // "0{...}" is engine.io's open packet; "40{...}" the namespace joined.
        if (data[start] === 0x30) socket.write(CONNECT_NAMESPACE);
        else if (data[start] === 0x34 && data[start + 1] === 0x30) becomeReady();
        return;
      }
      if (dialect === 'socketio' && end - start === 1 && data[start] === 0x32) {
        socket.write(PONG);
        return;
      }
      if (counters === null) return;
      counters.delivered++;
      if (!counters.measuring) return;
      const sent = sentAt(data, start, end);
      if (sent >= 0) counters.latency.add((nowNs() - sent) / 1e6);
    };
    const read = frameReader(onText);
    const onHead = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end === -1) return;
      socket.removeListener('data', onHead);
      if (!head.subarray(0, 12).equals(Buffer.from('HTTP/1.1 101'))) {
        socket.destroy();
        reject(new Error(`handshake refused: ${head.subarray(0, end).toString('latin1')}`));
        return;
      }
      socket.on('data', read);
      if (dialect === 'netws') becomeReady();
      if (head.length > end + 4) read(head.subarray(end + 4));
    };
    socket.on('data', onHead);
    socket.once('error', reject);
    socket.write(request(dialect, query));
  });
}

/** One publish: the frame a publisher sends for `room`, stamped now. */
export function publishFrame(dialect: Dialect, room: string): Buffer {
  const payload = `T${nowNs()}|${PAD}`;
  return maskedText(dialect === 'socketio' ? `42["pub","${room}","${payload}"]` : `${room}|${payload}`);
}
