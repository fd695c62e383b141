/**
 * The one interface under every connection: the Duplex its frames travel
 * on (a net.Socket, a tls.TLSSocket, an HTTP/2 stream, a test pipe). It
 * writes frames (a tick's small ones joined into one write), gates reading, says when what
 * was written has left, ends, and aborts; how a kind of transport ends is
 * a trait it is given (TransportTraits). Its events go to its owner (the
 * WebSocket) through shared listeners: a closure per event and connection
 * would cost an idle connection about 250 bytes.
 *
 * A future transport (an HTTP/3 stream, RFC 9220) plugs in here: a Duplex
 * and its traits.
 */

import type { Duplex } from 'node:stream';
import type { FrameSlot, WriteCallback } from '../protocol/protocol.ts';
import type { Heartbeat } from './heartbeat.ts';

/** Bytes arrived. */
export const kTransportData = Symbol('netws.transportData');
/** The peer ended its side (TCP FIN, END_STREAM). */
export const kPeerEnded = Symbol('netws.peerEnded');
/** The transport is gone (its 'close'). */
export const kTransportClosed = Symbol('netws.transportClosed');
/** The transport failed (its 'error'); 'close' follows. */
export const kTransportFailed = Symbol('netws.transportFailed');
/** Everything the transport buffered has been handed to the kernel (its 'drain'). */
export const kTransportDrained = Symbol('netws.transportDrained');

/** What a transport reports to the connection it carries. */
export interface TransportOwner {
  [kTransportData](chunk: Buffer): void;
  [kPeerEnded](): void;
  [kTransportClosed](): void;
  [kTransportFailed](error: Error): void;
  [kTransportDrained](): void;
}

/** How one kind of transport ends and aborts. */
export interface TransportTraits {
  /**
   * End our side as soon as both close frames passed. RFC 6455 7.1.1 leaves
   * TCP's TIME_WAIT to the server, so over TCP only the server does; an
   * HTTP/2 stream has no TIME_WAIT, so both ends do.
   */
  readonly endsFirst: boolean;
  /**
   * Called once when the transport is bound, for what the kind of
   * transport does on its own: an HTTP/2 stream makes every destroy a
   * RST_STREAM(CANCEL) (RFC 8441 section 5; TCP's is the kernel's RST) and
   * closes itself once our side ended and the peer has everything.
   */
  bind?(duplex: Duplex): void;
}

/** A TCP or TLS socket on the server side: it ends first (7.1.1). */
export const SERVER_SOCKET: TransportTraits = { endsFirst: true };
/** A TCP or TLS socket on the client side: it waits for the server to end, within closeTimeout. */
export const CLIENT_SOCKET: TransportTraits = { endsFirst: false };

/** The transport a Duplex belongs to, for the shared listeners below. */
const kTransport = Symbol('netws.transport');
type OwnedDuplex = Duplex & { [kTransport]: Transport };

function onData(this: Duplex, chunk: Buffer): void {
  (this as OwnedDuplex)[kTransport].received(chunk);
}

function onEnd(this: Duplex): void {
  (this as OwnedDuplex)[kTransport].owner[kPeerEnded]();
}

function onClose(this: Duplex): void {
  (this as OwnedDuplex)[kTransport].owner[kTransportClosed]();
}

function onError(this: Duplex, error: Error): void {
  (this as OwnedDuplex)[kTransport].owner[kTransportFailed](error);
}

function onDrain(this: Duplex): void {
  (this as OwnedDuplex)[kTransport].owner[kTransportDrained]();
}

/**
 * Small frames written in one tick (the echoes of one received chunk, a
 * burst of sends) leave together on the next tick: one syscall per batch
 * instead of one per frame was the biggest single win on loopback echo of
 * 16 B messages (about 3x); large frames gain nothing from waiting. They
 * are framed straight into one region of a shared slab (reserve()) and
 * that region is written once, rather than each allocated on its own,
 * joined, or written one by one into a corked Duplex: each write into a
 * Writable costs a queue entry, and each buffer of a writev an iovec the
 * kernel walks (bench/: cpu-per-message).
 */
function flushBatch(transport: Transport): void {
  transport.flush();
}

