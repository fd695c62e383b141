/**
 * netws/redis against a real redis-server, with node-redis and with
 * ioredis: several servers in this process, each with its own clients and
 * adapter, as separate processes would have (spec/cluster/ runs real
 * processes). What Redis itself sees is checked with RESP by hand.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketError, WebSocketServer } from '../../src/index.ts';
import { PreparedMessage } from '../../src/protocol/prepared.ts';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { RedisAdapter, type RedisAdapterOptions } from '../../src/adapters/redis.ts';
import { isReady, type RedisClient } from '../../src/adapters/redis/clients.ts';
import { ENVELOPE_HEADER_SIZE, V1_HEADER_SIZE } from '../../src/adapters/redis/envelope.ts';
import { isError, portOf, sleep, waitFor } from '../helpers.ts';
import { LIBRARIES, redisClients, type ClientLibrary, type RedisClients } from '../redis-clients.ts';
import { RedisServer, ResetAfterAcceptProxy, redisAvailable } from '../redis-server.ts';

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(5);
  }
}

interface Node {
  wss: WebSocketServer;
  adapter: RedisAdapter;
  clients: RedisClients;
  errors: WebSocketError[];
  close(): Promise<void>;
}

async function startNode(
  library: ClientLibrary,
  redis: RedisServer,
  options: Partial<RedisAdapterOptions> = {},
  publisherUrl = redis.url,
): Promise<Node> {
  const clients = await redisClients(library, publisherUrl, redis.url);
  const adapter = new RedisAdapter({ publisher: clients.publisher, subscriber: clients.subscriber, ...options });
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', adapter });
  const errors: WebSocketError[] = [];
  wss.on('error', (error) => errors.push(error as WebSocketError));
  await waitFor(wss, 'listening');
  return {
    wss,
    adapter,
    clients,
    errors,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      wss.adapter = null;
      clients.close();
    },
  };
}

interface Received {
  data: Buffer;
  isBinary: boolean;
}

async function subscribe(node: Node, ...topics: string[]) {
  const accepted = waitFor<[WebSocket]>(node.wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(node.wss)}`);
  const received: Received[] = [];
  client.on('message', (data, isBinary) => received.push({ data: data as Buffer, isBinary }));
  await waitFor(client, 'open');
  const [server] = await accepted;
  for (const topic of topics) server.subscribe(topic);
  const texts = () => received.map(({ data }) => data.toString());
  return { client, server, received, texts };
}

/** Redis's view: channels with subscribers (sharded ones with `sharded`). */
async function channels(redis: RedisServer, sharded = false): Promise<string[]> {
  return ((await redis.command('PUBSUB', sharded ? 'SHARDCHANNELS' : 'CHANNELS')) as string[]).sort();
}

/** Until Redis has the subscription (SUBSCRIBE is asynchronous). */
async function untilSubscribed(redis: RedisServer, channel: string, sharded = false): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await channels(redis, sharded)).includes(channel)) {
    if (Date.now() > deadline) throw new Error(`${channel} not subscribed within 5 s`);
    await sleep(10);
  }
}

/** Envelopes as other nodes publish them: version 2 (with a sequence number) and version 1. */
function envelopeV2(flags: number, origin: number, sequence: number, payload: Buffer | string): Buffer {
  const header = Buffer.alloc(ENVELOPE_HEADER_SIZE);
  header[0] = 2;
  header[1] = flags;
  header.writeUInt32BE(origin, 6);
  header.writeUIntBE(sequence, V1_HEADER_SIZE, 6);
  return Buffer.concat([header, Buffer.from(payload)]);
}

function envelopeV1(flags: number, origin: number, payload: Buffer | string): Buffer {
  const header = Buffer.alloc(V1_HEADER_SIZE);
  header[0] = 1;
  header[1] = flags;
  header.writeUInt32BE(origin, 6);
  return Buffer.concat([header, Buffer.from(payload)]);
}

/** PUBLISHes `messages` in order on one connection of its own (RESP by hand), pipelined; resolves after the last answer. */
function publishRaw(redis: RedisServer, messages: Array<[channel: string, message: Buffer]>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(redis.port, '127.0.0.1');
    const bulk = (value: Buffer) => [Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n')];
    const request = messages.flatMap(([channel, message]) => [
      Buffer.from('*3\r\n'),
      ...bulk(Buffer.from('PUBLISH')),
      ...bulk(Buffer.from(channel)),
      ...bulk(message),
    ]);
    let answers = 0;
    socket.on('data', (chunk: Buffer) => {
      // Each answer is an integer reply (":n\r\n") and nothing else comes on this connection.
      for (const byte of chunk) if (byte === 0x3a) answers++;
      if (answers >= messages.length) {
        socket.end();
        resolve();
      }
    });
    socket.once('error', reject);
    socket.write(Buffer.concat(request));
  });
}

const available = redisAvailable();

