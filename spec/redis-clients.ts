/**
 * The Redis client libraries the Redis adapter is tested with, created as a
 * user would: node-redis 5, 4 and 6 (`createClient()` and `duplicate()`,
 * then `connect()`; `redis` is v5, v4 and v6 are the devDependency aliases
 * `redis4` and `redis6`) and ioredis (`new Redis()` and `duplicate()`).
 * All retry quickly here, so the restart tests do not wait on back-off.
 * The multi-process tests use node-redis 5 and ioredis; the Redis Cluster
 * tests all four, through `createCluster()` and ioredis's `Cluster`.
 */

import { once } from 'node:events';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { createClient as createClientV4, createCluster as createClusterV4 } from 'redis4';
import { createClient as createClientV6, createCluster as createClusterV6 } from 'redis6';

export const LIBRARIES = ['node-redis', 'node-redis-4', 'node-redis-6', 'ioredis'] as const;
/** The libraries the multi-process tests run with (node-redis 4, 5 and 6 differ little there). */
export const CLUSTER_LIBRARIES = ['node-redis', 'ioredis'] as const;
export type ClientLibrary = (typeof LIBRARIES)[number];

export interface RedisClients {
  publisher: object;
  subscriber: object;
  /** Closes both connections at once (no QUIT: Redis may be down). */
  close(): void;
}

/** node-redis's three major versions, as far as these tests create clients. */
const NODE_REDIS = {
  'node-redis': { createClient, createCluster },
  'node-redis-4': { createClient: createClientV4, createCluster: createClusterV4 },
  'node-redis-6': { createClient: createClientV6, createCluster: createClusterV6 },
} as const;

interface NodeRedisClient {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  connect(): Promise<unknown>;
  duplicate(): NodeRedisClient;
  isOpen: boolean;
  destroy?(): void;
  disconnect(): Promise<void>;
}

/**
 * A publisher and a subscriber on the Redis at `url`; with `subscriberUrl`,
 * the subscriber connects there instead (the proxy tests put only the
 * publisher behind a proxy).
 */
export async function redisClients(library: ClientLibrary, url: string, subscriberUrl = url): Promise<RedisClients> {
  if (library !== 'ioredis') {
    const make = NODE_REDIS[library].createClient as unknown as (options: object) => NodeRedisClient;
    // Each its own options: node-redis 4 writes the URL's host and port into the socket object it was given.
    const socket = () => ({ reconnectStrategy: () => 100, connectTimeout: 2000 });
    const publisher = make({ url, socket: socket() });
    const subscriber = subscriberUrl === url ? publisher.duplicate() : make({ url: subscriberUrl, socket: socket() });
    // What every node-redis user must do: without an 'error' listener a lost connection throws.
    publisher.on('error', () => {});
    subscriber.on('error', () => {});
    await Promise.all([publisher.connect(), subscriber.connect()]);
    return {
      publisher,
      subscriber,
      close: () => {
        for (const client of [publisher, subscriber]) {
          if (!client.isOpen) continue;
          // v4 has no destroy(); its disconnect() is just as abrupt.
          if (typeof client.destroy === 'function') client.destroy();
          else void client.disconnect().catch(() => {});
        }
      },
    };
  }
  const options = { retryStrategy: () => 100, maxRetriesPerRequest: 2, connectTimeout: 2000 };
  const publisher = new Redis(url, options);
  const subscriber = subscriberUrl === url ? publisher.duplicate() : new Redis(subscriberUrl, options);
  publisher.on('error', () => {});
  subscriber.on('error', () => {});
  await Promise.all([once(publisher, 'ready'), once(subscriber, 'ready')]);
  return {
    publisher,
    subscriber,
    close: () => {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}

/**
 * Cluster clients on a Redis Cluster, one for publishing and one for
 * subscribing, as the README shows them: node-redis `createCluster()`;
 * ioredis `new Cluster()` with `shardedSubscribers: true`, without which an
 * ioredis Cluster sends SSUBSCRIBE to one node only.
 */
export async function redisClusterClients(
  library: ClientLibrary,
  rootNodes: Array<{ host: string; port: number }>,
  /** CLIENT SETNAME of the connections (`name-pub`, `name-sub`), to tell them apart in CLIENT LIST. */
  name = 'netws',
): Promise<RedisClients> {
  if (library !== 'ioredis') {
    type NodeRedisCluster = Omit<NodeRedisClient, 'duplicate'> & { close?(): Promise<void>; destroy?(): void; isOpen: boolean };
    const make = NODE_REDIS[library].createCluster as unknown as (options: object) => NodeRedisCluster;
    const options = (role: string) => ({
      rootNodes: rootNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
      defaults: { name: `${name}-${role}`, socket: { reconnectStrategy: () => 100, connectTimeout: 2000 } },
    });
    const publisher = make(options('pub'));
    const subscriber = make(options('sub'));
    publisher.on('error', () => {});
    subscriber.on('error', () => {});
    const close = () => {
      for (const client of [publisher, subscriber]) {
        if (!client.isOpen) continue;
        if (typeof client.destroy === 'function') client.destroy();
        else void client.disconnect().catch(() => {});
      }
    };
    await withinSeconds(20, Promise.all([publisher.connect(), subscriber.connect()]), close);
    return { publisher, subscriber, close };
  }
  const options = (role: string) => ({
    shardedSubscribers: true,
    clusterRetryStrategy: () => 100,
    redisOptions: { connectTimeout: 2000, connectionName: `${name}-${role}` },
  });
  const publisher = new Cluster(rootNodes, options('pub'));
  const subscriber = new Cluster(rootNodes, options('sub'));
  publisher.on('error', () => {});
  subscriber.on('error', () => {});
  const close = () => {
    publisher.disconnect();
    subscriber.disconnect();
  };
  await withinSeconds(20, Promise.all([once(publisher, 'ready'), once(subscriber, 'ready')]), close);
  return { publisher, subscriber, close };
}

/** `promise`, or (after `seconds`) `cleanup()` and a rejection: a cluster client that never connects must not hang the tests. */
async function withinSeconds<T>(seconds: number, promise: Promise<T>, cleanup: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the cluster clients did not connect within ${seconds} s`)), seconds * 1000);
      }),
    ]);
  } catch (error) {
    cleanup();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
