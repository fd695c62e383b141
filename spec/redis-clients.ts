/**
 * The Redis client libraries the Redis adapter is tested with, created as a
 * user would: node-redis 5 and 4 (`createClient()` and `duplicate()`, then
 * `connect()`; v4 is the devDependency alias `redis4`) and ioredis
 * (`new Redis()` and `duplicate()`). All retry quickly here, so the restart
 * tests do not wait on back-off. The cluster tests use the first and last.
 */

import { once } from 'node:events';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { createClient as createClientV4 } from 'redis4';

export const LIBRARIES = ['node-redis', 'node-redis-4', 'ioredis'] as const;
/** The libraries the multi-process tests run with (node-redis 4 and 5 differ little there). */
export const CLUSTER_LIBRARIES = ['node-redis', 'ioredis'] as const;
export type ClientLibrary = (typeof LIBRARIES)[number];

export interface RedisClients {
  publisher: object;
  subscriber: object;
  /** Closes both connections at once (no QUIT: Redis may be down). */
  close(): void;
}

export async function redisClients(library: ClientLibrary, url: string): Promise<RedisClients> {
  if (library === 'node-redis') {
    const publisher = createClient({ url, socket: { reconnectStrategy: () => 100, connectTimeout: 2000 } });
    const subscriber = publisher.duplicate();
    // What every node-redis user must do: without an 'error' listener a lost connection throws.
    publisher.on('error', () => {});
    subscriber.on('error', () => {});
    await Promise.all([publisher.connect(), subscriber.connect()]);
    return {
      publisher,
      subscriber,
      close: () => {
        for (const client of [publisher, subscriber]) if (client.isOpen) client.destroy();
      },
    };
  }
  if (library === 'node-redis-4') {
    const publisher = createClientV4({ url, socket: { reconnectStrategy: () => 100, connectTimeout: 2000 } });
    const subscriber = publisher.duplicate();
    publisher.on('error', () => {});
    subscriber.on('error', () => {});
    await Promise.all([publisher.connect(), subscriber.connect()]);
    return {
      publisher,
      subscriber,
      close: () => {
        for (const client of [publisher, subscriber]) if (client.isOpen) void client.disconnect().catch(() => {});
      },
    };
  }
  const publisher = new Redis(url, { retryStrategy: () => 100, maxRetriesPerRequest: 2, connectTimeout: 2000 });
  const subscriber = publisher.duplicate();
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
