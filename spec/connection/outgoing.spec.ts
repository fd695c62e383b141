/**
 * The one outgoing queue: whatever waits (a Blob being read, a message being
 * compressed) holds everything behind it, frames made elsewhere included,
 * and the close frame goes last. Also the engine.io entry point
 * (`_sender.sendFrame`) on every kind of connection.
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, prepareMessage, type WebSocketServer } from '../../src/index.ts';
import { Opcode, headerSize, writeHeader } from '../../src/protocol/frame.ts';
import { frame, isError, pair, portOf, sleep, waitFor } from '../helpers.ts';
import { listen, rawPeer, shutdown } from '../security/peer.ts';

const test = suite('outgoing queue');

/** A server frame (unmasked) as engine.io/socket.io build them, split into header and payload. */
function serverFrame(payload: Buffer | string, opcode: number = Opcode.Text): Buffer[] {
  const data = Buffer.from(payload);
  const header = Buffer.alloc(headerSize(data.length, false));
  writeHeader(header, 0, opcode, true, false, data.length, null);
  return [header, data];
}

/** What a netws client received, as strings, until `count` messages came. */
async function received(client: WebSocket, count: number): Promise<string[]> {
  const got: string[] = [];
  await new Promise<void>((resolve) => {
    client.on('message', (data) => {
      got.push(String(data));
      if (got.length === count) resolve();
    });
  });
  return got;
}

test('2,000 Blobs and the texts between them arrive in the order sent', async () => {
  const { client, server, stop } = await pair();
  const expected: string[] = [];
  for (let i = 0; i < 1000; i++) {
    server.send(new Blob([`blob ${i}`]), { binary: false });
    server.send(`text ${i}`);
    expected.push(`blob ${i}`, `text ${i}`);
  }
  assert.equal(await received(client, 2000), expected);
  await stop();
});

test('_sender.sendFrame writes frames made elsewhere as they are, in order with other sends', async () => {
  const { client, server, stop } = await pair();
  const sent: Array<Error | null | undefined> = [];
  server._sender!.sendFrame(serverFrame('first'), (error) => sent.push(error));
  server.send(new Blob(['a blob']), { binary: false });
  server._sender!.sendFrame(serverFrame('behind the blob'), (error) => sent.push(error));
  server.send('text');
  assert.equal(await received(client, 4), ['first', 'a blob', 'behind the blob', 'text']);
  assert.equal(sent, [null, null]); // node's write callback, as in ws
  await stop();
});

test('sendFrame on a compressing connection sends the message inside the frame (8-bit, 16-bit and 64-bit lengths)', async () => {
  const { client, server, stop } = await pair({ perMessageDeflate: { threshold: 0 } }, { perMessageDeflate: true });
  const big = 'x'.repeat(70_000);
  server._sender!.sendFrame(serverFrame('short'));
  server._sender!.sendFrame(serverFrame('m'.repeat(300)));
  server._sender!.sendFrame([Buffer.concat(serverFrame(big))]);
  server._sender!.sendFrame(serverFrame(Buffer.from([1, 2, 3]), Opcode.Binary));
  const got = await received(client, 4);
  assert.equal(got.slice(0, 3), ['short', 'm'.repeat(300), big]);
  assert.match(client.extensions, /permessage-deflate/);
  await stop();
});

test('sendFrame with bytes that are not one complete unmasked data frame: the callback gets a TypeError', async () => {
  const { server, stop } = await pair({ perMessageDeflate: true }, { perMessageDeflate: true });
  const bad = [
    [Buffer.from([0x81])],
    [Buffer.from([0x89, 0x00])], // a ping
    [Buffer.from([0x01, 0x01, 0x61])], // no FIN
    [Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x61])], // masked
    [Buffer.from([0x81, 0x05, 0x61])], // short
    [Buffer.from([0x81, 0x7e, 0x00])],
    [Buffer.from([0x81, 0x7f, 0, 0, 0])],
  ];
  for (const frameBytes of bad) {
    const error = await new Promise<Error | null | undefined>((resolve) => server._sender!.sendFrame(frameBytes, resolve));
    assert.instance(error, TypeError, frameBytes[0].toString('hex'));
  }
  await stop();
});

