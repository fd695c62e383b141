/**
 * netws/redis on a real Redis Cluster: six redis-server processes (three
 * masters, three replicas, loopback; redis-cluster.ts), two netws servers
 * (`new WebSocketServer({ port: 0, adapter })`) with cluster clients of each
 * library (node-redis 4, 5 and 6 `createCluster()`, ioredis `Cluster` with
 * `shardedSubscribers: true`) and real WebSocket clients subscribed on both.
 *
 * - Sharded and classic pub/sub across the servers, on 12 topics whose
 *   channels hash to 12 slots spread over the three shards.
 * - While both servers publish on every topic, masters are failed over
 *   (CLUSTER FAILOVER) and killed (SIGKILL; the process comes back as a
 *   replica). After each: delivery resumes by itself on every topic (within
 *   RESUME_LIMIT, nothing done by the test), the channels Redis has for
 *   each server are exactly the topics it wants (a topic left during the
 *   failover included), and at the end no WebSocket got a message twice or
 *   out of order, and every message lost was published inside an event's
 *   window: from the moment the event began to the moment delivery was back.
 *
 * Run by `npm run test:cluster` (and .ci/run): 20 failovers and 10 killed
 * masters in all, about three minutes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisAdapter } from '../../src/adapters/redis.ts';
import { WebSocket, WebSocketServer } from '../../src/index.ts';
import { portOf, sleep, waitFor } from '../helpers.ts';
import { LIBRARIES, redisClusterClients, type ClientLibrary, type RedisClients } from '../redis-clients.ts';
import { redisAvailable } from '../redis-server.ts';
import { RedisCluster, redisCliAvailable } from './redis-cluster.ts';

const PREFIX = 'netws:';
/** Milliseconds between two publishes on every topic from each server. */
const TICK = 30;
/**
 * Delivery must be back on every topic within this after the cluster is
 * healthy again. A channel a client lost without a word is found by the
 * adapter's periodic check (verifyInterval, 5 s) and repaired in about 2 s;
 * the rest is slack for a busy machine.
 */
const RESUME_LIMIT = 20_000;
/** A message published this long before an event began may still be lost by it (it was in flight). */
const IN_FLIGHT = 250;

/**
 * node-redis 4 and 5 cluster clients learn a new topology only from a
 * MOVED, which a dead node cannot send: they keep sending its shard's
 * commands to it (they wait) until the process is back, here as a replica.
 * node-redis 6 and ioredis find the promoted replica by themselves. With
 * 4 and 5 a kill's window therefore ends after the restart.
 */
const NEEDS_DEAD_MASTER_BACK: readonly ClientLibrary[] = ['node-redis', 'node-redis-4'];

/** Failovers and killed masters per library: 20 and 10 in all. */
const PLAN: Record<ClientLibrary, { failovers: number; kills: number }> = {
  ioredis: { failovers: 7, kills: 3 },
  'node-redis-6': { failovers: 7, kills: 3 },
  'node-redis': { failovers: 3, kills: 2 },
  'node-redis-4': { failovers: 3, kills: 2 },
};

