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
 */

import type { MessageCompressor } from './compression.ts';
import type { WriteCallback } from './protocol/protocol.ts';

/** What the queue hands on, in order, once an item is ready. */
export interface OutgoingTarget {
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
}

const MESSAGE = 0;
const FRAME = 1;
const CLOSE = 2;
const CLOSE_ECHO = 3;
const CONTROL = 4;

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

  constructor(kind: number, data: Buffer | Blob | null, size: number, callback: WriteCallback | undefined) {
    this.kind = kind;
    this.data = data;
    this.size = size;
    this.callback = callback;
  }
}

export class OutgoingQueue {
  private readonly target: OutgoingTarget;
  private readonly compressor: MessageCompressor | null;
  private items: OutgoingItem[] = [];
  /** Index of the first item not yet sent (shifting a long array at every send would be quadratic). */
  private head = 0;
  private pumping = false;
  private pumpAgain = false;
  private dropped = false;
  /** Bytes of data held (Blob sizes included). */
  bytes = 0;

  constructor(target: OutgoingTarget, compressor: MessageCompressor | null) {
    this.target = target;
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

  /** Queues a ping or pong whose payload is a Blob (read first, like a Blob message). */
  pushControl(opcode: number, data: Blob, callback: WriteCallback | undefined): void {
    const item = new OutgoingItem(CONTROL, data, data.size, callback);
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

  /** The connection is gone: every queued send fails through its callback (with `error` if given); running jobs are forgotten. */
  drop(error?: Error): void {
    if (this.dropped) return;
    this.dropped = true;
    const items = this.items;
    const head = this.head;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    for (let i = head; i < items.length; i++) {
      if (items[i].kind !== CLOSE && items[i].kind !== CLOSE_ECHO) this.target.rejectSend(items[i].callback, error);
    }
  }

  private push(item: OutgoingItem): void {
    if (this.dropped) {
      this.target.rejectSend(item.callback);
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
        this.target.transmit(item.data as Buffer, item.isBinary, item.fin, item.compressed, item.callback);
        break;
      case FRAME:
        this.target.transmitFrame(item.frame!, item.callback);
        break;
      case CONTROL:
        this.target.transmitControl(item.opcode, item.data as Buffer, item.callback);
        break;
      case CLOSE:
        this.target.transmitClose(item.closeCode, item.closeReason);
        break;
      default:
        this.target.transmitCloseEcho();
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

  private readBlob(item: OutgoingItem, blob: Blob): void {
    item.busy = true;
    blob.arrayBuffer().then(
      (buffer) => {
        if (this.dropped) return;
        item.busy = false;
        item.data = Buffer.from(buffer);
        this.pump();
      },
      (error: Error) => {
        if (this.dropped) return;
        // As in ws: this send and every one behind it fail with the error, then the connection.
        this.drop(error);
        this.target.blobUnreadable(error);
      },
    );
  }

  private deflate(item: OutgoingItem, data: Buffer): void {
    item.busy = true;
    this.compressor!.compress(data, item.fin, (error, output) => {
      if (this.dropped) return;
      item.busy = false;
      item.compress = false;
      if (error !== null) {
        this.shift();
        this.bytes -= item.size;
        this.target.rejectSend(item.callback, error);
      } else {
        item.data = output!;
        item.compressed = true;
      }
      this.pump();
    });
  }
}