/**
 * The slab small frames are framed into, shared by all transports: a
 * batch's frames take consecutive bytes of it, so a batch is one region
 * whatever its count of frames. A write keeps its slab alive until it is
 * done, as one of node's own 8 KiB Buffer pools would (the slab is twice
 * that); a region that would wait behind earlier writes of a slow peer is
 * copied out first (flush()), so such a peer holds only its own bytes.
 */
const SLAB_SIZE = 16 * 1024;
let slab: Buffer | null = null;
/** Bytes of `slab` handed out; the rest is free. */
let slabUsed = SLAB_SIZE;
/**
 * A batch of several pieces whose average size is at least this is written
 * as they are, in one writev; smaller ones are joined into one buffer first
 * (an iovec per small frame costs more than copying it).
 */
const WRITEV_PIECE_MIN = 4096;

/**
 * `pieces` (`length` bytes in all) joined into a buffer of exactly their
 * size, of its own: not a view of a shared slab, nor of node's 8 KiB pool,
 * which Buffer.concat draws small joins from.
 */
function ownCopy(pieces: Buffer[], length: number): Buffer {
  const copy = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for (const piece of pieces) {
    copy.set(piece, at);
    at += piece.length;
  }
  return copy;
}

/** The frames' callbacks, called in order once their joined bytes were written. */
function callAll(callbacks: WriteCallback[]): WriteCallback {
  return (error) => {
    for (const callback of callbacks) callback(error);
  };
}

/** A whenFlushed() caller: called once the write numbered `after` (and so every earlier one) completed. */
interface FlushWaiter {
  after: number;
  callback: () => void;
}

export class Transport {
  readonly duplex: Duplex;
  readonly owner: TransportOwner;
  private readonly traits: TransportTraits;
  /** Any received byte is a sign of life; and while we do not read, no answer can come (a default on the prototype: most have none). */
  declare heartbeat: Heartbeat | null;
  /**
   * Small frames of this tick, not yet written (batchBytes 0: none;
   * defaults on the prototype): the regions and buffers already closed, in
   * order, then the open region [regionStart, regionEnd) of regionSlab,
   * which grows while no other transport took the slab's next bytes.
   */
  declare private batch: Buffer[] | null;
  declare private batchBytes: number;
  declare private regionSlab: Buffer | null;
  declare private regionStart: number;
  declare private regionEnd: number;
  /** Their callbacks, in order. */
  declare private batchCallbacks: WriteCallback[] | null;
  /**
   * Writes handed to the Duplex, and those whose callback ran: they complete
   * in order (see whenFlushed). Counted per write to the Duplex (a tick's
   * batch, a large frame), not per frame; defaults on the prototype, and the
   * counting callback is made on a connection's first write.
   */
  declare private issued: number;
  declare private completed: number;
  declare private flushWaiters: FlushWaiter[] | null;
  declare private onWritten: (() => void) | null;

  constructor(duplex: Duplex, owner: TransportOwner, traits: TransportTraits) {
    this.duplex = duplex;
    this.owner = owner;
    this.traits = traits;
  }

  /** See TransportTraits.endsFirst. */
  get endsFirst(): boolean {
    return this.traits.endsFirst;
  }

  /**
   * Starts carrying the connection. Bytes that arrived with the handshake
   * (`head`) are put back into the paused Duplex, so they flow (on a later
   * tick, like all data) only after the user's 'connection' or 'open'
   * handler has attached its listeners.
   */
  bind(head: Buffer): void {
    const duplex = this.duplex as OwnedDuplex & { setNoDelay?: (on: boolean) => void; setTimeout?: (ms: number) => void };
    duplex.setNoDelay?.(true);
    duplex.setTimeout?.(0);
    duplex.pause();
    if (head.length > 0) duplex.unshift(head);
    duplex[kTransport] = this;
    duplex.on('data', onData);
    duplex.on('end', onEnd);
    duplex.on('close', onClose);
    duplex.on('error', onError);
    duplex.on('drain', onDrain);
    this.traits.bind?.(duplex);
    duplex.resume();
  }

  /** @internal Bytes arrived (the shared 'data' listener). */
  received(chunk: Buffer): void {
    this.heartbeat?.alive();
    this.owner[kTransportData](chunk);
  }

