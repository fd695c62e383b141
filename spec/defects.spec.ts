/**
 * The defects outside testing reproduced (issue 11, section 3), one
 * regression test each, written from the reports rather than from our design.
 * Each failed on the code before its fix. Defect 10 (a client stalling on a
 * garbage status line) is in spec/client.spec.ts.
 */

import http from 'node:http';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MessageCompressor } from '../src/compression/compressor.ts';
import { ZlibPool } from '../src/compression/pool.ts';
import { resolveDeflateConfig, type DeflateConfig } from '../src/compression/settings.ts';
import { WebSocket, WebSocketServer } from '../src/index.ts';
import { closePayload, frame, portOf, rawConnect, sleep, upgradeRequest, waitFor } from './helpers.ts';
import { listen, rawPeer, shutdown } from './security/peer.ts';

const test = suite('issue 11 defects');

/** A raw client that offered permessage-deflate; `frames()` decodes what the server sent after its 101. */
async function deflatePeer(wss: WebSocketServer) {
  const serverSide = waitFor<[WebSocket]>(wss, 'connection');
  const conn = await rawConnect(portOf(wss));
  conn.socket.write(upgradeRequest('/', ['Sec-WebSocket-Extensions: permessage-deflate']));
  const [server] = await serverSide;
  return { ...conn, server };
}

function compressed(text: string): Buffer {
  // A sync-flushed block, less its 4-byte empty-block trailer, as RFC 7692 7.2.1 sends it.
  const data = deflateRawSync(Buffer.from(text), { finishFlush: constants.Z_SYNC_FLUSH });
  return frame({ opcode: 1, rsv: 4, payload: data.subarray(0, data.length - 4) });
}

/** The text messages and close codes a server sent, in order (compressed ones inflated). */
function transcript(bytes: Buffer): string[] {
  const head = bytes.indexOf('\r\n\r\n') + 4;
  const out: string[] = [];
  let offset = head;
  while (offset + 2 <= bytes.length) {
    const b0 = bytes[offset];
    let length = bytes[offset + 1] & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(start);
      start += 2;
    }
    const payload = bytes.subarray(start, start + length);
    const opcode = b0 & 0x0f;
    if (opcode === 8) out.push(`close ${payload.readUInt16BE(0)}`);
    else if (opcode === 1) {
      const rsv1 = (b0 & 0x40) !== 0;
      const trailer = Buffer.from([0, 0, 0xff, 0xff]); // removed on the wire (RFC 7692 7.2.1)
      const inflate = (data: Buffer) => inflateRawSync(Buffer.concat([data, trailer]), { finishFlush: constants.Z_SYNC_FLUSH }).toString();
      out.push(`text ${rsv1 ? inflate(payload) : payload.toString()}`);
    }
    offset = start + length;
  }
  return out;
}

test('1. undefined options mean the defaults: a remote peer cannot crash a pass-through maxPayload: undefined', async () => {
  const wss = await listen({ maxPayload: undefined, closeTimeout: undefined, handshakeTimeout: undefined, maxFragments: undefined });
  const peer = await rawPeer(wss);
  const closed = waitFor<[number]>(peer.server, 'close');
  // Announces 64 MiB + 1 bytes: refused by the default maxPayload before anything is buffered.
  const header = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0x04, 0, 0, 0x01, 1, 2, 3, 4]);
  peer.socket.write(header);
  assert.is((await closed)[0], 1009);
  await shutdown(wss);
});

test('1. closeTimeout: undefined is 30 s, not a 1 ms timer; handshakeTimeout: undefined is 10 s', async () => {
  const wss = await listen({ closeTimeout: undefined, handshakeTimeout: undefined });
  const peer = await rawPeer(wss);
  let closedAt = 0;
  peer.server.on('close', () => (closedAt = Date.now()));
  peer.server.close(1000); // the peer never answers
  const slow = await rawConnect(portOf(wss));
  slow.socket.write('GET / HTTP/1.1\r\n'); // an unfinished head
  await sleep(200);
  assert.is(closedAt, 0, 'the closing handshake was cut off at once');
  assert.is(slow.socket.destroyed, false, 'the handshake was cut off at once');
  slow.socket.destroy();
  await shutdown(wss);
});

