/**
 * Resource attacks: a peer that never reads (send buffer, ping flood), a peer
 * that stops answering (heartbeat), and our own pause() pushing back on a
 * fast sender through TCP.
 */

import { createHash } from 'node:crypto';
import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer, type WebSocketError } from '../../src/index.ts';
import { DEFAULT_MAX_PENDING_AUTO_PONGS as MAX_PENDING_PONGS } from '../../src/options/connection.ts';
import { frame, isError, portOf, sleep, waitFor } from '../helpers.ts';
import { listen, rawPeer, shutdown } from './peer.ts';

async function pair(serverOptions: Record<string, unknown> = {}, clientOptions: Record<string, unknown> = {}) {
  const wss = await listen(serverOptions);
  const serverSide = waitFor<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`, clientOptions);
  await waitFor(client, 'open');
  const [server] = await serverSide;
  return { wss, client, server };
}

const test = suite('security: resources');

test('a peer that never reads: past maxBufferedAmount the connection is failed with 1008, memory stays bounded', async () => {
  const limit = 256 * 1024;
  const wss = await listen({ maxBufferedAmount: limit });
  const peer = await rawPeer(wss);
  peer.socket.pause(); // never read: the kernel buffers fill, then ours
  const errors: Array<{ code: string; closeCode: number }> = [];
  peer.server.on('error', (error) => errors.push(error as never));
  const closed = waitFor<[number, Buffer, boolean]>(peer.server, 'close', 20_000);
  const message = Buffer.alloc(64 * 1024);
  let most = 0;
  let refused = 0;
  for (let i = 0; i < 4000 && peer.server.readyState === WebSocket.OPEN; i++) {
    peer.server.send(message, (error) => {
      if (error) refused++;
    });
    most = Math.max(most, peer.server.bufferedAmount);
    if (i % 16 === 15) await sleep(1);
  }
  const [code, , wasClean] = await closed;
  assert.is(code, 1008);
  assert.is(wasClean, false);
  assert.is(errors[0].code, 'WS_ERR_SLOW_READER');
  assert.is(errors[0].closeCode, 1008);
  assert.ok(refused >= 1, 'the send that hit the limit got an error');
  // At most the limit plus the one frame that was queued below it.
  assert.ok(most <= limit + message.length + 14, `bufferedAmount reached ${most}`);
  await shutdown(wss);
});

test('ping flood from a peer that never reads our pongs → 1008 after a bounded number of queued pongs', async () => {
  const wss = await listen();
  const peer = await rawPeer(wss);
  try {
    const socketMark = (peer.server._socket as unknown as { writableHighWaterMark: number }).writableHighWaterMark;
    peer.socket.pause();
    const closed = waitFor<[number]>(peer.server, 'close', 30_000);
    let errorCode = '';
    peer.server.on('error', (error) => (errorCode = (error as WebSocketError).code));
    let most = 0;
    peer.server.on('ping', () => (most = Math.max(most, peer.server.bufferedAmount)));
    const pings = Buffer.concat(Array.from({ length: 1000 }, () => frame({ opcode: 0x9, payload: Buffer.alloc(125, 7) })));
    // Bounded: at most 200,000 pings (26 MB), far more than loopback buffers hold.
    for (let i = 0; i < 200 && peer.server.readyState === WebSocket.OPEN; i++) {
      if (!peer.socket.write(pings)) await sleep(5);
      await sleep(1);
    }
    const [code] = await closed;
    assert.is(code, 1008);
    assert.is(errorCode, 'WS_ERR_SLOW_READER');
    // Pongs count once the socket is past its own high-water mark (16 KiB on Node 20, 64 KiB on Node 22 and later,
    // Bun and Deno): that mark plus MAX_PENDING_PONGS pongs of 127 bytes.
    assert.ok(most <= socketMark + (MAX_PENDING_PONGS + 1) * 127, `${most} bytes of pongs queued, the socket's mark ${socketMark}`);
  } finally {
    peer.socket.destroy();
    await shutdown(wss);
  }
});

test('backpressure: bufferedAmount grows, "drain" fires and every send callback runs once the peer reads again', async () => {
  const { wss, client, server } = await pair();
  client.pause();
  const message = Buffer.alloc(1024 * 1024);
  let sent = 0;
  let called = 0;
  let failed = 0;
  while (server.bufferedAmount === 0 && sent < 256) {
    server.send(message, (error) => {
      if (error) failed++;
      called++;
    });
    sent++;
    await sleep(1);
  }
  assert.ok(server.bufferedAmount > 0, 'never saw backpressure');
  assert.ok(called < sent);
  const drained = waitFor(server, 'drain', 10_000);
  let received = 0;
  client.on('message', () => received++);
  client.resume();
  await drained;
  while (called < sent || received < sent) await sleep(5);
  assert.is(server.bufferedAmount, 0);
  assert.is(failed, 0);
  client.terminate();
  await shutdown(wss);
});

