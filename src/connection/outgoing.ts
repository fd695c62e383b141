/**
 * The one queue for everything that must leave a connection in the order it
 * was sent: messages waiting for a Blob to be read or for zlib, frames
 * framed elsewhere, and our close frame or the answer to the peer's. A
 * connection uses it only while something asynchronous is in the way; an
 * ordinary send with nothing queued goes straight to the protocol.
 *
 * The queue counts the bytes it holds (they are part of bufferedAmount and
 * of the maxBufferedAmount cap) and, when the connection ends, fails every
 * send still in it through its callback.
 *
 * A streamed message (sendStream()) is one item that stays at the head
 * while its source is read: a chunk is read only when the socket holds less
 * than the high-water mark (else once the last fragment was handed to the
 * kernel), and goes out as a fragment, deflated in the same context as the
 * message's other fragments. Sends and the close frame made meanwhile wait
 * behind it, so no other message can land inside it. The answer to the
 * peer's close does not: it cuts the queue there (cutAtStream).
 */

import type { MessageCompressor } from '../compression/compressor.ts';
import { WebSocketError } from '../protocol/errors.ts';
import type { WriteCallback } from '../protocol/protocol.ts';
import type { ChunkSource } from './source.ts';
import { writeFailure } from './state.ts';

/** What the queue hands on, in order, once an item is ready: the sender. */
export interface OutgoingOwner {
  /** The connection's ready state, for the error of a streamed message cut by our own close. */
  readonly readyState: number;
  /** Frames one message (or fragment); `compressed` data is already deflated. */
  transmit(data: Buffer, isBinary: boolean, fin: boolean, compressed: boolean, callback: WriteCallback | undefined): void;
  /** Sends a ping or pong whose Blob payload has been read. */
  transmitControl(opcode: number, data: Buffer, callback: WriteCallback | undefined): void;
  /** Writes bytes that were framed elsewhere, as they are. */
  transmitFrame(frame: readonly Buffer[], callback: WriteCallback | undefined): void;
  /** Sends our close frame (`close()` called while items were queued). */
  transmitClose(code: number | undefined, reason: string | Uint8Array | undefined): void;
  /** Answers the peer's close frame, which arrived while items were queued. */
  transmitCloseEcho(): void;
  /** A Blob could not be read: the queued sends have failed, now the connection does. */
  blobUnreadable(error: Error): void;
  /** A send failed before reaching the wire (zlib error, connection closed). */
  rejectSend(callback: WriteCallback | undefined, error?: Error): void;
  /** The socket was destroyed (terminate(), a reset): a finished Blob read or zlib job has nowhere to go. */
  socketGone(): boolean;
  /** Whether the socket holds less than the high-water mark: a streamed message may read its next chunk. */
  streamHasRoom(): boolean;
  /** A streamed message's source failed after some of it was sent: the message cannot be finished. */
  streamFailed(error: Error): void;
}

const MESSAGE = 0;
const FRAME = 1;
const CLOSE = 2;
const CLOSE_ECHO = 3;
const CONTROL = 4;
const STREAM = 5;

const EMPTY = Buffer.alloc(0);
/** Empty chunks read in a row on the microtask queue before the event loop gets a turn. */
const EMPTY_CHUNKS_PER_TURN = 64;

function ignore(): void {}

class OutgoingItem {
  kind: number;
  data: Buffer | Blob | null;
  frame: readonly Buffer[] | null = null;
  isBinary = false;
  fin = true;
  /** To be deflated before it is sent. */
  compress = false;
  /** Its data is deflated (RSV1 goes on the message's first frame). */
  compressed = false;
  callback: WriteCallback | undefined;
  /** Bytes counted for it in the queue's total. */
  size: number;
  /** A Blob read or a zlib job is running for it. */
  busy = false;
  closeCode: number | undefined = undefined;
  closeReason: string | Uint8Array | undefined = undefined;
  /** A CONTROL item's opcode (ping or pong). */
  opcode = 0;
  /** A STREAM item's chunks, its fragments deflated, and how far it got. */
  source: ChunkSource | null = null;
  deflateFragments = false;
  /** Part of its message is sent (or queued ahead of it: a send(fin: false) it continues). */
  started = false;
  finished = false;
  /** A fragment went out past the high-water mark: the next chunk is read once it was written. */
  waitingForWrite = false;
  /** Empty chunks read since the last fragment or the last turn of the event loop. */
  emptyChunks = 0;

