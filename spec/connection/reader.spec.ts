/** Async iteration over a connection's messages, with its high-water mark as a reason not to read. */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type WebSocket, WebSocketError } from '../../src/index.ts';
import { MessageReader, messageSize } from '../../src/connection/reader.ts';
import { isError, pair, sleep, until, waitFor } from '../helpers.ts';

/** The reader messages() gave `ws` (internal state: what it holds). */
function readerOf(ws: WebSocket): MessageReader {
  return (ws as unknown as { receiver: { streamed: { reader: MessageReader } } }).receiver.streamed.reader;
}

const test = suite('streams: for await (const message of ws)');

/** Polls `condition` every 5 ms for at most `ms`. */
test('yields every message as message events shape it, ends on a clean close', async () => {
  const { client, server, stop } = await pair();
  const events: unknown[] = [];
  const iterated: unknown[] = [];
  server.on('message', (data, isBinary) => events.push([String(data), isBinary]));
  const done = (async () => {
    for await (const { data, isBinary } of server) iterated.push([String(data), isBinary, Buffer.isBuffer(data)]);
    return 'ended';
  })();
  client.send('one');
  client.send(Buffer.from('two'));
  client.close(1000);
  assert.is(await done, 'ended');
  assert.equal(iterated, [
    ['one', false, true],
    ['two', true, true],
  ]);
  assert.equal(events, [
    ['one', false],
    ['two', true],
  ]);
  await stop();
});

test('binaryType shapes the data; the iterator throws on an unclean close, after what it holds', async () => {
  const { client, server, stop } = await pair();
  server.binaryType = 'arraybuffer';
  const iterator = server.messages();
  client.send(Buffer.from([1, 2, 3]));
  const first = await iterator.next();
  assert.ok(first.value!.data instanceof ArrayBuffer);
  client.send('last');
  await until(() => readerOf(server).length === 1, 2000, 'buffered');
  client.terminate();
  await waitFor(server, 'close');
  assert.is(String((await iterator.next()).value!.data), 'last');
  try {
    await iterator.next();
    assert.unreachable('should throw');
  } catch (error) {
    assert.ok(error instanceof WebSocketError);
    assert.is((error as WebSocketError).code, 'WS_ERR_CLOSED_ABNORMALLY');
    assert.is((error as WebSocketError).closeCode, 1006);
  }
  assert.equal(await iterator.next(), { value: undefined, done: true }, 'thrown once, then done');
  await stop();
});

test('empty messages count too: a peer sending nothing but empty messages fills the mark and is not read', async () => {
  const { client, server, stop } = await pair({ highWaterMark: 16 * 1024 });
  try {
    const iterator = server.messages();
    const reader = readerOf(server);
    const socket = client._socket as unknown as { write(data: Buffer): boolean };
    // The runtime's receive chunks (64 KiB at most on Node, larger on Bun), as the server's socket reads them.
    let largestChunk = 0;
    (server._socket as unknown as NodeJS.EventEmitter).on('data', (chunk: Buffer) => {
      largestChunk = Math.max(largestChunk, chunk.length);
    });
    // 100,000 masked empty binary frames, 600,000 bytes: far more than one receive chunk.
    const empty = Buffer.from([0x82, 0x80, 0, 0, 0, 0]);
    for (let i = 0; i < 20; i++) socket.write(Buffer.concat(Array(5000).fill(empty)));
    await until(() => reader.full, 2000, 'reader full');
    await sleep(100);
    // The mark is 128 empty messages; one receive chunk (of 6-byte frames) may come on top.
    const perChunk = Math.ceil(largestChunk / empty.length);
    assert.ok(reader.length >= 128 && reader.length <= 128 + perChunk, `${reader.length} buffered, chunks up to ${largestChunk} bytes`);
    assert.ok(reader.length < 100_000, 'not everything was read');
    assert.is((server._socket as unknown as { isPaused(): boolean }).isPaused(), true, 'the socket is paused');
    let count = 0;
    for await (const { data } of iterator) {
      assert.is((data as Buffer).length, 0);
      if (++count === 100_000) break;
    }
    assert.is(count, 100_000);
  } finally {
    await stop();
  }
});

