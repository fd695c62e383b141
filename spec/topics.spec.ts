import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PreparedMessage, WebSocket, WebSocketError, WebSocketServer, type AdapterHost, type TopicAdapter } from '../src/index.ts';
import { MAX_TOPIC_LENGTH, TopicHub } from '../src/topics.ts';
import { decodeFrames, isError, portOf, rawConnect, sleep, until, upgradeRequest, waitFor } from './helpers.ts';

async function standalone(options: Record<string, unknown> = {}): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await waitFor(wss, 'listening');
  return wss;
}

async function stop(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

/** A client connected to `wss`, the server side of it, and every message the client received. */
async function connect(wss: WebSocketServer, options: Record<string, unknown> = {}) {
  const accepted = waitFor<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`, options);
  const received: Array<[string, boolean]> = [];
  client.on('message', (data, isBinary) => received.push([(data as Buffer).toString(), isBinary]));
  await waitFor(client, 'open');
  const [server] = await accepted;
  return { client, server, received };
}

/** Waits until `condition` holds, at most `ms`. */
/** An adapter that records what the server tells it. */
function recordingAdapter(): TopicAdapter & { calls: string[]; host: AdapterHost | null } {
  const adapter = {
    calls: [] as string[],
    host: null as AdapterHost | null,
    attach(host: AdapterHost) {
      adapter.host = host;
      adapter.calls.push('attach');
    },
    detach() {
      adapter.host = null;
      adapter.calls.push('detach');
    },
    subscribe(topic: string) {
      adapter.calls.push(`+${topic}`);
    },
    unsubscribe(topic: string) {
      adapter.calls.push(`-${topic}`);
    },
    publish(topic: string, message: PreparedMessage, compress: boolean) {
      adapter.calls.push(`>${topic}:${message.data.toString()}:${message.isBinary ? 'binary' : 'text'}:${compress}`);
    },
  };
  return adapter;
}

const topics = suite('topics: subscribe, unsubscribe, publish');
let wss: WebSocketServer;
topics.before(async () => {
  wss = await standalone();
});
topics.after(() => stop(wss));

topics('subscribe, isSubscribed, topics and unsubscribe, with what each returns', async () => {
  const { client, server } = await connect(wss);
  assert.equal(server.topics, []);
  assert.is.not(server.topics, server.topics, 'a fresh array, empty too');
  server.topics.push('mine');
  assert.equal(server.topics, []);
  assert.is(server.isSubscribed('a'), false);
  assert.is(server.subscribe('a'), true);
  assert.is(server.subscribe('a'), false, 'a second subscribe changes nothing');
  assert.is(server.subscribe('b'), true);
  assert.equal(server.topics, ['a', 'b']);
  assert.is(server.isSubscribed('a'), true);
  assert.is(wss.subscriberCount('a'), 1);
  const copy = server.topics;
  copy.push('c');
  assert.equal(server.topics, ['a', 'b'], 'topics is a copy');
  assert.is(server.unsubscribe('a'), true);
  assert.is(server.unsubscribe('a'), false);
  assert.is(server.unsubscribe('never'), false);
  assert.equal(server.topics, ['b']);
  assert.is(wss.subscriberCount('a'), 0);
  client.close();
  await waitFor(server, 'close');
});

topics('publish reaches every subscriber once, and nobody else; it returns the number of local recipients', async () => {
  const a = await connect(wss);
  const b = await connect(wss);
  const outsider = await connect(wss);
  a.server.subscribe('news');
  b.server.subscribe('news');
  outsider.server.subscribe('sport');
  assert.is(wss.publish('news', 'headline'), 2);
  assert.is(wss.publish('news', Buffer.from('bytes')), 2);
  assert.is(wss.publish('news', 'as binary', { binary: true }), 2);
  assert.is(wss.publish('nobody', 'lost'), 0);
  await until(() => a.received.length === 3 && b.received.length === 3);
  const expected = [
    ['headline', false],
    ['bytes', true],
    ['as binary', true],
  ];
  assert.equal(a.received, expected);
  assert.equal(b.received, expected);
  await sleep(20);
  assert.equal(outsider.received, []);
  for (const peer of [a, b, outsider]) peer.client.close();
});

topics('a PreparedMessage is published as it is (its own text or binary type)', async () => {
  const a = await connect(wss);
  a.server.subscribe('prepared');
  const message = new PreparedMessage(Buffer.from('once'), true);
  assert.is(wss.publish('prepared', message), 1);
  assert.is(wss.publish('prepared', message, { binary: false }), 1, 'binary does not change a prepared message');
  await until(() => a.received.length === 2);
  assert.equal(a.received, [
    ['once', true],
    ['once', true],
  ]);
  a.client.close();
});

topics('the bytes on the wire are the same for every subscriber (framed once)', async () => {
  const sockets = await Promise.all([rawConnect(portOf(wss)), rawConnect(portOf(wss))]);
  const accepted: WebSocket[] = [];
  const onConnection = (ws: WebSocket) => accepted.push(ws);
  wss.on('connection', onConnection);
  for (const { socket } of sockets) socket.write(upgradeRequest('/'));
  await until(() => accepted.length === 2);
  wss.off('connection', onConnection);
  for (const ws of accepted) ws.subscribe('wire');
  const heads = sockets.map(({ received }) => received().length);
  wss.publish('wire', 'x'.repeat(300));
  await until(() => sockets.every(({ received }, i) => received().length > heads[i] + 300));
  const frames = sockets.map(({ received }, i) => received().subarray(heads[i]));
  assert.equal(frames[0], frames[1]);
  assert.equal(
    decodeFrames(frames[0]).map((f) => [f.opcode, f.payload.toString()]),
    [[1, 'x'.repeat(300)]],
  );
  for (const { socket } of sockets) socket.destroy();
});

topics('ws.publish goes to the other subscribers, not to the sender; except does the same for wss.publish', async () => {
  const a = await connect(wss);
  const b = await connect(wss);
  a.server.subscribe('room');
  b.server.subscribe('room');
  assert.is(a.server.publish('room', 'from a'), 1);
  assert.is(wss.publish('room', 'not to b', { except: b.server }), 1);
  assert.is(wss.publish('room', 'to both', { except: null }), 2);
  await until(() => b.received.length === 2 && a.received.length === 2);
  assert.equal(a.received, [
    ['not to b', false],
    ['to both', false],
  ]);
  assert.equal(b.received, [
    ['from a', false],
    ['to both', false],
  ]);
  a.client.close();
  b.client.close();
});

topics('closing takes a connection out of its topics, also after removeAllListeners(), and also terminate()', async () => {
  const a = await connect(wss);
  const b = await connect(wss);
  a.server.subscribe('t1');
  a.server.subscribe('t2');
  b.server.subscribe('t1');
  a.server.removeAllListeners();
  const closed = new Promise((resolve) => a.client.once('close', resolve));
  a.client.close();
  await closed;
  await until(() => a.server.readyState === WebSocket.CLOSED);
  assert.is(wss.subscriberCount('t1'), 1);
  assert.is(wss.subscriberCount('t2'), 0);
  assert.equal(a.server.topics, []);
  b.server.terminate();
  await waitFor(b.server, 'close');
  assert.is(wss.subscriberCount('t1'), 0);
  assert.is(b.server.subscribe('t1'), false, 'a closed connection cannot subscribe');
  assert.is(wss.subscriberCount('t1'), 0);
});

topics('a connection that is closing cannot subscribe; one already closing is skipped by publish', async () => {
  const a = await connect(wss);
  const b = await connect(wss);
  a.server.subscribe('closing');
  b.server.subscribe('closing');
  a.server.close();
  assert.is(a.server.subscribe('other'), false);
  assert.is(a.server.isSubscribed('other'), false);
  assert.is(wss.publish('closing', 'late'), 1);
  await until(() => b.received.length === 1);
  b.client.close();
});

topics('compressing connections get the message in order with their other sends; compress: false sends it uncompressed', async () => {
  const deflating = await standalone({ perMessageDeflate: { threshold: 16 } });
  try {
    const raw = await rawConnect(portOf(deflating));
    const accepted = waitFor<[WebSocket]>(deflating, 'connection');
    raw.socket.write(upgradeRequest('/', ['Sec-WebSocket-Extensions: permessage-deflate']));
    const [server] = await accepted;
    const plain = await connect(deflating, { perMessageDeflate: false });
    server.subscribe('z');
    plain.server.subscribe('z');
    await until(() => raw.received().includes('\r\n\r\n'));
    const head = raw.received().indexOf('\r\n\r\n') + 4;
    const big = 'y'.repeat(200);
    server.send(big);
    assert.is(deflating.publish('z', big), 2);
    server.send('after');
    assert.is(deflating.publish('z', big, { compress: false }), 2);
    await until(() => decodeFrames(raw.received().subarray(head)).length === 4 && plain.received.length === 2);
    const frames = decodeFrames(raw.received().subarray(head));
    assert.equal(
      frames.map((f) => f.rsv),
      [4, 4, 0, 0],
      'compressed (RSV1) by its own context, then "after" under the threshold, then uncompressed on request',
    );
    assert.is(frames[2].payload.toString(), 'after');
    assert.is(frames[3].payload.toString(), big);
    assert.equal(plain.received, [
      [big, false],
      [big, false],
    ]);
    server.close();
    assert.is(deflating.publish('z', big, { compress: false }), 1, 'a closing compressing connection is skipped');
    raw.socket.destroy();
    plain.client.close();
  } finally {
    await stop(deflating);
  }
});

topics("compress: false waits for a compressing subscriber's open fragmented message, as broadcast does", async () => {
  const deflating = await standalone({ perMessageDeflate: true });
  try {
    const raw = await rawConnect(portOf(deflating));
    const accepted = waitFor<[WebSocket]>(deflating, 'connection');
    raw.socket.write(upgradeRequest('/', ['Sec-WebSocket-Extensions: permessage-deflate']));
    const [server] = await accepted;
    server.subscribe('z');
    await until(() => raw.received().includes('\r\n\r\n'));
    const head = raw.received().indexOf('\r\n\r\n') + 4;
    server.send('part1-', { fin: false });
    assert.is(deflating.publish('z', 'PUBLISHED', { compress: false }), 1);
    server.send('part2');
    await until(() => decodeFrames(raw.received().subarray(head)).length === 3);
    const frames = decodeFrames(raw.received().subarray(head));
    assert.equal(
      frames.map((f) => [f.opcode, f.fin, f.rsv, f.payload.toString()]),
      [
        [1, false, 0, 'part1-'],
        [0, true, 0, 'part2'],
        [1, true, 0, 'PUBLISHED'],
      ],
      "the published message is its own message, after the user's",
    );
    raw.socket.destroy();
  } finally {
    await stop(deflating);
  }
});

topics('without clientTracking topics still work, and a closed connection still leaves its topics', async () => {
  const untracked = await standalone({ clientTracking: false });
  try {
    const a = await connect(untracked);
    a.server.subscribe('u');
    assert.is(untracked.publish('u', 'hi'), 1);
    await until(() => a.received.length === 1);
    a.client.close();
    await waitFor(a.server, 'close');
    assert.is(untracked.subscriberCount('u'), 0);
  } finally {
    await new Promise<void>((resolve) => untracked.close(() => resolve()));
  }
});

topics('a client-side connection has no server: subscribe and publish throw WS_ERR_NOT_SERVER_SIDE; reading is harmless', async () => {
  const { client } = await connect(wss);
  const notServerSide = (error: unknown) => error instanceof WebSocketError && error.code === 'WS_ERR_NOT_SERVER_SIDE';
  assert.throws(() => client.subscribe('x'), notServerSide);
  assert.throws(() => client.publish('x', 'data'), notServerSide);
  assert.is(client.unsubscribe('x'), false);
  assert.is(client.isSubscribed('x'), false);
  assert.equal(client.topics, []);
  client.topics.push('mine');
  const unconnected = new WebSocket(null);
  assert.throws(() => unconnected.subscribe('x'), notServerSide);
  client.close();
});

topics('bad topics: not a string is a TypeError, empty or too long a RangeError, everywhere', async () => {
  const { client, server } = await connect(wss);
  for (const bad of [undefined, null, 0, -1, 1.5, {}, Symbol('s')]) {
    for (const call of [
      () => server.subscribe(bad as string),
      () => server.unsubscribe(bad as string),
      () => server.isSubscribed(bad as string),
      () => server.publish(bad as string, 'x'),
      () => wss.publish(bad as string, 'x'),
      () => wss.subscriberCount(bad as string),
    ]) {
      assert.throws(call, isError(TypeError), String(bad));
    }
  }
  for (const bad of ['', 'x'.repeat(MAX_TOPIC_LENGTH + 1)]) {
    assert.throws(() => server.subscribe(bad), isError(RangeError));
    assert.throws(() => wss.publish(bad, 'x'), isError(RangeError));
  }
  assert.is(server.subscribe('x'.repeat(MAX_TOPIC_LENGTH)), true);
  assert.equal(server.topics.length, 1, 'nothing was subscribed by the failed calls');
  client.close();
});

topics('topics with a lone surrogate are TypeErrors, everywhere (UTF-8 would merge them into one Redis channel)', async () => {
  const { client, server } = await connect(wss);
  // Each is U+FFFD once encoded as UTF-8, the same bytes as the well-formed 'room\ufffd'.
  for (const bad of ['room\ud800', 'room\udfff', '\udc00room', 'a\ud83d']) {
    for (const call of [
      () => server.subscribe(bad),
      () => server.unsubscribe(bad),
      () => server.isSubscribed(bad),
      () => server.publish(bad, 'x'),
      () => wss.publish(bad, 'x'),
      () => wss.subscriberCount(bad),
    ]) {
      assert.throws(call, isError(TypeError), JSON.stringify(bad));
    }
  }
  assert.is(server.subscribe('room\ufffd'), true);
  assert.is(server.subscribe('room\ud83d\ude00'), true, 'a surrogate pair is well-formed');
  assert.equal(server.topics, ['room\ufffd', 'room\ud83d\ude00']);
  client.close();
});

topics('bad publish options and data are TypeErrors; nothing is sent', async () => {
  const a = await connect(wss);
  a.server.subscribe('opts');
  for (const options of [0, 'binary', true, { binary: 1 }, { compress: 'no' }, { except: {} }, { except: 0 }]) {
    assert.throws(() => wss.publish('opts', 'x', options as never), isError(TypeError), JSON.stringify(options));
    assert.throws(() => a.server.publish('opts', 'x', options as never), isError(TypeError), JSON.stringify(options));
  }
  assert.throws(() => wss.publish('opts', {} as never), isError(TypeError));
  assert.throws(() => wss.publish('opts', new Blob(['b']) as never), isError(TypeError));
  assert.is(wss.publish('opts', 'x', { binary: undefined, compress: undefined, except: undefined }), 1);
  await until(() => a.received.length === 1);
  await sleep(20);
  assert.equal(a.received, [['x', false]]);
  a.client.close();
});

topics('a connection that never subscribes carries no topic state (idle connections pay nothing)', async () => {
  const a = await connect(wss);
  const symbols = () => Object.getOwnPropertySymbols(a.server).map((symbol) => symbol.description);
  assert.not.ok(symbols().includes('netws.topics'));
  assert.is(a.server.isSubscribed('t'), false);
  assert.equal(a.server.topics, []);
  a.server.unsubscribe('t');
  assert.not.ok(symbols().includes('netws.topics'), 'reading and unsubscribing make no state');
  a.server.subscribe('t');
  assert.ok(symbols().includes('netws.topics'));
  a.client.close();
});

topics.run();

const adapters = suite('topics: the adapter interface');

adapters('the adapter hears of a topic when its first subscriber arrives and its last leaves (reference counted)', async () => {
  const adapter = recordingAdapter();
  const server = await standalone({ adapter });
  try {
    assert.is(server.adapter, adapter);
    const a = await connect(server);
    const b = await connect(server);
    a.server.subscribe('r');
    b.server.subscribe('r');
    b.server.subscribe('s');
    a.server.unsubscribe('r');
    b.client.close();
    await waitFor(b.server, 'close');
    assert.equal(adapter.calls, ['attach', '+r', '+s', '-r', '-s']);
    a.client.close();
  } finally {
    await stop(server);
  }
});

adapters('publish delivers locally at once and hands the message to the adapter; the host delivers remote messages locally', async () => {
  const adapter = recordingAdapter();
  const server = await standalone({ adapter });
  try {
    const a = await connect(server);
    a.server.subscribe('r');
    assert.is(server.publish('r', 'local', { compress: false }), 1);
    assert.is(a.server.publish('r', Buffer.from('bin')), 0);
    assert.is(server.publish('empty', 'x'), 0);
    assert.equal(adapter.calls.slice(2), ['>r:local:text:false', '>r:bin:binary:true', '>empty:x:text:true']);
    assert.is(adapter.host!.deliver('r', new PreparedMessage(Buffer.from('remote'), false), true), 1);
    assert.is(adapter.host!.deliver('none', new PreparedMessage(Buffer.from('remote'), false), true), 0);
    assert.equal([...adapter.host!.topics()], ['r']);
    await until(() => a.received.length === 2);
    assert.equal(a.received, [
      ['local', false],
      ['remote', false],
    ]);
    a.client.close();
  } finally {
    await stop(server);
  }
});

adapters('an adapter set later is told every topic; replacing it detaches the old one; null removes it', async () => {
  const server = await standalone();
  try {
    assert.is(server.adapter, null);
    const a = await connect(server);
    a.server.subscribe('x');
    a.server.subscribe('y');
    const first = recordingAdapter();
    server.adapter = first;
    server.adapter = first;
    assert.equal(first.calls, ['attach', '+x', '+y'], 'setting the same adapter again changes nothing');
    const second = recordingAdapter();
    server.adapter = second;
    assert.equal(first.calls, ['attach', '+x', '+y', 'detach']);
    assert.equal(second.calls, ['attach', '+x', '+y']);
    server.adapter = null;
    assert.equal(second.calls.at(-1), 'detach');
    a.server.subscribe('z');
    assert.equal(second.calls.length, 4);
    a.client.close();
  } finally {
    await stop(server);
  }
});

adapters('the adapter option and setter are checked: undefined and null for none, anything else needs the five methods', async () => {
  for (const bad of [0, -1, 'redis', true, {}, { attach() {} }, () => {}]) {
    assert.throws(() => new WebSocketServer({ noServer: true, adapter: bad as never }), isError(TypeError), String(bad));
    const server = new WebSocketServer({ noServer: true });
    assert.throws(() => {
      server.adapter = bad as never;
    }, isError(TypeError));
    assert.is(server.adapter, null);
  }
  assert.is(new WebSocketServer({ noServer: true, adapter: undefined }).adapter, null);
  assert.is(new WebSocketServer({ noServer: true, adapter: null }).adapter, null);
});

adapters("what an adapter throws is the server's 'error' (or one warning), never the caller's, and never stops a close", async () => {
  const failing: TopicAdapter = {
    attach() {},
    detach() {
      throw new Error('detach failed');
    },
    subscribe() {
      throw new Error('subscribe failed');
    },
    unsubscribe() {
      throw 'unsubscribe failed';
    },
    publish() {
      throw new Error('publish failed');
    },
  };
  const server = await standalone({ adapter: failing });
  try {
    const errors: string[] = [];
    server.on('error', (error) => errors.push(error.message));
    const a = await connect(server);
    assert.is(a.server.subscribe('t'), true);
    assert.is(server.publish('t', 'still local'), 1);
    a.client.close();
    await waitFor(a.server, 'close');
    assert.is(server.subscriberCount('t'), 0);
    server.adapter = null;
    assert.equal(errors, ['subscribe failed', 'publish failed', 'unsubscribe failed', 'detach failed']);

    server.removeAllListeners('error');
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    server.adapter = failing;
    const b = await connect(server);
    b.server.subscribe('u');
    b.server.subscribe('v');
    await sleep(20);
    process.off('warning', onWarning);
    assert.is(warnings.length, 1, 'one warning per server');
    assert.is(warnings[0].name, 'NetwsAdapterWarning');
    assert.match(warnings[0].message, /subscribe failed.*listen for 'error'/);
    b.client.close();
  } finally {
    await stop(server);
  }
});

adapters("an 'error' listener that throws on an adapter error: thrown on a later tick, not into the adapter or the close", async () => {
  const adapter = recordingAdapter();
  const server = await standalone({ adapter });
  try {
    server.on('error', () => {
      throw new Error('listener bug');
    });
    // Any other 'uncaughtException' handler (a test runner's) is off while this one is expected.
    const saved = process.rawListeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const uncaught = new Promise<Error>((resolve) => process.once('uncaughtException', resolve));
    try {
      adapter.host!.reportError(new Error('adapter trouble'));
      assert.is((await uncaught).message, 'listener bug');
    } finally {
      for (const listener of saved) process.on('uncaughtException', listener as never);
    }
  } finally {
    server.removeAllListeners('error');
    await stop(server);
  }
});

adapters.run();

const slow = suite('topics: subscribers that do not read');

slow('publish and broadcast fail a subscriber past maxBufferedAmount (1008) instead of buffering without bound', async () => {
  const server = await standalone({ maxBufferedAmount: 1 << 20 });
  try {
    const reader = await connect(server);
    const stalled = await connect(server);
    const errors: Array<string | undefined> = [];
    stalled.server.on('error', (error) => errors.push((error as WebSocketError).code));
    stalled.client.pause();
    reader.server.subscribe('t');
    stalled.server.subscribe('t');
    const big = Buffer.alloc(256 * 1024, 1);
    for (let i = 0; i < 64 && stalled.server.readyState === WebSocket.OPEN; i++) {
      server.publish('t', big);
      server.broadcast(big, { to: [stalled.server] });
    }
    assert.equal(errors, ['WS_ERR_SLOW_READER']);
    assert.ok(stalled.server.bufferedAmount <= (1 << 20) + big.length + 16, `${stalled.server.bufferedAmount} bytes buffered`);
    await waitFor(stalled.server, 'close');
    assert.is(server.subscriberCount('t'), 1);
    reader.client.close();
  } finally {
    await stop(server);
  }
});

slow("a subscriber's 'error' listener that throws: the others still get the message, and publish() throws it after", async () => {
  const server = await standalone({ maxBufferedAmount: 1 << 20 });
  try {
    const first = await connect(server);
    const stalled = await connect(server);
    const last = await connect(server);
    stalled.server.on('error', () => {
      throw new Error('listener bug');
    });
    stalled.client.pause();
    const adapter = recordingAdapter();
    server.adapter = adapter;
    for (const peer of [first, stalled, last]) peer.server.subscribe('t');
    const big = Buffer.alloc(512 * 1024, 2);
    let thrown: unknown = null;
    let publishes = 0;
    for (; publishes < 64 && thrown === null; publishes++) {
      try {
        server.publish('t', big);
      } catch (error) {
        thrown = error;
      }
      // The readers read meanwhile; only the stalled one fills up.
      await sleep(2);
    }
    assert.is((thrown as Error).message, 'listener bug');
    await until(() => first.received.length === publishes && last.received.length === publishes);
    assert.is(adapter.calls.filter((call) => call.startsWith('>')).length, publishes, 'the adapter got every message');
    first.client.close();
    last.client.close();
  } finally {
    await stop(server);
  }
});

slow.run();

const scale = suite('topics: the index at scale');

scale('100,000 topics x 10 subscribers: subscribe, publish and leave in linear time, and no memory left behind', () => {
  // A guard against quadratic behaviour, not a measurement (bench/ measures):
  // this takes about a second here, and a quadratic index would take hours.
  const started = Date.now();
  const adapter = recordingAdapter();
  const calls = { subscribe: 0, unsubscribe: 0 };
  adapter.subscribe = () => void calls.subscribe++;
  adapter.unsubscribe = () => void calls.unsubscribe++;
  const hub = new TopicHub((error) => {
    throw error;
  });
  hub.adapter = adapter;
  const TOPICS = 100_000;
  const PER_TOPIC = 10;
  // Unconnected connection objects: the index is all that is exercised.
  const connections = Array.from({ length: 1000 }, () => new WebSocket(null));
  for (let topic = 0; topic < TOPICS; topic++) {
    for (let k = 0; k < PER_TOPIC; k++) hub.subscribe(connections[(topic * 7 + k * 101) % 1000], `topic-${topic}`);
  }
  assert.is(calls.subscribe, TOPICS);
  assert.is(hub.subscriberCount('topic-99999'), PER_TOPIC);
  let recipients = 0;
  for (let topic = 0; topic < TOPICS; topic += 10) recipients += hub.publish(`topic-${topic}`, 'x', undefined);
  assert.is(recipients, 0, 'unconnected objects take no message');
  for (const ws of connections) hub.removeConnection(ws);
  assert.is(calls.unsubscribe, TOPICS);
  assert.is(hub.subscriberCount('topic-0'), 0);
  let left = 0;
  for (const _ of adapter.host!.topics()) left++;
  assert.is(left, 0, 'no entry for a topic nobody is in');
  assert.ok(Date.now() - started < 60_000, `${Date.now() - started} ms`);
});

scale.run();
