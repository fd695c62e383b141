/**
 * The chat on Redis (`REDIS_URL=redis://… npm start`): netws/redis's adapter
 * carries each room's messages between server processes, and the room's
 * history and nicknames live in Redis, shared by all of them.
 *
 *   netws-chat:history:<room>  a list of the last messages (JSON), trimmed
 *                              to the history size, expiring a week after
 *                              the last message
 *   netws-chat:nicks:<room>    a sorted set: nickname → lease end (ms). A
 *                              nickname is claimed with ZADD NX (one server
 *                              wins); its server renews the lease while the
 *                              person is connected, so the nicknames of a
 *                              crashed server free themselves.
 */

import { createClient } from 'redis';
import { RedisAdapter } from '../../src/adapters/redis.ts';
import type { ChatMessage, ChatStore } from './store.ts';

/** How long a nickname stays taken without renewal; servers renew every third of it. */
export const NICK_LEASE = 90_000;
const HISTORY_TTL_SECONDS = 7 * 24 * 3600;

type Client = ReturnType<typeof createClient>;

export class RedisStore implements ChatStore {
  constructor(
    private readonly client: Client,
    private readonly historySize: number,
  ) {}

  async claimNick(room: string, nick: string): Promise<boolean> {
    const key = `netws-chat:nicks:${room}`;
    const now = Date.now();
    // Leases of servers that went away without releasing them.
    await this.client.sendCommand(['ZREMRANGEBYSCORE', key, '-inf', String(now)]);
    const added = await this.client.sendCommand(['ZADD', key, 'NX', String(now + NICK_LEASE), nick]);
    return Number(added) === 1;
  }

  async releaseNick(room: string, nick: string): Promise<void> {
    await this.client.sendCommand(['ZREM', `netws-chat:nicks:${room}`, nick]);
  }

  async renewNicks(room: string, nicks: string[]): Promise<void> {
    if (nicks.length === 0) return;
    const lease = String(Date.now() + NICK_LEASE);
    await this.client.sendCommand(['ZADD', `netws-chat:nicks:${room}`, 'XX', ...nicks.flatMap((nick) => [lease, nick])]);
  }

  async members(room: string): Promise<string[]> {
    return (await this.client.sendCommand(['ZRANGEBYSCORE', `netws-chat:nicks:${room}`, String(Date.now()), '+inf'])) as string[];
  }

  async history(room: string): Promise<ChatMessage[]> {
    const entries = (await this.client.sendCommand(['LRANGE', `netws-chat:history:${room}`, '0', '-1'])) as string[];
    return entries.map((entry) => JSON.parse(entry) as ChatMessage);
  }

  async append(room: string, message: ChatMessage): Promise<void> {
    const key = `netws-chat:history:${room}`;
    await this.client
      .multi()
      .addCommand(['RPUSH', key, JSON.stringify(message)])
      .addCommand(['LTRIM', key, String(-this.historySize), '-1'])
      .addCommand(['EXPIRE', key, String(HISTORY_TTL_SECONDS)])
      .exec();
  }

  async close(): Promise<void> {}
}

/** Connects to Redis: one client for commands and publishing, one for subscribing. */
export async function connectRedis(url: string, historySize: number) {
  const client = createClient({ url });
  const subscriber = client.duplicate();
  // Connection trouble is reported by the adapter as the server's 'error'; node-redis needs listeners too.
  client.on('error', () => {});
  subscriber.on('error', () => {});
  await Promise.all([client.connect(), subscriber.connect()]);
  return {
    adapter: new RedisAdapter({ publisher: client, subscriber }),
    store: new RedisStore(client, historySize),
    close: async () => {
      await Promise.allSettled([client.close(), subscriber.close()]);
    },
  };
}