test('sendFrame with no Buffers throws a TypeError at once, as ws does, with compression or without', async () => {
  for (const deflate of [false, true]) {
    const { server, stop } = await pair({ perMessageDeflate: deflate }, { perMessageDeflate: deflate });
    let called = false;
    assert.throws(() => server._sender!.sendFrame([], () => (called = true)), isError(TypeError), `deflate ${deflate}`);
    await sleep(10);
    assert.not.ok(called, 'the callback is not called as well');
    await stop();
  }
});

test('sendFrame and broadcast inside a fragmented message of ours wait for its end (frames never interleave); after close: refused', async () => {
  const { wss, client, server, stop } = await pair();
  server.send('frag', { fin: false });
  server._sender!.sendFrame(serverFrame('engine.io'));
  wss.broadcast('broadcast');
  assert.ok(server.bufferedAmount >= 'engine.io'.length + 'broadcast'.length, 'held messages count in bufferedAmount');
  server.send('ment', { fin: false });
  server.send('ed', { fin: true });
  assert.equal(await received(client, 3), ['fragmented', 'engine.io', 'broadcast']);
  server.close();
  const error = await new Promise<Error | null | undefined>((resolve) => server._sender!.sendFrame(serverFrame('late'), resolve));
  assert.instance(error, Error);
  await stop();
});

