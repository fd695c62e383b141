import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InProcessBus, WebSocket, WebSocketServer } from '../../src/index.ts';
import { portOf, sleep, waitFor } from '../helpers.ts';

async function standalone(options: Record<string, unknown> = {}): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await waitFor(wss, 'listening');
  return wss;
}

async function subscriber(wss: WebSocketServer, topic: string) {
  const accepted = waitFor<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
  const received: string[] = [];
  client.on('message', (data) => received.push((data as Buffer).toString()));
  await waitFor(client, 'open');
  const [server] = await accepted;
  server.subscribe(topic);
  return { client, server, received };
}

async function until(condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(5);
  }
}

const bus = suite('adapters: in-process bus');

bus('three servers on one bus: every subscriber gets every message once, each publisher in order', async () => {
  const shared = new InProcessBus();
  const servers = await Promise.all([0, 1, 2].map(() => standalone({ adapter: shared.createAdapter() })));
  try {
    const subscribers: Array<Awaited<ReturnType<typeof subscriber>>> = [];
    for (const wss of servers) subscribers.push(await subscriber(wss, 'room'), await subscriber(wss, 'room'));
    const outsider = await subscriber(servers[1], 'other');
    const PER_SERVER = 300;
    for (let i = 0; i < PER_SERVER; i++) {
      for (const [s, wss] of servers.entries()) assert.is(wss.publish('room', `${s}:${i}`), 2);
    }
    await until(() => subscribers.every(({ received }) => received.length === PER_SERVER * 3));
    for (const { received } of subscribers) {
      for (let s = 0; s < 3; s++) {
        const mine = received.filter((message) => message.startsWith(`${s}:`));
        assert.equal(
          mine,
          Array.from({ length: PER_SERVER }, (_, i) => `${s}:${i}`),
        );
      }
    }
    await sleep(20);
    assert.equal(outsider.received, []);
    assert.ok(
      subscribers.every(({ received }) => received.length === PER_SERVER * 3),
      'nothing twice',
    );
  } finally {
    for (const wss of servers) {
      for (const client of wss.clients) client.terminate();
      wss.close();
    }
  }
});

bus('delivery is later than the publish call, not inside it; a server with no subscriber of the topic gets nothing', async () => {
  const shared = new InProcessBus();
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => standalone({ adapter: shared.createAdapter() })));
  try {
    const onB = await subscriber(b, 't');
    const onC = await subscriber(c, 'u');
    let sentDuringCall = -1;
    const original = onB.server.send;
    let sends = 0;
    onB.server.send = function (...args: Parameters<WebSocket['send']>) {
      sends++;
      return original.apply(this, args);
    };
    assert.is(a.publish('t', 'm'), 0, 'no local subscriber on a');
    sentDuringCall = b.subscriberCount('t') === 1 ? onB.received.length : -1;
    assert.is(sentDuringCall, 0);
    await until(() => onB.received.length === 1);
    await sleep(10);
    assert.equal(onC.received, []);
    assert.is(sends, 0, 'the prepared frame is shared, not sent through send()');
  } finally {
    for (const wss of [a, b, c]) {
      for (const client of wss.clients) client.terminate();
      wss.close();
    }
  }
});

bus('a detached adapter neither sends nor receives; an adapter serves one server', async () => {
  const shared = new InProcessBus();
  const adapter = shared.createAdapter();
  const a = await standalone({ adapter });
  const b = await standalone({ adapter: shared.createAdapter() });
  try {
    const onA = await subscriber(a, 't');
    assert.throws(() => adapter.attach({ deliver: () => 0, topics: () => [][Symbol.iterator](), reportError() {} }), /another/);
    a.adapter = null;
    b.publish('t', 'after detach');
    await sleep(20);
    assert.equal(onA.received, []);
    const late = shared.createAdapter();
    late.publish('t', { data: Buffer.from('x'), isBinary: false, frame: Buffer.alloc(0) } as never, true);
    // Unsubscribing twice, or a topic the bus never saw, changes nothing.
    late.unsubscribe('t');
    late.unsubscribe('never');
    late.detach();
    await sleep(10);
  } finally {
    for (const wss of [a, b]) {
      for (const client of wss.clients) client.terminate();
      wss.close();
    }
  }
});

bus('an adapter given to a second server is refused (constructor and setter); the first keeps it', async () => {
  const shared = new InProcessBus();
  const adapter = shared.createAdapter();
  const a = await standalone({ adapter });
  const c = await standalone({ adapter: shared.createAdapter() });
  const b = new WebSocketServer({ noServer: true });
  try {
    assert.throws(() => new WebSocketServer({ noServer: true, adapter }), /another/);
    const own = shared.createAdapter();
    b.adapter = own;
    assert.throws(() => {
      b.adapter = adapter;
    }, /another/);
    assert.is(b.adapter, own, 'a refused adapter leaves the old one in place');
    // b detaching its own adapter must not take a's off the bus.
    b.adapter = null;
    const onA = await subscriber(a, 't');
    c.publish('t', 'still shared');
    await until(() => onA.received.length === 1);
    assert.equal(onA.received, ['still shared']);
  } finally {
    for (const wss of [a, c]) {
      for (const client of wss.clients) client.terminate();
      wss.close();
    }
    b.close();
  }
});

bus("a subscriber's throwing 'error' listener during a delivery is reported, and the other servers still get the message", async () => {
  const shared = new InProcessBus();
  const [a, b, c] = await Promise.all(
    [1024, 1, 1024].map((maxBufferedAmount) => standalone({ adapter: shared.createAdapter(), maxBufferedAmount: maxBufferedAmount << 20 })),
  );
  try {
    const onB = await subscriber(b, 't');
    const onC = await subscriber(c, 't');
    // On b, maxBufferedAmount: 1 MiB fails the connection on a send while the socket is busy; its listener throws.
    onB.server.on('error', () => {
      throw new Error('listener bug');
    });
    onB.client.pause();
    const errors: Error[] = [];
    b.on('error', (error) => errors.push(error));
    c.on('error', () => {});
    const big = 'z'.repeat(1 << 20);
    for (let i = 0; i < 4; i++) a.publish('t', big);
    await until(() => errors.length > 0 && onC.received.length === 4);
    assert.is(errors[0].message, 'listener bug');
    assert.is(onB.server.readyState >= WebSocket.CLOSING, true, 'the slow reader was failed');
    assert.is(c.subscriberCount('t'), 1, 'the other server kept its subscriber');
  } finally {
    for (const wss of [a, b, c]) {
      for (const client of wss.clients) client.terminate();
      wss.close();
    }
  }
});

bus.run();
