/**
 * Duplicate detection on the receiving side of netws/redis: per topic and
 * per publishing node, which sequence numbers (envelope.ts, version 2) were
 * delivered, so that a publish a client sent twice is delivered once.
 *
 * The rule: a version-2 message about to be delivered (its topic wanted,
 * not a probe, not our own, its text UTF-8) is a repeat, counted in
 * `stats.duplicates` and not delivered, if its node's number was delivered
 * on the topic already, or is DUPLICATE_WINDOW or more below the highest
 * one delivered from that node on the topic; otherwise it is delivered and
 * remembered. MAX_ORIGINS_PER_TOPIC nodes are remembered per topic (the one
 * remembered first is forgotten first); a topic's memory is forgotten when
 * it is unsubscribed.
 */

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

/** What a receiver remembers of one node on one topic: the highest sequence number, and which of the window below it arrived. */
interface Seen {
  highest: number;
  window: Uint32Array;
}

export class DuplicateFilter {
  /** Per topic, per publishing node (its id as 8 latin1 characters): the sequence numbers delivered. */
  private readonly seen = new Map<string, Map<string, Seen>>();

  /**
   * Whether message `sequence` of node `origin` on `topic` was delivered
   * already (and remembers it if not): a repeat, or so far behind the newest
   * that it cannot be told apart from one (DUPLICATE_WINDOW).
   */
  isDuplicate(topic: string, origin: string, sequence: number): boolean {
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

  /** Forgets a topic (unsubscribed: a later subscription starts afresh). */
  forget(topic: string): void {
    this.seen.delete(topic);
  }

  clear(): void {
    this.seen.clear();
  }
}
