/**
 * The subscriptions of netws/redis: one Redis channel per topic with local
 * subscribers, asked for and left as topics come and go, and kept true.
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

import { WebSocketError } from '../../protocol/errors.ts';
import type { AdapterHost } from '../interface.ts';
import { asError, call, type Commands, isClusterClient, isReady, type RedisClient } from './clients.ts';
import { type EnvelopeWriter, FLAG_PROBE } from './envelope.ts';
import type { RedisAdapterStats } from './stats.ts';

/** Probes per check at most; the other silent channels wait for the next check (their turn comes, they go to the back). */
const MAX_PROBES_PER_CHECK = 1000;
/** A probe whose PUBLISH has not settled after this is forgotten (a client that never answers must not stop the checks). */
const PROBE_STALE = 10_000;
/**
 * How long a probe Redis acknowledged may take to come back before its
 * channel counts as lost. Redis writes a message to its subscribers before
 * it answers the PUBLISH, so the probe is normally back before the answer.
 */
const PROBE_TIMEOUT = 1000;
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
/** Channels per SUBSCRIBE command when subscribing again after a reconnect. */
const RESUBSCRIBE_BATCH = 1000;
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

/** What the subscriptions use of their adapter. */
export interface SubscriptionsContext {
  publisher: RedisClient;
  publishCommands: Commands;
  subscriber: RedisClient;
  subscribeCommands: Commands;
  prefix: string;
  verifyInterval: number;
  stats: RedisAdapterStats;
  /** Writes the probes. */
  writer: EnvelopeWriter;
  /** The listener node-redis takes with each SUBSCRIBE (ioredis emits events instead). */
  onMessage: (first: Buffer | string, second: Buffer | string) => void;
  /** Reports the first failure of an outage; the rest are only counted. */
  failed(code: string, message: string, cause?: unknown): void;
}

export class Subscriptions {
  private readonly subscriber: RedisClient;
  private readonly publisher: RedisClient;
  private readonly subscribeCommands: Commands;
  private readonly publishCommands: Commands;
  private readonly prefix: string;
  private readonly verifyInterval: number;
  private readonly stats: RedisAdapterStats;
  private readonly writer: EnvelopeWriter;
  private readonly onMessage: SubscriptionsContext['onMessage'];
  private readonly failed: SubscriptionsContext['failed'];
  private host: AdapterHost | null = null;
  /** Topics with local subscribers: what this node wants from Redis. */
  private readonly topics = new Set<string>();
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

  private readonly onVerifyInterval = (): void => {
    this.intervalTimer = null;
    this.verify();
    this.scheduleInterval();
  };

  constructor(context: SubscriptionsContext) {
    this.subscriber = context.subscriber;
    this.publisher = context.publisher;
    this.subscribeCommands = context.subscribeCommands;
    this.publishCommands = context.publishCommands;
    this.prefix = context.prefix;
    this.verifyInterval = context.verifyInterval;
    this.stats = context.stats;
    this.writer = context.writer;
    this.onMessage = context.onMessage;
    this.failed = context.failed;
  }

  /** Topics with local subscribers (one channel each). */
  get size(): number {
    return this.topics.size;
  }

  /** Whether `topic` has local subscribers. */
  wants(topic: string): boolean {
    return this.topics.has(topic);
  }

  /** The adapter serves `host` from now on: periodic checks start. */
  start(host: AdapterHost): void {
    this.host = host;
    this.scheduleInterval();
  }

  /** The adapter no longer serves a host: every channel is left, checks stop. */
  stop(): void {
    for (const topic of this.topics) this.command('unsubscribe', topic);
    this.topics.clear();
    this.unsubscribeAgain.clear();
    this.heard.clear();
    for (const probe of this.probes.values()) if (probe.timer !== null) clearTimeout(probe.timer);
    this.probes.clear();
    this.repairQueue.length = 0;
    if (this.verifyTimer !== null) clearTimeout(this.verifyTimer);
    if (this.intervalTimer !== null) clearTimeout(this.intervalTimer);
    this.verifyTimer = this.intervalTimer = null;
    this.host = null;
  }

  subscribe(topic: string): void {
    this.topics.add(topic);
    this.unsubscribeAgain.delete(this.prefix + topic);
    this.command('subscribe', topic);
  }

  /** Leaves `topic`'s channel; false if it was not wanted. */
  unsubscribe(topic: string): boolean {
    if (!this.topics.delete(topic)) return false;
    // node-redis 4 keeps a channel unsubscribed during an outage: it subscribes it again on reconnect.
    if (this.subscriberLost || !isReady(this.subscriber)) this.unsubscribeAgain.add(this.prefix + topic);
    this.command('unsubscribe', topic);
    return true;
  }

  /** Something arrived on a wanted topic's channel: proof that the subscription works. */
  heardFrom(topic: string): void {
    this.heard.add(topic);
    const probe = this.probes.get(topic);
    if (probe === undefined) return;
    if (probe.timer !== null) clearTimeout(probe.timer);
    this.probes.delete(topic);
  }

  /** A message on a channel this node does not want: make sure it is unsubscribed (once at a time). */
  stray(channel: string): void {
    if (this.strays.has(channel)) return;
    this.strays.add(channel);
    const done = () => this.strays.delete(channel);
    this.sendSubscription('unsubscribe', [channel]).then(done, done);
  }

  /** The subscribing connection lost Redis (several events per outage: 'close', then 'reconnecting' at each attempt). */
  lost(): void {
    if (!this.subscriberLost) this.stats.reconnects++;
    this.subscriberLost = true;
    this.resubscribeOnReady = true;
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
  ready(): void {
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

  /**
   * Schedules a check of the subscriptions. `all`: after a reconnect or a
   * topology change, when messages heard before prove nothing.
   */
  verifySoon(all: boolean): void {
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
    call(this.publisher, this.publishCommands.publish, [channel, this.writer.write(channel, FLAG_PROBE, Buffer.alloc(0))]).then(
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
}
