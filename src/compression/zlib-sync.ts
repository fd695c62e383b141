/**
 * zlib on the main thread, on a stream that is kept and reused.
 *
 * A small message costs far more in the thread-pool round trip than in zlib
 * itself: on the benchmark machine an async deflate+inflate of a 2 KiB JSON
 * message takes about 200 µs, `deflateRawSync` + `inflateRawSync` about 40 µs
 * (most of it creating and freeing zlib's state), and the same work on a
 * kept stream about 20 µs. Node's public sync functions cannot reuse a
 * stream (they close it), so this drives the stream's handle the way
 * node's own sync path does (`handle.writeSync` and the stream's write
 * state, unchanged since Node 10). Where those are missing, `canRunSync`
 * says no and callers use the asynchronous path.
 */

import zlib from 'node:zlib';

interface ZlibHandle {
  writeSync(flush: number, input: Buffer, inOffset: number, inLength: number, output: Buffer, outOffset: number, outLength: number): void;
  /** Called by the handle, inside writeSync, when zlib fails (invalid data). */
  onerror?: (message: string, errno: number, code?: string) => void;
}

interface ZlibInternals {
  _handle?: ZlibHandle | null;
  /** [output space left, input left] after the last write. */
  _writeState?: Uint32Array;
  _chunkSize?: number;
}

/** Whether `stream` can be driven synchronously here (node's internals as expected, stream open). */
export function canRunSync(stream: zlib.DeflateRaw | zlib.InflateRaw): boolean {
  const internals = stream as unknown as ZlibInternals;
  return typeof internals._handle?.writeSync === 'function' && internals._writeState instanceof Uint32Array;
}

function ignoreError(): void {}

const kFailure = Symbol('netws.zlibFailure');
type WatchedStream = (zlib.DeflateRaw | zlib.InflateRaw) & { [kFailure]?: Error | null };

/**
 * Makes zlib's failures on `stream` known the moment they happen. Node and
 * Bun destroy the stream inside the handle's onerror; Deno only records the
 * error there and destroys the stream a tick later, and meanwhile a sync
 * flush returns nothing and a flush's callback runs as if all went well: a
 * corrupt message was taken for an empty one. So the handle's onerror is
 * wrapped, once per stream, to note the failure; zlibFailure() reads it.
 */
export function watchFailures(stream: zlib.DeflateRaw | zlib.InflateRaw): void {
  const watched = stream as WatchedStream;
  const handle = (stream as unknown as ZlibInternals)._handle;
  if (watched[kFailure] !== undefined || typeof handle?.onerror !== 'function') return;
  watched[kFailure] = null;
  const original = handle.onerror;
  handle.onerror = function (this: ZlibHandle, message: string, errno: number, code?: string) {
    watched[kFailure] = Object.assign(new Error(message), { errno, code: code ?? 'Z_DATA_ERROR' });
    // The runtime's own handler still runs: it destroys the stream, now or later.
    original.call(this, message, errno, code);
  };
}

/** zlib's error on `stream` (watched by watchFailures), if it failed; null while it has not. */
export function zlibFailure(stream: zlib.DeflateRaw | zlib.InflateRaw): Error | null {
  return stream.errored ?? (stream as WatchedStream)[kFailure] ?? null;
}

const EMPTY = Buffer.alloc(0);

/** What flushSync did: all of it, or as much as the output budget allowed. */
export interface SyncFlush {
  /** The output so far. */
  parts: Buffer[];
  total: number;
  /** Everything was written and flushed. */
  complete: boolean;
  /** When not complete: the input zlib has not taken yet (a flush is still due after it). */
  rest: Buffer[];
  /**
   * The inflated data ended with a final block (BFINAL, RFC 7692 7.2.3.4):
   * zlib takes no more input on this stream, which must not serve another
   * message.
   */
  ended: boolean;
}

/**
 * Writes `inputs` and sync-flushes, synchronously, until zlib is done or
 * its output passes `budget` bytes; then it stops and says what is left,
 * so the thread pool can finish the job on the same stream (the zlib state
 * is consistent between two writes). Throws zlib's error for invalid data
 * (the stream is then destroyed).
 */
