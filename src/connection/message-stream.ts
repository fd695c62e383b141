/**
 * A received message as a Node Readable, its bytes pushed as its frames
 * arrive (`ws.messages({ stream: true })`), so a message bigger than memory
 * never sits in it. The connection stops reading its socket while the
 * stream holds its high-water mark of unread bytes; a compressed message is
 * inflated by an inflater of its own as fast as the stream is read, its
 * inflated size counted against `maxStreamPayload` (close 1009 past it).
 */

import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { inflateError, TRAILER, tooBig, type MessageCompressor } from '../compression/compressor.ts';
import { zlibFailure } from '../compression/zlib-sync.ts';
import { type ProtocolError, WebSocketError } from '../protocol/errors.ts';
import { invalidUtf8, Utf8Validator } from '../protocol/utf8.ts';

/** What a message stream needs of its connection. */
export interface MessageStreamOwner {
  /** The stream was read below its high-water mark, or is done: reading the socket may resume. */
  updateReading(): void;
  /** A compressed message inflated past the limit or to text that is not UTF-8: the connection fails. */
  messageStreamFailed(error: ProtocolError): void;
}

export interface MessageStreamOptions {
  highWaterMark: number;
  /** Set for a compressed message: its inflater comes from here. */
  compressor: MessageCompressor | null;
  /** Most inflated bytes (a compressed message's uncompressed size is checked by the parser). */
  maxStreamPayload: number;
  /** Check inflated text as UTF-8 (uncompressed text is checked by the parser). */
  validateText: boolean;
}

function updateOwner(owner: MessageStreamOwner): void {
  owner.updateReading();
}

export class MessageStream extends Readable {
  private readonly owner: MessageStreamOwner;
  private readonly maxStreamPayload: number;
  private inflater: zlib.InflateRaw | null = null;
  private compressor: MessageCompressor | null;
  private utf8: Utf8Validator | null;
  private inflated = 0;
  /** All of the message arrived. */
  private received = false;
  /** The inflater flushed the message's end; what it still holds is the rest. */
  private flushed = false;
  private finished = false;

  constructor(owner: MessageStreamOwner, options: MessageStreamOptions) {
    super({ highWaterMark: Math.max(options.highWaterMark, 1) });
    this.owner = owner;
    this.maxStreamPayload = options.maxStreamPayload;
    this.compressor = options.compressor;
    this.utf8 = options.compressor !== null && options.validateText ? new Utf8Validator() : null;
  }

  /** Whether the connection should stop reading: unread bytes (raw ones waiting for zlib included) reached the mark. */
  get full(): boolean {
    if (this.finished || this.destroyed) return false;
    return this.readableLength + (this.inflater?.writableLength ?? 0) >= this.readableHighWaterMark;
  }

  /** A piece of the message as it arrived (unmasked; text already checked when uncompressed). */
  receive(piece: Buffer): void {
    if (this.destroyed) return;
    if (this.compressor === null) {
      this.push(piece);
      return;
    }
    this.inflaterFor().write(piece);
  }

  /** The message's last frame arrived. */
  receiveEnd(): void {
    this.received = true;
    if (this.destroyed) return;
    if (this.compressor === null) {
      this.finish();
      return;
    }
    const inflater = this.inflaterFor();
    inflater.write(TRAILER);
    inflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      // Deno reports zlib's failure before its 'error' event (see watchFailures): it is not the message's end.
      const failure = zlibFailure(inflater);
      if (failure !== null) {
        this.fail(inflateError(failure));
        return;
      }
      this.flushed = true;
      if (inflater.readableLength === 0) this.finishInflating();
    });
  }

  /** The connection ended before the message did. */
  abortIncomplete(): void {
    if (this.received || this.destroyed) return;
    this.destroy(new WebSocketError('WS_ERR_MESSAGE_INCOMPLETE', 'The connection closed before the streamed message ended'));
  }

  override _read(): void {
    this.inflater?.resume();
    // read() calls this before it takes the bytes it returns: decide once they are gone.
    process.nextTick(updateOwner, this.owner);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.releaseInflater();
    this.finished = true;
    this.owner.updateReading();
    callback(error);
  }

  private inflaterFor(): zlib.InflateRaw {
    if (this.inflater !== null) return this.inflater;
    const inflater = this.compressor!.takeStreamInflater();
    this.inflater = inflater;
    inflater.on('data', (chunk: Buffer) => this.onInflated(chunk));
    inflater.on('error', (error: Error) => this.fail(inflateError(error)));
    return inflater;
  }

  private onInflated(chunk: Buffer): void {
    if (this.finished) return;
    this.inflated += chunk.length;
    if (this.inflated > this.maxStreamPayload) {
      this.fail(tooBig());
      return;
    }
    if (this.utf8 !== null && !this.utf8.feed(chunk)) {
      this.fail(invalidUtf8());
      return;
    }
    // The reader's pace is the inflater's: a bomb inflates only as fast as it is read.
    if (!this.push(chunk)) this.inflater!.pause();
    // zlib took raw bytes off what counted as full: the socket may flow again.
    else this.owner.updateReading();
    if (this.flushed && this.inflater!.readableLength === 0) this.finishInflating();
  }

  private finishInflating(): void {
    if (this.utf8 !== null && !this.utf8.end()) {
      this.fail(invalidUtf8());
      return;
    }
    this.releaseInflater();
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.push(null);
    this.owner.updateReading();
  }

  private fail(error: ProtocolError): void {
    if (this.finished) return;
    this.destroy(error);
    this.owner.messageStreamFailed(error);
  }

  private releaseInflater(): void {
    const inflater = this.inflater;
    if (inflater === null) return;
    this.inflater = null;
    this.compressor!.releaseStreamInflater(inflater);
  }
}
