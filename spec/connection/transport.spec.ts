import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { PassThrough } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CLIENT_SOCKET,
  kPeerEnded,
  kTransportClosed,
  kTransportData,
  kTransportDrained,
  kTransportFailed,
  Transport,
  type TransportOwner,
} from '../../src/connection/transport.ts';
import { WebSocket, WebSocketServer } from '../../src/index.ts';
import { waitFor } from '../helpers.ts';

const cert = readFileSync(new URL('../fixtures/cert.pem', import.meta.url));
const key = readFileSync(new URL('../fixtures/key.pem', import.meta.url));

/** An owner that ignores the transport's events: only the writes are under test. */
const owner = (): TransportOwner => ({
  [kTransportData]() {},
  [kPeerEnded]() {},
  [kTransportClosed]() {},
  [kTransportFailed]() {},
  [kTransportDrained]() {},
});

test('whenFlushed: at once (next tick) when nothing is in flight, else after the last write so far', async () => {
  const duplex = new PassThrough({ highWaterMark: 4 });
  const transport = new Transport(duplex, owner(), CLIENT_SOCKET);
  const order: string[] = [];
  assert.ok(transport.whenFlushed(() => order.push('idle')));
  assert.equal(order, []);
  await new Promise((resolve) => process.nextTick(resolve));
  assert.equal(order, ['idle']);

  // A PassThrough whose reader does not read: the writes stay buffered until it does.
  transport.write(Buffer.alloc(64), null, () => order.push('first'));
  transport.write(Buffer.from('header'), Buffer.alloc(64), () => order.push('second'));
  transport.whenFlushed(() => order.push('flushed after second'));
  transport.write(Buffer.alloc(64), null);
  transport.whenFlushed(() => order.push('flushed after third'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order, ['idle']);
  duplex.resume();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order, ['idle', 'first', 'second', 'flushed after second', 'flushed after third']);

  duplex.destroy();
  assert.not.ok(
    transport.whenFlushed(() => order.push('never')),
    'a transport that cannot write any more says so',
  );
});

test('whenFlushed: a write callback that throws still counts its write, so later flushes are not lost', async () => {
  const duplex = new PassThrough();
  duplex.resume();
  const transport = new Transport(duplex, owner(), CLIENT_SOCKET);
  const thrown: unknown[] = [];
  const onUncaught = (error: unknown): void => {
    thrown.push(error);
  };
  process.on('uncaughtException', onUncaught);
  try {
    transport.write(Buffer.from('header'), Buffer.alloc(64), () => {
      throw new Error('from a user callback');
    });
    let flushed = false;
    transport.whenFlushed(() => (flushed = true));
    const deadline = Date.now() + 1000;
    while (!flushed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.is(thrown.length, 1);
    assert.ok(flushed, 'whenFlushed called back');
  } finally {
    process.removeListener('uncaughtException', onUncaught);
  }
});

/** Reserves `size` bytes on `transport` and fills them with `byte`; returns whether it could. */
function reserveFilled(transport: Transport, size: number, byte: number, callback?: () => void): boolean {
  const slot = { buffer: Buffer.alloc(0), offset: 0 };
  if (!transport.reserve(size, callback, slot)) return false;
  slot.buffer.fill(byte, slot.offset, slot.offset + size);
  return true;
}

/** What a PassThrough transport wrote, as the chunks its reader gets (read only when asked). */
function written(duplex: PassThrough): Buffer[] {
  const chunks: Buffer[] = [];
  let chunk: Buffer | null;
  while ((chunk = duplex.read() as Buffer | null) !== null) chunks.push(chunk);
  return chunks;
}

/** Counts the writes into `duplex`: those made while it was corked (a writev's pieces, counted once per cork) and the others. */
function countWrites(duplex: PassThrough): { corked: number; uncorked: number } {
  const counts = { corked: 0, uncorked: 0 };
  const write = duplex.write.bind(duplex) as (...args: unknown[]) => boolean;
  const cork = duplex.cork.bind(duplex);
  duplex.cork = () => {
    counts.corked++;
    cork();
  };
  duplex.write = ((...args: unknown[]) => {
    if (duplex.writableCorked === 0) counts.uncorked++;
    return write(...args);
  }) as typeof duplex.write;
  return counts;
}

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

test('reserve: frames of two connections interleaved in one tick each leave whole, in order, one write per connection', async () => {
  const a = new PassThrough();
  const b = new PassThrough();
  const writesA = countWrites(a);
  const writesB = countWrites(b);
  const ta = new Transport(a, owner(), CLIENT_SOCKET);
  const tb = new Transport(b, owner(), CLIENT_SOCKET);
  const order: string[] = [];
  assert.ok(reserveFilled(ta, 10, 0x61, () => order.push('a1')));
  assert.ok(reserveFilled(tb, 10, 0x62, () => order.push('b1')));
  // b took the slab's next bytes: a's next frame starts a region of its own, after its first.
  assert.ok(reserveFilled(ta, 5, 0x41, () => order.push('a2')));
  ta.write(Buffer.from('X'.repeat(3)), null, () => order.push('a3'));
  assert.ok(reserveFilled(ta, 3, 0x63));
  assert.ok(reserveFilled(tb, 4, 0x42));
  assert.is(ta.bufferedBytes, 21);
  assert.is(tb.bufferedBytes, 14);
  await nextTick();
  assert.equal(
    written(a).map((chunk) => chunk.toString()),
    ['aaaaaaaaaaAAAAAXXXccc'],
  );
  assert.equal(
    written(b).map((chunk) => chunk.toString()),
    ['bbbbbbbbbbBBBB'],
  );
  assert.equal(
    [writesA, writesB],
    [
      { corked: 0, uncorked: 1 },
      { corked: 0, uncorked: 1 },
    ],
    'small frames: joined into one write',
  );
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order, ['a1', 'a2', 'a3', 'b1']);
});