test('a protocol error is what the iterator throws', async () => {
  const { client, server, stop } = await pair({ maxPayload: 10 });
  const iterator = server.messages();
  const pulled = iterator.next();
  client.send(Buffer.alloc(11));
  try {
    await pulled;
    assert.unreachable('should throw');
  } catch (error) {
    assert.is((error as WebSocketError).code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
  }
  await stop();
});

test("past the high-water mark the socket is not read; isPaused stays the user's; pulling resumes reading", async () => {
  const { client, server, stop } = await pair({ highWaterMark: 1024 });
  const iterator = server.messages();
  const reader = readerOf(server);
  for (let i = 0; i < 64; i++) client.send(Buffer.alloc(4096, i));
  await until(() => reader.full, 2000, 'reader full');
  await sleep(50);
  // The mark, plus what one receive chunk held (at most 64 KiB): not all of the 256 KiB sent.
  assert.ok(reader.length >= 1 && reader.length <= 17, `${reader.length} buffered`);
  assert.is(server.isPaused, false);
  assert.is((server._socket as unknown as { isPaused(): boolean }).isPaused(), true, 'the socket is paused');
  let count = 0;
  for await (const { data } of iterator) {
    assert.is((data as Buffer)[0], count);
    if (++count === 64) break;
  }
  assert.is(count, 64);
  // break let go of the connection: it stays open and reads again.
  assert.is(server.readyState, server.OPEN);
  const after = waitFor<[Buffer]>(server, 'message');
  client.send('after');
  assert.is(String((await after)[0]), 'after');
  await stop();
});

test("the user's pause and the reader's are separate reasons", async () => {
  const { client, server, stop } = await pair({ highWaterMark: 0 });
  const iterator = server.messages();
  server.pause();
  client.send('a');
  await sleep(30);
  const socket = server._socket as unknown as { isPaused(): boolean };
  server.resume();
  assert.is(String((await iterator.next()).value!.data), 'a');
  client.send('b');
  client.send('c');
  await until(() => socket.isPaused(), 2000, 'paused by the reader');
  assert.is(server.isPaused, false);
  server.pause();
  assert.is(String((await iterator.next()).value!.data), 'b');
  assert.is(socket.isPaused(), true, "still the user's pause");
  await iterator.return!();
  assert.is(socket.isPaused(), true);
  server.resume();
  assert.is(socket.isPaused(), false);
  await stop();
});

test('one reader at a time; a new one after the first returned; after close the iterator ends at once', async () => {
  const { client, server, stop } = await pair();
  const first = server.messages();
  assert.throws(
    () => server.messages(),
    (error: unknown) => error instanceof WebSocketError && error.code === 'WS_ERR_ALREADY_READING',
  );
  await first.return!();
  const second = server[Symbol.asyncIterator]();
  const pending = second.next();
  const closed = waitFor(server, 'close');
  client.close(1000, 'bye');
  assert.equal(await pending, { value: undefined, done: true });
  await closed;
  assert.equal(await server.messages().next(), { value: undefined, done: true });
  assert.throws(() => server.messages({ highWaterMark: -1 }), isError(RangeError));
  await stop();
});

test('after an unclean close a new iterator throws at once', async () => {
  const { client, server, stop } = await pair();
  client.terminate();
  await waitFor(server, 'close');
  const error = await server
    .messages()
    .next()
    .catch((caught: unknown) => caught);
  assert.is((error as WebSocketError).code, 'WS_ERR_CLOSED_ABNORMALLY');
  await stop();
});

test('a listener that throws does not cost the iterator its message', async () => {
  const { client, server, stop } = await pair();
  const iterator = server.messages();
  const errors: unknown[] = [];
  const onUncaught = (error: unknown) => errors.push(error);
  process.prependListener('uncaughtException', onUncaught);
  try {
    server.once('message', () => {
      throw new Error('listener');
    });
    client.send('kept');
    assert.is(String((await iterator.next()).value!.data), 'kept');
    await until(() => errors.length === 1, 1000, 'the listener threw');
  } finally {
    process.removeListener('uncaughtException', onUncaught);
  }
  await stop();
});

test('removeAllListeners() does not stop the iterator', async () => {
  const { client, server, stop } = await pair();
  const iterator = server.messages();
  server.removeAllListeners();
  client.send('still');
  assert.is(String((await iterator.next()).value!.data), 'still');
  await stop();
});

test('MessageReader alone: return() ends waiting pulls; after it, pushes and ends are ignored', async () => {
  let detached = 0;
  const reader = new MessageReader({ updateReading() {}, readerDetached: () => detached++ }, 10);
  const waiting = reader.next();
  await reader.return();
  assert.equal(await waiting, { value: undefined, done: true });
  reader.push(Buffer.from('late'), false);
  reader.end(new Error('late'));
  assert.is(reader.length, 0);
  await reader.return();
  assert.is(detached, 1);
  assert.equal(await reader.next(), { value: undefined, done: true });
});

test('messageSize counts every binaryType', () => {
  assert.is(messageSize(Buffer.alloc(3)), 3);
  assert.is(messageSize(new ArrayBuffer(4)), 4);
  assert.is(messageSize([Buffer.alloc(1), Buffer.alloc(2)]), 3);
  assert.is(messageSize(new Blob(['abcde'])), 5);
  assert.is(messageSize(null), 0);
});

test.run();
