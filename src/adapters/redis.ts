/**
 * `netws/redis`: topics shared among servers through Redis pub/sub, over
 * Redis clients the user created: node-redis (`createClient()`, v4 and v5)
 * or ioredis. They are duck-typed, so netws has no dependency on either.
 *
 * One Redis channel per topic (`prefix + topic`), subscribed while this
 * server has at least one subscriber of the topic: a node receives only the
 * topics it serves. With `sharded`, SPUBLISH/SSUBSCRIBE (Redis 7), so that
 * in Redis Cluster each channel lives on one shard instead of every node.
 *
 * A message on Redis is an envelope of 10 bytes and the payload, as it is
 * (no JSON, no base64):
 *
 *   byte 0     format version (1)
 *   byte 1     flags: 1 = binary, 2 = do not compress
 *   bytes 2-9  the publishing adapter's node id, so that it skips its own
 *              messages (it delivered them locally already)
 *   bytes 10-  the payload
 *
 * Anything else on our channels, or larger than `maxMessageSize`, is
 * dropped and counted; it never reaches a connection or throws.
 *
 * Redis pub/sub delivers at most once: a message published while Redis or
 * the connection to it is down is lost for the other nodes (this node's
 * subscribers still get it). Such failures are counted in `stats` and
 * reported as the server's 'error' once per outage, never thrown.
 */

import { randomBytes } from 'node:crypto';
import { numberOption } from '../options/values.ts';
import { WebSocketError } from '../protocol/errors.ts';
import { PreparedMessage } from '../protocol/prepared.ts';
import type { AdapterHost, TopicAdapter } from './interface.ts';

const VERSION = 1;
const FLAG_BINARY = 1;
const FLAG_NO_COMPRESS = 2;
const KNOWN_FLAGS = FLAG_BINARY | FLAG_NO_COMPRESS;
const NODE_ID_SIZE = 8;
export const ENVELOPE_HEADER_SIZE = 2 + NODE_ID_SIZE;

export const DEFAULT_PREFIX = 'netws:';
/** Largest payload sent or accepted through Redis; pub/sub is no place for big messages. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;
/** Envelope bytes handed to the publishing client and not yet acknowledged. */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** Redis's own limit on a string (proto-max-bulk-len's default): "no limit" for maxMessageSize. */
const REDIS_MAX_BULK = 512 * 1024 * 1024 - ENVELOPE_HEADER_SIZE;
/** Channels per SUBSCRIBE command when subscribing again after a reconnect. */
const RESUBSCRIBE_BATCH = 1000;

/** A node-redis or ioredis client, as far as this adapter uses it. */
type RedisClient = Record<string, unknown> & {
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
};

export interface RedisAdapterOptions {
  /** Publishes: a connected client (node-redis `createClient()` or ioredis `new Redis()`). */
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
}

/** Counters since the adapter was made. */
export interface RedisAdapterStats {
  /** Messages Redis acknowledged. */
  published: number;
  /** Messages that did not reach Redis: it was down, the client refused, or a limit was hit. */
  publishFailed: number;
  /** Messages from other nodes delivered to this node's subscribers. */
  received: number;
  /** Messages on our channels dropped as malformed or too large. */
  dropped: number;
  /** SUBSCRIBE/UNSUBSCRIBE commands that failed (subscriptions are retried on the next reconnect). */
  subscribeFailed: number;
  /** Times the subscribing connection lost Redis (it subscribes again when it is back). */
  reconnects: number;
  /** Envelope bytes published and received (without Redis protocol framing). */
  bytesOut: number;
  bytesIn: number;
}

/** The two client libraries' names for the same commands. */
interface Commands {
  publish: string;
  subscribe: string;
  unsubscribe: string;
  /** ioredis: the event carrying Buffers; node-redis takes a listener per subscribe instead. */
  messageEvent: string | null;
}

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

function checkClient(value: unknown, role: string, sharded: boolean): { client: RedisClient; commands: Commands } {
  if (typeof value !== 'object' || value === null || typeof (value as RedisClient).on !== 'function') {
    throw new TypeError(`The "${role}" option must be a node-redis or ioredis client`);
  }
  const client = value as RedisClient;
  const commands = commandsOf(client, sharded, role);
  const needed = role === 'publisher' ? [commands.publish] : [commands.subscribe, commands.unsubscribe];
  for (const name of needed) {
    if (typeof client[name] !== 'function') throw new TypeError(`The "${role}" client has no ${name}() method`);
  }
  return { client, commands };
}

