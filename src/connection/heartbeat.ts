/**
 * The optional keep-alive of a connection: a ping every `interval`; a peer
 * from which nothing at all has arrived within `timeout` of a ping is
 * considered dead (a half-open TCP connection, a frozen process) and its
 * socket is destroyed, so its file descriptor and buffers do not stay with
 * us forever.
 *
 * Any received byte counts as life, not only the pong: a peer busy sending
 * a large message may answer late. And while we are the ones not reading
 * (the user paused the connection, or received messages wait for zlib) no
 * answer can arrive, so the heartbeat is suspended instead of blaming the peer.
 */

import type { HeartbeatOptions } from '../options/connection.ts';

/** Time to ping. */
export const kHeartbeatPing = Symbol('netws.heartbeatPing');
/** Nothing arrived within `timeout` ms of a ping. */
export const kHeartbeatTimedOut = Symbol('netws.heartbeatTimedOut');

/** What a heartbeat drives: the connection it keeps alive. */
export interface HeartbeatOwner {
  [kHeartbeatPing](): void;
  [kHeartbeatTimedOut](timeout: number): void;
}

export class Heartbeat {
  private readonly timeout: number;
  private readonly owner: HeartbeatOwner;
  private readonly intervalTimer: NodeJS.Timeout;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private suspended = false;

  constructor(options: HeartbeatOptions, owner: HeartbeatOwner) {
    this.timeout = options.timeout;
    this.owner = owner;
    this.intervalTimer = setInterval(() => this.beat(), options.interval);
  }

  /** Something arrived from the peer: it is alive. */
  alive(): void {
    if (this.timeoutTimer === null) return;
    clearTimeout(this.timeoutTimer);
    this.timeoutTimer = null;
  }

  /** We stopped reading: no answer can arrive, so none is waited for. */
  suspend(): void {
    this.suspended = true;
    this.alive();
  }

  resume(): void {
    this.suspended = false;
  }

  /** Clears both timers (the connection is closed). */
  stop(): void {
    clearInterval(this.intervalTimer);
    this.alive();
  }

  private beat(): void {
    // Still waiting after the previous ping: its timeout decides.
    if (this.suspended || this.timeoutTimer !== null) return;
    this.timeoutTimer = setTimeout(() => {
      this.timeoutTimer = null;
      this.stop();
      this.owner[kHeartbeatTimedOut](this.timeout);
    }, this.timeout);
    this.owner[kHeartbeatPing]();
  }
}
