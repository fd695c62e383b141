/**
 * The messages a consumer pulls (`for await (const message of ws)`, a
 * WebSocketStream's readable side): received messages wait here until
 * pulled. Past the high-water mark the connection stops reading its
 * socket, so what waits stays within the mark plus one receive chunk and
 * TCP pushes back on the peer. The connection asks `full` whenever it
 * decides whether to read; the reader tells it when that may have changed.
 */

/** A received message as the iterator yields it: `data` shaped as 'message' events give it. */
export interface ReceivedMessage<Data = unknown> {
  data: Data;
  isBinary: boolean;
}

/** What the reader needs of its connection. */
export interface ReaderOwner {
  /** Whether to read the socket may have changed. */
  updateReading(): void;
  /** The reader is done (returned, or ended and drained): it is no longer the connection's. */
  readerDetached(reader: MessageReader): void;
}

interface Pull {
  resolve(result: IteratorResult<ReceivedMessage>): void;
  reject(error: unknown): void;
}

/**
 * What an unpulled message counts for beyond its bytes: its entry, its
 * object and its Buffer cost the heap about this much, so a peer sending
 * empty messages still fills the mark (else they would never count).
 */
export const MESSAGE_OVERHEAD = 128;

/** The byte size of a message's data, however binaryType shaped it. */
export function messageSize(data: unknown): number {
  if (data instanceof Uint8Array) return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (data instanceof Blob) return data.size;
  if (Array.isArray(data)) {
    let size = 0;
    for (const piece of data as Uint8Array[]) size += piece.length;
    return size;
  }
  // A streamed message's data (a Readable): its bytes are in its own buffer.
  return 0;
}

export class MessageReader implements AsyncIterableIterator<ReceivedMessage> {
  /** Bytes of unpulled messages (each counted MESSAGE_OVERHEAD more) past which the connection stops reading. */
  readonly highWaterMark: number;
  private readonly owner: ReaderOwner;
  private messages: ReceivedMessage[] = [];
  private head = 0;
  private bytes = 0;
  private pulls: Pull[] = [];
  /** Set when the connection closed: done (null) or the error to throw, after the buffered messages. */
  private ending: { error: unknown } | null = null;
  private detached = false;

  /** Messages are streams (their bytes arrive later, into each stream's own buffer). */
  readonly streamMode: boolean;

  constructor(owner: ReaderOwner, highWaterMark: number, streamMode = false) {
    this.owner = owner;
    this.highWaterMark = highWaterMark;
    this.streamMode = streamMode;
  }

  /**
   * Whether the connection should stop reading: unpulled messages reached
   * the high-water mark. In stream mode, one unpulled message is enough:
   * its bytes would fill its stream while nobody reads it.
   */
  get full(): boolean {
    if (this.head === this.messages.length) return false;
    return this.streamMode || this.bytes >= this.highWaterMark;
  }

  /** Messages received and not pulled yet. */
  get length(): number {
    return this.messages.length - this.head;
  }

  /** A received message (by the connection). */
  push(data: unknown, isBinary: boolean): void {
    if (this.detached || this.ending !== null) return;
    const pull = this.pulls.shift();
    if (pull !== undefined) {
      pull.resolve({ value: { data, isBinary }, done: false });
      return;
    }
    this.messages.push({ data, isBinary });
    this.bytes += messageSize(data) + MESSAGE_OVERHEAD;
  }

  /** The connection closed: cleanly (error null) the iteration ends, else it throws `error`, after what is buffered. */
  end(error: unknown): void {
    if (this.detached || this.ending !== null) return;
    this.ending = { error };
    if (this.length === 0) this.finish();
  }

  next(): Promise<IteratorResult<ReceivedMessage>> {
    if (this.head < this.messages.length) {
      const wasFull = this.full;
      const message = this.messages[this.head];
      this.messages[this.head++] = undefined as unknown as ReceivedMessage;
      this.bytes -= messageSize(message.data) + MESSAGE_OVERHEAD;
      if (this.head === this.messages.length) {
        this.messages = [];
        this.head = 0;
        if (this.ending !== null) this.finish();
      }
      if (wasFull && !this.full) this.owner.updateReading();
      return Promise.resolve({ value: message, done: false });
    }
    if (this.detached) return this.settled();
    return new Promise((resolve, reject) => this.pulls.push({ resolve, reject }));
  }

  /** `break` out of a for-await loop: the reader lets go of the connection, which stays open. */
  return(): Promise<IteratorResult<ReceivedMessage>> {
    this.detach();
    this.messages = [];
    this.head = 0;
    this.bytes = 0;
    this.ending = { error: null };
    for (const pull of this.pulls.splice(0)) pull.resolve({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Nothing left to pull: waiting pulls get the end (or the error), and the connection is let go. */
  private finish(): void {
    this.detach();
    const pulls = this.pulls.splice(0);
    if (pulls.length === 0) return;
    // The error is thrown once, to the first waiting pull, as a generator throws it; the rest are done.
    const error = this.ending!.error;
    this.ending = { error: null };
    for (const pull of pulls) {
      if (error !== null && pull === pulls[0]) pull.reject(error);
      else pull.resolve({ value: undefined, done: true });
    }
  }

  private settled(): Promise<IteratorResult<ReceivedMessage>> {
    const error = this.ending?.error ?? null;
    if (error === null) return Promise.resolve({ value: undefined, done: true });
    // Thrown once, as a generator does; later pulls are done.
    this.ending = { error: null };
    return Promise.reject(error);
  }

  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.owner.readerDetached(this);
  }
}
