/**
 * RedisAdapter, netws/redis's TopicAdapter (see ../redis.ts for what it
 * does): the publishing side (envelopes out, backpressure, acknowledgement
 * and outage accounting), the receiving side (envelopes in, checked,
 * deduplicated, delivered), and the clients' events, over the parts beside
 * this file: the wire format (envelope.ts), the client libraries
 * (clients.ts), duplicate detection (dedupe.ts), and the subscriptions and
 * their checks (subscriptions.ts).
 */

import { randomBytes } from 'node:crypto';
import { WebSocketError } from '../../protocol/errors.ts';
import { PreparedMessage } from '../../protocol/prepared.ts';
import { isValidUtf8 } from '../../protocol/utf8.ts';
import type { AdapterHost, TopicAdapter } from '../interface.ts';
import {
  asError,
  type Commands,
  isErrorReply,
  isReady,
  LOST_EVENTS,
  mastersOf,
  REFRESH_EVENT,
  type RedisClient,
  TOPOLOGY_EVENTS,
} from './clients.ts';
import { DuplicateFilter } from './dedupe.ts';
import {
  ENVELOPE_HEADER_SIZE,
  EnvelopeWriter,
  FLAG_BINARY,
  FLAG_NO_COMPRESS,
  FLAG_PROBE,
  isFrom,
  NODE_ID_SIZE,
  originKey,
  readEnvelope,
  sequenceOf,
  VERSION,
} from './envelope.ts';
import { type RedisAdapterOptions, resolveOptions } from './options.ts';
import { newStats, type RedisAdapterStats } from './stats.ts';
import { Subscriptions } from './subscriptions.ts';

/** Failures this close together are one outage: one 'error', not one per shard that answered in between. */
const OUTAGE_QUIET = 1000;

export class RedisAdapter implements TopicAdapter {
  /** This adapter's id in every envelope it publishes (16 hex digits). */
  readonly nodeId: string;
  readonly stats: RedisAdapterStats = newStats();
  private readonly publisher: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly publishCommands: Commands;
  private readonly subscribeCommands: Commands;
  private readonly prefix: string;
  private readonly maxMessageSize: number;
  private readonly maxPendingBytes: number;
  /** The node id, in every envelope this node writes. */
  private readonly origin: Buffer;
  private readonly writer: EnvelopeWriter;
  private readonly subscriptions: Subscriptions;
  private readonly duplicates = new DuplicateFilter();
  private host: AdapterHost | null = null;
  /** The masters the clients knew at the last topology check (mastersOf). */
  private masters = '';
  private pendingBytes = 0;
  /** False from a failure until Redis works again: one 'error' per outage, not one per message. */
  private healthy = true;
  private lastFailure = 0;

  /** Bound once: the same function is every subscription's listener and every client's. */
  private readonly onMessage = (first: Buffer | string, second: Buffer | string): void => {
    // node-redis calls (message, channel); ioredis emits (channel, message).
    if (this.subscribeCommands.messageEvent === null) this.receive(second, first);
    else this.receive(first, second);
  };
  private readonly onClientError = (error: unknown): void => {
    this.failed('WS_ERR_ADAPTER_REDIS', `Redis client error: ${asError(error).message}`, error);
    // A node of a cluster may have gone: its channels may have gone with it.
    this.subscriptions.verifySoon(true);
  };
  private readonly onSubscriberLost = (): void => this.subscriptions.lost();
  private readonly onSubscriberReady = (): void => {
    this.healthy = true;
    this.subscriptions.ready();
  };
  private readonly onPublisherReady = (): void => {
    this.healthy = true;
  };
  private readonly onTopologyChange = (): void => {
    this.masters = mastersOf(this.subscriber) + mastersOf(this.publisher);
    this.subscriptions.verifySoon(true);
  };
  private readonly onRefresh = (): void => {
    if (mastersOf(this.subscriber) + mastersOf(this.publisher) !== this.masters) this.onTopologyChange();
  };

