/**
 * Frames out, in order. Every send takes the same steps, one verb each:
 *
 * - send:     a request from the API (a message, a ping or pong, a close,
 *             a streamed message, a broadcast's prepared frame, engine.io's
 *             pre-encoded frame); decides which way it goes.
 * - queue:    it waits in the outgoing queue (outgoing.ts) behind something
 *             asynchronous: a Blob read, zlib, a streamed message.
 * - transmit: framed by the protocol now (or written as it is, if framed
 *             elsewhere), which writes it to the transport.
 *
 * An ordinary send with nothing queued and no compression transmits at
 * once, without touching the queue. Messages framed elsewhere (a broadcast,
 * engine.io's frames) that come while a message of the user's is open are
 * held until it is finished: frames of two messages cannot interleave
 * (RFC 6455 section 5.4). Backpressure and the hard cap are send-flow.ts's.
 */

import type { MessageCompressor } from '../compression/compressor.ts';
import type { ResolvedConnectionOptions } from '../options/connection.ts';
import { Opcode } from '../protocol/frame.ts';
import type { PreparedMessage } from '../protocol/prepared.ts';
import type { Protocol, WriteCallback } from '../protocol/protocol.ts';
import { WebSocketError } from '../protocol/errors.ts';
import { OutgoingQueue, type OutgoingOwner } from './outgoing.ts';
import { type FlowOwner, hasRoom, refuseOverCap, SendFlow, unsentBytes } from './send-flow.ts';
import type { ChunkSource } from './source.ts';
import { OPEN, refuseSend } from './state.ts';
import type { Transport } from './transport.ts';

/** Options of `ws.send()`. */
export interface SendOptions {
  /** Send as a binary message; the default is text for strings and numbers, binary otherwise. */
  binary?: boolean;
  /** False to leave the message open; the next sends are its continuation frames. */
  fin?: boolean;
  /**
   * False to send this message uncompressed when permessage-deflate is on.
   * Decided by a message's first fragment; default: compress when the
   * message reaches the `threshold`.
   */
  compress?: boolean;
  /** Accepted for ws compatibility and ignored: RFC 6455 decides (clients mask every frame, servers never do). */
  mask?: boolean;
}

/** Options of `ws.sendStream()`. */
export interface SendStreamOptions {
  /** Send as a binary message; default true (false: text, whose UTF-8 the peer checks across the chunks). */
  binary?: boolean;
  /** False to send the message uncompressed when permessage-deflate is on. */
  compress?: boolean;
}

/** Past a limit: fail with 1008 and cut the transport (a close frame would queue behind what the peer does not read). */
export const kFailSlowReader = Symbol('netws.failSlowReader');
/** A Blob could not be read: the queued sends failed; now the connection does (as in ws). */
export const kBlobUnreadable = Symbol('netws.blobUnreadable');
/** A streamed message failed after part of it was sent: it cannot be finished, the connection closes with 1011. */
export const kStreamBroken = Symbol('netws.streamBroken');

/** What the sender needs of the connection that owns it. */
export interface SenderOwner {
  readonly readyState: number;
  emit(event: 'drain'): boolean;
  [kFailSlowReader](message: string): void;
  [kBlobUnreadable](error: Error): void;
  [kStreamBroken](): void;
}

/** A broadcast or engine.io frame waiting for the user's open message to be finished. */
interface HeldMessage {
  prepared: PreparedMessage | null;
  /** A prepared message's compress option (publish() may ask for none). */
  compress: boolean;
  frame: readonly Buffer[] | null;
  callback: WriteCallback | undefined;
}

function frameSize(frame: readonly Buffer[]): number {
  let size = 0;
  for (const buffer of frame) size += buffer.length;
  return size;
}

export class Sender implements OutgoingOwner, FlowOwner {
  readonly transport: Transport;
  private readonly owner: SenderOwner;
  private readonly protocol: Protocol;
  private readonly options: ResolvedConnectionOptions;
  // Defaults on the prototype (the end of this file): most senders never change them.
  declare private readonly compressor: MessageCompressor | null;
  declare private queue: OutgoingQueue | null;
  /** The user's last send() had `fin: false`: a message of theirs is open. */
  declare private messageOpen: boolean;
  /** Whether the message being sent in fragments is compressed; null between messages. */
  declare private fragmentsCompressed: boolean | null;
  declare private held: HeldMessage[] | null;
  declare heldBytes: number;
  declare private flowState: SendFlow | null;