for (const library of available ? LIBRARIES : []) {
  const test = suite(`adapters/redis with ${library}`);
  let redis: RedisServer;
  const nodes: Node[] = [];
  const node = async (options: Partial<RedisAdapterOptions> = {}) => {
    const started = await startNode(library, redis, options);
    nodes.push(started);
    return started;
  };
  test.before(async () => {
    redis = await RedisServer.start();
  });
  test.after.each(async () => {
    // A test that failed while Redis was down (killed on purpose) leaves it down: closing the nodes
    // would then wait for a Redis that never comes back, and the later tests would fail for nothing.
    if (redis.pid === undefined) await redis.run();
    for (const started of nodes.splice(0)) await started.close();
  });
  test.after(async () => {
    await redis.stop();
  });

  test('a publish on one server reaches the subscribers on the others once, text and binary, every byte value intact', async () => {
    const [a, b, c] = [await node(), await node(), await node()];
    const onA = await subscribe(a, 'room');
    const onB = await subscribe(b, 'room');
    const onC = await subscribe(c, 'elsewhere');
    await untilSubscribed(redis, 'netws:room');
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    assert.is(a.wss.publish('room', 'hello'), 1, 'local recipients');
    a.wss.publish('room', everyByte);
    a.wss.publish('room', 'ünïcödé ✓', { binary: true });
    a.wss.publish('room', '');
    await until(() => onB.received.length === 4);
    assert.equal(
      onB.received.map(({ data, isBinary }) => [data, isBinary]),
      [
        [Buffer.from('hello'), false],
        [everyByte, true],
        [Buffer.from('ünïcödé ✓'), true],
        [Buffer.alloc(0), false],
      ],
    );
    await sleep(50);
    assert.is(onA.received.length, 4, 'the publishing server delivered once, and ignored its own message back from Redis');
    assert.is(onB.received.length, 4);
    assert.equal(onC.received, []);
    assert.is(a.adapter.stats.published, 4);
    assert.is(b.adapter.stats.received, 4);
    assert.is(c.adapter.stats.received, 0, 'a server without subscribers of the topic receives nothing from Redis');
    assert.is(b.adapter.stats.bytesIn, a.adapter.stats.bytesOut);
    assert.is(a.adapter.stats.bytesOut, 4 * ENVELOPE_HEADER_SIZE + 5 + 256 + Buffer.byteLength('ünïcödé ✓'));
    assert.equal(a.errors, []);
  });

  test("each publisher's messages arrive in order on every other server; ws.publish skips only the sender", async () => {
    const [a, b] = [await node(), await node()];
    const sender = await subscribe(a, 'ordered');
    const neighbour = await subscribe(a, 'ordered');
    const far = await subscribe(b, 'ordered');
    await untilSubscribed(redis, 'netws:ordered');
    const COUNT = 2000;
    for (let i = 0; i < COUNT; i++) sender.server.publish('ordered', String(i));
    const expected = Array.from({ length: COUNT }, (_, i) => String(i));
    await until(() => far.received.length === COUNT && neighbour.received.length === COUNT);
    assert.equal(far.texts(), expected);
    assert.equal(neighbour.texts(), expected);
    assert.equal(sender.received, []);
  });

  test('one channel per topic, subscribed while the server has a subscriber of it (reference counted)', async () => {
    const a = await node({ prefix: 'app:' });
    const first = await subscribe(a, 'x', 'y');
    const second = await subscribe(a, 'x');
    await untilSubscribed(redis, 'app:y');
    assert.equal(await channels(redis), ['app:x', 'app:y']);
    assert.is(a.adapter.channels, 2);
    first.server.unsubscribe('x');
    first.client.close();
    await waitFor(first.server, 'close');
    await sleep(50);
    assert.equal(await channels(redis), ['app:x'], 'y had no subscriber left; x still has one');
    second.client.terminate();
    await waitFor(second.server, 'close');
    await sleep(50);
    assert.equal(await channels(redis), []);
    assert.is(a.adapter.channels, 0);
  });

  test('a topic subscribed and unsubscribed in one tick is not left subscribed', async () => {
    const a = await node();
    const peer = await subscribe(a);
    for (let i = 0; i < 5; i++) {
      peer.server.subscribe('flap');
      peer.server.unsubscribe('flap');
    }
    peer.server.subscribe('steady');
    await untilSubscribed(redis, 'netws:steady');
    await sleep(100);
    assert.equal(await channels(redis), ['netws:steady']);
  });

  test('compress: false travels with the message', async () => {
    const [a, b] = [await node(), await node()];
    const seen: boolean[] = [];
    b.wss.adapter = null;
    const original = b.adapter;
    b.wss.adapter = {
      attach: (host) =>
        original.attach({
          ...host,
          deliver: (topic, message, compress) => {
            seen.push(compress);
            return host.deliver(topic, message, compress);
          },
        }),
      detach: () => original.detach(),
      subscribe: (topic) => original.subscribe(topic),
      unsubscribe: (topic) => original.unsubscribe(topic),
      publish: (topic, message, compress) => original.publish(topic, message, compress),
    };
    const far = await subscribe(b, 'z');
    await untilSubscribed(redis, 'netws:z');
    a.wss.publish('z', 'squeeze');
    a.wss.publish('z', 'plain', { compress: false });
    await until(() => far.received.length === 2);
    assert.equal(seen, [true, false]);
  });

  test('malformed messages on a topic channel are dropped, counted and reported; good ones still arrive', async () => {
    const b = await node({ maxMessageSize: 100 });
    const far = await subscribe(b, 'bad');
    await untilSubscribed(redis, 'netws:bad');
    const header = (version: number, flags: number) => Buffer.concat([Buffer.from([version, flags]), Buffer.alloc(8, 7)]);
    const bad = [
      Buffer.from('plain text from someone else'),
      Buffer.alloc(0),
      Buffer.alloc(V1_HEADER_SIZE - 1, 1),
      Buffer.concat([header(3, 0), Buffer.from('future version')]),
      Buffer.concat([header(2, 0), Buffer.from('short')]).subarray(0, ENVELOPE_HEADER_SIZE - 1),
      envelopeV2(8, 1, 1, 'unknown flag in version 2'),
      Buffer.concat([header(1, 4), Buffer.from('unknown flag')]),
      Buffer.concat([header(1, 0), Buffer.alloc(101)]),
    ];
    for (const message of bad) await redis.command('PUBLISH', 'netws:bad', message);
    await redis.command('PUBLISH', 'netws:bad', Buffer.concat([header(1, 1), Buffer.from('fine')]));
    await until(() => far.received.length === 1);
    assert.equal(far.received[0], { data: Buffer.from('fine'), isBinary: true });
    assert.is(b.adapter.stats.dropped, bad.length);
    assert.is(b.errors.length, bad.length);
    assert.ok(b.errors.every((error) => error instanceof WebSocketError && error.code === 'WS_ERR_ADAPTER_MESSAGE'));
    assert.match(b.errors[0].message, /topic "bad"/);
  });

  test('text that is not UTF-8 (versions 1 and 2) is dropped, counted and reported on every server; the subscribers stay connected', async () => {
    const [b, c] = [await node(), await node()];
    const onB = await subscribe(b, 'utf');
    const onC = await subscribe(c, 'utf');
    const closes: number[] = [];
    for (const peer of [onB, onC]) peer.client.on('close', (code) => closes.push(code));
    await untilSubscribed(redis, 'netws:utf');
    const invalid = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x61, 0xf4, 0x90, 0x80, 0x80]].map((bytes) =>
      Buffer.from(bytes),
    );
    await publishRaw(redis, [
      ...invalid.map((payload, i) => ['netws:utf', envelopeV2(0, 9, i + 1, payload)] as [string, Buffer]),
      ['netws:utf', envelopeV1(2, 9, invalid[0])],
      // The same bytes as binary are fine, and so is well-formed text after them.
      ['netws:utf', envelopeV2(1, 9, 100, invalid[0])],
      ['netws:utf', envelopeV2(0, 9, 101, 'ünïcödé ✓')],
    ]);
    await until(() => onB.received.length === 2 && onC.received.length === 2);
    for (const peer of [onB, onC]) {
      assert.equal(peer.received, [
        { data: invalid[0], isBinary: true },
        { data: Buffer.from('ünïcödé ✓'), isBinary: false },
      ]);
      assert.is(peer.client.readyState, WebSocket.OPEN);
    }
    assert.equal(closes, []);
    for (const server of [b, c]) {
      assert.is(server.adapter.stats.dropped, invalid.length + 1);
      assert.is(server.adapter.stats.received, 2);
      assert.is(server.errors.length, invalid.length + 1, 'each reported once');
      assert.ok(server.errors.every((error) => error.code === 'WS_ERR_ADAPTER_MESSAGE' && /not UTF-8/.test(error.message)));
    }
  });

  test('duplicates: a sequence number from one node on one topic is delivered once, late ones too; topics and nodes are apart; version 1 has none', async () => {
    const b = await node();
    const far = await subscribe(b, 'd1', 'd2', 'd3');
    await untilSubscribed(redis, 'netws:d3');
    await publishRaw(redis, [
      ['netws:d1', envelopeV2(0, 1, 5, 'a')],
      ['netws:d1', envelopeV2(0, 1, 5, 'a again')],
      ['netws:d1', envelopeV2(0, 1, 4, 'late, the first time')],
      ['netws:d1', envelopeV2(0, 1, 4, 'late again')],
      ['netws:d2', envelopeV2(0, 1, 3, 'other topic, lower number')],
      ['netws:d1', envelopeV2(0, 2, 1, 'other node')],
      ['netws:d1', envelopeV2(0, 1, 6, 'b')],
      ['netws:d1', envelopeV2(0, 1, 300, 'far ahead')],
      // 256 behind the newest: too old to tell from a repeat. 255 behind: still known.
      ['netws:d1', envelopeV2(0, 1, 44, 'older than the window')],
      ['netws:d1', envelopeV2(0, 1, 45, 'just inside the window')],
      ['netws:d1', envelopeV2(0, 1, 45, 'just inside, again')],
      ['netws:d1', envelopeV1(0, 1, 'v1')],
      ['netws:d1', envelopeV1(0, 1, 'v1')],
    ]);
    await until(() => far.received.length === 9);
    assert.equal(far.texts(), [
      'a',
      'late, the first time',
      'other topic, lower number',
      'other node',
      'b',
      'far ahead',
      'just inside the window',
      'v1',
      'v1',
    ]);
    assert.is(b.adapter.stats.duplicates, 4);
    // A topic remembers at most 1024 publishing nodes: the oldest is forgotten first.
    const many: Array<[string, Buffer]> = Array.from({ length: 1025 }, (_, i) => ['netws:d3', envelopeV2(0, 1000 + i, 1, `n${i}`)]);
    many.push(
      ['netws:d3', envelopeV2(0, 1000, 1, 'n0 forgotten: delivered again')],
      ['netws:d3', envelopeV2(0, 2024, 1, 'n1024 remembered')],
    );
    await publishRaw(redis, many);
    await until(() => far.received.length === 9 + 1026);
    await sleep(50);
    assert.is(far.texts().at(-1), 'n0 forgotten: delivered again');
    assert.is(b.adapter.stats.duplicates, 5);
    assert.equal(b.errors, []);
  });

  test('a TCP reset after Redis took a PUBLISH and before its answer came (a fault proxy): the other servers get the message once', async () => {
    const proxy = await ResetAfterAcceptProxy.start(redis.port);
    try {
      const a = await startNode(library, redis, {}, proxy.url);
      nodes.push(a);
      const b = await node();
      const far = await subscribe(b, 'reset');
      const near = await subscribe(a, 'reset');
      await untilSubscribed(redis, 'netws:reset');
      a.wss.publish('reset', 'before');
      await until(() => far.texts().includes('before'));
      const reset = proxy.resetAfterAccept(Buffer.from('once'));
      a.wss.publish('reset', 'once');
      await Promise.race([reset, sleep(5000).then(() => Promise.reject(new Error('the PUBLISH never went through the proxy')))]);
      // Until the publisher is back: each try fails at once while it is not.
      for (let i = 0; !far.texts().some((text) => text.startsWith('after')); i++) {
        assert.ok(i < 200, `the publisher did not come back: ${JSON.stringify(far.texts())}`);
        a.wss.publish('reset', `after ${i}`);
        await sleep(50);
      }
      await sleep(200);
      assert.equal(far.texts().slice(0, 2), ['before', 'once']);
      assert.is(far.texts().filter((text) => text === 'once').length, 1, JSON.stringify(far.texts()));
      assert.is(near.texts().filter((text) => text === 'once').length, 1);
      if (library === 'ioredis') {
        // ioredis sent it again after reconnecting (autoResendUnfulfilledCommands): Redis delivered it twice.
        assert.is(b.adapter.stats.duplicates, 1);
      } else {
        // node-redis gave up on it: counted as unconfirmed, not as failed (it was delivered).
        assert.ok(a.adapter.stats.publishUnconfirmed >= 1, `${a.adapter.stats.publishUnconfirmed}`);
        assert.is(b.adapter.stats.duplicates, 0);
      }
      assert.ok(a.errors.length >= 1 && a.errors.every((error) => error.code.startsWith('WS_ERR_ADAPTER')));
    } finally {
      await proxy.close();
    }
  });

  test("a topic unsubscribed while Redis was down is not subscribed after the reconnect: Redis's channels are the adapter's", async () => {
    const [a, b] = [await node(), await node()];
    const keep = await subscribe(a, 'keep', 'drop');
    await untilSubscribed(redis, 'netws:drop');
    await redis.kill();
    await until(() => a.errors.length > 0);
    keep.server.unsubscribe('drop');
    keep.server.subscribe('added');
    await redis.run();
    const deadline = Date.now() + 10_000;
    for (let i = 0; !keep.texts().some((text) => text.startsWith('keep')); i++) {
      assert.ok(Date.now() < deadline, 'delivery did not resume');
      b.wss.publish('keep', `keep ${i}`);
      await sleep(50);
    }
    // Given time to settle (the adapter unsubscribes again once the connection is ready), then stable.
    await until(() => a.adapter.channels === 2);
    let seen: string[] = [];
    const settle = Date.now() + 5000;
    while (JSON.stringify((seen = await channels(redis))) !== JSON.stringify(['netws:added', 'netws:keep']) && Date.now() < settle)
      await sleep(50);
    assert.equal(seen, ['netws:added', 'netws:keep']);
    await sleep(300);
    assert.equal(await channels(redis), ['netws:added', 'netws:keep']);
  });

  test("a subscription the client dropped behind the adapter's back is found by a probe and subscribed again (counted, reported once)", async () => {
    const [a, b] = [await node({ verifyInterval: 100 }), await node({ verifyInterval: 100 })];
    const far = await subscribe(a, 'probed');
    const other = await subscribe(b, 'probed');
    await untilSubscribed(redis, 'netws:probed');
    const subscriber = a.clients.subscriber as { unsubscribe(channel: string): Promise<unknown> };
    await subscriber.unsubscribe('netws:probed');
    await until(() => a.adapter.stats.resubscribed === 1, 5000);
    const deadline = Date.now() + 5000;
    for (let i = 0; !far.texts().some((text) => text.startsWith('back')); i++) {
      assert.ok(Date.now() < deadline, 'not subscribed again');
      b.wss.publish('probed', `back ${i}`);
      await sleep(50);
    }
    assert.ok(a.adapter.stats.probes >= 2 && b.adapter.stats.probes >= 1);
    assert.equal(
      a.errors.map((error) => error.code),
      ['WS_ERR_ADAPTER_SUBSCRIPTION_LOST'],
    );
    assert.equal(b.errors, []);
    // Probes reach every server subscribed to the topic; none of them delivers one.
    assert.ok(far.received.every(({ data }) => data.toString().startsWith('back')));
    assert.ok(other.received.every(({ data }) => data.toString().startsWith('back')));
  });

  test('a message over maxMessageSize reaches local subscribers only, with an error and a count', async () => {
    const [a, b] = [await node({ maxMessageSize: 10 }), await node()];
    const near = await subscribe(a, 'big');
    const far = await subscribe(b, 'big');
    await untilSubscribed(redis, 'netws:big');
    assert.is(a.wss.publish('big', 'x'.repeat(11)), 1);
    a.wss.publish('big', 'x'.repeat(10));
    await until(() => far.received.length === 1 && near.received.length === 2);
    assert.is(far.texts()[0], 'x'.repeat(10));
    assert.is(a.adapter.stats.publishFailed, 1);
    assert.equal(
      a.errors.map((error) => error.code),
      ['WS_ERR_ADAPTER_MESSAGE_TOO_BIG'],
    );
  });

  test('past maxPendingBytes publishes fail at once (counted, one error) instead of queueing without bound', async () => {
    const [a, b] = [await node({ maxPendingBytes: 3 * (ENVELOPE_HEADER_SIZE + 100) }), await node()];
    const far = await subscribe(b, 'burst');
    await subscribe(a, 'burst');
    await untilSubscribed(redis, 'netws:burst');
    for (let i = 0; i < 10; i++) a.wss.publish('burst', 'y'.repeat(100));
    await until(() => a.adapter.stats.published + a.adapter.stats.publishFailed === 10);
    assert.is(a.adapter.stats.published, 3);
    assert.is(a.adapter.stats.publishFailed, 7);
    assert.equal(
      a.errors.map((error) => error.code),
      ['WS_ERR_ADAPTER_BACKLOG'],
    );
    await until(() => far.received.length === 3);
    a.wss.publish('burst', 'after');
    await until(() => far.received.length === 4);
  });

  test('sharded: SSUBSCRIBE and SPUBLISH (Redis 7 sharded pub/sub, on a single node here)', async () => {
    const [a, b] = [await node({ sharded: true }), await node({ sharded: true })];
    const far = await subscribe(b, 'shard');
    await untilSubscribed(redis, 'netws:shard', true);
    assert.equal(await channels(redis), [], 'no classic channel');
    a.wss.publish('shard', 'via a shard');
    await until(() => far.received.length === 1);
    assert.is(far.texts()[0], 'via a shard');
    far.client.close();
    await waitFor(far.server, 'close');
    await sleep(50);
    assert.equal(await channels(redis, true), []);
  });

  test('Redis killed and restarted: local delivery goes on, remote delivery fails (counted, one error per outage), then resumes by itself', async () => {
    const [a, b] = [await node(), await node()];
    const near = await subscribe(a, 'live');
    const far = await subscribe(b, 'live');
    await untilSubscribed(redis, 'netws:live');
    a.wss.publish('live', 'before');
    await until(() => far.received.length === 1);
    await redis.kill();
    // Both nodes notice the loss (a read error), then publishes fail at once. Each node's first
    // error can come from its subscriber's socket while its publisher has not read the end of its
    // own yet (a turn later on Deno): until it has, a publish is sent, and unconfirmed, not refused.
    await until(() => a.errors.length > 0 && b.errors.length > 0 && !isReady(a.clients.publisher as RedisClient));
    for (let i = 0; i < 5; i++) assert.is(a.wss.publish('live', `during ${i}`), 1, 'local subscribers still get it');
    assert.ok(a.adapter.stats.publishFailed >= 5, `${a.adapter.stats.publishFailed}`);
    assert.is(a.errors.length, 1, `one error per outage: ${a.errors.map((error) => error.message).join('; ')}`);
    assert.ok(a.errors[0] instanceof WebSocketError && a.errors[0].code.startsWith('WS_ERR_ADAPTER'));
    // A topic subscribed during the outage is subscribed once Redis is back.
    const late = await subscribe(b, 'late');
    await redis.run();
    const deadline = Date.now() + 10_000;
    let sent = 0;
    while (!far.texts().includes('after') || !late.texts().includes('late after')) {
      assert.ok(Date.now() < deadline, `delivery did not resume: ${JSON.stringify(far.texts())}`);
      a.wss.publish('live', 'after');
      a.wss.publish('late', 'late after');
      sent++;
      await sleep(50);
    }
    assert.is(near.texts().filter((text) => text.startsWith('during')).length, 5);
    assert.not.ok(
      far.texts().some((text) => text.startsWith('during')),
      'what was published during the outage is lost remotely',
    );
    assert.ok(a.adapter.stats.reconnects >= 1 && b.adapter.stats.reconnects >= 1);
    assert.ok(sent < 200);
  });

  test('attach twice is refused; detach unsubscribes and takes its listeners off the clients', async () => {
    const a = await node();
    await subscribe(a, 'd1', 'd2');
    await untilSubscribed(redis, 'netws:d2');
    assert.throws(() => a.adapter.attach({ deliver: () => 0, topics: () => [][Symbol.iterator](), reportError() {} }), /already/);
    const subscriber = a.clients.subscriber as { listenerCount(event: string): number };
    const before = subscriber.listenerCount('error');
    a.wss.adapter = null;
    assert.is(subscriber.listenerCount('error'), before - 1);
    a.adapter.detach();
    await sleep(100);
    assert.equal(await channels(redis), []);
    a.wss.adapter = a.adapter;
    await untilSubscribed(redis, 'netws:d2');
    assert.equal(await channels(redis), ['netws:d1', 'netws:d2'], 'attached again: every topic is subscribed again');
  });

  test('an adapter given to a second server is refused (constructor and setter); the first keeps its channels', async () => {
    const a = await node();
    await subscribe(a, 'kept');
    await untilSubscribed(redis, 'netws:kept');
    assert.throws(() => new WebSocketServer({ noServer: true, adapter: a.adapter }), /already serves/);
    const b = await node();
    const own = b.adapter;
    assert.throws(() => {
      b.wss.adapter = a.adapter;
    }, /already serves/);
    assert.is(b.wss.adapter, own, 'a refused adapter leaves the old one in place');
    // b giving up its adapter must not unsubscribe a's channels.
    b.wss.adapter = null;
    await sleep(100);
    assert.equal(await channels(redis), ['netws:kept']);
    assert.is(a.wss.adapter, a.adapter);
    assert.equal(a.errors, []);
    assert.equal(b.errors, []);
  });

  test.run();
}