/** CRC16 (XMODEM) as Redis Cluster hashes keys (channels hash the same way) into 16384 slots. */
function slotOf(key: string): number {
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** `count` topic names whose channels hash to distinct slots, four on each third of the slot space (one per master). */
function topicsOnSlots(label: string, count: number): string[] {
  const topics: string[] = [];
  const used = new Set<number>();
  for (let i = 0; topics.length < count; i++) {
    const topic = `${label}${i}`;
    const slot = slotOf(PREFIX + topic);
    const third = Math.floor((slot * 3) / 16384);
    if (used.has(slot) || topics.filter((t) => Math.floor((slotOf(PREFIX + t) * 3) / 16384) === third).length >= count / 3) continue;
    used.add(slot);
    topics.push(topic);
  }
  return topics;
}

interface Server {
  name: string;
  wss: WebSocketServer;
  adapter: RedisAdapter;
  clients: RedisClients;
  errors: string[];
}

interface Listener {
  ws: WebSocket;
  /** Per topic, per publishing server, the sequence numbers in arrival order. */
  got: Map<string, number[]>;
  /** The server-side end, to subscribe and unsubscribe. */
  server: WebSocket;
}

async function startServer(name: string, library: ClientLibrary, cluster: RedisCluster, sharded: boolean): Promise<Server> {
  const clients = await redisClusterClients(library, cluster.rootNodes, name);
  const adapter = new RedisAdapter({ publisher: clients.publisher, subscriber: clients.subscriber, sharded });
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', adapter });
  const errors: string[] = [];
  wss.on('error', (error) => errors.push(`${(error as { code?: string }).code}: ${error.message}`));
  await waitFor(wss, 'listening');
  return { name, wss, adapter, clients, errors };
}

async function stopServer(server: Server): Promise<void> {
  for (const client of server.wss.clients) client.terminate();
  await new Promise<void>((resolve) => server.wss.close(() => resolve()));
  server.wss.adapter = null;
  server.clients.close();
}

/** A WebSocket client of `server` subscribed to `topics`; messages are `server:sequence`. */
async function listen(server: Server, topics: string[]): Promise<Listener> {
  const accepted = waitFor<[WebSocket]>(server.wss, 'connection');
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(server.wss)}`);
  const got = new Map<string, number[]>();
  ws.on('message', (data) => {
    const [topic, publisher, sequence] = (data as Buffer).toString().split(':');
    const key = `${topic}:${publisher}`;
    let list = got.get(key);
    if (list === undefined) got.set(key, (list = []));
    list.push(Number(sequence));
  });
  await waitFor(ws, 'open');
  const [serverSide] = await accepted;
  for (const topic of topics) serverSide.subscribe(topic);
  return { ws, got, server: serverSide };
}

/** Sum over every running node of a channel's subscribers (sharded or classic), all channels under the prefix. */
async function subscriptionsOnRedis(cluster: RedisCluster, sharded: boolean): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const port of cluster.livePorts) {
    const channels = (await cluster.command(port, 'PUBSUB', sharded ? 'SHARDCHANNELS' : 'CHANNELS', `${PREFIX}*`)) as string[];
    if (channels.length === 0) continue;
    const reply = (await cluster.command(port, 'PUBSUB', sharded ? 'SHARDNUMSUB' : 'NUMSUB', ...channels)) as Array<string | number>;
    for (let i = 0; i < reply.length; i += 2) counts.set(reply[i] as string, (counts.get(reply[i] as string) ?? 0) + Number(reply[i + 1]));
  }
  return counts;
}

/** For a failure message: on which nodes (master or replica) each topic's shard channel has subscribers. */
async function whereSubscribed(cluster: RedisCluster, topics: string[]): Promise<string> {
  const parts: string[] = [];
  for (const topic of topics) {
    const master = await cluster.masterOf(slotOf(PREFIX + topic)).catch(() => null);
    const counts: string[] = [];
    for (const port of cluster.livePorts) {
      const reply = (await cluster.command(port, 'PUBSUB', 'SHARDNUMSUB', PREFIX + topic)) as [string, number];
      // Which connections are there: name, shard subscriptions, last command.
      const clients = ((await cluster.command(port, 'CLIENT', 'LIST')) as string)
        .split('\n')
        .map((line) => /name=(\S*).* ssub=(\d+).* cmd=(\S+)/.exec(line))
        .filter((match) => match !== null && match[1] !== '')
        .map((match) => `${match![1]}(${match![2]},${match![3]})`);
      counts.push(`${port}${port === master?.port ? '(master)' : ''}:${reply[1]} [${clients.join(' ')}]`);
    }
    parts.push(`${topic} [${counts.join(', ')}]`);
  }
  return parts.join('; ');
}

/** Until Redis's subscriptions are exactly what the servers want (each server's adapter one per topic it wants). */
async function untilReconciled(
  cluster: RedisCluster,
  servers: Server[],
  wanted: Array<Set<string>>,
  sharded: boolean,
  what: string,
): Promise<void> {
  const expected = new Map<string, number>();
  for (const topics of wanted) for (const topic of topics) expected.set(PREFIX + topic, (expected.get(PREFIX + topic) ?? 0) + 1);
  const show = (map: Map<string, number>) => JSON.stringify([...map].sort(([a], [b]) => a.localeCompare(b)));
  const deadline = Date.now() + RESUME_LIMIT;
  let seen = new Map<string, number>();
  while (show((seen = await subscriptionsOnRedis(cluster, sharded))) !== show(expected)) {
    if (Date.now() > deadline) {
      const errors = servers.map((server) => `${server.name}: ${server.errors.slice(-3).join(' | ')}`).join('; ');
      throw new Error(`${what}: Redis has ${show(seen)}, the servers want ${show(expected)} (${errors})`);
    }
    await sleep(50);
  }
}

interface Window {
  what: string;
  start: number;
  end: number;
}

/** redis-server and redis-cli are there; without them the tests are skipped, unless NETWS_REQUIRE_REDIS=1. */
function clusterAvailable(): boolean {
  if (!redisAvailable()) return false;
  if (redisCliAvailable()) return true;
  if (process.env.NETWS_REQUIRE_REDIS === '1') throw new Error('redis-cli is needed (NETWS_REQUIRE_REDIS=1) but does not run');
  console.warn('  (no redis-cli on this machine: the Redis Cluster tests are skipped; apt-get install redis-tools)');
  return false;
}

/** NETWS_CLUSTER_LIBRARIES=ioredis,node-redis-6 runs only those (when looking into one); the default is all four. */
const libraries = LIBRARIES.filter((library) => (process.env.NETWS_CLUSTER_LIBRARIES ?? library).split(',').includes(library));

const test = suite('Redis Cluster (6 processes): netws/redis with cluster clients');
let cluster: RedisCluster;
const totals = { failovers: 0, kills: 0, delivered: 0, lost: 0, duplicates: 0, reordered: 0, windows: [] as number[] };

if (clusterAvailable()) {
  test.before(async () => {
    cluster = await RedisCluster.start();
  });
  test.after(async () => {
    await cluster?.stop();
    console.log(
      `  Redis Cluster: ${totals.failovers} failovers, ${totals.kills} masters killed; ${totals.delivered} messages delivered, ` +
        `${totals.lost} lost (all inside the event windows), ${totals.duplicates} duplicates, ${totals.reordered} out of order; windows ` +
        `${Math.min(...totals.windows)}-${Math.max(...totals.windows)} ms (median ${totals.windows.sort((a, b) => a - b)[totals.windows.length >> 1]} ms)`,
    );
  });

  for (const library of libraries) {
    for (const sharded of [true, false]) {
      test(`${library}, ${sharded ? 'sharded (SPUBLISH/SSUBSCRIBE)' : 'classic'} pub/sub: both servers' messages reach the other's subscribers once, on 12 topics across the 3 shards`, async () => {
        const servers: Server[] = [];
        try {
          servers.push(await startServer('A', library, cluster, sharded), await startServer('B', library, cluster, sharded));
          const topics = topicsOnSlots(sharded ? 's' : 'c', 12);
          const listeners = [await listen(servers[0], topics), await listen(servers[1], topics)];
          await untilReconciled(cluster, servers, [new Set(topics), new Set(topics)], sharded, 'subscribed');
          const COUNT = 50;
          for (let sequence = 0; sequence < COUNT; sequence++) {
            for (const topic of topics) for (const server of servers) server.wss.publish(topic, `${topic}:${server.name}:${sequence}`);
            if (sequence % 10 === 9) await sleep(5);
          }
          const complete = () =>
            listeners.every(({ got }) =>
              topics.every((topic) => servers.every(({ name }) => got.get(`${topic}:${name}`)?.length === COUNT)),
            );
          const deadline = Date.now() + 10_000;
          while (!complete()) {
            assert.ok(
              Date.now() < deadline,
              `not all delivered: ${JSON.stringify([...listeners[1].got].map(([key, list]) => [key, list.length]))}`,
            );
            await sleep(20);
          }
          await sleep(100);
          const expected = Array.from({ length: COUNT }, (_, i) => i);
          for (const { got } of listeners) {
            for (const [key, list] of got) {
              // Sharded: one shard, one connection, in order. Classic: the clients send each PUBLISH to any node,
              // and the cluster bus forwards it, so only the set is certain.
              if (sharded) assert.equal(list, expected, key);
              else
                assert.equal(
                  [...list].sort((a, b) => a - b),
                  expected,
                  key,
                );
            }
          }
          for (const server of servers) {
            assert.is(server.adapter.stats.received, topics.length * COUNT, `${server.name} received the other's messages once`);
            assert.equal(server.errors, []);
          }
          for (const { ws } of listeners) ws.close();
        } finally {
          for (const server of servers) await stopServer(server);
        }
      });
    }

    const { failovers, kills } = PLAN[library];
    test(`${library}, sharded: ${failovers} CLUSTER FAILOVERs and ${kills} masters killed while both servers publish on 12 topics: delivery resumes by itself, no duplicate, loss only inside each event's window, channels reconciled after each`, async () => {
      const servers: Server[] = [];
      let publishing: ReturnType<typeof setInterval> | null = null;
      try {
        servers.push(await startServer('A', library, cluster, true), await startServer('B', library, cluster, true));
        const topics = topicsOnSlots('f', 12);
        // A's client wants 8 topics, one of which it leaves during each event and takes again after it.
        const wanted = [new Set(topics.slice(0, 8)), new Set(topics)];
        const listeners = [await listen(servers[0], [...wanted[0]]), await listen(servers[1], topics)];
        await untilReconciled(cluster, servers, wanted, true, 'subscribed');
        let sequence = 0;
        const publishedAt: number[] = [];
        publishing = setInterval(() => {
          publishedAt[sequence] = Date.now();
          for (const topic of topics) for (const server of servers) server.wss.publish(topic, `${topic}:${server.name}:${sequence}`);
          sequence++;
        }, TICK);
        const windows: Window[] = [];
        /** Until every listener has, on every topic it kept, a message of each server published at or after `from`. */
        const untilResumed = async (from: number, what: string) => {
          const deadline = Date.now() + RESUME_LIMIT;
          for (;;) {
            const silent: string[] = [];
            listeners.forEach(({ got }, l) => {
              for (const topic of wanted[l]) {
                for (const { name } of servers)
                  if (!((got.get(`${topic}:${name}`)?.at(-1) ?? -1) >= from)) silent.push(`${servers[l].name}<-${name} ${topic}`);
              }
            });
            if (silent.length === 0) return;
            if (Date.now() > deadline) {
              const stats = servers.map((server) => {
                // The adapter's own view, for the failure message only.
                const inside = server.adapter as unknown as {
                  probes: Map<string, { timer: unknown; sent: number }>;
                  repairing: Set<string>;
                };
                const probes = [...inside.probes].map(
                  ([topic, probe]) => `${topic}:${probe.timer === null ? 'unanswered' : 'acked'} ${Date.now() - probe.sent} ms`,
                );
                return `${server.name} ${JSON.stringify(server.adapter.stats)} probes [${probes.join(', ')}] repairing [${[...inside.repairing].join(', ')}] ${server.errors.slice(-3).join(' | ')}`;
              });
              const where = await whereSubscribed(cluster, [...new Set(silent.map((entry) => entry.split(' ')[1]))]);
              throw new Error(
                `${what}: delivery did not resume within ${RESUME_LIMIT} ms on ${silent.join(', ')}; ${stats.join('; ')}; on Redis: ${where}`,
              );
            }
            await sleep(20);
          }
        };
        await untilResumed(0, 'start');
        // Two failovers, then a kill, and so on; each on the shard of another topic, so every master changes hands.
        const schedule: Array<'failover' | 'kill'> = [];
        for (let f = 0, m = 0; f < failovers || m < kills; ) {
          for (let i = 0; i < 2 && f < failovers; i++, f++) schedule.push('failover');
          if (m < kills) {
            schedule.push('kill');
            m++;
          }
        }
        for (const [n, kind] of schedule.entries()) {
          const topic = topics[(n * 5) % topics.length];
          const slot = slotOf(PREFIX + topic);
          const left = [...wanted[0]][n % wanted[0].size];
          const start = Date.now();
          const what = `${kind} ${n + 1} (slot ${slot})`;
          let restartFrom = 0;
          if (kind === 'failover') {
            await cluster.failover(slot);
          } else {
            ({ from: restartFrom } = await cluster.killMaster(slot));
            if (NEEDS_DEAD_MASTER_BACK.includes(library)) {
              await cluster.restart(restartFrom);
              restartFrom = 0;
            }
          }
          // A topic left while the shard changes hands: Redis must not keep it for A afterwards.
          listeners[0].server.unsubscribe(left);
          wanted[0].delete(left);
          // Delivery back without the test's help (the killed process is still dead).
          await untilResumed(sequence, what);
          const end = Date.now();
          windows.push({ what, start, end });
          await untilReconciled(cluster, servers, wanted, true, `${what}: channels`);
          if (restartFrom !== 0) {
            // The process back, as a replica: another change of topology, with a window of its own.
            const restarted = Date.now();
            await cluster.restart(restartFrom);
            await untilResumed(sequence, `${what}: restarted`);
            windows.push({ what: `${what}: restarted`, start: restarted, end: Date.now() });
            await untilReconciled(cluster, servers, wanted, true, `${what}: restarted: channels`);
          }
          listeners[0].server.subscribe(left);
          wanted[0].add(left);
          await untilReconciled(cluster, servers, wanted, true, `${what}: ${left} subscribed again`);
          // Messages of `left` from before it was taken again are not A's to expect.
          listeners[0].got.delete(`${left}:A`);
          listeners[0].got.delete(`${left}:B`);
          await untilResumed(sequence, `${what}: ${left} delivered again`);
          if (kind === 'failover') totals.failovers++;
          else totals.kills++;
          totals.windows.push(end - start);
        }
        clearInterval(publishing);
        publishing = null;
        const last = sequence - 1;
        await untilResumed(last, 'the end');
        await sleep(200);
        // Every listener, every topic it kept to the end, each server's messages: in order, none twice, lost only in a window.
        const lostOutside: string[] = [];
        listeners.forEach(({ got }, l) => {
          for (const [key, list] of got) {
            const present = new Set(list);
            if (present.size !== list.length) {
              totals.duplicates += list.length - present.size;
              assert.unreachable(`${servers[l].name} ${key}: ${list.length - present.size} messages twice`);
            }
            for (let i = 1; i < list.length; i++) if (list[i] < list[i - 1]) totals.reordered++;
            totals.delivered += list.length;
            for (let s = list[0]; s <= last; s++) {
              if (present.has(s)) continue;
              totals.lost++;
              const at = publishedAt[s];
              if (!windows.some(({ start, end }) => at >= start - IN_FLIGHT && at <= end))
                lostOutside.push(`${servers[l].name} ${key}:${s} at ${at}`);
            }
          }
        });
        assert.equal(lostOutside.slice(0, 10), [], `lost outside every window (${lostOutside.length})`);
        const longest = (kind: string) =>
          Math.max(
            ...windows.filter(({ what }) => what.startsWith(kind) && !what.endsWith('restarted')).map(({ start, end }) => end - start),
          );
        const stats = servers.map(({ adapter }) => adapter.stats);
        console.log(
          `  ${library}: ${failovers} failovers (longest window ${longest('failover')} ms), ${kills} kills (longest ${longest('kill')} ms); ` +
            `${stats.reduce((n, s) => n + s.resubscribed, 0)} channels repaired, ${stats.reduce((n, s) => n + s.duplicates, 0)} repeats dropped by the adapters`,
        );
        for (const { ws } of listeners) ws.close();
      } finally {
        if (publishing !== null) clearInterval(publishing);
        for (const server of servers) await stopServer(server);
        // A failure midway may have left a process dead: the next test gets a whole cluster.
        await cluster.heal();
      }
    });
  }
}

test.run();