  constructor(
    owner: SenderOwner,
    protocol: Protocol,
    transport: Transport,
    options: ResolvedConnectionOptions,
    compressor: MessageCompressor | null,
  ) {
    this.owner = owner;
    this.protocol = protocol;
    this.transport = transport;
    this.options = options;
    if (compressor !== null) this.compressor = compressor;
  }

  get queuedBytes(): number {
    return this.queue === null ? 0 : this.queue.bytes;
  }

  /** Nothing waits in the outgoing queue: the answer to the peer's close may go now. */
  get isIdle(): boolean {
    return this.queue === null || this.queue.isEmpty;
  }

  get highWaterMark(): number {
    return this.options.highWaterMark;
  }

  get maxBufferedAmount(): number {
    return this.options.maxBufferedAmount;
  }

  get maxPendingAutoPongs(): number {
    return this.options.maxPendingAutoPongs;
  }

  get readyState(): number {
    return this.owner.readyState;
  }

  get flow(): SendFlow {
    return this.flowState ?? (this.flowState = new SendFlow(this));
  }

  failSlowReader(message: string): void {
    this.owner[kFailSlowReader](message);
  }

  emitDrain(): void {
    this.owner.emit('drain');
  }

  /** send()'s return value: true while there is room below highWaterMark; else false, and 'drain' is due. */
  checkRoom(): boolean {
    return hasRoom(this) || this.flow.checkRoom();
  }

  /** A message or fragment (bytes, or a Blob still to be read); the connection is open. */
  send(payload: Buffer | Blob, binary: boolean, fin: boolean, compressAllowed: boolean, callback: WriteCallback | undefined): void {
    const released = fin && this.messageOpen;
    this.messageOpen = !fin;
    this.sendMessage(payload, binary, fin, compressAllowed, callback);
    if (released && this.held !== null) this.releaseHeld();
  }

  private sendMessage(
    payload: Buffer | Blob,
    binary: boolean,
    fin: boolean,
    compressAllowed: boolean,
    callback: WriteCallback | undefined,
  ): void {
    const isBlob = payload instanceof Blob;
    if (this.compressor === null && !isBlob && this.queue === null) {
      this.transmit(payload, binary, fin, false, callback);
      return;
    }
    const size = isBlob ? payload.size : payload.length;
    if (refuseOverCap(this, size, callback)) return;
    let compress = false;
    const compressor = this.compressor;
    if (compressor !== null) {
      // The first fragment decides for the whole message (RSV1 marks the message, 7.2.3.1).
      compress = this.fragmentsCompressed ?? (compressAllowed && compressor.shouldCompress(size));
      this.fragmentsCompressed = fin ? null : compress;
    }
    const queue = this.outgoing();
    if (!isBlob && queue.isEmpty) {
      if (!compress) {
        this.transmit(payload, binary, fin, false, callback);
        return;
      }
      // A small whole message is deflated here, on the main thread (zlib-sync.ts).
      const deflated = fin ? compressor!.compressSync(payload) : null;
      if (deflated !== null) {
        this.transmit(deflated, binary, true, true, callback);
        return;
      }
    }
    queue.pushMessage(payload, binary, fin, compress, callback);
  }

  /** A ping or pong from the API: in line with the sends before it, as ws's is (a Blob is read first). */
  sendControl(opcode: number, payload: Buffer | Blob, callback: WriteCallback | undefined): void {
    if (payload instanceof Blob || !this.isIdle) this.outgoing().pushControl(opcode, payload, callback);
    else this.transmitControl(opcode, payload, callback);
  }

  /**
   * One message read from `chunks`, each chunk a fragment, paced by the
   * flow (outgoing.ts reads a chunk while there is room). It finishes a
   * message left open by send(..., { fin: false }), compressed as that began.
   */
  sendStream(chunks: ChunkSource, binary: boolean, compressAllowed: boolean, done: WriteCallback): void {
    let deflate = false;
    if (this.compressor !== null) {
      deflate = this.fragmentsCompressed ?? compressAllowed;
      this.fragmentsCompressed = null;
    }
    this.outgoing().pushStream(chunks, binary, deflate, this.messageOpen, done);
    if (this.messageOpen) {
      // The stream finishes the open message: what waited for its end queues behind the stream, in order.
      this.messageOpen = false;
      if (this.held !== null) this.releaseHeld();
    }
  }