  constructor(kind: number, data: Buffer | Blob | null, size: number, callback: WriteCallback | undefined) {
    this.kind = kind;
    this.data = data;
    this.size = size;
    this.callback = callback;
  }
}

export class OutgoingQueue {
  private readonly owner: OutgoingOwner;
  private readonly compressor: MessageCompressor | null;
  private items: OutgoingItem[] = [];
  /** Index of the first item not yet sent (shifting a long array at every send would be quadratic). */
  private head = 0;
  private pumping = false;
  private pumpAgain = false;
  private dropped = false;
  /** Bytes of data held (Blob sizes included). */
  bytes = 0;

  constructor(owner: OutgoingOwner, compressor: MessageCompressor | null) {
    this.owner = owner;
    this.compressor = compressor;
  }

  get isEmpty(): boolean {
    return this.head === this.items.length;
  }

  /** Queues a message or fragment; `data` may be a Blob still to be read. */
  pushMessage(data: Buffer | Blob, isBinary: boolean, fin: boolean, compress: boolean, callback: WriteCallback | undefined): void {
    const item = new OutgoingItem(MESSAGE, data, data instanceof Blob ? data.size : data.length, callback);
    item.isBinary = isBinary;
    item.fin = fin;
    item.compress = compress;
    this.push(item);
  }

  /** Queues bytes framed elsewhere (a broadcast frame, engine.io's pre-encoded frames). */
  pushFrame(frame: readonly Buffer[], callback: WriteCallback | undefined): void {
    let size = 0;
    for (const buffer of frame) size += buffer.length;
    const item = new OutgoingItem(FRAME, null, size, callback);
    item.frame = frame;
    this.push(item);
  }

  /**
   * Queues a message read from `source` as it goes out; `callback` runs once
   * its last frame was handed to the kernel, or with the error that ended it.
   * `continues`: it finishes a message begun by send(..., { fin: false }).
   */
  pushStream(source: ChunkSource, isBinary: boolean, deflate: boolean, continues: boolean, callback: WriteCallback): void {
    const item = new OutgoingItem(STREAM, null, 0, callback);
    item.source = source;
    item.isBinary = isBinary;
    item.deflateFragments = deflate;
    // Its message began already: failing before its first chunk is failing midway.
    item.started = continues;
    this.push(item);
  }

  /** Queues a ping or pong behind what waits (a Blob payload is read first, like a Blob message). */
  pushControl(opcode: number, data: Buffer | Blob, callback: WriteCallback | undefined): void {
    const item = new OutgoingItem(CONTROL, data, data instanceof Blob ? data.size : data.length, callback);
    item.opcode = opcode;
    this.push(item);
  }

  pushClose(code: number | undefined, reason: string | Uint8Array | undefined): void {
    const item = new OutgoingItem(CLOSE, null, 0, undefined);
    item.closeCode = code;
    item.closeReason = reason;
    this.push(item);
  }

  pushCloseEcho(): void {
    this.push(new OutgoingItem(CLOSE_ECHO, null, 0, undefined));
  }

  /**
   * Why the sends still queued will not go out when the connection ends while
   * the first of them waits for its Blob or for zlib, in ws's words (ws fails
   * that send and every one behind it with this reason); undefined otherwise.
   */
  interruption(): WebSocketError | undefined {
    const item = this.items[this.head];
    if (item === undefined || !item.busy || (item.kind !== MESSAGE && item.kind !== CONTROL)) return undefined;
    return item.data instanceof Blob
      ? new WebSocketError('WS_ERR_CLOSED_WHILE_READING_BLOB', 'The socket was closed while the blob was being read')
      : new WebSocketError('WS_ERR_CLOSED_WHILE_COMPRESSING', 'The socket was closed while data was being compressed');
  }