test('1. wrong types and ranges are refused when the server or client is made, naming the option', () => {
  const both: Array<[Record<string, unknown>, RegExp]> = [
    [{ maxPayload: NaN }, /maxPayload/],
    [{ maxPayload: -1 }, /maxPayload/],
    [{ maxPayload: 'a thousand' }, /maxPayload/],
    [{ closeTimeout: 0 }, /closeTimeout/],
    [{ handshakeTimeout: -5 }, /handshakeTimeout/],
    [{ autoPong: 'yes' }, /autoPong/],
    [{ perMessageDeflate: 'on' }, /perMessageDeflate/],
    [{ maxFragments: null }, /maxFragments/],
    [{ maxBufferedAmount: -1 }, /maxBufferedAmount/],
  ];
  const serverOnly: Array<[Record<string, unknown>, RegExp]> = [
    [{ clientTracking: 'yes' }, /clientTracking/],
    [{ verifyClient: true }, /verifyClient/],
    [{ maxHeaderCount: 0 }, /maxHeaderCount/],
  ];
  for (const [options, name] of [...both, ...serverOnly]) {
    assert.throws(() => new WebSocketServer({ noServer: true, ...options }), name, JSON.stringify(options));
  }
  for (const [options, name] of both) {
    assert.throws(() => new WebSocket('ws://127.0.0.1:1', options), name, JSON.stringify(options));
  }
});

test('2. 20,000 zlib jobs queued behind one slot, on closed connections, do not overflow the stack', async () => {
  const pool = new ZlibPool(1);
  const config: DeflateConfig = { ...resolveDeflateConfig({ threshold: 0 }, false)!, pool };
  const params = { sendNoContextTakeover: true, sendWindowBits: 15, receiveNoContextTakeover: true, receiveWindowBits: 15 };
  const compressors = Array.from({ length: 20_000 }, () => new MessageCompressor({ params, config }, 1 << 20));
  let failed = 0;
  // Past the main thread's 64 KiB: thread-pool jobs.
  const large = Buffer.alloc(70_000);
  for (const compressor of compressors) compressor.compress(large, true, (error) => error && failed++);
  // The first job runs; the others wait. Their connections end first (terminated
  // clients), then the running one: its slot goes down a queue of closed jobs, each releasing at once.
  for (const compressor of compressors.slice(1)) compressor.close();
  compressors[0].close();
  await sleep(50);
  assert.is(failed, 20_000);
  assert.equal(pool.jobs, { running: 0, waiting: 0 });
});

test('3a. a reply sent from a message handler goes out before the echo of a close frame in the same chunk (compression)', async () => {
  const wss = await listen({ perMessageDeflate: { threshold: 0 } });
  const peer = await deflatePeer(wss);
  peer.server.on('message', (data) => peer.server.send(`reply to ${data}`));
  peer.socket.write(Buffer.concat([compressed('question'), frame({ opcode: 8, payload: closePayload(1000) })]));
  await peer.closed;
  assert.equal(transcript(peer.received()), ['text reply to question', 'close 1000']);
  await shutdown(wss);
});

test('3b. send(blob) then close(): the Blob goes out before the close frame', async () => {
  const wss = await listen();
  const peer = await rawPeer(wss);
  peer.server.send(new Blob(['from a blob']), { binary: false });
  peer.server.close(1000);
  peer.socket.end(frame({ opcode: 8, payload: closePayload(1000) }));
  await peer.closed;
  const frames = peer.frames();
  assert.equal(
    frames.map((f) => (f.opcode === 8 ? `close ${f.payload.readUInt16BE(0)}` : f.payload.toString())),
    ['from a blob', 'close 1000'],
  );
  await shutdown(wss);
});

test('4. after wss.close(), handleUpgrade() refuses with 503', async () => {
  const wss = new WebSocketServer({ noServer: true });
  const httpServer = http.createServer();
  httpServer.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => assert.unreachable('upgraded')));
  httpServer.listen(0, '127.0.0.1');
  await waitFor(httpServer, 'listening');
  wss.close();
  const conn = await rawConnect(portOf(httpServer));
  conn.socket.write(upgradeRequest('/'));
  await conn.closed;
  assert.match(conn.received().toString('latin1'), /^HTTP\/1\.1 503 /);
  httpServer.close();
});

test('5. the heartbeat does not kill a healthy peer while the user has paused the connection', async () => {
  const wss = await listen({ heartbeat: { interval: 30, timeout: 30 } });
  const connected = waitFor<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
  const [server] = await connected;
  await waitFor(client, 'open');
  server.pause();
  await sleep(300);
  assert.is(server.readyState, WebSocket.OPEN, 'killed while we were the ones not reading');
  server.resume();
  await sleep(150);
  assert.is(server.readyState, WebSocket.OPEN);
  client.terminate();
  await shutdown(wss);
});

