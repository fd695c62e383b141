/**
 * Frames in, messages out: the protocol's handler. Received messages are
 * delivered at once when nothing is in the way; a compressed one is
 * inflated here on the main thread when it is small (zlib-sync.ts), else it
 * waits for zlib's thread pool in the incoming queue (incoming.ts), and
 * everything received after it waits behind it, so events keep their
 * order. While the queue holds anything the transport is not read, so what
 * it holds is bounded by one receive chunk. Text is checked for UTF-8 by the
 * parser as it arrives, or once inflated (protocol/utf8.ts, the one rule).
 *
 * It is also the protocol's way out: the frames the protocol makes (our
 * sends, automatic pongs, close frames) are written to the transport here.
 */

import type { MessageCompressor } from '../compression/compressor.ts';
import type { ResolvedConnectionOptions } from '../options/connection.ts';
import type { ProtocolError } from '../protocol/errors.ts';
import { type FrameSlot, kReserveFrame, type Protocol, type ProtocolHandler, type WriteCallback } from '../protocol/protocol.ts';
import { checkInflatedText } from '../protocol/utf8.ts';
import { binaryMessageData, type BinaryType, type RawData } from './data.ts';
import { IncomingQueue, type IncomingOwner } from './incoming.ts';
import type { MessageStream } from './message-stream.ts';
import type { MessageReader } from './reader.ts';
import { CLOSED, CLOSING, OPEN, refuseSend, writeFailure } from './state.ts';
import { Streamed, type StreamedOwner } from './streamed.ts';
import type { Transport } from './transport.ts';

/** The peer's close frame arrived; our answer is written unless the protocol says it is pending. */
export const kCloseReceived = Symbol('netws.closeReceived');
/** The peer broke the protocol (or sent what cannot be inflated): our close frame is written. */
export const kProtocolFailed = Symbol('netws.protocolFailed');
/** Everything received was delivered: a close that waited for it may be reported. */
export const kReceiverIdle = Symbol('netws.receiverIdle');
/** Whether our answer to the peer's close may be written now (nothing of ours is queued before it). */
export const kCanAnswerClose = Symbol('netws.canAnswerClose');
/** An automatic pong was written to a congested transport (see send-flow.ts's policing). */
export const kPongQueued = Symbol('netws.pongQueued');

/** What the receiver needs of the connection that owns it. */
export interface ReceiverOwner {
  readonly readyState: number;
  readonly binaryType: BinaryType;
  emit(event: 'message', data: RawData, isBinary: boolean): boolean;
  emit(event: 'ping' | 'pong', data: Buffer): boolean;
  [kCloseReceived](code: number, reason: Buffer): void;
  [kProtocolFailed](error: ProtocolError): void;
  [kReceiverIdle](): void;
  [kCanAnswerClose](): boolean;
  [kPongQueued](): void;
}

/** Options of messages() as the receiver takes them: checked by the connection. */
export interface ReaderSettings {
  highWaterMark: number;
  stream: boolean;
}

export class Receiver implements ProtocolHandler, IncomingOwner, StreamedOwner {
  private readonly owner: ReceiverOwner;
  // Set by bind() when the connection opens.
  private transport: Transport | null;
  /** The sans-I/O protocol whose handler this is. */
  protocol: Protocol | null;
  private options: ResolvedConnectionOptions | null;
  // Defaults on the prototype (the end of this file): most connections never change them.
  /** permessage-deflate's compressor, when negotiated (the sender deflates with it too). */
  declare readonly compressor: MessageCompressor | null;
  declare private incoming: IncomingQueue | null;
  declare private streamed: Streamed | null;
  /** The user paused the connection (pause()); the only reason `isPaused` reports. */
  declare paused: boolean;

  constructor(owner: ReceiverOwner) {
    this.owner = owner;
    // Set here, even if to null: fields added later would not fit in the object V8 sized at construction.
    this.transport = null;
    this.protocol = null;
    this.options = null;
  }