  /** The connection is gone: every queued send fails through its callback (with `error` if given); running jobs are forgotten. */
  drop(error?: Error, now = false): void {
    if (this.dropped) return;
    this.dropped = true;
    const items = this.items;
    const head = this.head;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    for (let i = head; i < items.length; i++) {
      // ws calls these at once, before the connection reads as closed.
      if (now && error !== undefined && items[i].kind !== STREAM) items[i].callback?.(error);
      else this.abandon(items[i], error);
    }
  }

  /**
   * The peer closed: our answer must not wait for a streamed message, whose
   * source may take any time, started or not. The first one queued and
   * everything behind it fail with `error` (their sources are stopped);
   * what is ahead of it still goes out.
   */
  cutAtStream(error: Error): void {
    const items = this.items;
    let at = this.head;
    while (at < items.length && items[at].kind !== STREAM) at++;
    if (at === items.length) return;
    const cut = items.splice(at);
    if (this.head === items.length) {
      this.items = [];
      this.head = 0;
    }
    for (const item of cut) {
      this.bytes -= item.size;
      this.abandon(item, error);
    }
  }

  /** An item that will not be sent: its send fails, a stream's source is stopped. */
  private abandon(item: OutgoingItem, error: Error | undefined): void {
    if (item.kind === STREAM) {
      if (item.finished) return;
      item.finished = true;
      void item.source!.return().catch(ignore);
    }
    if (item.kind !== CLOSE && item.kind !== CLOSE_ECHO) this.owner.rejectSend(item.callback, error);
  }

  private push(item: OutgoingItem): void {
    if (this.dropped) {
      this.owner.rejectSend(item.callback);
      return;
    }
    this.items.push(item);
    this.bytes += item.size;
    this.pump();
  }

