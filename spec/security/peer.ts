/** Tools for the attack tests: a server on loopback and a raw peer that speaks bytes by hand. */

import type net from 'node:net';
import { type WebSocket, WebSocketServer, type ServerOptions } from '../../src/index.ts';
import { decodeFrames, portOf, rawConnect, upgradeRequest, waitFor, type DecodedFrame } from '../helpers.ts';

export async function listen(options: Partial<ServerOptions> = {}): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await waitFor(wss, 'listening');
  return wss;
}

export async function shutdown(wss: WebSocketServer): Promise<void> {
  for (const ws of wss.clients) ws.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

export interface RawPeer {
  socket: net.Socket;
  /** The server side of the connection. */
  server: WebSocket;
  /** Frames received from the server after the 101 response. */
  frames(): DecodedFrame[];
  closed: Promise<void>;
}

/** Completes a handshake by hand; the raw socket then sends whatever a test wants. */
export async function rawPeer(wss: WebSocketServer): Promise<RawPeer> {
  const serverSide = waitFor<[WebSocket]>(wss, 'connection');
  const conn = await rawConnect(portOf(wss));
  conn.socket.write(upgradeRequest('/'));
  const [server] = await serverSide;
  return {
    socket: conn.socket,
    server,
    frames: () => {
      const data = conn.received();
      return decodeFrames(data.subarray(data.indexOf('\r\n\r\n') + 4));
    },
    closed: conn.closed,
  };
}

/** The code of the first close frame among `frames`, or undefined. */
export function closeCodeOf(frames: DecodedFrame[]): number | undefined {
  const close = frames.find((f) => f.opcode === 0x8);
  return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined;
}

/** Median of a few timings of `run`, in nanoseconds. */
export function medianTime(run: () => void, repeats = 7): number {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = process.hrtime.bigint();
    run();
    times.push(Number(process.hrtime.bigint() - start));
  }
  times.sort((a, b) => a - b);
  return times[repeats >> 1];
}