test('pause() really stops reading: the sender sees TCP backpressure, and resume() delivers everything', async () => {
  const { wss, client, server } = await pair();
  let received = 0;
  server.on('message', () => received++);
  server.pause();
  const message = Buffer.alloc(1024 * 1024);
  let sent = 0;
  // Bounded at 64 MiB: loopback buffers hold a few MiB, then the client's socket queues.
  while (client.bufferedAmount === 0 && sent < 64) {
    client.send(message);
    sent++;
    await sleep(2);
  }
  assert.ok(client.bufferedAmount > 0, 'the sender never saw backpressure');
  const whilePaused = received;
  await sleep(100);
  assert.is(received, whilePaused, 'messages arrived while paused');
  assert.ok(received < sent);
  server.resume();
  for (let i = 0; i < 400 && received < sent; i++) await sleep(10);
  assert.is(received, sent);
  client.terminate();
  await shutdown(wss);
});

test('heartbeat (server): a peer that never answers pings is destroyed after interval + timeout', async () => {
  const wss = await listen({ heartbeat: { interval: 50, timeout: 100 } });
  const peer = await rawPeer(wss);
  let errorCode = '';
  peer.server.on('error', (error) => (errorCode = (error as WebSocketError).code));
  const started = Date.now();
  const [code] = await waitFor<[number]>(peer.server, 'close', 5000);
  const elapsed = Date.now() - started;
  assert.is(code, 1006);
  assert.is(errorCode, 'WS_ERR_HEARTBEAT_TIMEOUT');
  assert.ok(elapsed >= 140 && elapsed < 2000, `destroyed after ${elapsed} ms`);
  assert.ok(
    peer.frames().some((f) => f.opcode === 0x9),
    'no ping was sent',
  );
  await shutdown(wss);
});

test('heartbeat: a live peer (automatic pongs) stays connected through many beats', async () => {
  const { wss, client, server } = await pair({ heartbeat: { interval: 20, timeout: 250 } }, { heartbeat: { interval: 25, timeout: 250 } });
  let pings = 0;
  client.on('ping', () => pings++);
  let serverPings = 0;
  server.on('ping', () => serverPings++);
  await sleep(300);
  assert.is(client.readyState, WebSocket.OPEN);
  assert.is(server.readyState, WebSocket.OPEN);
  assert.ok(pings >= 5 && serverPings >= 5, `${pings} / ${serverPings} pings`);
  client.close(1000);
  await waitFor(server, 'close');
  await shutdown(wss);
});

test('heartbeat (client): a server that stops answering is detected', async () => {
  const server = net.createServer((socket) => {
    socket.once('data', (data) => {
      const key = /Sec-WebSocket-Key: (\S+)/i.exec(data.toString('latin1'))![1];
      const accept = createHash('sha1')
        .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
        .digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      // ...and never a pong.
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}`, { heartbeat: { interval: 40, timeout: 80 } });
  const errors: string[] = [];
  client.on('error', (error) => errors.push((error as WebSocketError).code));
  const [code] = await waitFor<[number]>(client, 'close', 5000);
  assert.is(code, 1006);
  assert.equal(errors, ['WS_ERR_HEARTBEAT_TIMEOUT']);
  server.close();
});

test('heartbeat: invalid settings throw on the server and the client (RangeError out of range, TypeError not a number)', () => {
  for (const heartbeat of [
    { interval: 0, timeout: 10 },
    { interval: 10, timeout: -1 },
    { interval: 10, timeout: 2 ** 31 },
  ]) {
    assert.throws(() => new WebSocketServer({ noServer: true, heartbeat }), isError(RangeError));
    assert.throws(() => new WebSocket('ws://127.0.0.1:1', { heartbeat }), isError(RangeError));
  }
  for (const heartbeat of [{ interval: NaN, timeout: 10 }, { interval: '10', timeout: 10 }, 5]) {
    assert.throws(() => new WebSocketServer({ noServer: true, heartbeat } as never), isError(TypeError));
    assert.throws(() => new WebSocket('ws://127.0.0.1:1', { heartbeat } as never), isError(TypeError));
  }
});

test('heartbeat timers are cleared when the connection closes (nothing keeps the process alive)', async () => {
  const { wss, client, server } = await pair(
    { heartbeat: { interval: 1000, timeout: 1000 } },
    { heartbeat: { interval: 1000, timeout: 1000 } },
  );
  type Timers = { transport: { heartbeat: { intervalTimer: { _destroyed: boolean }; timeoutTimer: unknown } } };
  const beats = [client, server].map((ws) => (ws as unknown as Timers).transport.heartbeat);
  assert.ok(beats.every((beat) => !beat.intervalTimer._destroyed));
  client.terminate();
  await waitFor(server, 'close');
  await sleep(10);
  assert.ok(beats.every((beat) => beat.intervalTimer._destroyed && beat.timeoutTimer === null));
  await shutdown(wss);
});

test.run();