/** Whether a client can take a command now: node-redis's isReady, ioredis's status. */
function isReady(client: RedisClient): boolean {
  if (typeof client.isReady === 'boolean') return client.isReady;
  if (typeof client.status === 'string') return client.status === 'ready';
  return true;
}

/** Calls a client method; a synchronous throw becomes a rejection. */
function call(client: RedisClient, method: string, args: unknown[]): Promise<unknown> {
  try {
    return Promise.resolve((client[method] as (...args: unknown[]) => unknown)(...args));
  } catch (error) {
    return Promise.reject(error);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class RedisAdapter implements TopicAdapter {
  /** This adapter's id in every envelope it publishes (16 hex digits). */
  readonly nodeId: string;
  readonly stats: RedisAdapterStats = {
    published: 0,
    publishFailed: 0,
    received: 0,
    dropped: 0,
    subscribeFailed: 0,
    reconnects: 0,
    bytesOut: 0,
    bytesIn: 0,
  };
  private readonly publisher: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly publishCommands: Commands;
  private readonly subscribeCommands: Commands;
  private readonly prefix: string;
  private readonly maxMessageSize: number;
  private readonly maxPendingBytes: number;
  private readonly origin: Buffer;
  private host: AdapterHost | null = null;
  /** Topics with local subscribers: what this node wants from Redis. */
  private readonly topics = new Set<string>();
  private pendingBytes = 0;
  /** False from a failure until Redis works again: one 'error' per outage, not one per message. */
  private healthy = true;
  /** The subscriber lost its connection, or a SUBSCRIBE failed, since it was last ready. */
  private resubscribeOnReady = false;
  private subscriberLost = false;

  /** Bound once: the same function is every subscription's listener and every client's. */
  private readonly onMessage = (first: Buffer | string, second: Buffer | string): void => {
    // node-redis calls (message, channel); ioredis emits (channel, message).
    if (this.subscribeCommands.messageEvent === null) this.receive(second, first);
    else this.receive(first, second);
  };
  private readonly onClientError = (error: unknown): void => {
    this.failed('WS_ERR_ADAPTER_REDIS', `Redis client error: ${asError(error).message}`, error);
  };
  private readonly onSubscriberLost = (): void => {
    // Several events per outage ('close', then 'reconnecting' at each attempt): counted once.
    if (!this.subscriberLost) this.stats.reconnects++;
    this.subscriberLost = true;
    this.resubscribeOnReady = true;
  };
  private readonly onSubscriberReady = (): void => this.subscriberReady();
  private readonly onPublisherReady = (): void => {
    this.healthy = true;
  };

  constructor(options: RedisAdapterOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('RedisAdapter needs an options object');
    const raw = options as unknown as Record<string, unknown>;
    const sharded = raw.sharded ?? false;
    if (typeof sharded !== 'boolean') throw new TypeError('The "sharded" option must be a boolean');
    const publisher = checkClient(raw.publisher, 'publisher', sharded);
    const subscriber = checkClient(raw.subscriber, 'subscriber', sharded);
    this.publisher = publisher.client;
    this.publishCommands = publisher.commands;
    this.subscriber = subscriber.client;
    this.subscribeCommands = subscriber.commands;
    const prefix = raw.prefix ?? DEFAULT_PREFIX;
    // As topics (topics.ts): lone surrogates would all be U+FFFD in the channel name.
    if (typeof prefix !== 'string' || !(prefix as string & { isWellFormed(): boolean }).isWellFormed()) {
      throw new TypeError('The "prefix" option must be a well-formed string');
    }
    this.prefix = prefix;
    this.maxMessageSize = numberOption(raw, 'maxMessageSize', DEFAULT_MAX_MESSAGE_SIZE, {
      min: 0,
      max: REDIS_MAX_BULK,
      zeroMeans: REDIS_MAX_BULK,
    });
    this.maxPendingBytes = numberOption(raw, 'maxPendingBytes', DEFAULT_MAX_PENDING_BYTES, { min: 0 });
    this.origin = randomBytes(NODE_ID_SIZE);
    this.nodeId = this.origin.toString('hex');
  }

  /** Channels this node is subscribed to (one per topic with local subscribers). */
  get channels(): number {
    return this.topics.size;
  }

  attach(host: AdapterHost): void {
    if (this.host !== null) throw new Error('This RedisAdapter already serves a WebSocketServer; make one per server');
    this.host = host;
    this.healthy = true;
    for (const client of new Set([this.publisher, this.subscriber])) client.on('error', this.onClientError);
    this.publisher.on('ready', this.onPublisherReady);
    this.subscriber.on('ready', this.onSubscriberReady);
    // node-redis says 'end' or 'reconnecting', ioredis 'close' or 'reconnecting'.
    for (const event of ['end', 'close', 'reconnecting']) this.subscriber.on(event, this.onSubscriberLost);
    const event = this.subscribeCommands.messageEvent;
    if (event !== null) this.subscriber.on(event, this.onMessage);
  }

  detach(): void {
    if (this.host === null) return;
    for (const topic of this.topics) this.command('unsubscribe', topic);
    this.topics.clear();
    for (const client of new Set([this.publisher, this.subscriber])) client.removeListener('error', this.onClientError);
    this.publisher.removeListener('ready', this.onPublisherReady);
    this.subscriber.removeListener('ready', this.onSubscriberReady);
    for (const event of ['end', 'close', 'reconnecting']) this.subscriber.removeListener(event, this.onSubscriberLost);
    const event = this.subscribeCommands.messageEvent;
    if (event !== null) this.subscriber.removeListener(event, this.onMessage);
    this.host = null;
  }

  subscribe(topic: string): void {
    this.topics.add(topic);
    this.command('subscribe', topic);
  }

  unsubscribe(topic: string): void {
    if (!this.topics.delete(topic)) return;
    this.command('unsubscribe', topic);
  }

  publish(topic: string, message: PreparedMessage, compress: boolean): void {
    const data = message.data;
    if (data.length > this.maxMessageSize) {
      // Not an outage: reported every time.
      this.stats.publishFailed++;
      this.host?.reportError(
        new WebSocketError(
          'WS_ERR_ADAPTER_MESSAGE_TOO_BIG',
          `A ${data.length}-byte message is over the adapter's maxMessageSize (${this.maxMessageSize}); other nodes do not get it`,
        ),
      );
      return;
    }
    if (!isReady(this.publisher)) {
      // Queued in the client, it would reach Redis after the outage, if at all, and grow memory meanwhile.
      this.publishFailed('WS_ERR_ADAPTER_UNAVAILABLE', 'Redis is not connected; the message reached this node only');
      return;
    }
    const size = ENVELOPE_HEADER_SIZE + data.length;
    if (this.maxPendingBytes !== 0 && this.pendingBytes + size > this.maxPendingBytes) {
      this.publishFailed(
        'WS_ERR_ADAPTER_BACKLOG',
        `More than maxPendingBytes (${this.maxPendingBytes}) published and not yet acknowledged by Redis`,
      );
      return;
    }
    const envelope = Buffer.allocUnsafe(size);
    envelope[0] = VERSION;
    envelope[1] = (message.isBinary ? FLAG_BINARY : 0) | (compress ? 0 : FLAG_NO_COMPRESS);
    this.origin.copy(envelope, 2);
    data.copy(envelope, ENVELOPE_HEADER_SIZE);
    this.pendingBytes += size;
    call(this.publisher, this.publishCommands.publish, [this.prefix + topic, envelope]).then(
      () => {
        this.pendingBytes -= size;
        this.stats.published++;
        this.stats.bytesOut += size;
        this.healthy = true;
      },
      (error: unknown) => {
        this.pendingBytes -= size;
        this.publishFailed('WS_ERR_ADAPTER_PUBLISH', `Publishing to Redis failed: ${asError(error).message}`, error);
      },
    );
  }

  /** A message from Redis on one of our channels. */
  private receive(channel: Buffer | string, envelope: Buffer | string): void {
    const host = this.host;
    if (host === null) return;
    const name = typeof channel === 'string' ? channel : channel.toString();
    // Not ours (the subscriber is shared with other channels): not ours to judge either.
    if (!name.startsWith(this.prefix)) return;
    const topic = name.slice(this.prefix.length);
    if (!Buffer.isBuffer(envelope) || envelope.length < ENVELOPE_HEADER_SIZE) {
      this.drop(topic, 'is not a netws envelope');
      return;
    }
    if (envelope[0] !== VERSION || (envelope[1] & ~KNOWN_FLAGS) !== 0) {
      this.drop(topic, `has an unknown format (${envelope[0]}, flags ${envelope[1]})`);
      return;
    }
    if (envelope.length - ENVELOPE_HEADER_SIZE > this.maxMessageSize) {
      this.drop(topic, `is over maxMessageSize (${envelope.length - ENVELOPE_HEADER_SIZE} bytes)`);
      return;
    }
    // Our own message, back from Redis: delivered locally when it was published.
    if (this.origin.compare(envelope, 2, ENVELOPE_HEADER_SIZE) === 0) return;
    // Published before we unsubscribed, delivered after.
    if (!this.topics.has(topic)) return;
    this.stats.received++;
    this.stats.bytesIn += envelope.length;
    const flags = envelope[1];
    const message = new PreparedMessage(envelope.subarray(ENVELOPE_HEADER_SIZE), (flags & FLAG_BINARY) !== 0);
    try {
      host.deliver(topic, message, (flags & FLAG_NO_COMPRESS) === 0);
    } catch (error) {
      // A connection's 'error' listener threw during the delivery: the client library must not see it.
      host.reportError(asError(error));
    }
  }

  private drop(topic: string, what: string): void {
    this.stats.dropped++;
    this.host!.reportError(new WebSocketError('WS_ERR_ADAPTER_MESSAGE', `A message on topic "${topic}" ${what}: dropped`));
  }

  /** SUBSCRIBE or UNSUBSCRIBE one channel (their sharded twins with `sharded`). */
  private command(kind: 'subscribe' | 'unsubscribe', topic: string): void {
    this.subscribeTo(kind, [this.prefix + topic]);
  }

  private subscribeTo(kind: 'subscribe' | 'unsubscribe', channels: string[]): void {
    const method = this.subscribeCommands[kind];
    // node-redis takes the listener (in Buffer mode) with the command; ioredis emits events.
    const args = this.subscribeCommands.messageEvent === null ? [channels, this.onMessage, true] : channels;
    call(this.subscriber, method, args).then(
      () => {
        if (kind === 'unsubscribe') return;
        // Unsubscribed while the SUBSCRIBE was on its way: node-redis had nothing to cancel then.
        const unwanted = channels.filter((channel) => !this.topics.has(channel.slice(this.prefix.length)));
        if (unwanted.length > 0 && this.host !== null) this.subscribeTo('unsubscribe', unwanted);
      },
      (error: unknown) => {
        this.stats.subscribeFailed++;
        // Asked for again when the connection is next ready.
        if (kind === 'subscribe') this.resubscribeOnReady = true;
        this.failed('WS_ERR_ADAPTER_SUBSCRIBE', `${method} failed: ${asError(error).message}`, error);
      },
    );
  }

  /**
   * The subscribing connection is ready again. Both libraries subscribe
   * again by themselves (node-redis had releases that did not, and a
   * subscribe that failed during the outage is not theirs to retry), so
   * every wanted channel is asked for once more: a no-op for a channel the
   * connection has (Redis ignores a second SUBSCRIBE, node-redis does not
   * even send it).
   */
  private subscriberReady(): void {
    this.healthy = true;
    this.subscriberLost = false;
    if (!this.resubscribeOnReady) return;
    this.resubscribeOnReady = false;
    const channels = [...this.topics].map((topic) => this.prefix + topic);
    for (let i = 0; i < channels.length; i += RESUBSCRIBE_BATCH) {
      this.subscribeTo('subscribe', channels.slice(i, i + RESUBSCRIBE_BATCH));
    }
  }

  private publishFailed(code: string, message: string, cause?: unknown): void {
    this.stats.publishFailed++;
    this.failed(code, message, cause);
  }

  /** Reports the first failure of an outage to the server; the rest are only counted. */
  private failed(code: string, message: string, cause?: unknown): void {
    if (!this.healthy || this.host === null) return;
    this.healthy = false;
    const error = new WebSocketError(code, message);
    if (cause !== undefined) error.cause = cause;
    this.host.reportError(error);
  }
}