const options = suite('adapters/redis: options');

options('the clients must look like node-redis or ioredis clients; options are checked (undefined is the default)', async () => {
  const fakeIoredis = { on() {}, removeListener() {}, status: 'ready', ssubscribe() {}, subscribe() {}, unsubscribe() {}, publish() {} };
  const fakeNodeRedis = { on() {}, removeListener() {}, isReady: true, sSubscribe() {}, subscribe() {}, unsubscribe() {}, publish() {} };
  const make = (extra: Record<string, unknown>) =>
    new RedisAdapter({ publisher: fakeIoredis, subscriber: fakeNodeRedis, ...extra } as RedisAdapterOptions);
  assert.ok(make({}) instanceof RedisAdapter);
  assert.ok(make({ prefix: undefined, sharded: undefined, maxMessageSize: undefined, maxPendingBytes: undefined }));
  assert.ok(make({ maxMessageSize: 0, maxPendingBytes: 0 }), '0: no limit of ours');
  for (const bad of [undefined, null, 0, 'redis://', {}, { on() {} }, { on() {}, status: 'ready' }]) {
    assert.throws(() => make({ publisher: bad }), isError(TypeError), String(bad));
    assert.throws(() => make({ subscriber: bad }), isError(TypeError), String(bad));
  }
  assert.throws(() => make({ publisher: { ...fakeIoredis, publish: undefined } }), isError(TypeError));
  assert.throws(() => make({ subscriber: { ...fakeNodeRedis, unsubscribe: 1 } }), isError(TypeError));
  assert.throws(() => make({ sharded: true, publisher: { ...fakeNodeRedis, sPublish: undefined } }), /sPublish/);
  for (const [name, bad, type] of [
    ['prefix', 0, TypeError],
    ['prefix', 'app\ud800:', TypeError],
    ['sharded', 'yes', TypeError],
    ['maxMessageSize', -1, RangeError],
    ['maxMessageSize', 'big', TypeError],
    ['maxPendingBytes', -1, RangeError],
    ['maxPendingBytes', null, TypeError],
    ['verifyInterval', -1, RangeError],
    ['verifyInterval', 'often', TypeError],
  ] as const) {
    assert.throws(() => make({ [name]: bad }), isError(type), `${name}: ${String(bad)}`);
  }
  assert.ok(make({ verifyInterval: 0 }), '0: checked only after reconnects and topology changes');
  // An ioredis Cluster subscribes to shard channels on every shard only with shardedSubscribers.
  const fakeCluster = (options: object) => ({ ...fakeIoredis, spublish() {}, sunsubscribe() {}, isCluster: true, options });
  assert.throws(() => make({ sharded: true, publisher: fakeCluster({}), subscriber: fakeCluster({}) }), /shardedSubscribers: true/);
  assert.ok(make({ sharded: true, publisher: fakeCluster({}), subscriber: fakeCluster({ shardedSubscribers: true }) }));
  assert.ok(make({ publisher: fakeCluster({}), subscriber: fakeCluster({}) }), 'classic pub/sub needs no sharded subscribers');
  assert.throws(() => new RedisAdapter(undefined as never), isError(TypeError));
  assert.match(make({}).nodeId, /^[0-9a-f]{16}$/);
});

