/**
 * The optional keep-alive of a connection: a ping every `interval`; a peer
 * that has not answered with a pong within `timeout` is considered dead (a
 * half-open TCP connection, a frozen process) and its socket is destroyed, so
 * its file descriptor and buffers do not stay with us forever.
 */

export interface HeartbeatOptions {
  /** Milliseconds between pings. */
  interval: number;
  /** Milliseconds to wait for the pong before the connection is destroyed. */
  timeout: number;
}

/** Throws a RangeError for options that would ping in a busy loop or never time out. */
export function checkHeartbeatOptions(options: HeartbeatOptions | undefined): void {
  if (options === undefined) return;
  if (!(options.interval > 0) || !(options.timeout > 0)) {
    throw new RangeError('heartbeat.interval and heartbeat.timeout must be positive numbers of milliseconds');
  }
}

export class Heartbeat {
  private readonly timeout: number;
  private readonly sendPing: () => void;
  private readonly onDead: () => void;
  private readonly intervalTimer: NodeJS.Timeout;
  private timeoutTimer: NodeJS.Timeout | null = null;

  constructor(options: HeartbeatOptions, sendPing: () => void, onDead: () => void) {
    this.timeout = options.timeout;
    this.sendPing = sendPing;
    this.onDead = onDead;
    this.intervalTimer = setInterval(() => this.beat(), options.interval);
  }

  /** A pong arrived: the peer is alive. */
  alive(): void {
    if (this.timeoutTimer === null) return;
    clearTimeout(this.timeoutTimer);
    this.timeoutTimer = null;
  }

  /** Clears both timers (the connection is closed). */
  stop(): void {
    clearInterval(this.intervalTimer);
    this.alive();
  }

  private beat(): void {
    // Still waiting for the previous pong: its timeout decides.
    if (this.timeoutTimer !== null) return;
    this.timeoutTimer = setTimeout(() => {
      this.timeoutTimer = null;
      this.stop();
      this.onDead();
    }, this.timeout);
    this.sendPing();
  }
}