test('reserve: batches past one slab, and bytes written earlier, unread, stay as they were', async () => {
  const duplex = new PassThrough({ highWaterMark: 1 << 30 });
  const writes = countWrites(duplex);
  const transport = new Transport(duplex, owner(), CLIENT_SOCKET);
  const expected: Buffer[] = [];
  // Three ticks of frames, nothing read in between: a reused byte of an earlier slab would show.
  for (let tick = 0; tick < 3; tick++) {
    for (let n = 0; n < 100; n++) {
      const size = 1 + ((n * 37 + tick * 11) % 1500);
      const byte = (tick * 100 + n) & 0xff;
      assert.ok(reserveFilled(transport, size, byte));
      expected.push(Buffer.alloc(size, byte));
    }
    // A frame larger than a slab gets a buffer of its own, in its place.
    assert.ok(reserveFilled(transport, 20_000, 0xee - tick));
    expected.push(Buffer.alloc(20_000, 0xee - tick));
    await nextTick();
  }
  // Each tick's batch is several slabs' worth: its pieces go in one corked write (a writev).
  assert.is(writes.corked, 3, 'one writev per tick');
  assert.is(writes.uncorked, 0);
  assert.ok(Buffer.concat(written(duplex)).equals(Buffer.concat(expected)));
});

test("reserve: a batch that must wait behind a slow peer's writes holds bytes of its own, not a shared slab", async () => {
  // The reader never reads: the first write fills the readable side, the next ones wait in the writable queue.
  const duplex = new PassThrough({ highWaterMark: 1 });
  const chunks: Buffer[] = [];
  const write = duplex.write.bind(duplex) as (...args: unknown[]) => boolean;
  duplex.write = ((chunk: Buffer, ...rest: unknown[]) => {
    chunks.push(chunk);
    return write(chunk, ...rest);
  }) as typeof duplex.write;
  const transport = new Transport(duplex, owner(), CLIENT_SOCKET);
  for (let tick = 0; tick < 3; tick++) {
    assert.ok(reserveFilled(transport, 30, 0x30 + tick));
    await nextTick();
  }
  // A batch of several slabs' worth, bound to wait too: joined into a buffer of its own, not written as slab regions.
  for (let n = 0; n < 40; n++) assert.ok(reserveFilled(transport, 1000, 0x33));
  await nextTick();
  // A small batch in two regions (another connection took the slab's bytes between them): Buffer.concat would
  // join it in node's shared 8 KiB pool, and every such write queued for a stalled peer would keep a pool alive.
  const other = new Transport(new PassThrough({ highWaterMark: 1 << 20 }), owner(), CLIENT_SOCKET);
  assert.ok(reserveFilled(transport, 30, 0x34));
  assert.ok(reserveFilled(other, 30, 0x2d));
  assert.ok(reserveFilled(transport, 30, 0x35));
  await nextTick();
  assert.is(chunks.length, 5);
  assert.is(chunks[0].buffer.byteLength, 16 * 1024, 'nothing queued: the slab region goes as it is');
  for (const queued of chunks.slice(1, 3)) assert.is(queued.buffer.byteLength, 30, 'queued: a buffer of its own size');
  assert.is(chunks[3].length, 40_000);
  assert.is(chunks[3].buffer.byteLength, 40_000, 'queued: one buffer of its own, not slab regions');
  assert.is(chunks[4].buffer.byteLength, 60, 'queued, two regions: one buffer of its own size, not a pool');
  assert.is(
    Buffer.concat(written(duplex)).toString(),
    `${'0'.repeat(30)}${'1'.repeat(30)}${'2'.repeat(30)}${'3'.repeat(40_000)}${'4'.repeat(30)}${'5'.repeat(30)}`,
  );
});

test('reserve: refused once the transport cannot write, and its callback is not kept', async () => {
  const duplex = new PassThrough();
  const transport = new Transport(duplex, owner(), CLIENT_SOCKET);
  let called = false;
  duplex.destroy();
  assert.not.ok(reserveFilled(transport, 8, 1, () => (called = true)));
  assert.is(transport.bufferedBytes, 0);
  await new Promise((resolve) => setImmediate(resolve));
  assert.not.ok(called);
});

// Regression (Deno 2.9): the flush was learnt from the callback of an empty write, which Deno's TLSSocket fails
// with EPERM, killing the connection. A message over highWaterMark (here compressed, in both directions) waits
// for that flush before 'drain'.
test('wss with permessage-deflate: 512 KiB messages each way and their drain', async () => {
  const server = https.createServer({ cert, key });
  const wss = new WebSocketServer({ server, perMessageDeflate: true });
  let client: WebSocket | undefined;
  try {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    // Random bytes (hex: half compressible): zlib cannot shrink them below the 16 KiB mark.
    const payload = Buffer.from(Array.from({ length: 256 * 1024 }, () => Math.floor(Math.random() * 256))).toString('hex');
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        ws.send(data, { binary: false });
      });
      ws.on('error', () => {});
    });
    const port = (server.address() as { port: number }).port;
    client = new WebSocket(`wss://localhost:${port}`, { ca: cert, perMessageDeflate: true });
    await waitFor(client, 'open');
    const echoed = waitFor<[Buffer]>(client, 'message', 20_000);
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    client.send(payload);
    const drained = client.drained().then(
      () => 'drained',
      (error: Error) => error.message,
    );
    const [data] = await echoed;
    assert.is(await drained, 'drained');
    assert.is(data.toString(), payload);
    assert.is(client.readyState, WebSocket.OPEN);
    assert.equal(errors, []);
  } finally {
    client?.terminate();
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test.run();