  /**
   * Writes one frame: `header` alone (a small frame, header and payload in
   * one buffer), batched with the tick's other small frames, or `header`
   * and `payload` in one writev at once. False when our side can take no
   * more (the peer closed first: writing would only raise "write after end").
   */
  write(header: Buffer, payload: Buffer | null, callback?: WriteCallback): boolean {
    const duplex = this.duplex;
    if (!duplex.writable) return this.refuse();
    if (payload === null) {
      this.closeRegion();
      this.batched(header, header.length, callback);
    } else {
      // After the frames already batched in this tick, if any.
      this.flush();
      duplex.cork();
      duplex.write(header);
      duplex.write(payload, this.counted(callback));
      duplex.uncork();
    }
    return true;
  }

  /**
   * Room for a small frame of `size` bytes, written with this tick's batch
   * in order with every other write: `slot` says where, and the caller
   * frames it there at once. False when our side can take no more (as write()).
   */
  reserve(size: number, callback: WriteCallback | undefined, slot: FrameSlot): boolean {
    if (!this.duplex.writable) return this.refuse();
    if (size > SLAB_SIZE) {
      const frame = Buffer.allocUnsafe(size);
      this.closeRegion();
      this.batched(frame, size, callback);
      slot.buffer = frame;
      slot.offset = 0;
      return true;
    }
    let at = slabUsed;
    if (this.regionSlab !== slab || this.regionEnd !== at || at + size > SLAB_SIZE) {
      // Not at the slab's end (another batch took the bytes after ours), or no room left there: a new region.
      this.closeRegion();
      if (at + size > SLAB_SIZE) {
        slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
        at = 0;
      }
      this.regionSlab = slab;
      this.regionStart = at;
    }
    slabUsed = this.regionEnd = at + size;
    this.batched(null, size, callback);
    slot.buffer = slab as Buffer;
    slot.offset = at;
    return true;
  }

  /**
   * A frame refused: false. Frames batched earlier in the tick are written
   * first (if the Duplex was ended or destroyed beneath the connection, their
   * callbacks hear of it), so callbacks are called in the order of the sends.
   */
  private refuse(): false {
    this.flush();
    return false;
  }

  /**
   * Why the Duplex takes no more writes, in node's words (ws, which writes
   * each frame to the socket at once, reports these): for a send refused
   * while the connection is still open, its Duplex ended or destroyed by
   * someone else.
   */
  closedError(): Error {
    const [code, message] = this.duplex.destroyed
      ? ['ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed']
      : ['ERR_STREAM_WRITE_AFTER_END', 'write after end'];
    return Object.assign(new Error(message), { code });
  }

  /** Counts `size` more bytes in the tick's batch (`buffer`, if it is not in the open region), and schedules its flush. */
  private batched(buffer: Buffer | null, size: number, callback: WriteCallback | undefined): void {
    if (this.batchBytes === 0) process.nextTick(flushBatch, this);
    this.batchBytes += size;
    if (buffer !== null) this.append(buffer);
    if (callback !== undefined) {
      if (this.batchCallbacks === null) this.batchCallbacks = [callback];
      else this.batchCallbacks.push(callback);
    }
  }

  /** The open region joins the batch's list: whatever follows is written after it. */
  private closeRegion(): void {
    const region = this.regionSlab;
    if (region === null) return;
    this.append(region.subarray(this.regionStart, this.regionEnd));
    this.regionSlab = null;
  }

  /** Adds `buffer` to the end of the batch's list (its bytes are counted by the caller). */
  private append(buffer: Buffer): void {
    if (this.batch === null) this.batch = [buffer];
    else this.batch.push(buffer);
  }

  /** Bytes written and not yet handed to the kernel. */
  get bufferedBytes(): number {
    return this.duplex.writableLength + this.batchBytes;
  }

  get destroyed(): boolean {
    return this.duplex.destroyed;
  }

  get writable(): boolean {
    return this.duplex.writable;
  }

  /** Past the Duplex's own high-water mark (this tick's batch counted): the peer is not keeping up. */
  get congested(): boolean {
    const duplex = this.duplex;
    return duplex.writableNeedDrain || (this.batchBytes > 0 && duplex.writableLength + this.batchBytes >= duplex.writableHighWaterMark);
  }

  /**
   * Calls back once everything written so far has been handed to the
   * kernel: when the callback of the last write so far runs (writes
   * complete in order). The Duplex's own 'drain' would not do: it comes
   * only past its own high-water mark, which is not ours. (An empty write
   * as a marker would be simpler, but Deno's TLSSocket fails it with EPERM
   * and the connection with it.)
   */
  whenFlushed(callback: () => void): boolean {
    if (!this.duplex.writable) return false;
    this.flush();
    if (this.completed === this.issued) process.nextTick(callback);
    else (this.flushWaiters ??= []).push({ after: this.issued, callback });
    return true;
  }

