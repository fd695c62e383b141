/**
 * permessage-deflate's data path over node:zlib (RFC 7692 section 7.2): one
 * MessageCompressor per connection, which deflates and inflates whole
 * messages (or the fragments of one being sent) on zlib's thread pool.
 *
 * Memory stays bounded three ways. zlib streams are created on a
 * connection's first compressed message, not at the handshake. A side with
 * no context takeover borrows a stream from a process-wide idle pool for one
 * message and gives it back reset, so thousands of such connections share a
 * handful of streams. And a process-wide limit on running jobs keeps the
 * number of zlib buffers in use at once small, while each connection waits
 * only for a free slot, never for another connection's whole queue.
 */

import zlib from 'node:zlib';
import { CloseCode } from './protocol/close.ts';
import { ProtocolError } from './protocol/errors.ts';
import { checkDeflateOptions, type DeflateParams, type PerMessageDeflateOptions } from './protocol/permessage-deflate.ts';

/** The end of a sync-flushed deflate block, removed from messages on the wire (7.2.1). */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export const DEFAULT_THRESHOLD = 1024;
export const DEFAULT_LEVEL = 6;
export const DEFAULT_MEM_LEVEL = 8;
export const DEFAULT_CONCURRENCY = 10;

type ZlibStream = zlib.DeflateRaw | zlib.InflateRaw;
type Done = (error: Error | null, result?: Buffer) => void;

/** Runs at most `limit` zlib jobs at once across the process, first come first served. */
class JobSlots {
  limit = DEFAULT_CONCURRENCY;
  running = 0;
  private readonly waiting: Array<() => void> = [];

  run(job: () => void): void {
    if (this.running < this.limit) {
      this.running++;
      job();
    } else {
      this.waiting.push(job);
    }
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.running--;
    else next();
  }
}

const slots = new JobSlots();

/** Sets the process-wide number of zlib jobs that may run at once. */
export function setZlibConcurrency(limit: number): void {
  slots.limit = limit;
}

/** zlib jobs running and waiting for a slot, process-wide (for tests and monitoring). */
export function zlibJobs(): { running: number; waiting: number } {
  return { running: slots.running, waiting: slots.waitingCount };
}

/** Reset streams of connections without context takeover, by kind and settings. */
const idleStreams = new Map<string, ZlibStream[]>();

function ignoreError(): void {}

function discard(stream: ZlibStream): void {
  stream.removeAllListeners();
  // A write still queued inside the destroyed stream reports its error here, not as a crash.
  stream.on('error', ignoreError);
  stream.destroy();
}

function giveBack(key: string, stream: ZlibStream): void {
  let pool = idleStreams.get(key);
  if (pool === undefined) idleStreams.set(key, (pool = []));
  if (pool.length >= slots.limit) {
    discard(stream);
    return;
  }
  stream.reset();
  pool.push(stream);
}

/** A 1009 or 1007 failure for a message that cannot be inflated. */
function inflateError(error: Error): ProtocolError {
  if (error instanceof ProtocolError) return error;
  return new ProtocolError(
    'WS_ERR_INVALID_COMPRESSED_DATA',
    `Invalid compressed message: ${error.message}`,
    CloseCode.InvalidPayload,
  );
}

/**
 * Writes `inputs` to `stream`, sync-flushes it and collects the output.
 * Output beyond `limit` bytes fails at once with 1009: the stream is
 * destroyed there, so a small frame that inflates to gigabytes costs at most
 * `limit` bytes. Returns a function that ends the job early with an error.
 */
function runStream(stream: ZlibStream, inputs: Buffer[], limit: number, done: Done): (error: Error) => void {
  const chunks: Buffer[] = [];
  let total = 0;
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
      finish(
        new ProtocolError(
          'WS_ERR_PAYLOAD_TOO_BIG',
          `Inflated message larger than maxPayload (${limit} bytes)`,
          CloseCode.MessageTooBig,
        ),
      );
      return;
    }
    chunks.push(chunk);
  };
  stream.on('data', onData);
  stream.on('error', finish);
  for (const input of inputs) stream.write(input);
  stream.flush(zlib.constants.Z_SYNC_FLUSH, () => finish(null));
  return finish;
}

/** permessage-deflate as negotiated for one connection. */
export interface DeflateSettings {
  params: DeflateParams;
  /** Messages smaller than this are sent uncompressed. */
  threshold: number;
  level: number;
  memLevel: number;
}

export interface CompressorOptions extends DeflateSettings {
  /** Largest inflated message, in bytes. */
  maxPayload: number;
}