  /** The connection opened: frames come from `protocol` and go to `transport`. */
  bind(transport: Transport, protocol: Protocol, options: ResolvedConnectionOptions, compressor: MessageCompressor | null): void {
    this.transport = transport;
    this.protocol = protocol;
    this.options = options;
    if (compressor !== null) (this as { compressor: MessageCompressor | null }).compressor = compressor;
    if (this.owner.binaryType === 'fragments') protocol.keepFragments = true;
    if (this.streamed?.streaming) this.updateStreaming();
  }

  // ---- the protocol's handler ----------------------------------------------

  write(header: Buffer, payload: Buffer | null, callback?: WriteCallback): void {
    if (!this.transport!.write(header, payload, callback)) this.refused(callback);
  }

  [kReserveFrame](size: number, callback: WriteCallback | undefined, slot: FrameSlot): boolean {
    if (this.transport!.reserve(size, callback, slot)) return true;
    this.refused(callback);
    return false;
  }

  /** A frame the transport refused (see writeFailure). */
  private refused(callback: WriteCallback | undefined): void {
    const state = this.owner.readyState;
    refuseSend(callback, state, writeFailure(state, this.transport!.closedError()));
  }

  onMessage(data: Buffer, isBinary: boolean, compressed: boolean, fragments: Buffer[] | null): void {
    if (this.incoming === null && this.options!.allowSynchronousEvents) {
      if (!compressed) {
        this.deliver(data, isBinary, fragments);
        return;
      }
      // A small compressed message is inflated here, on the main thread (zlib-sync.ts).
      if (this.inflateNow(data, isBinary)) return;
    }
    this.incomingQueue().pushMessage(data, isBinary, compressed, fragments);
  }

  /** Inflates and delivers a message on the main thread if the compressor takes it; true if it was dealt with. */
  private inflateNow(data: Buffer, isBinary: boolean): boolean {
    let inflated: Buffer | null;
    try {
      inflated = this.compressor!.decompressSync(data);
    } catch (error) {
      this.protocol!.fail(error as ProtocolError);
      return true;
    }
    if (inflated === null) return false;
    const invalid = isBinary || this.options!.skipUTF8Validation ? null : checkInflatedText(inflated);
    if (invalid !== null) this.protocol!.fail(invalid);
    else this.deliver(inflated, isBinary, null);
    return true;
  }

  onMessageStart(isBinary: boolean, compressed: boolean): void {
    const streamed = this.streamed!;
    const stream = streamed.startMessage({
      highWaterMark: streamed.reader?.highWaterMark ?? this.options!.highWaterMark,
      compressor: compressed ? this.compressor : null,
      maxStreamPayload: this.options!.maxStreamPayload,
      validateText: !isBinary && !this.options!.skipUTF8Validation,
    });
    // Behind messages still being inflated, it waits for its turn.
    if (this.incoming !== null) this.incoming.pushStream(stream, isBinary);
    else streamed.deliverStream(stream, isBinary);
  }

  onMessageData(piece: Buffer): void {
    this.streamed!.messageData(piece);
  }

  onMessageEnd(): void {
    this.streamed!.messageEnd();
  }

  onPing(data: Buffer): void {
    // The automatic pong is written already; count it if the peer is not reading what we send.
    if (this.options!.autoPong && this.transport!.congested) this.owner[kPongQueued]();
    if (this.incoming === null && this.options!.allowSynchronousEvents) this.owner.emit('ping', data);
    else this.incomingQueue().pushPing(data);
  }

  onPong(data: Buffer): void {
    if (this.incoming === null && this.options!.allowSynchronousEvents) this.owner.emit('pong', data);
    else this.incomingQueue().pushPong(data);
  }

  canAnswerClose(): boolean {
    return this.owner[kCanAnswerClose]();
  }

  onCloseReceived(code: number, reason: Buffer): void {
    this.owner[kCloseReceived](code, reason);
  }

  onProtocolError(error: ProtocolError): void {
    this.dropIncoming();
    this.owner[kProtocolFailed](error);
  }

  // ---- delivery ------------------------------------------------------------

