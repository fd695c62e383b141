/** sendStream(): one fragmented message from a Readable, a ReadableStream or an iterable, read as fast as the socket drains. */

import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketError, type WebSocket } from '../../src/index.ts';
import { isError, pair, sleep, waitFor } from '../helpers.ts';

const test = suite('streams: sendStream()');

async function* chunks(...parts: Array<string | Buffer>): AsyncGenerator<string | Buffer> {
  for (const part of parts) {
    await sleep(1);
    yield part;
  }
}

/** The next message on `ws`, as fragments (binaryType 'fragments'), with whether it is binary. */
function nextMessage(ws: WebSocket): Promise<[unknown, boolean]> {
  return waitFor<[unknown, boolean]>(ws, 'message');
}

test('an async iterable: one message, a frame per chunk and an empty last one', async () => {
  const { client, server, stop } = await pair();
  client.binaryType = 'fragments';
  const received = nextMessage(client);
  await server.sendStream(chunks(Buffer.from('ab'), Buffer.from('cd'), 'ef'));
  const [fragments, isBinary] = await received;
  assert.is(isBinary, true);
  assert.equal((fragments as Buffer[]).map(String), ['ab', 'cd', 'ef', '']);
  await stop();
});

test('a Node Readable, a web ReadableStream, an array; text with binary: false, UTF-8 split across chunks', async () => {
  const { client, server, stop } = await pair();
  const messages: Array<[string, boolean]> = [];
  client.on('message', (data, isBinary) => messages.push([String(data), isBinary]));
  await server.sendStream(Readable.from([Buffer.from('node '), Buffer.from('readable')]));
  await server.sendStream(
    new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array([119, 101, 98]));
        controller.enqueue(new Uint8Array([33]).buffer);
        controller.close();
      },
    }),
  );
  const euro = Buffer.from('€');
  await server.sendStream([euro.subarray(0, 1), euro.subarray(1), new Uint16Array([0x2121])], { binary: false });
  await server.sendStream([]);
  await waitForCount(() => messages.length, 4);
  assert.equal(messages, [
    ['node readable', true],
    ['web!', true],
    ['€!!', false],
    ['', true],
  ]);
  await stop();
});

test('string chunks that split a surrogate pair arrive as the text they make, as through TextEncoderStream', async () => {
  const { client, server, stop } = await pair();
  const messages: string[] = [];
  client.on('message', (data) => messages.push(String(data)));
  const text = 'a\u{1F600}b\u{1F4A9}';
  // Two UTF-16 code units at a time: the emoji are cut between their halves.
  const units = Array.from({ length: Math.ceil(text.length / 2) }, (_, i) => text.slice(i * 2, i * 2 + 2));
  await server.sendStream(units, { binary: false });
  const encoded = Readable.fromWeb(ReadableStream.from(units).pipeThrough(new TextEncoderStream()) as never);
  await server.sendStream(encoded, { binary: false });
  // A first half left alone at the end, or before bytes, is U+FFFD (as TextEncoderStream has it).
  await server.sendStream(['x\uD83D'], { binary: false });
  await server.sendStream(['x\uD83D', Buffer.from('!')], { binary: false });
  await waitForCount(() => messages.length, 4);
  assert.equal(messages, [text, text, 'x\uFFFD', 'x\uFFFD!']);
  await stop();
});

test('a web ReadableStream, async iterable or not, is read through its reader, and cancelled on failure', async () => {
  const { client, server, stop } = await pair();
  let cancelled = false;
  const stream = new ReadableStream({
    pull(controller) {
      controller.enqueue(new Uint8Array([1]));
    },
    cancel() {
      cancelled = true;
    },
  });
  Object.defineProperty(stream, Symbol.asyncIterator, { value: undefined });
  client.pause();
  const sending = server.sendStream(stream).catch((error: unknown) => error);
  await sleep(30);
  server.terminate();
  assert.ok((await sending) instanceof WebSocketError);
  assert.ok(cancelled, 'the stream was cancelled');
  await stop();
});

