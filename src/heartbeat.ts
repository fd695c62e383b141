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

export interface HeartbeatOptions {
  /** Milliseconds between pings. */
  interval: number;
  /** Milliseconds to wait, after a ping, for anything from the peer before the connection is destroyed. */
  timeout: number;
}

/** What a heartbeat drives. */
export interface HeartbeatTarget {
  sendHeartbeat(): void;
  heartbeatTimedOut(timeout: number): void;
}

const MAX_TIMER = 2 ** 31 - 1;

/** Throws for options that would ping in a busy loop, never time out, or are not numbers. */
export function checkHeartbeatOptions(options: HeartbeatOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('The "heartbeat" option must be an object { interval, timeout }');
  }
  for (const name of ['interval', 'timeout'] as const) {
    const value = options[name];
    if (typeof value !== 'number' || Number.isNaN(value)) {
      throw new TypeError(`heartbeat.${name} must be a number of milliseconds`);
    }
    if (!(value >= 1 && value <= MAX_TIMER)) {
      throw new RangeError(`heartbeat.${name} must be from 1 to ${MAX_TIMER} milliseconds`);
    }
  }
}

export class Heartbeat {
  private readonly timeout: number;
  private readonly target: HeartbeatTarget;
  private readonly intervalTimer: NodeJS.Timeout;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private suspended = false;

  constructor(options: HeartbeatOptions, target: HeartbeatTarget) {
    this.timeout = options.timeout;
    this.target = target;
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
      this.target.heartbeatTimedOut(this.timeout);
    }, this.timeout);
    this.target.sendHeartbeat();
  }
}
