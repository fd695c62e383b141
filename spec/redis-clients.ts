/**
 * The two Redis client libraries the Redis adapter is tested with, created
 * as a user would: node-redis (`createClient()` and `duplicate()`, then
 * `connect()`) and ioredis (`new Redis()` and `duplicate()`). Both retry
 * quickly here, so the restart tests do not wait on back-off.
 */

import { once } from 'node:events';
import { Redis } from 'ioredis';
import { createClient } from 'redis';

export const LIBRARIES = ['node-redis', 'ioredis'] as const;
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