  /**
   * A message framed once for many connections: its bytes as they are when
   * this connection allows it, else framed here like send(). False (nothing
   * sent) unless open. `compress: false` sends it uncompressed on a
   * compressing connection (publish()'s option).
   */
  sendPrepared(message: PreparedMessage, compress: boolean): boolean {
    if (this.owner.readyState !== OPEN) return false;
    const protocol = this.protocol;
    if (this.messageOpen) {
      // Held whatever the way it goes later: a send now would end the user's message.
      this.hold({ prepared: message, compress, frame: null, callback: undefined }, message.data.length);
    } else if (this.compressor !== null) {
      const frame = compress ? this.sharedCompressedFrame(message) : null;
      // A compression context of its own, or something queued: the usual way.
      if (frame === null) this.send(message.data, message.isBinary, true, compress, undefined);
      else if (refuseOverCap(this, frame.length, undefined)) return false;
      else this.transmitPrepared(frame, undefined);
    } else if (refuseOverCap(this, message.frame.length, undefined)) {
      return false;
    } else if (!this.isIdle) {
      this.queue!.pushMessage(message.data, message.isBinary, true, false, undefined);
    } else if (protocol.canSharePreparedFrame()) {
      this.transmitPrepared(message.frame, undefined);
    } else {
      this.transmit(message.data, message.isBinary, true, false, undefined);
    }
    // A send above refused over maxBufferedAmount failed the connection: not sent.
    return this.owner.readyState === OPEN;
  }

  /**
   * A broadcast's frame this compressing connection can write as it is: the
   * plain frame for a message under the threshold, or the message deflated
   * once for every connection with the same settings and no context
   * takeover. Null when it must be sent like send() (context takeover, a
   * message too large for the main thread, sends queued before it).
   */
  private sharedCompressedFrame(message: PreparedMessage): Buffer | null {
    const compressor = this.compressor!;
    if (!this.isIdle || !this.protocol.canSharePreparedFrame()) return null;
    if (!compressor.shouldCompress(message.data.length)) return message.frame;
    const key = compressor.sharedKey;
    if (key === null) return null;
    return message.compressedFrame(key, (data) => compressor.compressSync(data, true));
  }

  /**
   * engine.io (Socket.IO's engine) writes broadcast frames it framed once
   * through `websocket._sender.sendFrame(frames, callback)` when that
   * exists: the bytes go out as they are when nothing would change them,
   * else the message is sent as usual, in order.
   */
  sendFrame(frame: readonly Buffer[], callback?: WriteCallback): void {
    // Nothing to write would never call back: a caller's mistake, thrown as ws's write(undefined) does.
    if (frame.length === 0) throw new TypeError('sendFrame() needs at least one Buffer');
    if (this.owner.readyState !== OPEN) {
      refuseSend(callback, this.owner.readyState);
      return;
    }
    if (this.messageOpen) {
      this.hold({ prepared: null, compress: true, frame, callback }, frameSize(frame));
      return;
    }
    if (this.compressor !== null) {
      // A compressing connection must deflate the message itself: unframe it and send it as usual.
      const message = unframe(frame);
      if (message === null) refuseSend(callback, OPEN, new TypeError('sendFrame() needs one complete unmasked data frame'));
      else this.send(message.data, message.isBinary, true, true, callback);
      return;
    }
    if (refuseOverCap(this, frameSize(frame), callback)) return;
    if (!this.isIdle) this.queue!.pushFrame(frame, callback);
    else this.transmitFrame(frame, callback);
  }

  /** Our close frame, after what was sent before it. */
  close(code: number | undefined, reason: string | Uint8Array | undefined): void {
    if (!this.isIdle) this.queue!.pushClose(code, reason);
    else this.transmitClose(code, reason);
  }

  /**
   * The peer's close frame arrived while sends were queued: they still go
   * out, then our answer; but a streamed message, begun or not, could take
   * any time: it fails with what waits behind it (a close frame may
   * interrupt a fragmented message, 5.4).
   */
  answerCloseWhenSent(): void {
    const queue = this.queue!;
    queue.cutAtStream(new WebSocketError('WS_ERR_PEER_CLOSED', 'The peer closed the connection during a streamed message'));
    queue.pushCloseEcho();
  }

  /** The connection is closing for good: sends cut in a Blob read or a zlib job fail now, with ws's reason. */
  interrupted(): void {
    const error = this.queue?.interruption();
    if (error !== undefined) this.queue!.drop(error, true);
  }

  socketGone(): boolean {
    return this.transport.destroyed;
  }

  /** The connection closed: queued and held sends fail, a drained() waits no more. */
  closed(state: number): void {
    this.queue?.drop();
    const held = this.held;
    if (held !== null) {
      this.held = null;
      this.heldBytes = 0;
      for (const message of held) refuseSend(message.callback, state);
    }
    this.flowState?.closed(state);
  }

  /** Keeps a message framed elsewhere until the user's open message is finished. */
  private hold(message: HeldMessage, size: number): void {
    if (refuseOverCap(this, size, message.callback)) return;
    (this.held ??= []).push(message);
    this.heldBytes += size;
  }