  constructor(options: RedisAdapterOptions) {
    const resolved = resolveOptions(options);
    this.publisher = resolved.publisher;
    this.publishCommands = resolved.publishCommands;
    this.subscriber = resolved.subscriber;
    this.subscribeCommands = resolved.subscribeCommands;
    this.prefix = resolved.prefix;
    this.maxMessageSize = resolved.maxMessageSize;
    this.maxPendingBytes = resolved.maxPendingBytes;
    this.origin = randomBytes(NODE_ID_SIZE);
    this.nodeId = this.origin.toString('hex');
    this.writer = new EnvelopeWriter(this.origin);
    this.subscriptions = new Subscriptions({
      ...resolved,
      stats: this.stats,
      writer: this.writer,
      onMessage: this.onMessage,
      failed: (code, message, cause) => this.failed(code, message, cause),
    });
  }

  /** Channels this node is subscribed to (one per topic with local subscribers). */
  get channels(): number {
    return this.subscriptions.size;
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
    for (const event of LOST_EVENTS) this.subscriber.on(event, this.onSubscriberLost);
    const event = this.subscribeCommands.messageEvent;
    if (event !== null) this.subscriber.on(event, this.onMessage);
    this.subscriptions.start(host);
  }

  detach(): void {
    if (this.host === null) return;
    this.subscriptions.stop();
    this.duplicates.clear();
    for (const client of new Set([this.publisher, this.subscriber])) {
      client.removeListener('error', this.onClientError);
      for (const event of TOPOLOGY_EVENTS) client.removeListener(event, this.onTopologyChange);
      client.removeListener(REFRESH_EVENT, this.onRefresh);
    }
    this.publisher.removeListener('ready', this.onPublisherReady);
    this.subscriber.removeListener('ready', this.onSubscriberReady);
    for (const event of LOST_EVENTS) this.subscriber.removeListener(event, this.onSubscriberLost);
    const event = this.subscribeCommands.messageEvent;
    if (event !== null) this.subscriber.removeListener(event, this.onMessage);
    this.host = null;
  }

  subscribe(topic: string): void {
    this.subscriptions.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    if (this.subscriptions.unsubscribe(topic)) this.duplicates.forget(topic);
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
    const envelope = this.writer.write(channel, flags, data);
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

  /** A message from Redis on one of our channels. */
  private receive(channel: Buffer | string, message: Buffer | string): void {
    const host = this.host;
    if (host === null) return;
    const name = typeof channel === 'string' ? channel : channel.toString();
    // Not ours (the subscriber is shared with other channels): not ours to judge either.
    if (!name.startsWith(this.prefix)) return;
    const topic = name.slice(this.prefix.length);
    const headerSize = readEnvelope(message, this.maxMessageSize);
    if (typeof headerSize === 'string') {
      this.drop(topic, headerSize);
      return;
    }
    if (!this.subscriptions.wants(topic)) {
      // Published before we unsubscribed, delivered after; or the client kept a channel we left.
      this.subscriptions.stray(name);
      return;
    }
    // Whatever arrives on the channel proves the subscription works.
    this.subscriptions.heardFrom(topic);
    const envelope = message as Buffer;
    const flags = envelope[1];
    // Our own message, back from Redis: delivered locally when it was published. Probes are never delivered.
    if ((flags & FLAG_PROBE) !== 0 || isFrom(envelope, this.origin)) return;
    const payload = envelope.subarray(headerSize);
    // A text message must be UTF-8 (RFC 6455 section 8.1): every receiving client would fail its connection with 1007.
    if ((flags & FLAG_BINARY) === 0 && !isValidUtf8(payload)) {
      this.drop(topic, 'is text that is not UTF-8');
      return;
    }
    if (envelope[0] === VERSION && this.duplicates.isDuplicate(topic, originKey(envelope), sequenceOf(envelope))) {
      this.stats.duplicates++;
      return;
    }
    this.stats.received++;
    this.stats.bytesIn += envelope.length;
    const prepared = new PreparedMessage(payload, (flags & FLAG_BINARY) !== 0);
    try {
      host.deliver(topic, prepared, (flags & FLAG_NO_COMPRESS) === 0);
    } catch (error) {
      // A connection's 'error' listener threw during the delivery: the client library must not see it.
      host.reportError(asError(error));
    }
  }

  private drop(topic: string, what: string): void {
    this.stats.dropped++;
    this.host!.reportError(new WebSocketError('WS_ERR_ADAPTER_MESSAGE', `A message on topic "${topic}" ${what}: dropped`));
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
