/**
 * The zlib resources a server's connections share (clients share a default
 * set): a limit on jobs running at once, and the reset streams of
 * connections without context takeover, so that thousands of such
 * connections use a handful of streams. A per-server limit on running jobs
 * keeps the number of zlib buffers in use at once small, while each
 * connection waits only for a free slot, never for another connection's
 * whole queue.
 */

import type zlib from 'node:zlib';
import { hasEnded } from './zlib-sync.ts';

export const DEFAULT_CONCURRENCY = 10;

export type ZlibStream = zlib.DeflateRaw | zlib.InflateRaw;

/**
 * Runs at most `limit` zlib jobs at once, first come first served. A job
 * that ends synchronously (a closed connection's job releases its slot at
 * once) does not start the next one from inside itself: slots are handed out
 * by one loop, so thousands of queued jobs never grow the stack.
 */
class JobSlots {
  readonly limit: number;
  running = 0;
  private waiting: Array<() => void> = [];
  private next = 0;
  private handingOut = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  run(job: () => void): void {
    this.waiting.push(job);
    this.handOut();
  }

  get waitingCount(): number {
    return this.waiting.length - this.next;
  }

  release(): void {
    this.running--;
    this.handOut();
  }

  private handOut(): void {
    if (this.handingOut) return;
    this.handingOut = true;
    while (this.running < this.limit && this.next < this.waiting.length) {
      const job = this.waiting[this.next++];
      if (this.next === this.waiting.length) {
        this.waiting = [];
        this.next = 0;
      }
      this.running++;
      job();
    }
    this.handingOut = false;
  }
}

function ignoreError(): void {}

export function discard(stream: ZlibStream): void {
  stream.removeAllListeners();
  // A write still queued inside the destroyed stream reports its error here, not as a crash.
  stream.on('error', ignoreError);
  stream.destroy();
}

/**
 * The zlib resources connections share: a limit on jobs running at once and
 * the reset streams of connections without context takeover. Each server
 * has its own (its `concurrency`); clients share a default one.
 */
export class ZlibPool {
  private readonly slots: JobSlots;
  /** Reset streams by kind and settings. */
  private readonly idleStreams = new Map<string, ZlibStream[]>();

  constructor(concurrency = DEFAULT_CONCURRENCY) {
    this.slots = new JobSlots(concurrency);
  }

  get concurrency(): number {
    return this.slots.limit;
  }

  /** zlib jobs running and waiting for a slot (for tests and monitoring). */
  get jobs(): { running: number; waiting: number } {
    return { running: this.slots.running, waiting: this.slots.waitingCount };
  }

  run(job: () => void): void {
    this.slots.run(job);
  }

  release(): void {
    this.slots.release();
  }

  take(key: string): ZlibStream | undefined {
    return this.idleStreams.get(key)?.pop();
  }

  giveBack(key: string, stream: ZlibStream): void {
    let pool = this.idleStreams.get(key);
    if (pool === undefined) this.idleStreams.set(key, (pool = []));
    if (pool.length >= this.slots.limit || stream.destroyed || hasEnded(stream)) {
      discard(stream);
      return;
    }
    stream.reset();
    pool.push(stream);
  }
}

/** The pool of clients that were not given a `concurrency` of their own. */
export const defaultZlibPool = new ZlibPool();