  /** The user's message is finished: what waited for it goes now, in order. */
  private releaseHeld(): void {
    const held = this.held!;
    this.held = null;
    this.heldBytes = 0;
    for (const message of held) {
      if (message.prepared !== null) this.sendPrepared(message.prepared, message.compress);
      else this.sendFrame(message.frame!, message.callback);
    }
  }

  private outgoing(): OutgoingQueue {
    return this.queue ?? (this.queue = new OutgoingQueue(this, this.compressor));
  }

  /** Frames and writes one message or fragment; `compressed` data is already deflated. */
  transmit(data: Buffer, isBinary: boolean, fin: boolean, compressed: boolean, callback: WriteCallback | undefined): void {
    // Only while open: data queued before our close frame goes out even when closing.
    if (this.owner.readyState === OPEN && refuseOverCap(this, data.length, callback)) return;
    if (!this.protocol.sendMessage(data, isBinary, fin, callback, compressed)) refuseSend(callback, this.owner.readyState);
    else this.flowState?.written();
  }

  transmitControl(opcode: number, data: Buffer, callback: WriteCallback | undefined): void {
    const protocol = this.protocol;
    const sent = opcode === Opcode.Ping ? protocol.ping(data, callback) : protocol.pong(data, callback);
    if (!sent) refuseSend(callback, this.owner.readyState);
  }

  /** Writes frame bytes made elsewhere (engine.io) as they are, or frames their message here. */
  transmitFrame(frame: readonly Buffer[], callback: WriteCallback | undefined): void {
    if (!this.protocol.canSharePreparedFrame()) {
      // Inside a fragmented message of ours the bytes cannot go as they are.
      const message = unframe(frame);
      if (message === null) refuseSend(callback, OPEN, new TypeError('sendFrame() needs one complete unmasked data frame'));
      else this.transmit(message.data, message.isBinary, true, false, callback);
      return;
    }
    for (let i = 0; i < frame.length; i++) this.transmitPrepared(frame[i], i === frame.length - 1 ? callback : undefined);
  }

  private transmitPrepared(frame: Buffer, callback: WriteCallback | undefined): void {
    this.protocol.sendPreparedFrame(frame, callback);
    this.flowState?.written();
  }

  /** Our close frame, or the transport's end when both close frames are through. */
  transmitClose(code: number | undefined, reason: string | Uint8Array | undefined): void {
    const protocol = this.protocol;
    if (!protocol.closeSent) protocol.close(code, reason);
    this.transport.flush();
    if (protocol.closeReceived) this.transport.end();
  }

  /** The answer to the peer's close frame, once what was queued before it went out. */
  transmitCloseEcho(): void {
    this.protocol.sendCloseEcho();
    // The server closes TCP first (7.1.1); the client waits for it, within the timeout.
    if (this.transport.endsFirst) this.transport.end();
  }

  blobUnreadable(error: Error): void {
    this.owner[kBlobUnreadable](error);
  }

  rejectSend(callback: WriteCallback | undefined, error?: Error): void {
    refuseSend(callback, this.owner.readyState, error);
  }

  /** Whether a streamed message may read its next chunk: the transport takes more and there is room (send-flow.ts). */
  streamHasRoom(): boolean {
    // A transport that can take no more (destroyed, ended) has no room: the fragment's failed write ends the message.
    return this.transport.writable && !this.protocol.closeSent && unsentBytes(this) < this.options.highWaterMark;
  }

  streamFailed(): void {
    this.owner[kStreamBroken]();
  }
}

Object.assign(Sender.prototype, {
  compressor: null,
  queue: null,
  messageOpen: false,
  fragmentsCompressed: null,
  held: null,
  heldBytes: 0,
  flowState: null,
});

/**
 * The message inside frame bytes given to sendFrame() (one complete,
 * unmasked text or binary frame), or null if they are not that.
 */
function unframe(frame: readonly Buffer[]): { data: Buffer; isBinary: boolean } | null {
  const bytes = frame.length === 1 ? frame[0] : Buffer.concat(frame as Buffer[]);
  if (bytes.length < 2) return null;
  const opcode = bytes[0] & 0x0f;
  if ((bytes[0] & 0xf0) !== 0x80 || (opcode !== Opcode.Text && opcode !== Opcode.Binary) || (bytes[1] & 0x80) !== 0) return null;
  let length = bytes[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return null;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return null;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if (bytes.length !== offset + length) return null;
  return { data: bytes.subarray(offset), isBinary: opcode === Opcode.Binary };
}