export function flushSync(stream: zlib.DeflateRaw | zlib.InflateRaw, inputs: readonly Buffer[], budget: number): SyncFlush {
  const internals = stream as unknown as ZlibInternals;
  const handle = internals._handle!;
  const state = internals._writeState!;
  const chunkSize = internals._chunkSize ?? zlib.constants.Z_DEFAULT_CHUNK;
  watchFailures(stream);
  const parts: Buffer[] = [];
  let total = 0;
  // The first output goes into a buffer all calls share, copied out before returning (ownParts).
  let output = scratchOf(chunkSize);
  let outOffset = 0;
  // Each input goes in without a flush, then one empty sync flush: the order
  // the stream API uses. (A sync flush right after another one, with no new
  // input, makes zlib emit nothing at all, not even the empty block.)
  const steps: Array<[Buffer, number]> = inputs.map((input) => [input, zlib.constants.Z_NO_FLUSH]);
  steps.push([EMPTY, zlib.constants.Z_SYNC_FLUSH]);
  for (let step = 0; step < steps.length; step++) {
    const [input, flush] = steps[step];
    let inOffset = 0;
    let inLeft = input.length;
    for (;;) {
      const outSpace = chunkSize - outOffset;
      handle.writeSync(flush, input, inOffset, inLeft, output, outOffset, outSpace);
      // zlib reports invalid data through the handle's onerror (see watchFailures); the 'error' event comes later.
      if (stream.destroyed || (stream as WatchedStream)[kFailure]) {
        stream.on('error', ignoreError);
        throw zlibFailure(stream) ?? new Error('zlib failed');
      }
      const produced = outSpace - state[0];
      if (produced > 0) {
        total += produced;
        parts.push(output.subarray(outOffset, outOffset + produced));
        outOffset += produced;
      }
      inOffset += inLeft - state[1];
      inLeft = state[1];
      const outputFull = state[0] === 0;
      // Input left and room to write: zlib stopped at the end of the stream (a final block); the rest is ignored, as node's stream API does.
      if (!outputFull && state[1] > 0) return finished(parts, total, chunkSize, true);
      if (outputFull || outOffset >= chunkSize) {
        output = Buffer.allocUnsafe(chunkSize);
        outOffset = 0;
      }
      // zlib stops when the output buffer is full; otherwise this step is done.
      if (!outputFull) break;
      if (total > budget) {
        const rest = [input.subarray(inOffset), ...steps.slice(step + 1, -1).map(([later]) => later)];
        return { parts: ownParts(parts), total, complete: false, rest: rest.filter((buffer) => buffer.length > 0), ended: false };
      }
    }
  }
  return finished(parts, total, chunkSize, false);
}

function finished(parts: Buffer[], total: number, chunkSize: number, ended: boolean): SyncFlush {
  // A small result is copied out: a view would keep the whole chunk-sized buffer alive with it.
  const single = parts.length === 1 && total > chunkSize / 2 && parts[0].buffer !== scratch?.buffer;
  return { parts: single ? parts : [Buffer.concat(parts, total)], total, complete: true, rest: [], ended };
}

/**
 * The output buffer a flushSync starts with: one for all calls (they never
 * overlap, being synchronous), so that a message that deflates or inflates
 * to less than a zlib chunk costs no chunk-sized allocation.
 */
let scratch: Buffer | null = null;

function scratchOf(size: number): Buffer {
  if (scratch === null || scratch.length !== size) scratch = Buffer.allocUnsafeSlow(size);
  return scratch;
}

/** `parts`, with those in the shared scratch buffer copied out (the next call overwrites it). */
function ownParts(parts: Buffer[]): Buffer[] {
  return parts.map((part) => (part.buffer === scratch?.buffer ? Buffer.from(part) : part));
}

/** Whether a zlib stream's data ended (a final block): it cannot take another message. */
export function hasEnded(stream: zlib.DeflateRaw | zlib.InflateRaw): boolean {
  return stream.readableEnded || (stream as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}

/** The output of a complete flushSync as one Buffer. */
export function joined(flush: SyncFlush): Buffer {
  return flush.parts.length === 1 ? flush.parts[0] : Buffer.concat(flush.parts, flush.total);
}