options('a client whose commands throw synchronously, or that has no readiness to read, fails softly', async () => {
  const throwing = {
    on() {},
    removeListener() {},
    sSubscribe() {},
    subscribe() {
      throw new Error('sync subscribe failure');
    },
    unsubscribe() {
      throw 'not even an Error';
    },
    publish() {
      throw new Error('sync publish failure');
    },
  };
  const adapter = new RedisAdapter({ publisher: throwing, subscriber: throwing });
  const errors: Error[] = [];
  const wss = new WebSocketServer({ noServer: true, adapter });
  wss.on('error', (error) => errors.push(error));
  adapter.subscribe('t');
  adapter.unsubscribe('t');
  adapter.unsubscribe('never subscribed');
  wss.publish('t', 'x');
  await sleep(10);
  assert.is(adapter.stats.subscribeFailed, 2);
  assert.is(adapter.stats.publishFailed, 1);
  // The publish threw at once (reported at once); the subscribe failures come later, in the same outage.
  assert.equal(
    errors.map((error) => (error as WebSocketError).code),
    ['WS_ERR_ADAPTER_PUBLISH'],
  );
  assert.match(String(errors[0].cause), /sync publish failure/);
  wss.adapter = null;
  adapter.detach();
});

options(
  'messages as an ioredis subscriber emits them: foreign channels ignored, strings refused, a throwing delivery reported',
  async () => {
    const listeners = new Map<string, (...args: unknown[]) => void>();
    const subscriber = {
      status: 'ready',
      on: (event: string, listener: (...args: unknown[]) => void) => listeners.set(event, listener),
      removeListener() {},
      ssubscribe() {},
      subscribe: async () => 1,
      unsubscribe: async () => 1,
    };
    const publisher = { ...subscriber, publish: async () => 1 };
    const adapter = new RedisAdapter({ publisher, subscriber, prefix: 'p:' });
    const reported: Error[] = [];
    let deliveries = 0;
    adapter.attach({
      deliver: () => {
        deliveries++;
        throw new Error('a listener threw');
      },
      topics: () => [][Symbol.iterator](),
      reportError: (error) => reported.push(error),
    });
    adapter.subscribe('t');
    const emit = listeners.get('messageBuffer')!;
    const envelope = Buffer.concat([Buffer.from([1, 0]), Buffer.alloc(8, 9), Buffer.from('hi')]);
    emit(Buffer.from('other:t'), envelope);
    emit('p:t', 'a string, not a Buffer');
    emit(Buffer.from('p:t'), envelope);
    emit(Buffer.from('p:unsubscribed'), envelope);
    assert.is(deliveries, 1);
    assert.equal(
      reported.map((error) => error.message),
      ['A message on topic "t" is not a netws envelope: dropped', 'a listener threw'],
    );
    assert.is(adapter.stats.received, 1);
    adapter.detach();
    emit(Buffer.from('p:t'), envelope);
    assert.is(deliveries, 1, 'detached: nothing delivered');
  },
);