  /** Delivers one message: to the reader if there is one, then to 'message' listeners, shaped by binaryType. */
  deliver(data: Buffer, isBinary: boolean, fragments: Buffer[] | null): void {
    const streamed = this.streamed;
    if (streamed !== null && streamed.reader !== null) {
      if (streamed.reader.streamMode) {
        streamed.pushWhole(data, fragments, isBinary);
        return;
      }
      const shaped = isBinary ? binaryMessageData(data, fragments, this.owner.binaryType) : data;
      // Before the listeners: one that throws must not cost the iterator its message.
      streamed.push(shaped, isBinary);
      this.owner.emit('message', shaped, isBinary);
      return;
    }
    this.owner.emit('message', isBinary ? binaryMessageData(data, fragments, this.owner.binaryType) : data, isBinary);
  }

  deliverStream(stream: object, isBinary: boolean): void {
    this.streamed!.deliverStream(stream as MessageStream, isBinary);
  }

  deliverPing(data: Buffer): void {
    this.owner.emit('ping', data);
  }

  deliverPong(data: Buffer): void {
    this.owner.emit('pong', data);
  }

  inflate(data: Buffer, done: (error: Error | null, output?: Buffer) => void): void {
    this.compressor!.decompress(data, done);
  }

  incomingFailed(error: ProtocolError): void {
    this.protocol!.fail(error);
  }

  incomingIdle(): void {
    this.incoming = null;
    if (this.owner.readyState === CLOSED) return;
    this.protocol!.releaseClose();
    this.owner[kReceiverIdle]();
  }

  /** Received messages still waiting for zlib or their turn: the connection's 'close' waits for them. */
  get delivering(): boolean {
    return this.incoming !== null;
  }

  private incomingQueue(): IncomingQueue {
    if (this.incoming === null) {
      this.incoming = new IncomingQueue(this, !this.options!.allowSynchronousEvents, this.options!.skipUTF8Validation);
      // Read no further while messages wait: what the queue holds stays bounded.
      this.updateReading();
      this.protocol!.holdClose();
    }
    return this.incoming;
  }

  /** Received messages not yet delivered are dropped (terminate, a protocol failure). */
  dropIncoming(): void {
    if (this.incoming === null) return;
    this.incoming.drop();
    this.incoming = null;
    this.updateReading();
  }

  // ---- reading -------------------------------------------------------------

  pause(): void {
    this.paused = true;
    this.updateReading();
  }

  resume(): void {
    this.paused = false;
    this.updateReading();
  }

  /**
   * Whether the transport is read: not while the user paused, nor while
   * received messages wait for zlib or their turn, nor while a reader (or a
   * streamed message) holds its high-water mark of unread data.
   */
  updateReading(): void {
    const transport = this.transport;
    if (transport === null) return;
    transport.setReading(!(this.paused || this.incoming !== null || this.streamed?.full));
  }

  // ---- pulled messages (messages()) ----------------------------------------

  /** A reader for messages(). `closedWith`: the connection is closed already (null: cleanly). */
  openReader(settings: ReaderSettings, closedWith?: Error | null): MessageReader {
    return (this.streamed ??= new Streamed(this)).openReader(settings.highWaterMark, settings.stream, closedWith);
  }

  /** Tells the parser whether messages that begin from now on are streamed (a stream-mode reader is there). */
  updateStreaming(): void {
    const protocol = this.protocol;
    if (protocol === null) return; // applied by bind()
    const on = this.streamed?.streaming ?? false;
    protocol.streamMessages(on, on && (this.compressor?.canInflateStreams ?? false));
  }

  failMessage(error: ProtocolError): void {
    const state = this.owner.readyState;
    if (state === OPEN || state === CLOSING) this.protocol!.fail(error);
  }

  /**
   * The connection closed: a message half streamed fails, the reader ends
   * (throwing what `cause` gives unless null; made only when there is a
   * reader, as an Error's stack trace per dropped connection costs).
   */
  closed(cause: () => Error | null): void {
    if (this.streamed) this.streamed.end(cause());
  }
}

Object.assign(Receiver.prototype, {
  compressor: null,
  incoming: null,
  streamed: null,
  paused: false,
});