  /** The read gate: while closed nothing is read, and TCP pushes back on the peer. */
  setReading(on: boolean): void {
    const heartbeat = this.heartbeat;
    if (on) {
      this.duplex.resume();
      heartbeat?.resume();
    } else {
      this.duplex.pause();
      heartbeat?.suspend();
    }
  }

  /** Data the user left paused in the Duplex, read at its close (it arrived before the close). */
  readRest(): Buffer | null {
    return this.duplex.readableLength > 0 ? (this.duplex.read() as Buffer | null) : null;
  }

  /** Writes the tick's batched frames now (on the next tick, or when nothing may follow them to batch with). */
  flush(): void {
    if (this.batchBytes === 0) return;
    const callbacks = this.batchCallbacks;
    const batch = this.batch;
    // What to write: one buffer (`data`), or large pieces for one writev.
    let data: Buffer | null = null;
    let pieces: Buffer[] | null = null;
    if (batch === null) {
      data = (this.regionSlab as Buffer).subarray(this.regionStart, this.regionEnd);
      this.regionSlab = null;
      // Bound to wait in the Duplex's queue (the peer is slow): bytes of its own, so it holds no shared slab.
      if (this.duplex.writableLength > 0) data = ownCopy([data], data.length);
    } else {
      this.closeRegion();
      if (batch.length === 1) data = batch[0];
      // Bound to wait, as above: one buffer of its own (Buffer.concat would take a small one from node's shared pool).
      else if (this.duplex.writableLength > 0) data = ownCopy(batch, this.batchBytes);
      // A batch past one slab: its regions as they are, rather than a copy of them all.
      else if (this.batchBytes >= batch.length * WRITEV_PIECE_MIN) pieces = batch;
      else data = Buffer.concat(batch, this.batchBytes);
    }
    this.batch = null;
    this.batchBytes = 0;
    this.batchCallbacks = null;
    const duplex = this.duplex;
    // Ended meanwhile (the peer's FIN answered): a write would raise 'write after end'.
    if (duplex.writableEnded && !duplex.destroyed) {
      if (callbacks !== null) process.nextTick(callAll(callbacks), this.closedError());
      return;
    }
    const done = this.counted(callbacks === null ? undefined : callbacks.length === 1 ? callbacks[0] : callAll(callbacks));
    if (pieces === null) {
      duplex.write(data as Buffer, done);
      return;
    }
    duplex.cork();
    const last = pieces.length - 1;
    for (let i = 0; i < last; i++) duplex.write(pieces[i]);
    duplex.write(pieces[last], done);
    duplex.uncork();
  }

  /** The callback of one write to the Duplex: `callback` (if any), then the count whenFlushed() reads. */
  private counted(callback: WriteCallback | undefined): WriteCallback {
    this.issued++;
    const onWritten = (this.onWritten ??= () => this.written());
    if (callback === undefined) return onWritten;
    return (error) => {
      // Counted even if the callback throws: whenFlushed() waiters must not wait forever.
      try {
        callback(error);
      } finally {
        onWritten();
      }
    };
  }

  private written(): void {
    this.completed++;
    const waiters = this.flushWaiters;
    if (waiters === null) return;
    while (waiters.length > 0 && waiters[0].after <= this.completed) (waiters.shift() as FlushWaiter).callback();
    if (waiters.length === 0 && this.flushWaiters === waiters) this.flushWaiters = null;
  }

  /** Ends our side (after our close frame, or when the peer ended theirs). */
  end(): void {
    this.flush();
    this.duplex.end();
  }

  /**
   * Cuts the transport at once. Frames sent earlier in this tick still wait
   * in the batch: they are handed to the kernel first, as they would
   * have been without the batching.
   */
  abort(): void {
    this.flush();
    this.duplex.destroy();
  }
}

// biome-ignore format: a table of defaults reads best as one
Object.assign(Transport.prototype, {
  heartbeat: null, batch: null, batchBytes: 0, regionSlab: null, regionStart: 0, regionEnd: 0, batchCallbacks: null, issued: 0, completed: 0, flushWaiters: null, onWritten: null,
});