/**
 * The checks' and repairs' corner cases, which a real cluster produces only
 * by chance: a stand-in for a cluster client (ioredis-shaped, an in-memory
 * pub/sub that is its own Redis), whose subscriptions can be dropped, whose
 * commands can hang or fail, and whose masters can change.
 */
class StandInCluster extends EventEmitter {
  status = 'ready';
  readonly isCluster = true;
  readonly options = { shardedSubscribers: true };
  masterPorts = [7000, 7001, 7002];
  readonly subscribed = new Set<string>();
  readonly calls: string[] = [];
  hangSubscribe = false;
  publishError: Error | null = null;

  nodes(role: string) {
    return role === 'master' ? this.masterPorts.map((port) => ({ options: { host: '127.0.0.1', port } })) : [];
  }
  ssubscribe(...channels: string[]) {
    this.calls.push(`ssubscribe ${channels.join(' ')}`);
    if (this.hangSubscribe) return new Promise(() => {});
    for (const channel of channels) this.subscribed.add(channel);
    return Promise.resolve(this.subscribed.size);
  }
  sunsubscribe(...channels: string[]) {
    this.calls.push(`sunsubscribe ${channels.join(' ')}`);
    for (const channel of channels) this.subscribed.delete(channel);
    return Promise.resolve(this.subscribed.size);
  }
  spublish(channel: string, message: Buffer) {
    if (this.publishError !== null) return Promise.reject(this.publishError);
    if (this.subscribed.has(channel)) queueMicrotask(() => this.emit('smessageBuffer', Buffer.from(channel), message));
    return Promise.resolve(this.subscribed.has(channel) ? 1 : 0);
  }
  exists(key: string) {
    this.calls.push(`exists ${key}`);
    return Promise.resolve(0);
  }
}

