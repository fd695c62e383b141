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
 * A message on Redis is an envelope of 16 bytes and the payload, as it is
 * (no JSON, no base64):
 *
 *   byte 0       format version (2; version 1 is still read)
 *   byte 1       flags: 1 = binary, 2 = do not compress, 4 = probe (below)
 *   bytes 2-9    the publishing adapter's node id, so that it skips its own
 *                messages (it delivered them locally already)
 *   bytes 10-15  the publisher's sequence number (48 bits), increasing on
 *                each channel: a receiver drops a message whose number it
 *                has delivered from that node on that topic already, so a
 *                publish a client sent twice (ioredis resends commands whose
 *                reply a reset connection lost) is delivered once
 *   bytes 16-    the payload
 *
 * Version 1 was the same without the sequence number (a 10-byte header).
 * Anything else on our channels, larger than `maxMessageSize`, or text that
 * is not UTF-8, is dropped, counted and reported; it never reaches a
 * connection or throws.
 *
 * Redis pub/sub delivers at most once: a message published while Redis or
 * the connection to it is down is lost for the other nodes (this node's
 * subscribers still get it). Such failures are counted in `stats` and
 * reported as the server's 'error' once per outage, never thrown.
 *
 * The adapter does not take the client's word for its subscriptions. After
 * every reconnect and topology change (and every `verifyInterval`) it checks
 * each channel that has been silent: it publishes a probe (an empty envelope
 * with the probe flag, which every node ignores) and expects it back on its
 * own subscriber. A channel whose probe Redis acknowledged and that did not
 * come back within `PROBE_TIMEOUT` is subscribed again (UNSUBSCRIBE, then
 * SUBSCRIBE: a client that thinks it has the channel sends nothing for a
 * plain SUBSCRIBE), counted and reported. Channels unsubscribed while the
 * connection was down are unsubscribed again once it is back.
 */

import { randomBytes } from 'node:crypto';
import { numberOption } from '../options/values.ts';
import { WebSocketError } from '../protocol/errors.ts';
import { PreparedMessage } from '../protocol/prepared.ts';
import { isValidUtf8 } from '../protocol/utf8.ts';
import type { AdapterHost, TopicAdapter } from './interface.ts';

const VERSION = 2;
const FLAG_BINARY = 1;
const FLAG_NO_COMPRESS = 2;
const FLAG_PROBE = 4;
const KNOWN_FLAGS = FLAG_BINARY | FLAG_NO_COMPRESS | FLAG_PROBE;
const V1_FLAGS = FLAG_BINARY | FLAG_NO_COMPRESS;
const NODE_ID_SIZE = 8;
const SEQUENCE_SIZE = 6;
/** Version 1's header: version, flags, node id. */
export const V1_HEADER_SIZE = 2 + NODE_ID_SIZE;
export const ENVELOPE_HEADER_SIZE = V1_HEADER_SIZE + SEQUENCE_SIZE;

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
export const DEFAULT_VERIFY_INTERVAL = 5000;
/** Probes per check at most; the other silent channels wait for the next check (their turn comes, they go to the back). */
export const MAX_PROBES_PER_CHECK = 1000;
/** A probe whose PUBLISH has not settled after this is forgotten (a client that never answers must not stop the checks). */
const PROBE_STALE = 10_000;
/**
 * How long a probe Redis acknowledged may take to come back before its
 * channel counts as lost. Redis writes a message to its subscribers before
 * it answers the PUBLISH, so the probe is normally back before the answer.
 */
export const PROBE_TIMEOUT = 1000;
/** Wait after a reconnect or topology event before probing: such events come in bursts while a cluster settles. */
const VERIFY_DELAY = 250;
/**
 * After a reconnect or topology event, channels are checked every
 * VERIFY_STEP for SETTLE_TIME: a client may lose a subscription a while
 * after the event that announced the change (ioredis replaces its shard
 * subscribers after it has refreshed the slots; a failed SSUBSCRIBE there
 * is not retried), and a channel heard from just before proves nothing.
 */
const VERIFY_STEP = 1000;
const SETTLE_TIME = 5000;
/** Retry of a check that could not run (a client was not ready, a probe could not be published). */
const VERIFY_RETRY = 500;
/**
 * Publishing nodes remembered per topic for duplicate detection (the oldest
 * is forgotten first): every restart of a server is a new node id. About
 * 150 bytes each.
 */
