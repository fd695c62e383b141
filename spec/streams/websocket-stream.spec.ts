/** WebSocketStream: the shared browser script in Node, WebSocketStream.from() on the server, backpressure. */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketError, WebSocketServer, WebSocketStream, WebSocketStreamError } from '../../src/index.ts';
import { startEchoServer } from '../browser/echo-server.ts';
import { expectedStreamReport } from '../browser/expected-stream-report.ts';
import { streamRoundTrip } from '../browser/websocketstream.js';
import { isError, pair, portOf, sleep, waitFor } from '../helpers.ts';

const shared = suite('streams: websocketstream.js, the shared browser script, in Node');

shared("reports what Chromium's native WebSocketStream reports", async () => {
  const server = await startEchoServer();
  try {
    assert.equal(await streamRoundTrip(WebSocketStream, WebSocketStreamError, server.url), expectedStreamReport());
  } finally {
    await server.close();
  }
});

shared.run();

const test = suite('streams: WebSocketStream');

test('WebSocketStream.from(ws) on the server: messages both ways, the same connection underneath', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await waitFor(wss, 'listening');
  wss.on('connection', async (ws) => {
    const stream = WebSocketStream.from(ws);
    assert.is(stream.url, '');
    const { readable, writable, protocol } = await stream.opened;
    assert.is(protocol, '');
    const writer = writable.getWriter();
    for await (const message of readable) {
      await writer.write(typeof message === 'string' ? message.toUpperCase() : new Uint8Array(message).reverse());
    }
  });
  const client = new WebSocketStream(`ws://127.0.0.1:${portOf(wss)}`);
  const { readable, writable } = await client.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write('shout');
  assert.is((await reader.read()).value, 'SHOUT');
  await writer.write(new Uint8Array([1, 2, 3]));
  assert.equal([...new Uint8Array((await reader.read()).value as ArrayBuffer)], [3, 2, 1]);
  client.close({ closeCode: 1000, reason: 'done' });
  assert.equal(await client.closed, { closeCode: 1000, reason: 'done' });
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('from(): binaryType of the connection is its own; Buffers, fragments and Blobs become ArrayBuffers', async () => {
  for (const binaryType of ['nodebuffer', 'fragments', 'blob', 'arraybuffer'] as const) {
    const { client, server, stop } = await pair();
    server.binaryType = binaryType;
    const stream = WebSocketStream.from(server);
    const { readable } = await stream.opened;
    const reader = readable.getReader();
    client.send(Buffer.from([9, 8]));
    const { value } = await reader.read();
    assert.ok(value instanceof ArrayBuffer, binaryType);
    assert.equal([...new Uint8Array(value as ArrayBuffer)], [9, 8]);
    assert.is(server.binaryType, binaryType);
    await stop();
  }
});

test('from(): a connection that already has a reader, a closed one, or not a WebSocket throw', async () => {
  const { client, server, stop } = await pair();
  const iterator = server.messages();
  assert.throws(
    () => WebSocketStream.from(server),
    (error: unknown) => error instanceof WebSocketError && error.code === 'WS_ERR_ALREADY_READING',
  );
  await iterator.return!();
  WebSocketStream.from(server);
  client.terminate();
  await waitFor(server, 'close');
  assert.throws(
    () => WebSocketStream.from(server),
    (error: unknown) => error instanceof WebSocketError && error.code === 'WS_ERR_NOT_OPEN',
  );
  assert.throws(() => WebSocketStream.from({} as WebSocket), isError(TypeError));
  await stop();
});

test("from(): the user's removeAllListeners() on the connection leaves opened and closed working", async () => {
  const { client, server, wss, stop } = await pair();
  const within = <T>(promise: Promise<T>, what: string): Promise<T> =>
    Promise.race([promise, sleep(2000).then(() => Promise.reject(new Error(`${what} still pending after 2 s`)))]);
  const onServer = WebSocketStream.from(server);
  server.removeAllListeners();
  await onServer.opened;
  const connecting = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
  const onClient = WebSocketStream.from(connecting);
  connecting.removeAllListeners();
  try {
    await within(onClient.opened, 'opened');
    client.close(4000, 'bye');
    assert.equal(await within(onServer.closed, 'closed'), { closeCode: 4000, reason: 'bye' });
    onClient.close({ closeCode: 4001 });
    assert.equal(await within(onClient.closed, 'closed'), { closeCode: 4001, reason: '' });
  } finally {
    connecting.terminate();
    await stop();
  }
});

test('from() a connecting client: opened resolves on open', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'p' });
  await waitFor(wss, 'listening');
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`, ['p']);
  const stream = WebSocketStream.from(ws);
  assert.is(stream.url, `ws://127.0.0.1:${portOf(wss)}/`);
  assert.is((await stream.opened).protocol, 'p');
  stream.close();
  assert.equal(await stream.closed, { closeCode: 1005, reason: '' });
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('the writable waits while bufferedAmount is at the high-water mark: at most the mark plus one message waits', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await waitFor(wss, 'listening');
  const accepted = waitFor<[WebSocket]>(wss, 'connection');
  const highWaterMark = 256 * 1024;
  const stream = new WebSocketStream(`ws://127.0.0.1:${portOf(wss)}`, { highWaterMark, perMessageDeflate: false });
  const { writable } = await stream.opened;
  const [server] = await accepted;
  server.pause();
  const ws = (stream as unknown as { ws: WebSocket }).ws;
  const writer = writable.getWriter();
  const message = new Uint8Array(100_000);
  let written = 0;
  let highest = 0;
  // Writes until one stays pending for 50 ms: TCP and the kernel are full.
  for (let i = 0; i < 2000; i++) {
    const write = writer.write(message);
    highest = Math.max(highest, ws.bufferedAmount);
    const settled = await Promise.race([write.then(() => true), sleep(50).then(() => false)]);
    if (!settled) break;
    written++;
  }
  assert.ok(written < 2000, 'a write stayed pending');
  assert.ok(highest <= highWaterMark + message.length + 64, `bufferedAmount reached ${highest}`);
  server.resume();
  await writer.write(message);
  stream.close();
  await stream.closed;
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('the readable is pulled only when read: unread messages stop the socket at the high-water mark', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await waitFor(wss, 'listening');
  const accepted = waitFor<[WebSocket]>(wss, 'connection');
  const stream = new WebSocketStream(`ws://127.0.0.1:${portOf(wss)}`, { highWaterMark: 1024 });
  const { readable } = await stream.opened;
  const [server] = await accepted;
  for (let i = 0; i < 400; i++) server.send(Buffer.alloc(1024, i));
  await sleep(100);
  const ws = (stream as unknown as { ws: WebSocket }).ws;
  assert.is((ws._socket as unknown as { isPaused(): boolean }).isPaused(), true);
  assert.ok(server.bufferedAmount > 0 || server._socket!.writableLength >= 0);
  const reader = readable.getReader();
  for (let i = 0; i < 400; i++) assert.is(new Uint8Array((await reader.read()).value as ArrayBuffer)[0], i & 0xff);
  stream.close();
  await stream.closed;
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('writing while closing is an InvalidStateError; close() after closed does nothing', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await waitFor(wss, 'listening');
  const stream = new WebSocketStream(`ws://127.0.0.1:${portOf(wss)}`);
  const { writable } = await stream.opened;
  const writer = writable.getWriter();
  stream.close({ closeCode: 3001 });
  const error = await writer.write('late').catch((caught: unknown) => caught);
  assert.ok(error instanceof DOMException);
  assert.is((error as DOMException).name, 'InvalidStateError');
  assert.equal(await stream.closed, { closeCode: 3001, reason: '' });
  stream.close();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('WebSocketStreamError: closeCode and reason checked as the browser checks them', () => {
  const error = new WebSocketStreamError('m', { closeCode: 3000.7, reason: 'r' });
  assert.is(error.closeCode, 3000);
  assert.is(error.name, 'WebSocketError');
  assert.throws(() => new WebSocketStreamError('m', { closeCode: 70000 }), isError(TypeError));
  assert.throws(() => new WebSocketStreamError('m', { closeCode: NaN }), isError(TypeError));
});

test('a connection that never opens: opened and closed reject without unhandled rejections', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const stream = new WebSocketStream('ws://127.0.0.1:1/');
    await stream.closed.catch(() => {});
    await sleep(20);
    assert.equal(unhandled, []);
  } finally {
    process.removeListener('unhandledRejection', onUnhandled);
  }
});

test.run();