options(
  'checks and repairs: a slot-map refresh that changed the masters, a lost channel, a hanging SUBSCRIBE, a failing probe, a client not ready',
  async () => {
    const client = new StandInCluster();
    const adapter = new RedisAdapter({ publisher: client, subscriber: client, sharded: true, verifyInterval: 0 });
    const errors: WebSocketError[] = [];
    adapter.attach({ deliver: () => 0, topics: () => [][Symbol.iterator](), reportError: (error) => errors.push(error as WebSocketError) });
    try {
      adapter.subscribe('t1');
      adapter.subscribe('t2');
      await sleep(10);
      // A refresh that found the same masters is no change.
      client.emit('refresh');
      await sleep(400);
      assert.is(adapter.stats.probes, 0);
      client.masterPorts = [7000, 7001, 7003];
      client.emit('refresh');
      await until(() => adapter.stats.probes === 2);
      await sleep(1200);
      assert.is(adapter.stats.resubscribed, 0, 'both probes came back');

      // Dropped behind the adapter's back: the next check finds it, a keyed read nudges the client, then UNSUBSCRIBE, SUBSCRIBE.
      client.subscribed.delete('netws:t1');
      client.calls.length = 0;
      client.emit('-node');
      await until(() => adapter.stats.resubscribed === 1 && client.subscribed.has('netws:t1'), 5000);
      assert.equal(client.calls.slice(0, 3), ['exists netws:t1', 'sunsubscribe netws:t1', 'ssubscribe netws:t1']);
      assert.equal(
        errors.map((error) => error.code),
        ['WS_ERR_ADAPTER_SUBSCRIPTION_LOST'],
      );

      // A SUBSCRIBE that never answers: given up after 2 s, counted, tried again by a later check.
      client.subscribed.delete('netws:t2');
      client.hangSubscribe = true;
      client.emit('+node');
      await until(() => adapter.stats.subscribeFailed === 1, 6000);
      client.hangSubscribe = false;
      await until(() => client.subscribed.has('netws:t2'), 6000);

      // Probes that cannot be published teach nothing: retried, no repair.
      await sleep(1500);
      const { probes, resubscribed } = adapter.stats;
      client.publishError = new Error('CLUSTERDOWN');
      client.emit('-node');
      await until(() => adapter.stats.probes >= probes + 4, 5000);
      client.publishError = null;
      // Not ready: the check waits for it.
      client.status = 'connecting';
      client.emit('-node');
      await sleep(800);
      const whileDown = adapter.stats.probes;
      await sleep(600);
      assert.is(adapter.stats.probes, whileDown, 'no probe while the client is not ready');
      client.status = 'ready';
      await until(() => adapter.stats.probes > whileDown, 3000);
      await sleep(1200);
      assert.is(adapter.stats.resubscribed, resubscribed);

      // Redis's own error reply is a failure; anything else leaves the message's fate unknown.
      class ReplyError extends Error {}
      client.publishError = new ReplyError('MOVED 1 127.0.0.1:7000');
      adapter.publish('t1', new PreparedMessage(Buffer.from('x'), false), true);
      client.publishError = new Error('Connection is closed.');
      adapter.publish('t1', new PreparedMessage(Buffer.from('y'), false), true);
      await sleep(10);
      assert.is(adapter.stats.publishFailed, 1);
      assert.is(adapter.stats.publishUnconfirmed, 1);
      client.publishError = null;

      // At most 1000 probes per check; the rest wait for the next.
      for (let i = 0; i < 1001; i++) adapter.subscribe(`many${i}`);
      await sleep(1500);
      const before = adapter.stats.probes;
      client.emit('-node');
      await until(() => adapter.stats.probes > before);
      await sleep(50);
      assert.is(adapter.stats.probes - before, 1000);
    } finally {
      adapter.detach();
    }
  },
);

