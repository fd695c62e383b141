/**
 * permessage-deflate's data path over node:zlib (RFC 7692 section 7.2): one
 * MessageCompressor per connection, which deflates and inflates whole
 * messages (or the fragments of one being sent): small ones on the main
 * thread (zlib-sync.ts), the rest on zlib's thread pool within the slots of
 * the connection's pool (pool.ts).
 *
 * zlib streams are created on a connection's first compressed message, not
 * at the handshake, and a side with no context takeover borrows a reset
 * stream from its pool for one message and gives it back.
 */

import zlib from 'node:zlib';
import { CloseCode } from '../protocol/close.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { type BudgetAccount, mayRunSync, runLater, spend } from './budget.ts';
import { discard, type ZlibPool, type ZlibStream } from './pool.ts';
import type { DeflateConfig, DeflateSettings } from './settings.ts';
import { canRunSync, flushSync, hasEnded, joined, type SyncFlush, watchFailures, zlibFailure } from './zlib-sync.ts';
import type { DeflateParams } from '../protocol/permessage-deflate.ts';

/** The end of a sync-flushed deflate block, removed from messages on the wire (7.2.1). */
export const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

type Done = (error: Error | null, result?: Buffer) => void;

/** Main thread or thread pool: see MessageCompressor.compressSync and decompressSync. */
const SYNC_DEFLATE_MAX = 64 * 1024;
const SYNC_INFLATE_INPUT_MAX = 64 * 1024;
const SYNC_INFLATE_OUTPUT_MAX = 1024 * 1024;
/**
 * Past the turn's main-thread zlib time, what waits in line for a later
 * turn's (budget.ts) rather than going to the thread pool: jobs small
 * enough that one started at the end of a turn's time overruns it by a
 * fraction of a millisecond, and whose zlib work is well below the round
 * trip's cost. Larger ones use the thread pool, and with it the other
 * cores: deflating 16 KiB messages over 64 connections with context
 * takeover (a kept 256 KiB zlib state each) went 27% slower in line than
 * on the thread pool.
 */
const LINE_DEFLATE_MAX = 4 * 1024;
const LINE_INFLATE_MAX = 16 * 1024;
/**
 * A message that waited (behind others of its connection, or in line)
 * inflates at most this much on the main thread, the thread pool doing
 * the rest: a peer's stream of small bombs then holds the main thread for
 * a fraction of a millisecond per message (1 MiB each held it 3-5 ms
 * longer per turn in the stall benchmark).
 */
const QUEUED_INFLATE_OUTPUT_MAX = 256 * 1024;

/** The 1009 failure of a message that inflates past its limit (maxPayload, or maxStreamPayload), in ws's words. */
export function tooBig(): ProtocolError {
  return new ProtocolError('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'Max payload size exceeded', CloseCode.MessageTooBig);
}

/** A 1009 or 1007 failure for a message that cannot be inflated; zlib's own code (Z_DATA_ERROR, ...) is kept, as in ws. */
export function inflateError(error: Error): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const code = (error as { code?: string }).code ?? 'WS_ERR_INVALID_COMPRESSED_DATA';
  return new ProtocolError(code, error.message, CloseCode.InvalidPayload);
}

/**
 * Writes `inputs` to `stream`, sync-flushes it and collects the output.
 * Output beyond `limit` bytes fails at once with 1009: the stream is
 * destroyed there, so a small frame that inflates to gigabytes costs at most
 * `limit` bytes, `before` (a message begun on the main thread) included.
 * Returns a function that ends the job early with an error.
 */
function runStream(
  stream: ZlibStream,
  inputs: Buffer[],
  limit: number,
  done: Done,
  before: SyncFlush | null = null,
): (error: Error) => void {
  // The part inflated on the main thread is joined with the rest in one copy.
  const chunks: Buffer[] = before === null ? [] : [...before.parts];
  let total = before?.total ?? 0;
  let finished = false;
  const finish = (error: Error | null): void => {
    if (finished) return;
    finished = true;
    stream.removeListener('data', onData);
    stream.removeListener('error', finish);
    if (error !== null) {
      done(error);
      return;
    }
    done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
  };
  const onData = (chunk: Buffer): void => {
    total += chunk.length;
    if (total > limit) {
      chunks.length = 0;
      finish(tooBig());
      return;
    }
    chunks.push(chunk);
  };
  stream.on('data', onData);
  stream.on('error', finish);
  for (const input of inputs) stream.write(input);
  // A failure Deno reports before its 'error' event (see watchFailures) is not taken for the end.
  stream.flush(zlib.constants.Z_SYNC_FLUSH, () => finish(zlibFailure(stream)));
  return finish;
}