const MAX_ORIGINS_PER_TOPIC = 1024;
/**
 * How far behind the newest message of a node on a topic a message may
 * arrive and still be told apart from a repeat (a bitmap of this many
 * sequence numbers per node and topic). Messages of one publisher can
 * arrive out of order: cluster clients send a classic PUBLISH to any node,
 * and retry commands on another node in a failover. Older ones are dropped:
 * whether they are repeats cannot be known.
 */
const DUPLICATE_WINDOW = 256;
/**
 * Sequence counters on the publishing side, one per bucket of channels (by
 * a hash of the name): numbers increase on every channel, and a channel's
 * numbers stay close together (a receiver's window counts them) without a
 * counter per topic ever published.
 */
const SEQUENCE_BUCKETS = 1024;
/** Failures this close together are one outage: one 'error', not one per shard that answered in between. */
const OUTAGE_QUIET = 1000;
/** Redis's own limit on a string (proto-max-bulk-len's default): "no limit" for maxMessageSize. */
const REDIS_MAX_BULK = 512 * 1024 * 1024 - ENVELOPE_HEADER_SIZE;
/** Channels per SUBSCRIBE command when subscribing again after a reconnect. */
const RESUBSCRIBE_BATCH = 1000;
/**
 * Events after which a client's subscriptions may not be what they were: a
 * node came or went, a subscriber connection was replaced (ioredis Cluster:
 * '+node', '-node', '-subscriber', 'subscribersReady'; node-redis cluster:
 * 'node-ready', 'node-disconnect').
 */
const TOPOLOGY_EVENTS = ['+node', '-node', '-subscriber', 'subscribersReady', 'node-ready', 'node-disconnect'];
/**
 * ioredis Cluster's 'refresh' follows every reload of the slot map (after a
 * MOVED, and every slotsRefreshInterval if set): a change only when the
 * masters are not the ones they were. It is the only event some failovers
 * give: the client whose shard subscriber was replaced may say nothing.
 */
const REFRESH_EVENT = 'refresh';

/** A node-redis or ioredis client, as far as this adapter uses it. */
type RedisClient = Record<string, unknown> & {
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
};

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

