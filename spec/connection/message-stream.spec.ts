/** messages({ stream: true }): each message a Readable of its bytes as they arrive. */

import type { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketError, type WebSocket } from '../../src/index.ts';
import { MessageStream } from '../../src/connection/message-stream.ts';
import { frame, pair, sleep, waitFor } from '../helpers.ts';

const test = suite('streams: messages({ stream: true })');

async function bytesOf(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function pattern(size: number, seed = 0): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

test('a fragmented message arrives as a stream, in pieces, before its end', async () => {
  const { client, server, stop } = await pair();
  const iterator = server.messages({ stream: true });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  async function* slow(): AsyncGenerator<Buffer> {
    yield Buffer.from('first ');
    await gate;
    yield Buffer.from('second');
  }
  const sending = client.sendStream(slow());
  const { value } = await iterator.next();
  assert.is(value!.isBinary, true);
  const stream = value!.data;
  const firstPiece = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
  assert.is(String(firstPiece), 'first ', 'the first piece before the message ended');
  const rest: Buffer[] = [];
  stream.on('data', (piece: Buffer) => rest.push(piece));
  release();
  await new Promise((resolve) => stream.once('end', resolve));
  assert.is(Buffer.concat(rest).toString(), 'second');
  await sending;
  await stop();
});

test('text and binary, small and large, in order; no message events for them', async () => {
  const { client, server, stop } = await pair({ maxPayload: 1024 });
  const iterator = server.messages({ stream: true });
  let events = 0;
  server.on('message', () => events++);
  const big = pattern(300_000);
  client.send('héllo');
  client.send(big);
  client.send(Buffer.alloc(0));
  const results: Array<[boolean, string]> = [];
  for (let i = 0; i < 3; i++) {
    const { value } = await iterator.next();
    const bytes = await bytesOf(value!.data);
    results.push([value!.isBinary, i === 1 ? String(bytes.equals(big)) : bytes.toString()]);
  }
  // maxPayload (1 KiB) does not apply to streamed messages.
  assert.equal(results, [
    [false, 'héllo'],
    [true, 'true'],
    [true, ''],
  ]);
  assert.is(events, 0);
  await stop();
});

test('permessage-deflate without context takeover: each message inflated as a stream as it is read', async () => {
  const { client, server, stop } = await pair({ perMessageDeflate: true });
  const iterator = server.messages({ stream: true });
  const big = Buffer.alloc(2_000_000, 'compressible ');
  client.send(big);
  client.send('text after');
  const first = (await iterator.next()).value!;
  assert.ok((await bytesOf(first.data)).equals(big));
  const second = (await iterator.next()).value!;
  assert.equal([second.isBinary, String(await bytesOf(second.data))], [false, 'text after']);
  await stop();
});

test('a compressed streamed message read late: inflation waits for its reader, then finishes', async () => {
  const { client, server, stop } = await pair({ perMessageDeflate: true, highWaterMark: 1024 });
  const iterator = server.messages({ stream: true });
  const big = Buffer.alloc(1_000_000, 'late reader ');
  client.send(big);
  const stream = (await iterator.next()).value!.data;
  await sleep(100);
  assert.ok(stream.readableLength <= 64 * 1024, `${stream.readableLength} inflated bytes waiting`);
  assert.ok((await bytesOf(stream)).equals(big));
  await stop();
});

test('with context takeover compressed messages are inflated whole, and still come as streams', async () => {
  const deflate = { serverNoContextTakeover: false, clientNoContextTakeover: false };
  const { client, server, stop } = await pair({ perMessageDeflate: deflate }, { perMessageDeflate: deflate });
  assert.not.match(server.extensions, /no_context_takeover/);
  const iterator = server.messages({ stream: true });
  client.send('one, compressed');
  client.send('two, compressed', { compress: false });
  assert.is(String(await bytesOf((await iterator.next()).value!.data)), 'one, compressed');
  assert.is(String(await bytesOf((await iterator.next()).value!.data)), 'two, compressed');
  await stop();
});

test('maxStreamPayload: a frame announcing more closes with 1009; inflated output past it too', async () => {
  for (const perMessageDeflate of [false, true]) {
    const { client, server, stop } = await pair({ maxStreamPayload: 1000, perMessageDeflate });
    const iterator = server.messages({ stream: true });
    const closed = waitFor<[number]>(client, 'close');
    const pulled = iterator.next();
    client.send(Buffer.alloc(5000));
    // Uncompressed, the frame header already says too much: no stream is made, the iterator throws.
    // Compressed, the stream fails once inflation passes the limit.
    const result = await pulled.catch((caught: unknown) => caught);
    const error = perMessageDeflate
      ? await bytesOf((result as IteratorResult<{ data: Readable }>).value.data).catch((caught: unknown) => caught)
      : result;
    assert.is((await closed)[0], 1009, `perMessageDeflate ${perMessageDeflate}`);
    assert.is((error as WebSocketError).code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    await stop();
  }
});

test('invalid UTF-8 in a streamed text message closes with 1007, compressed or not', async () => {
  for (const perMessageDeflate of [false, true]) {
    const { client, server, stop } = await pair({ perMessageDeflate });
    const iterator = server.messages({ stream: true });
    const closed = waitFor<[number]>(client, 'close');
    const pulled = iterator.next();
    client.send(Buffer.alloc(2000, 0xff), { binary: false });
    await bytesOf((await pulled).value!.data).catch(() => {});
    assert.is((await closed)[0], 1007, `perMessageDeflate ${perMessageDeflate}`);
    await stop();
  }
});

test('a stream nobody reads stops the socket at its high-water mark; reading resumes it', async () => {
  const { client, server, stop } = await pair({ highWaterMark: 16 * 1024 });
  const iterator = server.messages({ stream: true });
  const sending = client.sendStream(
    (function* () {
      for (let i = 0; i < 256; i++) yield Buffer.alloc(16 * 1024, i);
    })(),
  );
  const stream = (await iterator.next()).value!.data;
  await sleep(100);
  assert.is((server._socket as unknown as { isPaused(): boolean }).isPaused(), true);
  assert.ok(stream.readableLength <= 16 * 1024 + 64 * 1024, `${stream.readableLength} bytes held`);
  assert.is((await bytesOf(stream)).length, 256 * 16 * 1024);
  await sending;
  await stop();
});

test('the connection ending midway: the message stream errors; break midway skips the rest of the message', async () => {
  const { client, server, stop } = await pair();
  const iterator = server.messages({ stream: true });
  client.send('x', { fin: false });
  const stream = (await iterator.next()).value!.data;
  const failed = new Promise<unknown>((resolve) => stream.on('error', resolve));
  stream.resume();
  client.terminate();
  assert.is(((await failed) as WebSocketError).code, 'WS_ERR_MESSAGE_INCOMPLETE');
  await stop();

  const second = await pair();
  const streaming = second.server.messages({ stream: true });
  second.client.send('start of it ', { fin: false });
  const half = (await streaming.next()).value!.data;
  await streaming.return!();
  assert.is(half.destroyed, true);
  second.client.send('and the end');
  const after = waitFor<[Buffer]>(second.server, 'message');
  second.client.send('a whole message');
  assert.is(String((await after)[0]), 'a whole message');
  await second.stop();
});

test('a reader in stream mode before the client opened: set when the connection attaches', async () => {
  const { wss, stop } = await pair();
  const { WebSocket } = await import('../../src/index.ts');
  const accepted = waitFor<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  const iterator = client.messages({ stream: true });
  const [server] = await accepted;
  server.send('to a streaming client');
  assert.is(String(await bytesOf((await iterator.next()).value!.data)), 'to a streaming client');
  client.terminate();
  await stop();
});

test('a streamed compressed message that does not inflate closes with 1007', async () => {
  const { client, server, stop } = await pair({ perMessageDeflate: true });
  const iterator = server.messages({ stream: true });
  const closed = waitFor<[number]>(client, 'close');
  const pulled = iterator.next();
  // RSV1 set, and bytes that are no deflate stream (a reserved block type).
  client._socket!.write(frame({ opcode: 2, payload: Buffer.from([0xff, 0xff, 0xff, 0xff]), rsv: 4 }));
  const error = await bytesOf((await pulled).value!.data).catch((caught: unknown) => caught);
  assert.is((await closed)[0], 1007);
  assert.ok(error instanceof WebSocketError);
  await stop();
});

test('MessageStream.full counts what waits for zlib too; a destroyed stream is never full', () => {
  const owner = { updateReading() {}, messageStreamFailed() {} };
  const stream = new MessageStream(owner, { highWaterMark: 4, compressor: null, maxStreamPayload: 100, validateText: false });
  stream.receive(Buffer.alloc(5));
  assert.is(stream.full, true);
  stream.destroy();
  assert.is(stream.full, false);
  stream.receive(Buffer.alloc(5));
  stream.receiveEnd();
  stream.abortIncomplete();
});

test.run();