/** Options of one stream as a pool key: streams are shared only between identical settings. */
function streamKey(kind: string, windowBits: number, options: zlib.ZlibOptions): string {
  return `${kind}:${windowBits}:${JSON.stringify(options)}`;
}

export class MessageCompressor implements BudgetAccount {
  private readonly params: DeflateParams;
  private readonly config: DeflateConfig;
  private readonly pool: ZlibPool;
  private readonly maxPayload: number;
  private readonly deflateKey: string;
  private readonly inflateKey: string;
  /** Our compressor: kept for the connection's life with context takeover, else for one message. */
  private deflater: zlib.DeflateRaw | null = null;
  private inflater: zlib.InflateRaw | null = null;
  /** End the running job of each stream, if any. */
  private abortDeflate: ((error: Error) => void) | null = null;
  private abortInflate: ((error: Error) => void) | null = null;
  private closed = false;
  /** Jobs handed to compress()/decompress() and not finished: the sync paths wait for them to drain. */
  private deflates = 0;
  private inflates = 0;
  /** A message is being deflated in fragments: its context is the stream's until the last one. */
  private fragmentOpen = false;
  /** This connection's share of the main thread's zlib time in the current turn (budget.ts). */
  budgetTurn = 0;
  spentMs = 0;
  /** A message decompressSync() began and decompress() is to finish. */
  private begun: { data: Buffer; flush: SyncFlush } | null = null;

  constructor(settings: DeflateSettings, maxPayload: number) {
    this.params = settings.params;
    this.config = settings.config;
    this.pool = settings.config.pool;
    this.maxPayload = maxPayload;
    this.deflateKey = streamKey('deflate', zlibWindowBits(this.params.sendWindowBits), this.config.deflateOptions);
    this.inflateKey = streamKey('inflate', zlibWindowBits(this.params.receiveWindowBits), this.config.inflateOptions);
  }

  /**
   * The settings under which this connection's compressed messages are the
   * same bytes as another's: with no context takeover on our side, a
   * message deflates to the same payload for every connection sharing the
   * key (a broadcast deflates it once per key). Null with context takeover.
   */
  get sharedKey(): string | null {
    return this.params.sendNoContextTakeover ? this.deflateKey : null;
  }

  /** Whether a message of `length` bytes is worth compressing (the first fragment decides for a message). */
  shouldCompress(length: number): boolean {
    return !this.params.sendNoContextTakeover || length >= this.config.threshold;
  }

  /**
   * Deflates one message, or one fragment of a message when `fin` is false
   * (the stream then stays with this connection until the last fragment).
   * A whole message small enough for the main thread is deflated there,
   * now if the turn's zlib time allows it (`done` is then called before
   * this returns), else when a later turn's does (budget.ts); the rest go
   * to the thread pool.
   */
  compress(data: Buffer, fin: boolean, done: Done): void {
    this.fragmentOpen = !fin;
    this.deflates++;
    const finished: Done = (error, output) => {
      this.deflates--;
      done(error, output);
    };
    if (fin && data.length <= SYNC_DEFLATE_MAX && mayRunSync(this)) this.deflateQueued(data, finished);
    else if (fin && data.length <= LINE_DEFLATE_MAX) runLater(this, () => this.deflateQueued(data, finished));
    else this.deflateOnPool(data, fin, finished);
  }

  /** Deflates a whole queued message on the main thread (now, or from the line); else on the thread pool. */
  private deflateQueued(data: Buffer, finished: Done): void {
    if (this.closed) {
      finished(closedError());
      return;
    }
    const stream = this.deflater ?? (this.deflater = this.takeDeflater());
    const output = canRunSync(stream) ? this.deflateHere(stream, data, this) : null;
    if (output !== null) finished(null, output);
    else this.deflateOnPool(data, true, finished);
  }

  private deflateOnPool(data: Buffer, fin: boolean, finished: Done): void {
    this.inSlot(finished, () => {
      const stream = this.deflater ?? (this.deflater = this.takeDeflater());
      this.abortDeflate = runStream(stream, [data], Infinity, (error, output) => {
        this.abortDeflate = null;
        this.pool.release();
        if (error !== null) {
          this.dropDeflater();
          finished(error);
          return;
        }
        let payload = output!;
        if (fin) {
          // 7.2.1: the sync flush's empty block is implied on the wire.
          payload = payload.subarray(0, payload.length - TRAILER.length);
          if (this.params.sendNoContextTakeover) this.returnDeflater();
        }
        finished(null, payload);
      });
    });
  }

