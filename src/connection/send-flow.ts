/**
 * Send-side backpressure, all of it: when send() returns false, what
 * drained() waits for and when 'drain' comes, when a streamed message may
 * read its next chunk, the hard cap past which a connection is failed, and
 * the policing of a peer that does not read our automatic pongs.
 *
 * One measure of room serves every one of them: the bytes given to the
 * connection to send and not yet handed to the kernel (what the transport
 * buffers, frame headers included, plus what waits in the outgoing queue
 * for a Blob read or zlib), less what waits for the user's open fragmented
 * message. That is `bufferedAmount` without the part only the user's next
 * fragment can release; a producer awaiting drained() never sends that
 * fragment, so counting it would wait forever. It depends on netws's own
 * `highWaterMark` only, never on the transport's own high-water mark (16 KiB
 * for sockets on Node 20, 64 KiB on Node 22): the bounds are the same on
 * every Node version and runtime.
 *
 * The state that only backpressure needs (a 'drain' due, promises waiting,
 * pongs counted) is made on first use: most connections never need it.
 */

import type { WriteCallback } from '../protocol/protocol.ts';
import { notOpenError, refuseSend } from './state.ts';
import type { Transport } from './transport.ts';

/** What the flow measures and drives: the sender. */
export interface FlowOwner {
  readonly transport: Transport;
  /** Bytes waiting in the outgoing queue (for a Blob read or zlib). */
  readonly queuedBytes: number;
  /** Bytes held for the user's open fragmented message. */
  readonly heldBytes: number;
  readonly highWaterMark: number;
  /** 0: no cap. */
  readonly maxBufferedAmount: number;
  readonly maxPendingAutoPongs: number;
  /** The connection's ready state, for the errors of refused sends. */
  readonly readyState: number;
  /** Past a limit: the connection fails with 1008 and its transport is cut. */
  failSlowReader(message: string): void;
  /** 'drain': everything sent was handed to the kernel after a send returned false. */
  emitDrain(): void;
}

/** The one measure of room (see above): bytes sent and not yet handed to the kernel, less those held for an open message. */
export function unsentBytes(owner: FlowOwner): number {
  return owner.transport.bufferedBytes + owner.queuedBytes;
}

/** Whether there is room below highWaterMark. */
export function hasRoom(owner: FlowOwner): boolean {
  return unsentBytes(owner) < owner.highWaterMark;
}

/**
 * The hard cap: past maxBufferedAmount (counting `extra` bytes about to be
 * sent, and everything held) the connection fails with 1008 and this send
 * is refused; true then. A peer that does not read must not grow our
 * memory with every send or broadcast.
 */
export function refuseOverCap(owner: FlowOwner, extra: number, callback: WriteCallback | undefined): boolean {
  const limit = owner.maxBufferedAmount;
  if (limit === 0 || unsentBytes(owner) + owner.heldBytes + extra <= limit) return false;
  owner.failSlowReader(`More than maxBufferedAmount (${limit} bytes) waiting to be sent`);
  refuseSend(callback, owner.readyState);
  return true;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class SendFlow {
  private readonly owner: FlowOwner;
  /** A send found no room: 'drain' is due once everything unsent was handed to the kernel. */
  private needDrain = false;
  /** An empty write is in the transport: its callback runs once what was written before it left. */
  private watching = false;
  private waiters: Waiter[] = [];
  /** Automatic pongs written while the transport was congested, since it last drained. */
  private pendingPongs = 0;
  private readonly onFlushed: () => void;

  constructor(owner: FlowOwner) {
    this.owner = owner;
    this.onFlushed = () => this.flushed();
  }

  /** send()'s answer: true while there is room; else false, and 'drain' is due. */
  checkRoom(): boolean {
    if (hasRoom(this.owner)) return true;
    this.needDrain = true;
    this.watch();
    return false;
  }

  /** Resolves once there is room (at once if there is); rejected if the connection closes first. */
  drained(): Promise<void> {
    if (hasRoom(this.owner)) return Promise.resolve();
    this.needDrain = true;
    this.watch();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** A frame that waited in the outgoing queue was written while 'drain' is due: its flush is watched too. */
  written(): void {
    if (this.needDrain) this.watch();
  }

  /** An automatic pong was queued to a congested transport: a peer that pings without reading fails past the limit. */
  pongQueued(): void {
    const limit = this.owner.maxPendingAutoPongs;
    if (++this.pendingPongs > limit) this.owner.failSlowReader(`More than ${limit} automatic pongs queued to a peer that does not read`);
  }

  /** The transport handed everything to the kernel: the pongs counted are gone. */
  transportDrained(): void {
    this.pendingPongs = 0;
  }

  /** The connection closed: no 'drain' will come, and waiting drained() promises fail. */
  closed(state: number): void {
    this.needDrain = false;
    const waiters = this.waiters.splice(0);
    if (waiters.length === 0) return;
    const error = notOpenError(state);
    for (const waiter of waiters) waiter.reject(error);
  }

  private watch(): void {
    if (this.watching) return;
    this.watching = this.owner.transport.whenFlushed(this.onFlushed);
  }

  private flushed(): void {
    this.watching = false;
    if (!this.needDrain) return;
    if (unsentBytes(this.owner) === 0) {
      this.needDrain = false;
      for (const waiter of this.waiters.splice(0)) waiter.resolve();
      this.owner.emitDrain();
      return;
    }
    // What is left waits in the outgoing queue (zlib, a Blob): its next write watches again.
    if (this.owner.transport.bufferedBytes > 0) this.watch();
  }
}
