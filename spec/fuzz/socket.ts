/**
 * The socket-level fuzz target: a real netws server on loopback receives a
 * (possibly mutated) handshake followed by (possibly mutated) frames, cut
 * into random TCP writes. Every connection must end by itself with a valid
 * HTTP status or, after a 101, well-formed frames whose close code is valid.
 */

import net from 'node:net';
import { isValidCloseCode } from '../../src/protocol/close.ts';
import { WebSocketServer } from '../../src/server.ts';
import { decodeFrames, portOf, waitFor } from '../helpers.ts';
import { validRequest, validStream } from './generate.ts';
import { chunk, mutate } from './mutate.ts';
import type { Random } from './random.ts';
import { InvariantError } from './targets.ts';

const STATUSES = new Set([400, 404, 405, 408, 426, 431]);

/** A server with small limits so that fuzzed input reaches them. */
export async function startFuzzServer(): Promise<WebSocketServer> {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    maxPayload: 70_000,
    maxFragments: 64,
    maxHeaderSize: 4096,
    maxHeaderCount: 40,
    handshakeTimeout: 2000,
    closeTimeout: 2000,
  });
  wss.on('connection', (ws) => {
    // Echo, so the send path meets the fuzzed connection too.
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await waitFor(wss, 'listening');
  return wss;
}

/** How one connection ended, for the run's summary: "101 close 1002", "431", … */
export async function fuzzSocket(random: Random, wss: WebSocketServer, deadline: number): Promise<string> {
  const request = random.chance(0.7) ? validRequest(random) : mutate(random, validRequest(random), validRequest(random));
  const stream = validStream(random, true).bytes;
  const frames = random.chance(0.3) ? stream : mutate(random, stream, validStream(random, true).bytes);
  const input = Buffer.concat([request, frames]);

  const socket = net.connect(portOf(wss), '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (data) => received.push(data));
  socket.on('error', () => {}); // a reset from the server is a valid ending
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('connect', () => {
    for (const piece of chunk(random, input)) socket.write(piece);
    socket.end();
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), deadline);
  });
  const late = await Promise.race([closed.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    socket.destroy();
    throw new InvariantError(`the connection did not end within ${deadline} ms`);
  }

  const answer = Buffer.concat(received);
  if (answer.length === 0) return 'no answer';
  const statusLine = answer.subarray(0, answer.indexOf('\r\n')).toString('latin1');
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
  if (match === null) throw new InvariantError(`answer is not HTTP: ${JSON.stringify(statusLine.slice(0, 40))}`);
  const status = Number(match[1]);
  if (status !== 101) {
    if (!STATUSES.has(status)) throw new InvariantError(`unexpected status ${status}`);
    return String(status);
  }
  const sent = decodeFrames(answer.subarray(answer.indexOf('\r\n\r\n') + 4));
  const close = sent.find((f) => f.opcode === 0x8);
  if (close === undefined) return '101 no close frame';
  if (close.payload.length === 0) return '101 close (empty)';
  const code = close.payload.readUInt16BE(0);
  if (!isValidCloseCode(code)) throw new InvariantError(`server sent close code ${code}`);
  return `101 close ${code}`;
}