  /**
   * Inflates one complete message; errors are ProtocolErrors with 1007 or
   * 1009. A message small enough for the main thread is inflated there,
   * now if the turn's zlib time allows it (`done` is then called before
   * this returns), else when a later turn's does (budget.ts); the rest, and
   * what inflates past 256 KiB there, go to the thread pool.
   */
  decompress(data: Buffer, done: Done): void {
    // A message decompressSync() began continues where it stopped, on the same stream.
    const begun = this.begun !== null && this.begun.data === data ? this.begun.flush : null;
    this.begun = null;
    if (begun === null) this.inflates++;
    const finished: Done = (error, output) => {
      this.inflates--;
      done(error, output);
    };
    if (begun !== null) this.inflateOnPool(data, begun, finished);
    else if (data.length <= SYNC_INFLATE_INPUT_MAX && mayRunSync(this)) this.inflateQueued(data, finished);
    else if (data.length <= LINE_INFLATE_MAX) runLater(this, () => this.inflateQueued(data, finished));
    else this.inflateOnPool(data, null, finished);
  }

  /** Inflates a queued message on the main thread (now, or from the line); the thread pool finishes one past 256 KiB. */
  private inflateQueued(data: Buffer, finished: Done): void {
    if (this.closed) {
      finished(closedError());
      return;
    }
    const stream = this.inflater ?? (this.inflater = this.takeInflater());
    if (!canRunSync(stream)) {
      this.inflateOnPool(data, null, finished);
      return;
    }
    let flush: SyncFlush;
    try {
      flush = this.inflateHere(stream, data, QUEUED_INFLATE_OUTPUT_MAX);
    } catch (error) {
      finished(error as Error);
      return;
    }
    if (flush.complete) finished(null, joined(flush));
    else this.inflateOnPool(data, flush, finished);
  }

  private inflateOnPool(data: Buffer, begun: SyncFlush | null, finished: Done): void {
    this.inSlot(finished, () => {
      const stream = this.inflater ?? (this.inflater = this.takeInflater());
      const inputs = begun === null ? [data, TRAILER] : begun.rest;
      this.abortInflate = runStream(
        stream,
        inputs,
        this.maxPayload,
        (error, output) => {
          this.abortInflate = null;
          this.pool.release();
          if (error !== null) {
            this.dropInflater();
            finished(error instanceof ProtocolError && begun !== null ? tooBig() : inflateError(error));
            return;
          }
          // A message that ended in a final block ended the stream too: the next message gets a fresh one.
          if (hasEnded(stream)) this.dropInflater();
          else if (this.params.receiveNoContextTakeover) this.returnInflater();
          finished(null, output);
        },
        begun,
      );
    });
  }

  /**
   * Deflates a whole message on the main thread when that is cheaper than
   * the thread pool (at most 64 KiB, no job of this connection queued or
   * running) and the turn's main-thread zlib time allows it (budget.ts);
   * null when not, and the caller uses compress(). See zlib-sync.ts.
   * `shared`: a broadcast's frame, deflated once for many connections,
   * which the budget does not turn away (it would cost one thread-pool job
   * per connection instead), but counts against the turn only: charged to
   * the connection that happens to deflate it, a broadcast in every turn
   * would keep that connection over its share, and its own messages in line,
   * turn after turn.
   */
  compressSync(data: Buffer, shared = false): Buffer | null {
    if (this.closed || this.deflates > 0 || this.fragmentOpen || data.length > SYNC_DEFLATE_MAX) return null;
    if (!shared && !mayRunSync(this)) return null;
    const stream = this.deflater ?? (this.deflater = this.takeDeflater());
    return canRunSync(stream) ? this.deflateHere(stream, data, shared ? null : this) : null;
  }

  /**
   * Deflates a whole message on the main thread, its time counted against
   * the turn and `account` (null: the turn only); null if zlib failed (the
   * thread pool gets its turn).
   */
  private deflateHere(stream: zlib.DeflateRaw, data: Buffer, account: BudgetAccount | null): Buffer | null {
    let output: Buffer;
    const start = performance.now();
    try {
      output = joined(flushSync(stream, [data], Infinity));
    } catch {
      // Deflating our own bytes does not fail; if zlib does, the thread pool gets its turn.
      this.dropDeflater();
      return null;
    } finally {
      spend(account, performance.now() - start);
    }
    if (this.params.sendNoContextTakeover) this.returnDeflater();
    // 7.2.1: the sync flush's empty block is implied on the wire.
    return output.subarray(0, output.length - TRAILER.length);
  }

  /**
   * Inflates a message on the main thread, for at most 64 KiB of input and
   * 1 MiB of output (a millisecond or two of zlib), within the turn's
   * main-thread zlib time (budget.ts). Returns the message, or null: not
   * taken (too large, a job of this connection queued, no time left), or begun
   * here and to be finished by decompress() with the same `data`, on the
   * thread pool, from where it stopped. Throws the ProtocolError (1007,
   * 1009) of a bad message.
   */
  decompressSync(data: Buffer): Buffer | null {
    if (this.closed || this.inflates > 0 || data.length > SYNC_INFLATE_INPUT_MAX || !mayRunSync(this)) return null;
    const stream = this.inflater ?? (this.inflater = this.takeInflater());
    if (!canRunSync(stream)) return null;
    const flush = this.inflateHere(stream, data, SYNC_INFLATE_OUTPUT_MAX);
    if (flush.complete) return joined(flush);
    this.begun = { data, flush };
    this.inflates++;
    return null;
  }

