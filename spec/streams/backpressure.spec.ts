/** send() returning false past highWaterMark, 'drain', and drained(): backpressure without callbacks. */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketError } from '../../src/index.ts';
import { pair, sleep, waitFor } from '../helpers.ts';

const test = suite('streams: send() returns false past highWaterMark; drain and drained()');

test('true below the mark, false from it; drain once it was all handed to the kernel; drained() resolves', async () => {
  const { client, server, stop } = await pair({ highWaterMark: 100_000 });
  client.pause();
  assert.is(server.highWaterMark, 100_000);
  assert.is(server.send('small'), true);
  await sleep(10);
  let sent = 0;
  let result = true;
  // The kernel takes a few MiB on loopback before anything stays in user space.
  while (result && sent < 512) {
    result = server.send(Buffer.alloc(64 * 1024));
    sent++;
    if (result) await sleep(1);
  }
  assert.is(result, false);
  assert.ok(server.bufferedAmount >= 100_000);
  let drains = 0;
  server.on('drain', () => drains++);
  const drained = server.drained();
  let resolved = false;
  void drained.then(() => (resolved = true));
  await sleep(20);
  assert.is(resolved, false, 'still full');
  client.resume();
  await drained;
  assert.is(server.bufferedAmount, 0);
  assert.is(drains, 1);
  // Room again: drained() resolves at once, and no second drain comes.
  await server.drained();
  await sleep(20);
  assert.is(drains, 1);
  await stop();
});

test('highWaterMark 0: every send returns false and is followed by drain', async () => {
  const { server, stop } = await pair({ highWaterMark: 0 });
  for (let i = 0; i < 3; i++) {
    const drain = waitFor(server, 'drain');
    assert.is(server.send(`message ${i}`), false);
    await drain;
  }
  await stop();
});

test('with permessage-deflate the bytes waiting for zlib count: false, then drain once deflated and written', async () => {
  const { server, stop } = await pair({ perMessageDeflate: true, highWaterMark: 1024 });
  assert.match(server.extensions, /permessage-deflate/);

  const drain = waitFor(server, 'drain');
  assert.is(server.send(Buffer.alloc(200_000, 'a')), false);
  assert.ok(server.bufferedAmount >= 200_000, 'counted while deflating');
  await drain;
  assert.is(server.bufferedAmount, 0);
  await stop();
});

test('drained() rejects when the connection closes first, and at once when it is closing', async () => {
  const { client, server, stop } = await pair({ highWaterMark: 10 });
  client.pause();
  // Enough that the kernel cannot take it all before the terminate.
  for (let i = 0; i < 64; i++) server.send(Buffer.alloc(1024 * 1024));
  const pending = server.drained().catch((error: unknown) => error);
  server.terminate();
  const error = (await pending) as WebSocketError;
  assert.ok(error instanceof WebSocketError);
  assert.is(error.code, 'WS_ERR_NOT_OPEN');
  const late = await server.drained().catch((caught: unknown) => caught);
  assert.is((late as WebSocketError).code, 'WS_ERR_NOT_OPEN');
  assert.is(server.send('after'), false);
  await stop();
});

test('a connecting client has room: drained() resolves', async () => {
  const { wss, stop } = await pair();
  const { WebSocket } = await import('../../src/index.ts');
  const connecting = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  await connecting.drained();
  assert.is(connecting.highWaterMark, 64 * 1024);
  connecting.terminate();
  await stop();
});

test.run();
