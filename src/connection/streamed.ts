/**
 * Received messages pulled instead of emitted: the reader of `messages()`
 * (an iterator, or a WebSocketStream's readable side), and messages received
 * as streams (`messages({ stream: true })`). Made on the first messages()
 * call: a connection that never iterates carries none of it.
 *
 * What the reader holds bounds what is read: past its high-water mark (or,
 * for a streamed message, past the stream's) the receiver closes the read
 * gate, so TCP pushes back on the peer.
 */

import { Readable } from 'node:stream';
import type { ProtocolError } from '../protocol/errors.ts';
import { MessageStream, type MessageStreamOptions, type MessageStreamOwner } from './message-stream.ts';
import { MessageReader, type ReaderOwner } from './reader.ts';
import { WebSocketError } from '../protocol/errors.ts';

/** Options of `ws.messages()`. */
export interface MessagesOptions {
  /** Bytes of unpulled messages past which the socket is not read; default the connection's `highWaterMark`. */
  highWaterMark?: number;
  /**
   * Yield each message as it begins, its `data` a Readable of its bytes as
   * they arrive (never assembled): for messages bigger than memory. Limited
   * by `maxStreamPayload`, not `maxPayload`; 'message' events are not
   * emitted for them.
   */
  stream?: boolean;
}

/** What the streamed part needs of the receiver that owns it. */
export interface StreamedOwner {
  /** Whether to read the transport may have changed. */
  updateReading(): void;
  /** Whether messages that begin from now on are to be streamed changed. */
  updateStreaming(): void;
  /** A streamed message could not be inflated, or its text is not UTF-8: the connection fails. */
  failMessage(error: ProtocolError): void;
}

export class Streamed implements ReaderOwner, MessageStreamOwner {
  private readonly owner: StreamedOwner;
  reader: MessageReader | null = null;
  /** The streamed message being received. */
  private current: MessageStream | null = null;

  constructor(owner: StreamedOwner) {
    this.owner = owner;
  }

  /** Whether the receiver should stop reading: the reader, or the message being streamed, is full. */
  get full(): boolean {
    return this.reader?.full === true || this.current?.full === true;
  }

  /** Messages are to be streamed: a stream-mode reader is there. */
  get streaming(): boolean {
    return this.reader?.streamMode === true;
  }

  /** A reader for messages(); one at a time. `closedWith`: the connection is closed already (null: cleanly). */
  openReader(highWaterMark: number, streamMode: boolean, closedWith?: Error | null): MessageReader {
    if (this.reader !== null) {
      throw new WebSocketError('WS_ERR_ALREADY_READING', 'The connection already has a reader (an iterator or a WebSocketStream)');
    }
    const reader = new MessageReader(this, highWaterMark, streamMode);
    if (closedWith !== undefined) {
      reader.end(closedWith);
      return reader;
    }
    this.reader = reader;
    if (streamMode) this.owner.updateStreaming();
    return reader;
  }

  /** A whole message for a stream-mode reader (one received whole: compressed with context takeover): a stream of one chunk, like the others. */
  pushWhole(data: Buffer, fragments: Buffer[] | null, isBinary: boolean): void {
    const whole = fragments === null ? data : Buffer.concat(fragments);
    this.push(Readable.from([whole], { objectMode: false }), isBinary);
  }

  /** A message for the reader, shaped as 'message' listeners get it. */
  push(data: unknown, isBinary: boolean): void {
    const reader = this.reader!;
    reader.push(data, isBinary);
    if (reader.full) this.owner.updateReading();
  }

  /** A streamed message begins: its stream is made now (its bytes go into it), handed on in its turn. */
  startMessage(options: MessageStreamOptions): MessageStream {
    const stream = new MessageStream(this, options);
    this.current = stream;
    return stream;
  }

  messageData(piece: Buffer): void {
    const stream = this.current!;
    stream.receive(piece);
    if (stream.full) this.owner.updateReading();
  }

  messageEnd(): void {
    this.current!.receiveEnd();
    this.current = null;
  }

  /** A streamed message's turn: to the reader, or dropped if the reader has let go. */
  deliverStream(stream: MessageStream, isBinary: boolean): void {
    const reader = this.reader;
    if (reader === null || !reader.streamMode) stream.destroy();
    else reader.push(stream, isBinary);
    this.owner.updateReading();
  }

  /** The connection closed: a message half received fails, the reader ends (throwing `error` unless null) after what it holds. */
  end(error: Error | null): void {
    this.current?.abortIncomplete();
    this.current = null;
    this.reader?.end(error);
  }

  /** ReaderOwner. */
  updateReading(): void {
    this.owner.updateReading();
  }

  /** ReaderOwner: a reader is done with the connection. */
  readerDetached(reader: MessageReader): void {
    if (this.reader !== reader) return;
    this.reader = null;
    if (reader.streamMode) {
      this.owner.updateStreaming();
      // A message half received goes nowhere now: its stream is dropped, the rest of it skipped.
      this.current?.destroy();
    }
    this.owner.updateReading();
  }

  /** MessageStreamOwner. */
  messageStreamFailed(error: ProtocolError): void {
    this.owner.failMessage(error);
  }
}