test('5. any received byte counts as life: a peer that never pongs but keeps talking stays', async () => {
  const wss = await listen({ heartbeat: { interval: 30, timeout: 40 } });
  const connected = waitFor<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`, { autoPong: false });
  const [server] = await connected;
  await waitFor(client, 'open');
  const talk = setInterval(() => client.send('still here'), 10);
  await sleep(300);
  clearInterval(talk);
  assert.is(server.readyState, WebSocket.OPEN);
  // Silent now, and no pongs: the heartbeat decides.
  const [code] = await waitFor<[number]>(server, 'close', 2000);
  assert.is(code, 1006);
  client.terminate();
  await shutdown(wss);
});

test('6. a verifyClient that never answers is cut off at handshakeTimeout (standalone and server modes)', async () => {
  const neverAnswers = (_info: unknown, _callback: unknown): void => {};
  const standalone = await listen({ handshakeTimeout: 150, verifyClient: neverAnswers });
  const httpServer = http.createServer();
  const embedded = new WebSocketServer({ server: httpServer, handshakeTimeout: 150, verifyClient: neverAnswers });
  httpServer.listen(0, '127.0.0.1');
  await waitFor(httpServer, 'listening');
  for (const port of [portOf(standalone), portOf(httpServer)]) {
    const conn = await rawConnect(port);
    conn.socket.write(upgradeRequest('/'));
    const started = Date.now();
    await Promise.race([conn.closed, sleep(3000)]);
    assert.ok(conn.socket.destroyed || conn.socket.readableEnded, `port ${port}: still open after ${Date.now() - started} ms`);
    assert.match(conn.received().toString('latin1'), /^HTTP\/1\.1 408 /);
  }
  await shutdown(standalone);
  embedded.close();
  httpServer.close();
});

test('7. a Blob waiting to be read counts in bufferedAmount at once', async () => {
  const wss = await listen();
  const peer = await rawPeer(wss);
  peer.server.send(new Blob([Buffer.alloc(5000)]));
  assert.ok(peer.server.bufferedAmount >= 5000, `bufferedAmount ${peer.server.bufferedAmount}`);
  peer.socket.destroy();
  await shutdown(wss);
});

test('7. one send larger than maxBufferedAmount fails the connection (1008) instead of passing', async () => {
  const wss = await listen({ maxBufferedAmount: 1024 });
  const peer = await rawPeer(wss);
  const errors: string[] = [];
  peer.server.on('error', (error) => errors.push((error as { code?: string }).code ?? ''));
  const sent = new Promise<Error | null | undefined>((resolve) => peer.server.send(Buffer.alloc(4096), resolve));
  assert.instance(await sent, Error);
  const [code] = await waitFor<[number]>(peer.server, 'close');
  assert.is(code, 1008);
  assert.equal(errors, ['WS_ERR_SLOW_READER']);
  assert.is(peer.frames().length, 0, 'nothing of the oversized message went out');
  await shutdown(wss);
});

test("8. one server's concurrency does not change another server's or the clients'", () => {
  type WithDeflate = { deflate: DeflateConfig };
  const first = new WebSocketServer({ noServer: true, perMessageDeflate: { concurrency: 1 } });
  const second = new WebSocketServer({ noServer: true, perMessageDeflate: { concurrencyLimit: 7 } });
  assert.is((first as unknown as WithDeflate).deflate.pool.concurrency, 1);
  assert.is((second as unknown as WithDeflate).deflate.pool.concurrency, 7);
  assert.is(resolveDeflateConfig(true, false)!.pool.concurrency, 10, "the clients' default pool");
});

test('9. a connection whose listeners the user removed still leaves wss.clients, and wss.close() completes', async () => {
  const wss = await listen();
  const connected = waitFor<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
  const [server] = await connected;
  server.removeAllListeners();
  client.close();
  await waitFor(client, 'close');
  await sleep(20);
  assert.is(wss.clients.size, 0);
  const closed = await Promise.race([new Promise<boolean>((resolve) => wss.close(() => resolve(true))), sleep(2000).then(() => false)]);
  assert.ok(closed, 'wss.close() never completed');
});

test.run();
