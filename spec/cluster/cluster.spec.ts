/**
 * Real processes on a real Redis: three server processes (node.ts), each
 * with subscribers and a publisher. Every subscriber must get every message
 * exactly once and each publisher's in order, with node-redis and with
 * ioredis. The fault cases (Redis restarted, a node killed) are in
 * faults.cluster.ts, run by `npm run test:cluster` from .ci/run.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLUSTER_LIBRARIES } from '../redis-clients.ts';
import { RedisServer, redisAvailable } from '../redis-server.ts';
import {
  ClusterNode,
  publishSequence,
  publisherOf,
  sequencesByPublisher,
  strictlyIncreasing,
  subscriberOf,
  until,
  untilChannelSubscribers,
  type Subscriber,
} from './cluster.ts';

const NODES = 3;
const SUBSCRIBERS_PER_NODE = 2;
const PER_PUBLISHER = 3400; // 10,200 messages in all

for (const library of redisAvailable() ? CLUSTER_LIBRARIES : []) {
  const test = suite(`cluster: ${NODES} processes on one Redis, ${library}`);
  let redis: RedisServer;
  let nodes: ClusterNode[] = [];
  test.before(async () => {
    redis = await RedisServer.start();
    nodes = await Promise.all(Array.from({ length: NODES }, () => ClusterNode.start(library, redis)));
  });
  test.after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.stop();
  });

  test(`${NODES * PER_PUBLISHER} messages from a publisher on each node: every subscriber gets each once, in each publisher's order`, async () => {
    const subscribers: Subscriber[] = [];
    for (let n = 0; n < NODES; n++) {
      for (let s = 0; s < SUBSCRIBERS_PER_NODE; s++) subscribers.push(await subscriberOf(nodes[n], n, ['room']));
    }
    // A subscriber of another topic on one node: it must hear nothing.
    const outsider = await subscriberOf(nodes[1], 1, ['other']);
    await untilChannelSubscribers(redis, 'netws:room', NODES);
    const publishers = await Promise.all(nodes.map((node) => publisherOf(node, 'room')));
    await Promise.all(publishers.map((ws, n) => publishSequence(ws, `p${n}`, PER_PUBLISHER)));
    const total = NODES * PER_PUBLISHER;
    await until(() => subscribers.every(({ messages }) => messages.length >= total), 30_000, 'every message delivered');
    // Anything extra (a message twice) would arrive right behind.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const { messages, node } of subscribers) {
      assert.is(messages.length, total, `subscriber on node ${node}`);
      const byPublisher = sequencesByPublisher(messages);
      for (let p = 0; p < NODES; p++) {
        const sequences = byPublisher.get(`p${p}`) ?? [];
        assert.is(sequences.length, PER_PUBLISHER, `node ${node} from p${p}`);
        assert.ok(strictlyIncreasing(sequences), `node ${node} from p${p}: in order, none twice`);
      }
    }
    assert.equal(outsider.messages, []);
    const reports = await Promise.all(nodes.map((node) => node.report()));
    for (const [n, report] of reports.entries()) {
      assert.equal(report.errors, [], `node ${n}`);
      assert.is(report.stats.published, PER_PUBLISHER);
      assert.is(report.stats.publishFailed, 0);
      assert.is(report.stats.received, (NODES - 1) * PER_PUBLISHER, "each node received the other nodes' messages once");
    }
    for (const ws of [...subscribers.map(({ ws }) => ws), outsider.ws, ...publishers]) ws.close();
  });

  test.run();
}
