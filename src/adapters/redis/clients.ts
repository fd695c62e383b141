/**
 * The Redis clients netws/redis runs over, duck-typed so that netws depends
 * on neither library: node-redis (`createClient()`, `createCluster()`; v4,
 * v5 and v6) and ioredis (`Redis`, `Cluster`). Which commands and events
 * each has, whether it is ready, what its errors mean, which masters a
 * cluster client knows.
 */

/** A node-redis or ioredis client, as far as this adapter uses it. */
export type RedisClient = Record<string, unknown> & {
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
};

/** The two client libraries' names for the same commands. */
export interface Commands {
  publish: string;
  subscribe: string;
  unsubscribe: string;
  /** ioredis: the event carrying Buffers; node-redis takes a listener per subscribe instead. */
  messageEvent: string | null;
}

/**
 * Events after which a client's subscriptions may not be what they were: a
 * node came or went, a subscriber connection was replaced (ioredis Cluster:
 * '+node', '-node', '-subscriber', 'subscribersReady'; node-redis cluster:
 * 'node-ready', 'node-disconnect').
 */
export const TOPOLOGY_EVENTS = ['+node', '-node', '-subscriber', 'subscribersReady', 'node-ready', 'node-disconnect'];
/**
 * ioredis Cluster's 'refresh' follows every reload of the slot map (after a
 * MOVED, and every slotsRefreshInterval if set): a change only when the
 * masters are not the ones they were. It is the only event some failovers
 * give: the client whose shard subscriber was replaced may say nothing.
 */
export const REFRESH_EVENT = 'refresh';
/** The subscribing connection lost Redis: node-redis says 'end' or 'reconnecting', ioredis 'close' or 'reconnecting'. */
export const LOST_EVENTS = ['end', 'close', 'reconnecting'];

function commandsOf(client: RedisClient, sharded: boolean, role: string): Commands {
  if (typeof client.ssubscribe === 'function' && typeof client.status === 'string') {
    return sharded
      ? { publish: 'spublish', subscribe: 'ssubscribe', unsubscribe: 'sunsubscribe', messageEvent: 'smessageBuffer' }
      : { publish: 'publish', subscribe: 'subscribe', unsubscribe: 'unsubscribe', messageEvent: 'messageBuffer' };
  }
  if (typeof client.sSubscribe === 'function' || typeof client.SUBSCRIBE === 'function') {
    return sharded
      ? { publish: 'sPublish', subscribe: 'sSubscribe', unsubscribe: 'sUnsubscribe', messageEvent: null }
      : { publish: 'publish', subscribe: 'subscribe', unsubscribe: 'unsubscribe', messageEvent: null };
  }
  throw new TypeError(`The "${role}" option must be a node-redis or ioredis client`);
}

/** The option `role` ('publisher' or 'subscriber') as a client, and its library's commands; a TypeError if it is none. */
export function checkClient(value: unknown, role: string, sharded: boolean): { client: RedisClient; commands: Commands } {
  if (typeof value !== 'object' || value === null || typeof (value as RedisClient).on !== 'function') {
    throw new TypeError(`The "${role}" option must be a node-redis or ioredis client`);
  }
  const client = value as RedisClient;
  const commands = commandsOf(client, sharded, role);
  const needed = role === 'publisher' ? [commands.publish] : [commands.subscribe, commands.unsubscribe];
  for (const name of needed) {
    if (typeof client[name] !== 'function') throw new TypeError(`The "${role}" client has no ${name}() method`);
  }
  // An ioredis Cluster sends SSUBSCRIBE to one node of its choice unless shardedSubscribers is on: nothing would arrive.
  const clusterOptions = client.options as { shardedSubscribers?: unknown } | undefined;
  if (sharded && role === 'subscriber' && client.isCluster === true && clusterOptions?.shardedSubscribers !== true) {
    throw new TypeError('An ioredis Cluster subscriber needs the option { shardedSubscribers: true } for sharded pub/sub');
  }
  return { client, commands };
}

/** Whether a client can take a command now: node-redis's isReady, ioredis's status. */
export function isReady(client: RedisClient): boolean {
  if (typeof client.isReady === 'boolean') return client.isReady;
  if (typeof client.status === 'string') return client.status === 'ready';
  return true;
}

/** Calls a client method; a synchronous throw becomes a rejection. */
export function call(client: RedisClient, method: string, args: unknown[]): Promise<unknown> {
  try {
    return Promise.resolve((client[method] as (...args: unknown[]) => unknown)(...args));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What a client threw or rejected with, as an Error (for a message, or a cause). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Whether a rejection is Redis's own error reply (node-redis `ErrorReply`,
 * ioredis `ReplyError`): Redis answered and did not deliver. Anything else
 * (a closed connection, a timeout, a retry limit) leaves the fate of a
 * command that was sent unknown.
 */
export function isErrorReply(error: unknown): boolean {
  for (let proto = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (name === 'ErrorReply' || name === 'ReplyError') return true;
  }
  return false;
}

/** The masters a cluster client knows (ioredis `nodes('master')`, node-redis `masters`), as a comparable string; '' otherwise. */
export function mastersOf(client: RedisClient): string {
  let addresses: string[] = [];
  if (typeof client.nodes === 'function') {
    const nodes = (client.nodes as (role: string) => Array<{ options?: { host?: string; port?: number } }>)('master');
    addresses = nodes.map(({ options }) => `${options?.host}:${options?.port}`);
  } else if (Array.isArray(client.masters)) {
    addresses = (client.masters as Array<{ address?: string; host?: string; port?: number }>).map(
      (master) => master.address ?? `${master.host}:${master.port}`,
    );
  }
  return addresses.sort().join(' ');
}

/** A Redis Cluster client: ioredis `Cluster`, node-redis `createCluster()`. */
export function isClusterClient(client: RedisClient): boolean {
  return (client.isCluster === true || Array.isArray(client.masters)) && typeof client.exists === 'function';
}