  /**
   * Sends ready items in order and starts the asynchronous step of the first
   * one that is not ready. Never recursive: a step that completes at once
   * (a closed compressor answers synchronously) only asks for another round.
   */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    do {
      this.pumpAgain = false;
      this.sendReadyItems();
    } while (this.pumpAgain);
    this.pumping = false;
  }

  private sendReadyItems(): void {
    while (!this.dropped && this.head < this.items.length) {
      const item = this.items[this.head];
      if (item.busy) return;
      if (item.kind === STREAM) {
        this.readChunk(item);
        return;
      }
      if (item.data instanceof Blob) {
        this.readBlob(item, item.data);
        continue;
      }
      if (item.compress) {
        this.deflate(item, item.data!);
        continue;
      }
      this.shift();
      this.bytes -= item.size;
      this.send(item);
    }
  }

  private send(item: OutgoingItem): void {
    switch (item.kind) {
      case MESSAGE:
        this.owner.transmit(item.data as Buffer, item.isBinary, item.fin, item.compressed, item.callback);
        break;
      case FRAME:
        this.owner.transmitFrame(item.frame!, item.callback);
        break;
      case CONTROL:
        this.owner.transmitControl(item.opcode, item.data as Buffer, item.callback);
        break;
      case CLOSE:
        this.owner.transmitClose(item.closeCode, item.closeReason);
        break;
      default:
        this.owner.transmitCloseEcho();
    }
  }

  private shift(): void {
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Reads a streamed message's next chunk (the item stays busy at the head until its last frame). */
  private readChunk(item: OutgoingItem): void {
    item.busy = true;
    item.source!.next().then(
      (result) => {
        // Dropped, or cut out of the queue (cutAtStream) while the read was pending.
        if (this.dropped || item.finished) return;
        if (result.done) {
          this.sendFragment(item, EMPTY, true);
        } else if (result.value.length > 0) {
          item.emptyChunks = 0;
          this.sendFragment(item, result.value, false);
        } else if (++item.emptyChunks < EMPTY_CHUNKS_PER_TURN) {
          this.readChunk(item);
        } else {
          // Empty chunks send nothing, so no write callback paces them: without
          // this turn, an endless run would starve timers, I/O and terminate().
          item.emptyChunks = 0;
          setImmediate(() => {
            if (!this.dropped && !item.finished) this.readChunk(item);
          });
        }
      },
      (error: unknown) => {
        if (!this.dropped && !item.finished) this.failStream(item, error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /**
   * Sends one chunk as a fragment; the last one is empty with FIN set (the
   * message's length is not known until the source ends), and with
   * compression it carries the end of the deflate stream.
   */
  private sendFragment(item: OutgoingItem, chunk: Buffer, fin: boolean): void {
    if (!item.deflateFragments) {
      this.transmitFragment(item, chunk, fin);
      return;
    }
    // Counted while zlib has it: part of bufferedAmount, as any message waiting for zlib.
    this.bytes += chunk.length;
    this.compressor!.compress(chunk, fin, (error, output) => {
      if (this.dropped) return;
      this.bytes -= chunk.length;
      if (item.finished) return;
      if (error !== null) this.failStream(item, error);
      else this.transmitFragment(item, output!, fin);
    });
  }

  private transmitFragment(item: OutgoingItem, data: Buffer, fin: boolean): void {
    item.started = true;
    this.owner.transmit(data, item.isBinary, fin, item.deflateFragments, (error) => this.fragmentWritten(item, fin, error));
    if (fin || item.finished) return;
    // Room left: read on now; else the fragment's write callback reads the next chunk.
    if (this.owner.streamHasRoom()) this.readChunk(item);
    else item.waitingForWrite = true;
  }

  private fragmentWritten(item: OutgoingItem, fin: boolean, error: Error | null | undefined): void {
    if (this.dropped || item.finished) return;
    if (error) {
      this.failStream(item, writeFailure(this.owner.readyState, error));
    } else if (fin) {
      this.finishStream(item);
      item.callback!();
    } else if (item.waitingForWrite) {
      item.waitingForWrite = false;
      this.readChunk(item);
    }
  }

  /** The streamed message is done (or failed before its first fragment): the items behind it go on. */
  private finishStream(item: OutgoingItem): void {
    item.finished = true;
    item.busy = false;
    this.shift();
    this.pump();
  }

  private failStream(item: OutgoingItem, error: Error): void {
    if (item.finished) return;
    void item.source!.return().catch(ignore);
    if (!item.started) {
      // Nothing of it was sent: the message simply never was.
      this.finishStream(item);
      item.callback!(error);
      return;
    }
    // Half a message is on the wire and cannot be finished; anything sent
    // after it would land inside it. The connection fails instead.
    item.finished = true;
    this.drop();
    item.callback!(error);
    this.owner.streamFailed(error);
  }

  private readBlob(item: OutgoingItem, blob: Blob): void {
    item.busy = true;
    blob.arrayBuffer().then(
      (buffer) => {
        if (this.dropped) return;
        if (this.owner.socketGone()) {
          this.drop(this.interruption(), true);
          return;
        }
        item.busy = false;
        item.data = Buffer.from(buffer);
        this.pump();
      },
      (error: Error) => {
        if (this.dropped) return;
        // As in ws: this send and every one behind it fail with the error, then the connection.
        this.drop(error);
        this.owner.blobUnreadable(error);
      },
    );
  }

  private deflate(item: OutgoingItem, data: Buffer): void {
    item.busy = true;
    this.compressor!.compress(data, item.fin, (error, output) => {
      if (this.dropped) return;
      if (this.owner.socketGone()) {
        this.drop(this.interruption(), true);
        return;
      }
      item.busy = false;
      item.compress = false;
      if (error !== null) {
        this.shift();
        this.bytes -= item.size;
        this.owner.rejectSend(item.callback, error);
      } else {
        item.data = output!;
        item.compressed = true;
      }
      this.pump();
    });
  }
}