/** Counters since the adapter was made. */
export interface RedisAdapterStats {
  /** Messages Redis acknowledged. */
  published: number;
  /** Messages that did not reach Redis: it was down, the client or Redis refused, or a limit was hit. */
  publishFailed: number;
  /**
   * Messages sent whose acknowledgement never came (the connection was lost
   * first): the other nodes may or may not have received them.
   */
  publishUnconfirmed: number;
  /** Messages from other nodes delivered to this node's subscribers. */
  received: number;
  /** Messages on our channels dropped as malformed, too large, or text that is not UTF-8. */
  dropped: number;
  /** Messages dropped as repeats of one already delivered (a client sent a publish twice). */
  duplicates: number;
  /** SUBSCRIBE/UNSUBSCRIBE commands that failed (subscriptions are retried on the next reconnect). */
  subscribeFailed: number;
  /** Times the subscribing connection lost Redis (it subscribes again when it is back). */
  reconnects: number;
  /** Probes published to check a silent channel's subscription. */
  probes: number;
  /** Channels found not subscribed (a probe did not come back) and subscribed again. */
  resubscribed: number;
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
  // An ioredis Cluster sends SSUBSCRIBE to one node of its choice unless shardedSubscribers is on: nothing would arrive.
  const clusterOptions = client.options as { shardedSubscribers?: unknown } | undefined;
  if (sharded && role === 'subscriber' && client.isCluster === true && clusterOptions?.shardedSubscribers !== true) {
    throw new TypeError('An ioredis Cluster subscriber needs the option { shardedSubscribers: true } for sharded pub/sub');
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

/**
 * Whether a rejection is Redis's own error reply (node-redis `ErrorReply`,
 * ioredis `ReplyError`): Redis answered and did not deliver. Anything else
 * (a closed connection, a timeout, a retry limit) leaves the fate of a
 * command that was sent unknown.
 */
function isErrorReply(error: unknown): boolean {
  for (let proto = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (name === 'ErrorReply' || name === 'ReplyError') return true;
  }
  return false;
}

/** The masters a cluster client knows (ioredis `nodes('master')`, node-redis `masters`), as a comparable string; '' otherwise. */
function mastersOf(client: RedisClient): string {
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
function isClusterClient(client: RedisClient): boolean {
  return (client.isCluster === true || Array.isArray(client.masters)) && typeof client.exists === 'function';
}

/** FNV-1a over a channel name's UTF-16 units: which sequence counter a channel uses. */
function bucketOf(channel: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < channel.length; i++) hash = Math.imul(hash ^ channel.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SEQUENCE_BUCKETS;
}

/** What a receiver remembers of one node on one topic: the highest sequence number, and which of the window below it arrived. */
interface Seen {
  highest: number;
  window: Uint32Array;
}

/** How long one step of a repair (an UNSUBSCRIBE, a SUBSCRIBE) may take before it counts as failed. */
const REPAIR_STEP_TIMEOUT = 2000;

/** `promise`, or a rejection after REPAIR_STEP_TIMEOUT (a client command that never settles must not stall the adapter). */
function withTimeout(promise: Promise<unknown>): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer')), REPAIR_STEP_TIMEOUT);
    timer.unref();
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** A pending check of one channel: the probe is out; `timer` runs once Redis acknowledged it. */
interface Probe {
  timer: ReturnType<typeof setTimeout> | null;
  sent: number;
}

export class RedisAdapter implements TopicAdapter {
  /** This adapter's id in every envelope it publishes (16 hex digits). */
  readonly nodeId: string;
  readonly stats: RedisAdapterStats = {
    published: 0,
    publishFailed: 0,
    publishUnconfirmed: 0,
    received: 0,
    dropped: 0,
    duplicates: 0,
    subscribeFailed: 0,
    reconnects: 0,
    probes: 0,
    resubscribed: 0,
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
  private readonly verifyInterval: number;
  private readonly origin: Buffer;
  /** The last sequence number used, per bucket of channels (bucketOf). */
  private readonly sequences = new Float64Array(SEQUENCE_BUCKETS);
  private host: AdapterHost | null = null;
  /** Topics with local subscribers: what this node wants from Redis. */
  private readonly topics = new Set<string>();
  /** Per topic, per publishing node (its id as 8 latin1 characters): the sequence numbers delivered. */
  private readonly seen = new Map<string, Map<string, Seen>>();
  /** The masters the clients knew at the last topology check (mastersOf). */
  private masters = '';
  private pendingBytes = 0;
  /** False from a failure until Redis works again: one 'error' per outage, not one per message. */
  private healthy = true;
  private lastFailure = 0;
  /** The subscriber lost its connection, or a SUBSCRIBE failed, since it was last ready. */
  private resubscribeOnReady = false;
  private subscriberLost = false;
  /** Channels unsubscribed while the subscriber was down, or whose UNSUBSCRIBE failed: unsubscribed again once it is back. */
  private readonly unsubscribeAgain = new Set<string>();
  /** Topics a message arrived on (proof that the subscription works) since the last check. */
  private readonly heard = new Set<string>();
  private readonly probes = new Map<string, Probe>();
  /** Topics whose subscription is being repaired (UNSUBSCRIBE then SUBSCRIBE), and those waiting for their turn. */
  private readonly repairing = new Set<string>();
  private readonly repairQueue: string[] = [];
  private repairRunning = false;
  /** A 'lost subscription' error was reported since the last check that found every channel working. */
  private lossReported = false;
  private verifyTimer: ReturnType<typeof setTimeout> | null = null;
  /** Until when the channels are checked every VERIFY_STEP (see SETTLE_TIME). */
  private settleUntil = 0;
  private intervalTimer: ReturnType<typeof setTimeout> | null = null;
  /** Channels a stray message arrived on, being unsubscribed. */
  private readonly strays = new Set<string>();

  /** Bound once: the same function is every subscription's listener and every client's. */
  private readonly onMessage = (first: Buffer | string, second: Buffer | string): void => {
    // node-redis calls (message, channel); ioredis emits (channel, message).
    if (this.subscribeCommands.messageEvent === null) this.receive(second, first);
    else this.receive(first, second);
  };
  private readonly onClientError = (error: unknown): void => {
    this.failed('WS_ERR_ADAPTER_REDIS', `Redis client error: ${asError(error).message}`, error);
    // A node of a cluster may have gone: its channels may have gone with it.
    this.verifySoon(true);
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
  private readonly onTopologyChange = (): void => {
    this.masters = mastersOf(this.subscriber) + mastersOf(this.publisher);
    this.verifySoon(true);
  };
  private readonly onRefresh = (): void => {
    if (mastersOf(this.subscriber) + mastersOf(this.publisher) !== this.masters) this.onTopologyChange();
  };
  private readonly onVerifyInterval = (): void => {
    this.intervalTimer = null;
    this.verify();
    this.scheduleInterval();
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
    this.verifyInterval = numberOption(raw, 'verifyInterval', DEFAULT_VERIFY_INTERVAL, { min: 0, max: 2 ** 31 - 1 });
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
    for (const client of new Set([this.publisher, this.subscriber])) {
      client.on('error', this.onClientError);
      for (const event of TOPOLOGY_EVENTS) client.on(event, this.onTopologyChange);
      client.on(REFRESH_EVENT, this.onRefresh);
    }
    this.masters = mastersOf(this.subscriber) + mastersOf(this.publisher);
    this.publisher.on('ready', this.onPublisherReady);
    this.subscriber.on('ready', this.onSubscriberReady);
    // node-redis says 'end' or 'reconnecting', ioredis 'close' or 'reconnecting'.
    for (const event of ['end', 'close', 'reconnecting']) this.subscriber.on(event, this.onSubscriberLost);
    const event = this.subscribeCommands.messageEvent;
    if (event !== null) this.subscriber.on(event, this.onMessage);
    this.scheduleInterval();
  }

  detach(): void {
    if (this.host === null) return;
    for (const topic of this.topics) this.command('unsubscribe', topic);
    this.topics.clear();
    this.seen.clear();
    this.unsubscribeAgain.clear();
    this.heard.clear();
    for (const probe of this.probes.values()) if (probe.timer !== null) clearTimeout(probe.timer);
    this.probes.clear();
    this.repairQueue.length = 0;
    if (this.verifyTimer !== null) clearTimeout(this.verifyTimer);
    if (this.intervalTimer !== null) clearTimeout(this.intervalTimer);
    this.verifyTimer = this.intervalTimer = null;
    for (const client of new Set([this.publisher, this.subscriber])) {
      client.removeListener('error', this.onClientError);
      for (const event of TOPOLOGY_EVENTS) client.removeListener(event, this.onTopologyChange);
      client.removeListener(REFRESH_EVENT, this.onRefresh);
    }
    this.publisher.removeListener('ready', this.onPublisherReady);
    this.subscriber.removeListener('ready', this.onSubscriberReady);
    for (const event of ['end', 'close', 'reconnecting']) this.subscriber.removeListener(event, this.onSubscriberLost);
    const event = this.subscribeCommands.messageEvent;
    if (event !== null) this.subscriber.removeListener(event, this.onMessage);
    this.host = null;
  }

  subscribe(topic: string): void {
    this.topics.add(topic);
    this.unsubscribeAgain.delete(this.prefix + topic);
    this.command('subscribe', topic);
  }

  unsubscribe(topic: string): void {
    if (!this.topics.delete(topic)) return;
    this.seen.delete(topic);
    // node-redis 4 keeps a channel unsubscribed during an outage: it subscribes it again on reconnect.
    if (this.subscriberLost || !isReady(this.subscriber)) this.unsubscribeAgain.add(this.prefix + topic);
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
    const flags = (message.isBinary ? FLAG_BINARY : 0) | (compress ? 0 : FLAG_NO_COMPRESS);
    const channel = this.prefix + topic;
    const envelope = this.envelope(channel, flags, data);
    let sent: Promise<unknown>;
    try {
      sent = Promise.resolve((this.publisher[this.publishCommands.publish] as (...args: unknown[]) => unknown)(channel, envelope));
    } catch (error) {
      // Thrown before anything was sent: failed, not unconfirmed.
      this.publishFailed('WS_ERR_ADAPTER_PUBLISH', `The Redis client refused a publish: ${asError(error).message}`, error);
      return;
    }
    this.pendingBytes += size;
    sent.then(
      () => {
        this.pendingBytes -= size;
        this.stats.published++;
        this.stats.bytesOut += size;
        this.recovered();
      },
      (error: unknown) => {
        this.pendingBytes -= size;
        if (isErrorReply(error)) {
          this.publishFailed('WS_ERR_ADAPTER_PUBLISH', `Redis refused a publish: ${asError(error).message}`, error);
          return;
        }
        this.stats.publishUnconfirmed++;
        this.failed(
          'WS_ERR_ADAPTER_UNCONFIRMED',
          `A publish was sent but not acknowledged (${asError(error).message}); other nodes may or may not have it`,
          error,
        );
      },
    );
  }

  /** An envelope of the current version with the channel's next sequence number. */
  private envelope(channel: string, flags: number, data: Buffer): Buffer {
    const envelope = Buffer.allocUnsafe(ENVELOPE_HEADER_SIZE + data.length);
    envelope[0] = VERSION;
    envelope[1] = flags;
    this.origin.copy(envelope, 2);
    // 2^48 messages per bucket: 8.9 years at a million a second on one channel.
    envelope.writeUIntBE(++this.sequences[bucketOf(channel)], V1_HEADER_SIZE, SEQUENCE_SIZE);
    data.copy(envelope, ENVELOPE_HEADER_SIZE);
    return envelope;
  }

  /** A message from Redis on one of our channels. */
  private receive(channel: Buffer | string, envelope: Buffer | string): void {
    const host = this.host;
    if (host === null) return;
    const name = typeof channel === 'string' ? channel : channel.toString();
    // Not ours (the subscriber is shared with other channels): not ours to judge either.
    if (!name.startsWith(this.prefix)) return;
    const topic = name.slice(this.prefix.length);
    if (!Buffer.isBuffer(envelope) || envelope.length < V1_HEADER_SIZE) {
      this.drop(topic, 'is not a netws envelope');
      return;
    }
    const version = envelope[0];
    const flags = envelope[1];
    const headerSize = version === VERSION ? ENVELOPE_HEADER_SIZE : V1_HEADER_SIZE;
    if ((version !== VERSION && version !== 1) || (flags & ~(version === 1 ? V1_FLAGS : KNOWN_FLAGS)) !== 0) {
      this.drop(topic, `has an unknown format (${version}, flags ${flags})`);
      return;
    }
    if (envelope.length < headerSize) {
      this.drop(topic, 'is not a netws envelope');
      return;
    }
    if (envelope.length - headerSize > this.maxMessageSize) {
      this.drop(topic, `is over maxMessageSize (${envelope.length - headerSize} bytes)`);
      return;
    }
    if (!this.topics.has(topic)) {
      // Published before we unsubscribed, delivered after; or the client kept a channel we left.
      this.stray(name);
      return;
    }
    // Whatever arrives on the channel proves the subscription works.
    this.heard.add(topic);
    this.probeAnswered(topic);
    // Our own message, back from Redis: delivered locally when it was published. Probes are never delivered.
    if ((flags & FLAG_PROBE) !== 0 || this.origin.compare(envelope, 2, V1_HEADER_SIZE) === 0) return;
    const payload = envelope.subarray(headerSize);
    // A text message must be UTF-8 (RFC 6455 section 8.1): every receiving client would fail its connection with 1007.
    if ((flags & FLAG_BINARY) === 0 && !isValidUtf8(payload)) {
      this.drop(topic, 'is text that is not UTF-8');
      return;
    }
    if (version === VERSION && this.isDuplicate(topic, envelope)) {
      this.stats.duplicates++;
      return;
    }
    this.stats.received++;
    this.stats.bytesIn += envelope.length;
    const message = new PreparedMessage(payload, (flags & FLAG_BINARY) !== 0);
    try {
      host.deliver(topic, message, (flags & FLAG_NO_COMPRESS) === 0);
    } catch (error) {
      // A connection's 'error' listener threw during the delivery: the client library must not see it.
      host.reportError(asError(error));
    }
  }

  /**
   * Whether a version-2 message was delivered already from its node on its
   * topic (and remembers it if not): a repeat, or so far behind the newest
   * that it cannot be told apart from one (DUPLICATE_WINDOW).
   */
  private isDuplicate(topic: string, envelope: Buffer): boolean {
    const origin = envelope.toString('latin1', 2, V1_HEADER_SIZE);
    const sequence = envelope.readUIntBE(V1_HEADER_SIZE, SEQUENCE_SIZE);
    let origins = this.seen.get(topic);
    if (origins === undefined) this.seen.set(topic, (origins = new Map()));
    let seen = origins.get(origin);
    if (seen === undefined) {
      if (origins.size >= MAX_ORIGINS_PER_TOPIC) origins.delete(origins.keys().next().value!);
      origins.set(origin, (seen = { highest: sequence, window: new Uint32Array(DUPLICATE_WINDOW / 32) }));
    } else if (sequence > seen.highest) {
      // The window slides: the numbers it leaves behind are cleared for the ones it takes in.
      if (sequence - seen.highest >= DUPLICATE_WINDOW) seen.window.fill(0);
      else
        for (let skipped = seen.highest + 1; skipped < sequence; skipped++)
          seen.window[(skipped % DUPLICATE_WINDOW) >>> 5] &= ~(1 << (skipped & 31));
      seen.highest = sequence;
    } else if (seen.highest - sequence >= DUPLICATE_WINDOW) {
      return true;
    } else if ((seen.window[(sequence % DUPLICATE_WINDOW) >>> 5] & (1 << (sequence & 31))) !== 0) {
      return true;
    }
    seen.window[(sequence % DUPLICATE_WINDOW) >>> 5] |= 1 << (sequence & 31);
    return false;
  }

  private drop(topic: string, what: string): void {
    this.stats.dropped++;
    this.host!.reportError(new WebSocketError('WS_ERR_ADAPTER_MESSAGE', `A message on topic "${topic}" ${what}: dropped`));
  }

  /** A message on a channel this node does not want: make sure it is unsubscribed (once at a time). */
  private stray(channel: string): void {
    if (this.strays.has(channel)) return;
    this.strays.add(channel);
    const done = () => this.strays.delete(channel);
    this.sendSubscription('unsubscribe', [channel]).then(done, done);
  }

  /** SUBSCRIBE or UNSUBSCRIBE one channel (their sharded twins with `sharded`). */
  private command(kind: 'subscribe' | 'unsubscribe', topic: string): void {
    this.subscribeTo(kind, [this.prefix + topic]);
  }

  private sendSubscription(kind: 'subscribe' | 'unsubscribe', channels: string[]): Promise<unknown> {
    // node-redis takes the listener (in Buffer mode) with the command; ioredis emits events.
    const args = this.subscribeCommands.messageEvent === null ? [channels, this.onMessage, true] : channels;
    return call(this.subscriber, this.subscribeCommands[kind], args);
  }

  private subscribeTo(kind: 'subscribe' | 'unsubscribe', channels: string[]): void {
    this.sendSubscription(kind, channels).then(
      () => {
        if (kind === 'unsubscribe') return;
        // Unsubscribed while the SUBSCRIBE was on its way: node-redis had nothing to cancel then.
        const unwanted = channels.filter((channel) => !this.topics.has(channel.slice(this.prefix.length)));
        if (unwanted.length > 0 && this.host !== null) this.subscribeTo('unsubscribe', unwanted);
      },
      (error: unknown) => {
        this.stats.subscribeFailed++;
        // Asked for again when the connection is next ready, and checked soon (a cluster may be moving a shard).
        if (kind === 'subscribe') this.resubscribeOnReady = true;
        else for (const channel of channels) if (!this.topics.has(channel.slice(this.prefix.length))) this.unsubscribeAgain.add(channel);
        this.verifySoon(true);
        this.failed('WS_ERR_ADAPTER_SUBSCRIBE', `${this.subscribeCommands[kind]} failed: ${asError(error).message}`, error);
      },
    );
  }

  /**
   * The subscribing connection is ready again. Both libraries subscribe
   * again by themselves (node-redis had releases that did not, and a
   * subscribe that failed during the outage is not theirs to retry), so
   * every wanted channel is asked for once more: a no-op for a channel the
   * connection has (Redis ignores a second SUBSCRIBE, node-redis does not
   * even send it). Channels left during the outage are unsubscribed again,
   * and every channel is checked shortly after.
   */
  private subscriberReady(): void {
    this.healthy = true;
    this.subscriberLost = false;
    if (!this.resubscribeOnReady && this.unsubscribeAgain.size === 0) return;
    this.resubscribeOnReady = false;
    const channels = [...this.topics].map((topic) => this.prefix + topic);
    for (let i = 0; i < channels.length; i += RESUBSCRIBE_BATCH) {
      this.subscribeTo('subscribe', channels.slice(i, i + RESUBSCRIBE_BATCH));
    }
    this.reconcileUnsubscribed();
    this.verifySoon(true);
  }

  /** UNSUBSCRIBE again what was left while the subscriber was down (and is still unwanted). */
  private reconcileUnsubscribed(): void {
    const channels = [...this.unsubscribeAgain].filter((channel) => !this.topics.has(channel.slice(this.prefix.length)));
    this.unsubscribeAgain.clear();
    for (let i = 0; i < channels.length; i += RESUBSCRIBE_BATCH) {
      this.subscribeTo('unsubscribe', channels.slice(i, i + RESUBSCRIBE_BATCH));
    }
  }

  /** The next periodic check, 80-120% of verifyInterval away: servers started together do not probe together. */
  private scheduleInterval(): void {
    if (this.verifyInterval === 0 || this.host === null) return;
    this.intervalTimer = setTimeout(this.onVerifyInterval, this.verifyInterval * (0.8 + Math.random() * 0.4));
    // The check must not keep a process alive that has nothing else to do.
    this.intervalTimer.unref();
  }

  /**
   * Schedules a check of the subscriptions. `all`: after a reconnect or a
   * topology change, when messages heard before prove nothing.
   */
  private verifySoon(all: boolean): void {
    if (this.host === null) return;
    if (all) {
      this.heard.clear();
      this.settleUntil = Date.now() + SETTLE_TIME;
    }
    if (this.verifyTimer !== null) return;
    this.verifyTimer = setTimeout(() => {
      this.verifyTimer = null;
      this.verify();
    }, VERIFY_DELAY);
    this.verifyTimer.unref();
  }

  /** Probes every wanted channel nothing arrived on since the last check. */
  private verify(): void {
    if (this.host === null) return;
    if (!isReady(this.subscriber) || !isReady(this.publisher)) {
      // Checked once both are back ('ready' schedules it too, but a cluster client may not say it).
      this.retryVerify();
      return;
    }
    if (this.unsubscribeAgain.size > 0) this.reconcileUnsubscribed();
    const now = Date.now();
    for (const [topic, probe] of this.probes) if (probe.timer === null && now - probe.sent > PROBE_STALE) this.probes.delete(topic);
    const silent: string[] = [];
    for (const topic of this.topics) {
      if (this.heard.has(topic) || this.probes.has(topic) || this.repairing.has(topic)) continue;
      silent.push(topic);
      if (silent.length === MAX_PROBES_PER_CHECK) break;
    }
    for (const topic of silent) {
      // To the back of the set: with more silent channels than one check probes, each gets its turn.
      this.topics.delete(topic);
      this.topics.add(topic);
      this.probe(topic);
    }
    this.heard.clear();
    if (silent.length === 0 && this.probes.size === 0 && this.repairing.size === 0) this.lossReported = false;
    if (Date.now() < this.settleUntil) this.retryVerify(VERIFY_STEP);
  }

  private retryVerify(delay = VERIFY_RETRY): void {
    if (this.verifyTimer !== null || this.host === null) return;
    this.verifyTimer = setTimeout(() => {
      this.verifyTimer = null;
      this.verify();
    }, delay);
    this.verifyTimer.unref();
  }

  /** Publishes a probe on `topic`'s channel; it must come back on our subscriber. */
  private probe(topic: string): void {
    const probe: Probe = { timer: null, sent: Date.now() };
    this.probes.set(topic, probe);
    this.stats.probes++;
    const channel = this.prefix + topic;
    call(this.publisher, this.publishCommands.publish, [channel, this.envelope(channel, FLAG_PROBE, Buffer.alloc(0))]).then(
      () => {
        // Answered already, or no longer wanted.
        if (this.probes.get(topic) !== probe) return;
        probe.timer = setTimeout(() => {
          if (this.probes.get(topic) !== probe) return;
          this.probes.delete(topic);
          if (this.topics.has(topic) && this.host !== null) this.repair(topic);
        }, PROBE_TIMEOUT);
        probe.timer.unref();
      },
      () => {
        // Not published (a shard changing hands): nothing learned; checked again shortly.
        if (this.probes.get(topic) === probe) this.probes.delete(topic);
        this.retryVerify();
      },
    );
  }

  private probeAnswered(topic: string): void {
    const probe = this.probes.get(topic);
    if (probe === undefined) return;
    if (probe.timer !== null) clearTimeout(probe.timer);
    this.probes.delete(topic);
  }

  /**
   * The channel is not subscribed on Redis, whatever the client thinks: it
   * is queued for repair, and reported (once until a check finds every
   * channel working again).
   */
  private repair(topic: string): void {
    this.stats.resubscribed++;
    // One lost channel hints at a change others may have suffered too: checked every second for a while.
    this.settleUntil = Math.max(this.settleUntil, Date.now() + SETTLE_TIME);
    if (!this.lossReported) {
      this.lossReported = true;
      this.host?.reportError(
        new WebSocketError(
          'WS_ERR_ADAPTER_SUBSCRIPTION_LOST',
          `The subscription of topic "${topic}" was lost on Redis (a probe did not come back); subscribing again`,
        ),
      );
    }
    if (this.repairing.has(topic)) return;
    this.repairing.add(topic);
    this.repairQueue.push(topic);
    if (!this.repairRunning) void this.runRepairs();
  }

  /**
   * Repairs one channel at a time: UNSUBSCRIBE (so that the client forgets
   * it, settled either way), then SUBSCRIBE, then a probe. One at a time,
   * because node-redis 4's cluster client closes a shard's subscriber
   * connection when its last channel is unsubscribed, and a SUBSCRIBE
   * already handed to that connection never settles. Each step may take
   * REPAIR_STEP_TIMEOUT; a channel whose SUBSCRIBE failed or hung is found
   * again by the next check.
   */
  private async runRepairs(): Promise<void> {
    this.repairRunning = true;
    for (let topic = this.repairQueue.shift(); topic !== undefined; topic = this.repairQueue.shift()) {
      const channel = [this.prefix + topic];
      const wanted = () => this.topics.has(topic!) && this.host !== null;
      let subscribed = false;
      if (wanted()) {
        // A cluster client may still route the channel to its old master, now a replica, which takes SSUBSCRIBE
        // and SPUBLISH without a MOVED: a keyed read draws the MOVED that makes it learn the new owner.
        for (const client of new Set([this.subscriber, this.publisher])) {
          if (isClusterClient(client)) await withTimeout(call(client, 'exists', channel)).catch(() => {});
        }
        await withTimeout(this.sendSubscription('unsubscribe', channel)).catch(() => {});
        if (wanted())
          subscribed = await withTimeout(this.sendSubscription('subscribe', channel)).then(
            () => true,
            () => false,
          );
        if (!subscribed) this.stats.subscribeFailed++;
      }
      this.repairing.delete(topic);
      if (subscribed && wanted()) this.probe(topic);
      else this.retryVerify();
    }
    this.repairRunning = false;
  }

  private publishFailed(code: string, message: string, cause?: unknown): void {
    this.stats.publishFailed++;
    this.failed(code, message, cause);
  }

  /** A publish went through: the outage is over once failures have stopped for a while. */
  private recovered(): void {
    if (!this.healthy && Date.now() - this.lastFailure >= OUTAGE_QUIET) this.healthy = true;
  }

  /** Reports the first failure of an outage to the server; the rest are only counted. */
  private failed(code: string, message: string, cause?: unknown): void {
    this.lastFailure = Date.now();
    if (!this.healthy || this.host === null) return;
    this.healthy = false;
    const error = new WebSocketError(code, message);
    if (cause !== undefined) error.cause = cause;
    this.host.reportError(error);
  }
}
