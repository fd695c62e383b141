/**
 * Received messages and control events that cannot be delivered the moment
 * they are parsed: a compressed message waits for zlib's thread pool, and
 * everything behind it waits for it, so events keep their order. With
 * `allowSynchronousEvents: false` every event waits for its own macrotask.
 *
 * The connection reads no further while this queue holds anything, so what
 * it holds is bounded by one receive chunk; a close frame that arrives
 * behind queued messages is acted on after they were delivered.
 */

import { ProtocolError } from '../protocol/errors.ts';
import { checkInflatedText } from '../protocol/utf8.ts';

/** What the queue hands on, in order: the receiver. */
export interface IncomingOwner {
  deliver(data: Buffer, isBinary: boolean, fragments: Buffer[] | null): void;
  /** A streamed message's stream, handed on in its turn (its bytes go into it meanwhile). */
  deliverStream(stream: object, isBinary: boolean): void;
  deliverPing(data: Buffer): void;
  deliverPong(data: Buffer): void;
  /** Inflates one message (permessage-deflate). */
  inflate(data: Buffer, done: (error: Error | null, output?: Buffer) => void): void;
  /** A message could not be inflated or its text is not UTF-8. */
  incomingFailed(error: ProtocolError): void;
  /** Everything was delivered; the queue is done. */
  incomingIdle(): void;
}

const EMPTY = Buffer.alloc(0);

const MESSAGE = 0;
const PING = 1;
const PONG = 2;
const STREAM = 3;

interface IncomingItem {
  kind: number;
  data: Buffer;
  isBinary: boolean;
  compressed: boolean;
  fragments: Buffer[] | null;
  stream?: object;
}

export class IncomingQueue {
  private readonly owner: IncomingOwner;
  /** One event per macrotask (allowSynchronousEvents: false). */
  private readonly deferEach: boolean;
  private readonly skipUTF8Validation: boolean;
  private items: IncomingItem[] = [];
  private head = 0;
  /** An inflate or a setImmediate is running for the head item. */
  private busy = false;
  private delivering = false;
  private dropped = false;

  constructor(owner: IncomingOwner, deferEach: boolean, skipUTF8Validation: boolean) {
    this.owner = owner;
    this.deferEach = deferEach;
    this.skipUTF8Validation = skipUTF8Validation;
  }

  pushMessage(data: Buffer, isBinary: boolean, compressed: boolean, fragments: Buffer[] | null): void {
    this.push({ kind: MESSAGE, data, isBinary, compressed, fragments });
  }

  pushStream(stream: object, isBinary: boolean): void {
    this.push({ kind: STREAM, data: EMPTY, isBinary, compressed: false, fragments: null, stream });
  }

  pushPing(data: Buffer): void {
    this.push({ kind: PING, data, isBinary: false, compressed: false, fragments: null });
  }

  pushPong(data: Buffer): void {
    this.push({ kind: PONG, data, isBinary: false, compressed: false, fragments: null });
  }

  /** The connection failed or was terminated: nothing more is delivered. */
  drop(): void {
    this.dropped = true;
    this.items = [];
    this.head = 0;
  }

  private push(item: IncomingItem): void {
    if (this.dropped) return;
    this.items.push(item);
    // The first event of a queue that defers each one still waits for its own turn.
    if (this.items.length - this.head === 1 && !this.busy) this.start();
  }

  private start(): void {
    if (this.deferEach) {
      this.busy = true;
      setImmediate(() => {
        this.busy = false;
        this.deliverReady(true);
      });
    } else {
      this.deliverReady(false);
    }
  }

  /**
   * Delivers items in order until one needs zlib (or, deferring, until one
   * was delivered in this macrotask). Never recursive: an inflate that
   * answers at once only continues this loop.
   */
  private deliverReady(oneOnly: boolean): void {
    if (this.delivering) return;
    this.delivering = true;
    let delivered = 0;
    while (!this.dropped && this.head < this.items.length && !this.busy) {
      const item = this.items[this.head];
      if (item.compressed) {
        this.inflate(item);
        continue;
      }
      if (oneOnly && delivered === 1) {
        this.delivering = false;
        this.start();
        return;
      }
      this.head++;
      delivered++;
      try {
        if (item.kind === MESSAGE) this.owner.deliver(item.data, item.isBinary, item.fragments);
        else if (item.kind === STREAM) this.owner.deliverStream(item.stream!, item.isBinary);
        else if (item.kind === PING) this.owner.deliverPing(item.data);
        else this.owner.deliverPong(item.data);
      } catch (error) {
        // A listener threw (the error is its own, and goes on up): what follows
        // is delivered on a later turn, as if it had returned, so the queue
        // and the connection's close never wait for it forever.
        this.delivering = false;
        this.busy = true;
        setImmediate(() => {
          this.busy = false;
          this.deliverReady(this.deferEach);
        });
        throw error;
      }
    }
    this.delivering = false;
    if (!this.dropped && !this.busy && this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      this.owner.incomingIdle();
    }
  }

  private inflate(item: IncomingItem): void {
    this.busy = true;
    let sync = true;
    this.owner.inflate(item.data, (error, output) => {
      if (this.dropped) return;
      this.busy = false;
      item.compressed = false;
      if (error !== null) {
        this.drop();
        // Anything but a ProtocolError means the connection is already closing (its compressor was closed).
        if (error instanceof ProtocolError) this.owner.incomingFailed(error);
        return;
      }
      const invalid = item.isBinary || this.skipUTF8Validation ? null : checkInflatedText(output!);
      if (invalid !== null) {
        this.drop();
        this.owner.incomingFailed(invalid);
        return;
      }
      item.data = output!;
      if (!sync) this.deliverReady(this.deferEach);
    });
    sync = false;
  }
}