test('terminate() cancels a stalled web ReadableStream (a pending read does not hold it up) and unlocks it', async () => {
  const { server, stop } = await pair();
  let cancelled = false;
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new Uint8Array([1, 2, 3]));
      // …and then nothing: a stalled producer.
    },
    cancel() {
      cancelled = true;
    },
  });
  assert.is(typeof stream[Symbol.asyncIterator as keyof typeof stream], 'function', "Node 20's streams are async iterable");
  const sending = server.sendStream(stream).catch((error: unknown) => error);
  await sleep(30);
  server.terminate();
  assert.ok((await sending) instanceof WebSocketError);
  await sleep(10);
  assert.ok(cancelled, 'the stream was cancelled');
  assert.is(stream.locked, false);
  await stop();
});

test('ordering: sends before, the streamed message, sends after, then the close frame', async () => {
  const { client, server, stop } = await pair();
  const messages: string[] = [];
  client.on('message', (data) => messages.push(String(data)));
  const closed = waitFor<[number]>(client, 'close');
  server.send('before');
  const streamed = server.sendStream(chunks('s1', 's2', 's3'), { binary: false });
  assert.is(server.send('after'), true);
  server.send(new Blob(['a blob']));
  server.close(1000, 'done');
  await streamed;
  assert.equal((await closed)[0], 1000);
  assert.equal(messages, ['before', 's1s2s3', 'after', 'a blob']);
  await stop();
});

test('permessage-deflate: the fragments are deflated in one context; the peer inflates the whole message', async () => {
  const { client, server, stop } = await pair({ perMessageDeflate: true });
  assert.match(server.extensions, /permessage-deflate/);
  const parts = Array.from({ length: 20 }, (_, i) => Buffer.alloc(10_000, String.fromCharCode(97 + i)));
  const received = nextMessage(client);
  const written: number[] = [];
  const wire = server._socket!;
  const write = wire.write.bind(wire);
  wire.write = ((chunk: Buffer, ...rest: never[]) => {
    written.push(chunk.length);
    return write(chunk, ...rest);
  }) as typeof wire.write;
  await server.sendStream(parts);
  const [data] = await received;
  assert.ok(Buffer.concat(parts).equals(data as Buffer));
  const total = written.reduce((a, b) => a + b, 0);
  assert.ok(total < 20_000, `${total} bytes on the wire for 200,000 compressible ones`);
  // compress: false sends it as it is.
  const plain = nextMessage(client);
  await server.sendStream([Buffer.from('x')], { compress: false });
  assert.is(String((await plain)[0]), 'x');
  await stop();
});

test('a message left open by send(fin: false) continues in the stream, compressed as it began', async () => {
  const { client, server, stop } = await pair({ perMessageDeflate: true });
  const received = nextMessage(client);
  server.send('open ', { fin: false });
  await server.sendStream(['and ', 'finished'], { binary: false });
  assert.equal(String((await received)[0]), 'open and finished');
  await stop();
});

test('a message left open by send(fin: false) and finished by a stream: broadcasts and publishes held for its end follow it in order', async () => {
  for (const perMessageDeflate of [false, true]) {
    const { client, server, wss, stop } = await pair({ perMessageDeflate });
    const messages: string[] = [];
    client.on('message', (data) => messages.push(String(data)));
    server.subscribe('t');
    server.send('open ', { fin: false, binary: false });
    wss.broadcast('held');
    const streamed = server.sendStream(chunks('and ', 'finished'), { binary: false });
    wss.publish('t', 'during');
    await streamed;
    wss.broadcast('after');
    await waitForCount(() => messages.length, 4);
    assert.equal(messages, ['open and finished', 'held', 'during', 'after'], `perMessageDeflate: ${perMessageDeflate}`);
    assert.is(server.bufferedAmount, 0);
    await stop();
  }
});

test('the producer is read only as fast as the socket drains: bufferedAmount stays within the mark plus one chunk', async () => {
  const highWaterMark = 64 * 1024;
  const { client, server, stop } = await pair({ highWaterMark });
  client.pause();
  const chunk = Buffer.alloc(16 * 1024);
  let pulled = 0;
  let highest = 0;
  async function* endless(): AsyncGenerator<Buffer> {
    for (;;) {
      highest = Math.max(highest, server.bufferedAmount);
      pulled++;
      yield chunk;
    }
  }
  const sending = server.sendStream(endless()).catch((error: unknown) => error);
  await sleep(300);
  const stalledAt = pulled;
  await sleep(200);
  assert.is(pulled, stalledAt, 'the source is not read while the peer does not read');
  assert.ok(highest < highWaterMark + chunk.length + 64, `bufferedAmount reached ${highest}`);
  client.terminate();
  // The peer is gone: the close it caused (WS_ERR_NOT_OPEN) or, where the runtime fails the pending write first
  // (Deno: EPIPE, ECONNRESET), the socket's own error.
  assert.ok((await sending) instanceof Error);
  await stop();
});