options('node-redis cluster clients: the masters come from `masters`; detach stops the checks', async () => {
  const listeners = new Map<string, (...args: unknown[]) => void>();
  const cluster = {
    masters: [{ address: '127.0.0.1:7000' }, { host: '127.0.0.1', port: 7001 }],
    on: (event: string, listener: (...args: unknown[]) => void) => listeners.set(event, listener),
    removeListener: (event: string) => listeners.delete(event),
    sSubscribe: async () => {},
    sUnsubscribe: async () => {},
    sPublish: async () => 0,
    exists: async () => 0,
  };
  const adapter = new RedisAdapter({ publisher: cluster, subscriber: cluster, sharded: true, verifyInterval: 50 });
  adapter.attach({ deliver: () => 0, topics: () => [][Symbol.iterator](), reportError() {} });
  adapter.subscribe('n');
  await sleep(120);
  assert.ok(adapter.stats.probes >= 1, 'the periodic check probed the silent channel');
  listeners.get('refresh')!();
  cluster.masters.pop();
  listeners.get('refresh')!();
  adapter.detach();
  assert.is(listeners.size, 0, 'every listener taken off');
  const probes = adapter.stats.probes;
  await sleep(1500);
  assert.is(adapter.stats.probes, probes, 'no check after detach');
});

options.run();