/** `promise`, or a rejection if it is still pending after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test('what waits for our open fragmented message is left out of backpressure: drained() and drain still come', async () => {
  const { wss, client, server, stop } = await pair();
  try {
    const got: number[] = [];
    client.on('message', (data) => got.push((data as Buffer).length));
    server.send('a', { fin: false });
    wss.broadcast(Buffer.alloc(100 * 1024)); // held, over highWaterMark
    assert.ok(server.bufferedAmount > server.highWaterMark, 'held bytes still count in bufferedAmount');
    assert.ok(server.send('b', { fin: false }), 'send() has room');
    await within(server.drained(), 2000);
    // A fragment over highWaterMark: 'drain' once it is handed to the kernel, the broadcast still held.
    client.pause();
    setTimeout(() => client.resume(), 100);
    assert.not.ok(server.send(Buffer.alloc(4 * 1024 * 1024), { fin: false }));
    const drained = waitFor(server, 'drain', 3000);
    await within(server.drained(), 3000);
    await drained;
    server.send('end');
    while (got.length < 2) await sleep(5);
    assert.equal(got, [2 + 4 * 1024 * 1024 + 3, 100 * 1024]);
  } finally {
    await stop();
  }
});

test('a client-side sendFrame is masked on the way out (the bytes cannot be shared)', async () => {
  const { client, server, stop } = await pair();
  client._sender!.sendFrame(serverFrame('from the client'));
  const [data] = await waitFor<[Buffer]>(server, 'message');
  assert.is(String(data), 'from the client');
  await stop();
});

test('broadcast while a Blob is queued on one connection: that connection gets it after the Blob', async () => {
  const { wss, client, server, stop } = await pair();
  server.send(new Blob(['blob first']), { binary: false });
  assert.is(wss.broadcast(prepareMessage('broadcast')), 1);
  assert.equal(await received(client, 2), ['blob first', 'broadcast']);
  await stop();
});

test('close() while sends wait: they go first; sends after close() fail and count in bufferedAmount', async () => {
  const wss = await listen({ perMessageDeflate: { threshold: 0 } });
  const connected = waitFor<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
  const [server] = await connected;
  await waitFor(client, 'open');
  const got = received(client, 3);
  server.send('compressed one');
  server.send(new Blob(['blob two']), { binary: false });
  server.send('compressed three');
  server.close(4000, 'bye');
  const before = server.bufferedAmount;
  const late = new Promise<Error | null | undefined>((resolve) => server.send('too late', resolve));
  assert.is(server.bufferedAmount - before, 8, 'sent after close: counted');
  assert.instance(await late, Error);
  assert.equal(await got, ['compressed one', 'blob two', 'compressed three']);
  const [code, reason] = await waitFor<[number, Buffer]>(client, 'close');
  assert.equal([code, String(reason)], [4000, 'bye']);
  await shutdown(wss);
});

test('terminate() while sends wait: their callbacks get an error, nothing more is written', async () => {
  const wss = await listen({ perMessageDeflate: { threshold: 0 } });
  const peer = await rawPeer(wss);
  const errors: unknown[] = [];
  peer.server.send(new Blob(['never']), (error) => errors.push(error));
  peer.server.send('never either', (error) => errors.push(error));
  peer.server.terminate();
  await waitFor(peer.server, 'close');
  await sleep(10);
  assert.is(errors.length, 2);
  assert.ok(errors.every((error) => error instanceof Error));
  await shutdown(wss);
});

test("the peer's close cuts the queue at a streamed message: what is ahead still goes out, then the answer", async () => {
  const { OutgoingQueue } = await import('../../src/connection/outgoing.ts');
  const log: string[] = [];
  const rejected: Array<Error | undefined> = [];
  const target = {
    readyState: 1,
    transmit: (data: Buffer) => log.push(`message ${data}`),
    transmitControl() {},
    transmitFrame() {},
    transmitClose: () => log.push('close'),
    transmitCloseEcho: () => log.push('close echo'),
    blobUnreadable() {},
    rejectSend: (_callback: unknown, error?: Error) => rejected.push(error),
    socketGone: () => false,
    streamHasRoom: () => true,
    streamFailed() {},
  };
  const queue = new OutgoingQueue(target, null);
  let returned = 0;
  const stalled = { next: () => new Promise<never>(() => {}), return: async () => void returned++ };
  queue.pushMessage(new Blob(['ahead']), false, true, false, undefined);
  queue.pushStream(stalled, true, false, false, () => log.push('stream callback'));
  queue.pushMessage(Buffer.from('behind'), false, true, false, undefined);
  const error = new Error('peer closed');
  queue.cutAtStream(error);
  queue.pushCloseEcho();
  await sleep(20);
  assert.equal(log, ['message ahead', 'close echo']);
  assert.equal(rejected, [error, error], 'the stream and the message behind it');
  assert.is(returned, 1, 'the source was stopped');
  assert.is(queue.bytes, 0);
  assert.ok(queue.isEmpty);
});

test('a Blob ping waits its turn behind a Blob message', async () => {
  const { client, server, stop } = await pair();
  const order: string[] = [];
  client.on('message', (data) => order.push(`message ${data}`));
  client.on('ping', (data) => order.push(`ping ${data}`));
  server.send(new Blob(['m']), { binary: false });
  server.ping(new Blob(['p']));
  server.pong(new Blob(['q']));
  await waitFor(client, 'pong');
  assert.equal(order, ['message m', 'ping p']);
  assert.throws(
    () => server.ping(new Blob([Buffer.alloc(126)])),
    (error: unknown) => error instanceof RangeError,
  );
  await stop();
});

test('a user ping or pong waits behind queued sends (a Blob, a message being deflated, a Blob ping), as in ws', async () => {
  for (const deflate of [false, true]) {
    const { client, server, stop } = await pair({ perMessageDeflate: deflate ? { threshold: 0 } : false }, { perMessageDeflate: deflate });
    try {
      const order: string[] = [];
      client.on('message', (data) => order.push(`message ${String(data).length}`));
      client.on('ping', (data) => order.push(`ping ${data}`));
      client.on('pong', (data) => order.push(`pong ${data}`));
      // Deflated off the main thread (too large to deflate inline) or a Blob: either is queued.
      server.send(deflate ? Buffer.alloc(200_000, 'a') : new Blob(['m']));
      server.ping('P');
      server.pong('Q');
      server.ping(new Blob(['R']));
      server.ping('S');
      for (let i = 0; i < 200 && order.length < 5; i++) await sleep(10);
      assert.equal(order, [`message ${deflate ? 200_000 : 1}`, 'ping P', 'pong Q', 'ping R', 'ping S'], `deflate ${deflate}`);
    } finally {
      await stop();
    }
  }
});

test('ping() or pong() once closing calls back with the error whatever the payload size, as in ws', async () => {
  const { server, stop } = await pair();
  server.close();
  const error = await new Promise<Error | null | undefined>((resolve) => server.ping(Buffer.alloc(200), false, resolve));
  assert.instance(error, Error);
  await stop();
});

test('data a paused connection left in the socket is still delivered when the connection ends (as ws)', async () => {
  const wss: WebSocketServer = await listen();
  const peer = await rawPeer(wss);
  const got: string[] = [];
  peer.server.on('message', (data) => got.push(String(data)));
  peer.server.pause();
  peer.socket.write(frame({ opcode: 1, payload: 'while paused' }));
  await sleep(30);
  peer.socket.resetAndDestroy();
  const [code] = await waitFor<[number]>(peer.server, 'close');
  assert.equal(got, ['while paused']);
  assert.is(code, 1006);
  await shutdown(wss);
});

test.run();