test('a source that fails before its first chunk: nothing is sent, the connection goes on', async () => {
  const { client, server, stop } = await pair();
  // biome-ignore lint/correctness/useYield: a source that fails before its first chunk
  async function* failing(): AsyncGenerator<Buffer> {
    throw new Error('no data');
  }
  const error = await server.sendStream(failing()).catch((caught: unknown) => caught);
  assert.is((error as Error).message, 'no data');
  const message = nextMessage(client);
  server.send('still open');
  assert.is(String((await message)[0]), 'still open');
  for (const wrong of [42, null]) {
    const wrongType = await server.sendStream([wrong as unknown as Buffer]).catch((caught: unknown) => caught);
    assert.ok(wrongType instanceof TypeError);
  }
  // Empty chunks are skipped: no empty frames but the last.
  client.binaryType = 'fragments';
  const withEmpty = nextMessage(client);
  await server.sendStream(['a', '', Buffer.alloc(0), 'b']);
  assert.equal(((await withEmpty)[0] as Buffer[]).map(String), ['a', 'b', '']);
  assert.is(server.readyState, server.OPEN);
  await stop();
});

test('a run of empty chunks lets the event loop turn: timers run during it, and terminate() ends an endless one', async () => {
  const { client, server, stop } = await pair();
  function* empties(count: number): Generator<string> {
    for (let i = 0; i < count; i++) yield '';
    yield 'data';
  }
  const message = nextMessage(client);
  let fired = false;
  const timer = setTimeout(() => (fired = true), 10);
  await server.sendStream(empties(200_000), { binary: false });
  clearTimeout(timer);
  assert.ok(fired, 'a 10 ms timer fired while 200,000 empty chunks were read');
  assert.is(String((await message)[0]), 'data');

  let finalized = false;
  const started = Date.now();
  function* endless(): Generator<string> {
    try {
      // Bounded only so that a regression fails instead of hanging.
      while (Date.now() - started < 3000) yield '';
    } finally {
      finalized = true;
    }
  }
  const sending = server.sendStream(endless()).catch((error: unknown) => error);
  setTimeout(() => server.terminate(), 20);
  assert.ok((await sending) instanceof Error);
  assert.ok(Date.now() - started < 1000, `terminate() ended it after ${Date.now() - started} ms`);
  await sleep(10);
  assert.ok(finalized, 'the source was stopped');
  await stop();
});

test('a source that fails before its first chunk but continues a send(fin: false): the message cannot be finished, 1011', async () => {
  const { client, server, stop } = await pair();
  const messages: string[] = [];
  client.on('message', (data) => messages.push(String(data)));
  const closed = waitFor<[number]>(client, 'close');
  // biome-ignore lint/correctness/useYield: a source that fails before its first chunk
  async function* failing(): AsyncGenerator<Buffer> {
    throw new Error('no data');
  }
  server.send('open ', { fin: false, binary: false });
  const error = await server.sendStream(failing()).catch((caught: unknown) => caught);
  assert.is((error as Error).message, 'no data');
  server.send('next');
  assert.is((await closed)[0], 1011);
  assert.equal(messages, [], 'nothing lands inside the unfinished message');
  await stop();
});

test('a source that fails midway: the promise rejects, the connection closes with 1011, sends behind it fail', async () => {
  const { client, server, stop } = await pair();
  const closed = waitFor<[number, Buffer]>(client, 'close');
  async function* failing(): AsyncGenerator<Buffer> {
    yield Buffer.from('half');
    await sleep(5);
    throw new Error('disk gone');
  }
  const sending = server.sendStream(failing()).catch((error: unknown) => error);
  let behind: Error | null | undefined;
  server.send('behind', (error) => (behind = error));
  assert.is(((await sending) as Error).message, 'disk gone');
  const [code, reason] = await closed;
  assert.is(code, 1011);
  assert.is(String(reason), 'Message source failed');
  assert.ok(behind instanceof WebSocketError);
  await stop();
});

