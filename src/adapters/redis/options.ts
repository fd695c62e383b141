/**
 * The options of netws/redis's RedisAdapter: what they are, their defaults,
 * and their validation (a TypeError or RangeError from the constructor).
 */

import { numberOption } from '../../options/values.ts';
import { checkClient, type Commands, type RedisClient } from './clients.ts';
import { ENVELOPE_HEADER_SIZE } from './envelope.ts';

export const DEFAULT_PREFIX = 'netws:';
/** Largest payload sent or accepted through Redis; pub/sub is no place for big messages. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;
/** Envelope bytes handed to the publishing client and not yet acknowledged. */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;
/**
 * How often channels that stayed silent are probed, besides after every
 * reconnect and topology change. Some losses come with no event at all: in
 * a CLUSTER FAILOVER the old master unsubscribes its shard channels'
 * subscribers (SUNSUBSCRIBE), and ioredis may then find the slot map
 * unchanged and subscribe nowhere, for good. This bounds how long such a
 * channel stays deaf. A channel anything arrived on meanwhile (any node's
 * message or probe) needs no probe, so a topic costs about one probe per
 * interval for the whole cluster only while nobody publishes on it.
 */
const DEFAULT_VERIFY_INTERVAL = 5000;
/** Redis's own limit on a string (proto-max-bulk-len's default): "no limit" for maxMessageSize. */
const REDIS_MAX_BULK = 512 * 1024 * 1024 - ENVELOPE_HEADER_SIZE;

export interface RedisAdapterOptions {
  /**
   * Publishes: a connected client (node-redis `createClient()` or
   * `createCluster()`, ioredis `new Redis()` or `new Cluster()`).
   */
  publisher: object;
  /**
   * Subscribes: a second connection (Redis puts a subscribing connection in
   * a mode where it can do nothing else), e.g. `publisher.duplicate()`,
   * connected. Do not subscribe it to other channels under `prefix`.
   */
  subscriber: object;
  /** Start of every channel name; default 'netws:'. Servers that share topics use the same. */
  prefix?: string;
  /** SPUBLISH/SSUBSCRIBE (Redis 7 sharded pub/sub, for Redis Cluster); default false. */
  sharded?: boolean;
  /** Largest payload in bytes sent to or accepted from Redis; default 1 MiB; 0 for Redis's own limit (512 MiB). */
  maxMessageSize?: number;
  /** Bytes of publishes not yet acknowledged by Redis before more fail at once; default 16 MiB; 0 for no limit. */
  maxPendingBytes?: number;
  /**
   * Milliseconds between checks of the channels that stayed silent (a probe
   * each); default 5 s; 0: only after reconnects and topology changes.
   */
  verifyInterval?: number;
}

/** The options checked, with their defaults, and each client's library's commands. */
export interface ResolvedOptions {
  publisher: RedisClient;
  publishCommands: Commands;
  subscriber: RedisClient;
  subscribeCommands: Commands;
  prefix: string;
  maxMessageSize: number;
  maxPendingBytes: number;
  verifyInterval: number;
}

export function resolveOptions(options: RedisAdapterOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('RedisAdapter needs an options object');
  const raw = options as unknown as Record<string, unknown>;
  const sharded = raw.sharded ?? false;
  if (typeof sharded !== 'boolean') throw new TypeError('The "sharded" option must be a boolean');
  const publisher = checkClient(raw.publisher, 'publisher', sharded);
  const subscriber = checkClient(raw.subscriber, 'subscriber', sharded);
  const prefix = raw.prefix ?? DEFAULT_PREFIX;
  // As topics (topics.ts): lone surrogates would all be U+FFFD in the channel name.
  if (typeof prefix !== 'string' || !(prefix as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new TypeError('The "prefix" option must be a well-formed string');
  }
  return {
    publisher: publisher.client,
    publishCommands: publisher.commands,
    subscriber: subscriber.client,
    subscribeCommands: subscriber.commands,
    prefix,
    maxMessageSize: numberOption(raw, 'maxMessageSize', DEFAULT_MAX_MESSAGE_SIZE, {
      min: 0,
      max: REDIS_MAX_BULK,
      zeroMeans: REDIS_MAX_BULK,
    }),
    maxPendingBytes: numberOption(raw, 'maxPendingBytes', DEFAULT_MAX_PENDING_BYTES, { min: 0 }),
    verifyInterval: numberOption(raw, 'verifyInterval', DEFAULT_VERIFY_INTERVAL, { min: 0, max: 2 ** 31 - 1 }),
  };
}