export class MessageCompressor {
  private readonly options: CompressorOptions;
  private readonly deflateKey: string;
  private readonly inflateKey: string;
  /** Our compressor: kept for the connection's life with context takeover, else for one message. */
  private deflater: zlib.DeflateRaw | null = null;
  private inflater: zlib.InflateRaw | null = null;
  /** End the running job of each stream, if any. */
  private abortDeflate: ((error: Error) => void) | null = null;
  private abortInflate: ((error: Error) => void) | null = null;
  private closed = false;

  constructor(options: CompressorOptions) {
    this.options = options;
    const { params, level, memLevel } = options;
    this.deflateKey = `deflate:${zlibWindowBits(params.sendWindowBits)}:${level}:${memLevel}`;
    this.inflateKey = `inflate:${zlibWindowBits(params.receiveWindowBits)}`;
  }

  /**
   * Deflates one message, or one fragment of a message when `fin` is false
   * (the stream then stays with this connection until the last fragment).
   */
  compress(data: Buffer, fin: boolean, done: Done): void {
    this.inSlot(done, () => {
      const stream = this.deflater ?? (this.deflater = this.takeDeflater());
      this.abortDeflate = runStream(stream, [data], Infinity, (error, output) => {
        this.abortDeflate = null;
        slots.release();
        if (error !== null) {
          this.dropDeflater();
          done(error);
          return;
        }
        let payload = output!;
        if (fin) {
          // 7.2.1: the sync flush's empty block is implied on the wire.
          payload = payload.subarray(0, payload.length - TRAILER.length);
          if (this.options.params.sendNoContextTakeover) this.returnDeflater();
        }
        done(null, payload);
      });
    });
  }

  /** Inflates one complete message; errors are ProtocolErrors with 1007 or 1009. */
  decompress(data: Buffer, done: Done): void {
    this.inSlot(done, () => {
      const stream = this.inflater ?? (this.inflater = this.takeInflater());
      this.abortInflate = runStream(stream, [data, TRAILER], this.options.maxPayload, (error, output) => {
        this.abortInflate = null;
        slots.release();
        if (error !== null) {
          this.dropInflater();
          done(inflateError(error));
          return;
        }
        if (this.options.params.receiveNoContextTakeover) this.returnInflater();
        done(null, output);
      });
    });
  }

  /** Runs `job` once a slot is free, unless the connection closed while it waited. */
  private inSlot(done: Done, job: () => void): void {
    slots.run(() => {
      if (this.closed) {
        slots.release();
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
    this.abortDeflate?.(closedError());
    this.abortInflate?.(closedError());
    this.dropDeflater();
    this.dropInflater();
  }

  private takeDeflater(): zlib.DeflateRaw {
    const pooled = this.options.params.sendNoContextTakeover ? idleStreams.get(this.deflateKey)?.pop() : undefined;
    if (pooled !== undefined) return pooled as zlib.DeflateRaw;
    return zlib.createDeflateRaw({
      windowBits: zlibWindowBits(this.options.params.sendWindowBits),
      level: this.options.level,
      memLevel: this.options.memLevel,
    });
  }

  private takeInflater(): zlib.InflateRaw {
    const pooled = this.options.params.receiveNoContextTakeover ? idleStreams.get(this.inflateKey)?.pop() : undefined;
    if (pooled !== undefined) return pooled as zlib.InflateRaw;
    return zlib.createInflateRaw({ windowBits: zlibWindowBits(this.options.params.receiveWindowBits) });
  }

  private returnDeflater(): void {
    giveBack(this.deflateKey, this.deflater!);
    this.deflater = null;
  }

  private returnInflater(): void {
    giveBack(this.inflateKey, this.inflater!);
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

/**
 * The `perMessageDeflate` option of a server or client, checked: null when
 * off, else the options (`true` means all defaults). Applies `concurrency`,
 * which is process-wide.
 */
export function resolveDeflateOption(
  option: boolean | PerMessageDeflateOptions | undefined,
  enabledByDefault: boolean,
): PerMessageDeflateOptions | null {
  const value = option ?? enabledByDefault;
  if (value === false) return null;
  const options = value === true ? {} : value;
  checkDeflateOptions(options);
  if (options.concurrency !== undefined) setZlibConcurrency(options.concurrency);
  return options;
}

/** What a connection needs once `params` were negotiated under `options`. */
export function deflateSettings(params: DeflateParams, options: PerMessageDeflateOptions): DeflateSettings {
  return {
    params,
    threshold: options.threshold ?? DEFAULT_THRESHOLD,
    level: options.level ?? DEFAULT_LEVEL,
    memLevel: options.memLevel ?? DEFAULT_MEM_LEVEL,
  };
}