test('terminate() midway rejects the promise and destroys a Readable source', async () => {
  const { client, server, stop } = await pair();
  client.pause();
  const source = new Readable({
    read() {
      this.push(Buffer.alloc(64 * 1024));
    },
  });
  const sending = server.sendStream(source).catch((error: unknown) => error);
  await sleep(50);
  server.terminate();
  // Whatever the runtime's socket says of the write it refused, the message failed because the connection is not open.
  const error = (await sending) as WebSocketError;
  assert.ok(error instanceof WebSocketError, String(error));
  assert.is(error.code, 'WS_ERR_NOT_OPEN');
  await sleep(10);
  assert.is(source.destroyed, true);
  await stop();
});

test('the peer closing midway fails the streamed message at once; the closing handshake completes', async () => {
  const { client, server, stop } = await pair();
  async function* slow(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 1000; i++) {
      await sleep(5);
      yield Buffer.from('x');
    }
  }
  const sending = server.sendStream(slow()).catch((error: unknown) => error);
  await sleep(30);
  const closed = waitFor<[number, Buffer, boolean]>(server, 'close');
  client.close(4000, 'enough');
  const error = (await sending) as WebSocketError;
  assert.is(error.code, 'WS_ERR_PEER_CLOSED');
  const [code, , wasClean] = await closed;
  assert.equal([code, wasClean], [4000, true]);
  await stop();
});

test('the peer closing before the first chunk fails the streamed message too: the closing handshake is not held up', async () => {
  const { client, server, stop } = await pair({ closeTimeout: 5000 });
  let cancelled = false;
  const stalled = new ReadableStream({
    cancel() {
      cancelled = true;
    },
  });
  const sending = server.sendStream(stalled).catch((error: unknown) => error);
  let behind: Error | null | undefined;
  server.send('behind', (error) => (behind = error));
  await sleep(20);
  const closed = waitFor<[number, Buffer, boolean]>(client, 'close');
  const started = Date.now();
  client.close(4000, 'enough');
  const [code, , wasClean] = await closed;
  assert.equal([code, wasClean], [4000, true]);
  assert.ok(Date.now() - started < 2000, `the answer took ${Date.now() - started} ms`);
  assert.is(((await sending) as WebSocketError).code, 'WS_ERR_PEER_CLOSED');
  assert.is((behind as WebSocketError).code, 'WS_ERR_PEER_CLOSED');
  await sleep(10);
  assert.ok(cancelled, 'the source was cancelled');
  await stop();
});

test('not open, or not a source: rejected', async () => {
  const { client, server, stop } = await pair();
  for (const wrong of ['a string', Buffer.from('bytes'), 42, null, {}]) {
    const error = await server.sendStream(wrong as never).catch((caught: unknown) => caught);
    assert.ok(error instanceof TypeError, String(wrong));
  }
  client.close();
  await waitFor(server, 'close');
  const source = Readable.from([Buffer.from('x')]);
  const error = await server.sendStream(source).catch((caught: unknown) => caught);
  assert.is((error as WebSocketError).code, 'WS_ERR_NOT_OPEN');
  await sleep(5);
  assert.is(source.destroyed, true, 'the source is let go');
  assert.throws(() => {
    throw error;
  }, isError(WebSocketError));
  await stop();
});

test('chunkSource: return() twice, and after the end, does nothing more', async () => {
  const { chunkSource } = await import('../../src/connection/source.ts');
  let returned = 0;
  const source = chunkSource({
    [Symbol.iterator]: () => ({
      next: () => ({ value: undefined, done: true }),
      return: () => {
        returned++;
        return { value: undefined, done: true };
      },
    }),
  } as Iterable<unknown>);
  await source.return();
  await source.return();
  assert.is(returned, 1);
  const ended = chunkSource([]);
  assert.equal(await ended.next(), { value: undefined, done: true });
  await ended.return();
});

async function waitForCount(count: () => number, expected: number): Promise<void> {
  for (let i = 0; i < 200 && count() < expected; i++) await sleep(5);
}

test.run();
