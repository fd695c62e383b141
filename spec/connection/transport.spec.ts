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