  /**
   * Inflates a message on the main thread, up to `outputMax` bytes of
   * output: the flush, complete or stopped there (the thread pool finishes
   * it on the same stream). Throws the ProtocolError (1007, 1009) of a bad message.
   */
  private inflateHere(stream: zlib.InflateRaw, data: Buffer, outputMax: number): SyncFlush {
    let flush: SyncFlush;
    const start = performance.now();
    try {
      // No more than one byte past maxPayload: a small limit is enforced before 1 MiB is inflated.
      flush = flushSync(stream, [data, TRAILER], Math.min(outputMax, this.maxPayload + 1));
    } catch (error) {
      this.dropInflater();
      throw inflateError(error as Error);
    } finally {
      spend(this, performance.now() - start);
    }
    if (flush.total > this.maxPayload) {
      this.dropInflater();
      throw tooBig();
    }
    if (flush.complete) {
      if (flush.ended) this.dropInflater();
      else if (this.params.receiveNoContextTakeover) this.returnInflater();
    }
    return flush;
  }

  /**
   * Whether a received message can be inflated as a stream of its own: only
   * without context takeover on our receiving side, where each message
   * starts from a fresh inflater (with takeover, messages share one zlib
   * context in order, so they are inflated whole).
   */
  get canInflateStreams(): boolean {
    return this.params.receiveNoContextTakeover && !this.closed;
  }

  /**
   * An inflater for one streamed message, from the pool; it is paced by the
   * message's reader (zlib's own backpressure), not by the job slots, which
   * a slow reader would otherwise hold for as long as it reads.
   */
  takeStreamInflater(): zlib.InflateRaw {
    return this.takeInflater();
  }

  /**
   * A streamed message's inflater, done: freed, not pooled (its reader may
   * have left it paused, which a pooled job would inherit).
   */
  releaseStreamInflater(stream: zlib.InflateRaw): void {
    discard(stream);
  }

  /** Runs `job` once a slot is free, unless the connection closed while it waited. */
  private inSlot(done: Done, job: () => void): void {
    this.pool.run(() => {
      if (this.closed) {
        this.pool.release();
        done(closedError());
        return;
      }
      job();
    });
  }

  /** Frees the zlib streams; running and later jobs fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.begun = null;
    this.abortDeflate?.(closedError());
    this.abortInflate?.(closedError());
    this.dropDeflater();
    this.dropInflater();
  }

  private takeDeflater(): zlib.DeflateRaw {
    const pooled = this.params.sendNoContextTakeover ? this.pool.take(this.deflateKey) : undefined;
    if (pooled !== undefined) return pooled as zlib.DeflateRaw;
    const stream = zlib.createDeflateRaw({ ...this.config.deflateOptions, windowBits: zlibWindowBits(this.params.sendWindowBits) });
    watchFailures(stream);
    return stream;
  }

  private takeInflater(): zlib.InflateRaw {
    const pooled = this.params.receiveNoContextTakeover ? this.pool.take(this.inflateKey) : undefined;
    if (pooled !== undefined) return pooled as zlib.InflateRaw;
    const stream = zlib.createInflateRaw({ ...this.config.inflateOptions, windowBits: zlibWindowBits(this.params.receiveWindowBits) });
    watchFailures(stream);
    return stream;
  }

  private returnDeflater(): void {
    this.pool.giveBack(this.deflateKey, this.deflater!);
    this.deflater = null;
  }

  private returnInflater(): void {
    this.pool.giveBack(this.inflateKey, this.inflater!);
    this.inflater = null;
  }

  private dropDeflater(): void {
    if (this.deflater !== null) discard(this.deflater);
    this.deflater = null;
  }

  private dropInflater(): void {
    if (this.inflater !== null) discard(this.inflater);
    this.inflater = null;
  }
}

function closedError(): Error {
  return new Error('The connection is closed');
}

/**
 * The window zlib is given for a negotiated size. zlib cannot deflate raw
 * data with an 8-bit window; its 9-bit window is safe instead, since zlib
 * never looks further back than the window size minus 262 bytes (250 here),
 * inside a peer's 256-byte window. For inflating, a window larger than the
 * peer's always reads its data correctly.
 */
function zlibWindowBits(bits: number): number {
  return Math.max(bits, 9);
}
