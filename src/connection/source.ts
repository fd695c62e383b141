/**
 * What sendStream() takes, as one iterator of byte chunks: a web
 * ReadableStream (through its reader, which reader.cancel() cancels even
 * while a read is pending), a Node Readable (destroyed to stop it) or any
 * other async iterable (read through Symbol.asyncIterator, stopped by its
 * return()), or a synchronous iterable of chunks. Chunks may be Buffers,
 * other Uint8Arrays and views, ArrayBuffers or strings (UTF-8).
 */

/** A source of a message's bytes. `return()` stops and frees the source early. */
export interface ChunkSource {
  next(): Promise<IteratorResult<Buffer, undefined>>;
  return(): Promise<unknown>;
}

/** Anything sendStream() accepts. */
export type MessageSource = AsyncIterable<unknown> | Iterable<unknown> | ReadableStream<unknown>;

function chunkBytes(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return Buffer.from(chunk);
  throw new TypeError(
    `A message source must yield strings, Buffers, typed arrays or ArrayBuffers, not ${chunk === null ? 'null' : typeof chunk}`,
  );
}

interface AnyIterator {
  next(): Promise<IteratorResult<unknown>> | IteratorResult<unknown>;
  return?(): unknown;
}

/** The iterator of a source; a TypeError for anything that is not one (a string or bytes are not: send() them). */
function iteratorOf(source: unknown): AnyIterator {
  if (source === null || typeof source !== 'object' || ArrayBuffer.isView(source) || source instanceof ArrayBuffer) {
    throw new TypeError('sendStream() takes a Node Readable, a web ReadableStream or an (async) iterable of chunks');
  }
  const candidate = source as Partial<AsyncIterable<unknown> & Iterable<unknown> & ReadableStream<unknown>>;
  // The reader before the async iterator: the iterator's return() waits for a
  // pending next(), so a stalled stream would never be cancelled.
  if (typeof candidate.getReader === 'function') {
    const reader = candidate.getReader();
    return {
      next: () => reader.read() as Promise<IteratorResult<unknown>>,
      return: async () => {
        await reader.cancel();
        // Cancelled, the stream is closed; unlocked, its owner can see that.
        reader.releaseLock();
      },
    };
  }
  if (typeof candidate[Symbol.asyncIterator] === 'function') return candidate[Symbol.asyncIterator]!() as AnyIterator;
  if (typeof candidate[Symbol.iterator] === 'function') return candidate[Symbol.iterator]!() as AnyIterator;
  throw new TypeError('sendStream() takes a Node Readable, a web ReadableStream or an (async) iterable of chunks');
}

/** Whether a string ends with the first half of a surrogate pair. */
function endsInsidePair(text: string): boolean {
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff;
}

/**
 * The source as byte chunks; a chunk of another type ends it with a
 * TypeError. Strings are UTF-8, encoded as one text: a chunk that ends
 * with the first half of a surrogate pair keeps it for the next string
 * chunk (each chunk encoded alone would turn a split emoji into two
 * U+FFFD), as TextEncoderStream does; left alone at the end or before
 * bytes, it is U+FFFD.
 */
export function chunkSource(source: unknown): ChunkSource {
  const iterator = iteratorOf(source);
  let finished = false;
  /** The first half of a surrogate pair that ended the last string chunk. */
  let highSurrogate = '';
  const takeHighSurrogate = (): string => {
    const held = highSurrogate;
    highSurrogate = '';
    return held;
  };
  return {
    async next() {
      const result = await iterator.next();
      if (result.done) {
        finished = true;
        // A pair never completed: its first half alone (U+FFFD), as the message's last bytes.
        if (highSurrogate !== '') return { value: Buffer.from(takeHighSurrogate(), 'utf8'), done: false };
        return { value: undefined, done: true };
      }
      const chunk = result.value;
      if (typeof chunk !== 'string') {
        const bytes = chunkBytes(chunk);
        return { value: highSurrogate === '' ? bytes : Buffer.concat([Buffer.from(takeHighSurrogate(), 'utf8'), bytes]), done: false };
      }
      let text = takeHighSurrogate() + chunk;
      if (endsInsidePair(text)) {
        highSurrogate = text.slice(-1);
        text = text.slice(0, -1);
      }
      return { value: Buffer.from(text, 'utf8'), done: false };
    },
    async return() {
      if (finished) return;
      finished = true;
      // A Node stream's iterator is a generator: return() before its first next() would not destroy the stream.
      const destroyable = source as { destroy?: () => void };
      if (typeof destroyable.destroy === 'function') destroyable.destroy();
      else await iterator.return?.();
    },
  };
}

/**
 * sendStream()'s start: the source's chunks, or a rejection. A value that is
 * no source is refused first; then a connection that is not open
 * (`notOpen`) refuses the source, which is given up (destroyed or cancelled).
 */
export function startSource(source: unknown, notOpen: (() => Error) | null): ChunkSource | Promise<never> {
  let chunks: ChunkSource;
  try {
    chunks = chunkSource(source);
  } catch (error) {
    return Promise.reject(error);
  }
  if (notOpen === null) return chunks;
  void chunks.return().catch(() => {});
  return Promise.reject(notOpen());
}
