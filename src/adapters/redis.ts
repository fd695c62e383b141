/**
 * `netws/redis`: topics shared among servers through Redis pub/sub, over
 * Redis clients the user created: node-redis (`createClient()`,
 * `createCluster()`; v4, v5 and v6) or ioredis (`Redis`, `Cluster`). They
 * are duck-typed, so netws has no dependency on either.
 *
 * One Redis channel per topic (`prefix + topic`), subscribed while this
 * server has at least one subscriber of the topic: a node receives only the
 * topics it serves. With `sharded`, SPUBLISH/SSUBSCRIBE (Redis 7), so that
 * in Redis Cluster each channel lives on one shard instead of every node.
 *
 * A message on Redis is an envelope of 16 bytes (format version, flags, the
 * publishing node's id, its sequence number on the channel) and the payload,
 * as it is: no JSON, no base64. The format, and what a receiver drops, is
 * specified in redis/envelope.ts; repeats are told apart in redis/dedupe.ts.
 *
 * Redis pub/sub delivers at most once: a message published while Redis or
 * the connection to it is down is lost for the other nodes (this node's
 * subscribers still get it). Such failures are counted in `stats` and
 * reported as the server's 'error' once per outage, never thrown.
 *
 * The adapter does not take the client's word for its subscriptions: it
 * probes channels that stayed silent and subscribes again those whose probe
 * does not come back (redis/subscriptions.ts).
 *
 * This file is the package's entry point and exports only the public API;
 * the parts are in redis/: envelope.ts (wire format), clients.ts (the client
 * libraries), dedupe.ts (repeats), subscriptions.ts (channels, probes,
 * repairs), options.ts, stats.ts, and adapter.ts (RedisAdapter, which ties
 * them).
 */

export { RedisAdapter } from './redis/adapter.ts';
export { DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PENDING_BYTES, DEFAULT_PREFIX, type RedisAdapterOptions } from './redis/options.ts';
export type { RedisAdapterStats } from './redis/stats.ts';
