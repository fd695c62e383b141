/**
 * The coverage-guided loop (libFuzzer's design, on the counters of
 * hooks.mjs): run an input, read which edges it reached and how often
 * (hit counts in AFL's buckets 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+),
 * keep it in the corpus when it reached something new, and mutate corpus
 * entries (structure-aware and byte-level, stacked) into the next inputs.
 *
 * Findings: an exception out of the target (an InvariantError or anything
 * else), an uncaught exception or rejection while it ran, a run that takes
 * longer than `timeoutSeconds` (a watchdog thread saves the input and kills
 * the process: a synchronous loop cannot be interrupted otherwise), or a
 * resident set over `rssLimitMb`. Each finding is saved, minimized, and
 * printed with the command that replays it.
 */

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Random } from '../random.ts';
import { mutateBytes } from './mutate-bytes.ts';
import type { InstrumentedFile } from './register.ts';
import type { FuzzTarget } from './target.ts';

const globals = globalThis as unknown as { __netwsFz?: Uint32Array; __netwsFzFiles?: InstrumentedFile[] };

export interface EngineOptions {
  /** Stop after this many seconds of fuzzing (loading the corpus not counted). */
  seconds: number;
  /** Or after this many runs. */
  maxRuns: number;
  /** Corpus directories read at the start; new entries are written to `outputCorpus`. */
  corpusDirs: string[];
  outputCorpus: string | null;
  findingsDir: string;
  seed: number;
  timeoutSeconds: number;
  rssLimitMb: number;
  /** Replace `mergeInto`'s files by the smallest set of corpus entries with the same coverage. */
  mergeInto: string | null;
  log: (line: string) => void;
}

export interface Finding {
  kind: string;
  message: string;
  file: string;
  minimized: string;
  length: number;
}

export interface EngineResult {
  target: string;
  runs: number;
  seconds: number;
  corpus: number;
  corpusBytes: number;
  /** Edges (counters) reached in all of src/, and in the target's own files. */
  edgesAll: number;
  edgesTarget: number;
  edgesTargetTotal: number;
  features: number;
  slowestMs: number;
  slowestInput: string;
  findings: Finding[];
  perFile: Array<{ file: string; reached: number; total: number }>;
}

interface Entry {
  data: Buffer;
  /** Features it reached when added (for the merge). */
  features: number;
}

const BUCKET = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  BUCKET[i] = i === 0 ? 0 : i === 1 ? 1 : i === 2 ? 2 : i === 3 ? 4 : i < 8 ? 8 : i < 16 ? 16 : i < 32 ? 32 : i < 128 ? 64 : 128;
}

function bucketOf(count: number): number {
  return count > 255 ? 128 : BUCKET[count];
}

const sha1 = (data: Buffer): string => createHash('sha1').update(data).digest('hex');

/** First line of an error, digits removed: two failures with this in common are the same bug. */
function signature(error: unknown): string {
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return `${name}: ${message.split('\n')[0].replace(/\d+/g, 'N').slice(0, 80)}`;
}

/**
 * Watches the main thread: when one run lasts longer than the timeout, the
 * input (copied into shared memory before each run) is written to the
 * findings directory and the process is killed.
 */
function startWatchdog(
  maxLength: number,
  timeoutSeconds: number,
  file: string,
): { state: Int32Array; input: Uint8Array; stop: () => void } {
  const shared = new SharedArrayBuffer(12 + maxLength);
  const state = new Int32Array(shared, 0, 3); // [runs, running, length]
  const input = new Uint8Array(shared, 12, maxLength);
  const code = `
    const { workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const state = new Int32Array(workerData.shared, 0, 3);
    const input = new Uint8Array(workerData.shared, 12);
    let lastRuns = -1, since = Date.now();
    setInterval(() => {
      const runs = Atomics.load(state, 0);
      if (runs !== lastRuns || Atomics.load(state, 1) === 0) { lastRuns = runs; since = Date.now(); return; }
      if (Date.now() - since < workerData.timeoutMs) return;
      const data = Buffer.from(input.subarray(0, Atomics.load(state, 2)));
      fs.writeFileSync(workerData.file, data);
      fs.writeSync(2, '\\nTIMEOUT: one run took more than ' + workerData.timeoutMs + ' ms; input saved to ' + workerData.file + ' (' + data.length + ' bytes)\\n');
      process.kill(process.pid, 'SIGKILL');
    }, 250);
  `;
  const worker = new Worker(code, { eval: true, workerData: { shared, timeoutMs: timeoutSeconds * 1000, file } });
  worker.unref();
  return { state, input, stop: () => void worker.terminate() };
}

export async function fuzz(target: FuzzTarget, options: EngineOptions): Promise<EngineResult> {
  const maybeCounters = globals.__netwsFz;
  if (maybeCounters === undefined) throw new Error('Not instrumented: run with --import ./spec/fuzz/guided/register.ts after tsx');
  const counters: Uint32Array = maybeCounters;
  const log = options.log;
  const random = new Random(options.seed);
  const dictionary = target.dictionary;
  mkdirSync(options.findingsDir, { recursive: true });
  if (options.outputCorpus !== null) mkdirSync(options.outputCorpus, { recursive: true });

  /** Buckets of hit counts seen so far, per counter. */
  const virgin = new Uint8Array(counters.length);
  let features = 0;
  let used = counters.length;
  const findings: Finding[] = [];
  const seenSignatures = new Set<string>();
  const corpus: Entry[] = [];
  const hashes = new Set<string>();
  let slowestMs = 0;
  let slowestInput = '';

  const watchdog = startWatchdog(target.maxLength, options.timeoutSeconds, path.join(options.findingsDir, `timeout-${target.name}`));
  let current: Buffer = Buffer.alloc(0);
  let asyncError: unknown = null;
  const onAsyncError = (error: unknown): void => {
    asyncError ??= error;
  };
  process.on('uncaughtException', onAsyncError);
  process.on('unhandledRejection', onAsyncError);

  /** Runs one input; returns the error it ended with, or null. Counters hold its coverage. */
  async function execute(data: Buffer): Promise<unknown> {
    counters.fill(0, 0, used);
    current = data;
    watchdog.input.set(data.subarray(0, target.maxLength));
    Atomics.store(watchdog.state, 2, Math.min(data.length, target.maxLength));
    Atomics.store(watchdog.state, 1, 1);
    const began = performance.now();
    let error: unknown = null;
    try {
      const pending = target.run(data);
      if (pending instanceof Promise) await pending;
    } catch (caught) {
      error = caught;
    }
    // Errors zlib or a timer raise after the run's own promise settled still belong to this input.
    if (asyncError !== null && error === null) error = asyncError;
    asyncError = null;
    const ms = performance.now() - began;
    if (ms > slowestMs) {
      slowestMs = ms;
      slowestInput = sha1(data);
      writeFileSync(path.join(options.findingsDir, `slowest-${target.name}`), data);
    }
    Atomics.store(watchdog.state, 1, 0);
    Atomics.add(watchdog.state, 0, 1);
    return error;
  }

  /** Merges the counters into the global map; returns how many new features they hold. */
  function collect(): number {
    let fresh = 0;
    for (let i = 1; i < used; i++) {
      const count = counters[i];
      if (count === 0) continue;
      const bucket = bucketOf(count);
      if ((virgin[i] & bucket) === 0) {
        virgin[i] |= bucket;
        fresh++;
      }
    }
    features += fresh;
    return fresh;
  }

  function add(data: Buffer, fresh: number, save: boolean): void {
    const hash = sha1(data);
    if (hashes.has(hash)) return;
    hashes.add(hash);
    corpus.push({ data, features: fresh });
    if (save && options.outputCorpus !== null) writeFileSync(path.join(options.outputCorpus, hash), data);
  }

  async function minimize(data: Buffer, wanted: string): Promise<Buffer> {
    let best = data;
    const deadline = performance.now() + 30_000;
    for (let span = Math.max(1, best.length >> 1); span >= 1 && performance.now() < deadline; span >>= 1) {
      for (let at = 0; at < best.length && performance.now() < deadline; ) {
        const candidate = Buffer.concat([best.subarray(0, at), best.subarray(at + span)]);
        const error = await execute(candidate);
        if (error !== null && signature(error) === wanted) best = candidate;
        else at += span;
      }
    }
    return best;
  }

  /** Records a finding (once per signature); false when the run must stop. */
  async function report(kind: string, data: Buffer, error: unknown): Promise<void> {
    const wanted = signature(error);
    if (seenSignatures.has(wanted)) return;
    seenSignatures.add(wanted);
    const hash = sha1(data);
    const file = path.join(options.findingsDir, `${kind}-${target.name}-${hash}`);
    writeFileSync(file, data);
    log(`\n${target.name}: FOUND ${kind}: ${wanted}`);
    if (error instanceof Error && error.stack) log(error.stack.split('\n').slice(0, 8).join('\n'));
    const minimized = await minimize(data, wanted);
    const minimizedFile = `${file}.min`;
    writeFileSync(minimizedFile, minimized);
    log(`${target.name}: input ${file} (${data.length} bytes), minimized to ${minimized.length} bytes: ${minimizedFile}`);
    log(`${target.name}: minimized input (hex): ${minimized.toString('hex').slice(0, 600)}`);
    log(`${target.name}: replay with: npm run fuzz:coverage -- --target ${target.name} --replay ${minimizedFile}`);
    findings.push({ kind, message: wanted, file, minimized: minimizedFile, length: minimized.length });
  }

  // The instrumented files are known once the target's modules loaded (they are, by now).
  const files = globals.__netwsFzFiles ?? [];
  used = Math.max(1, ...files.map((f) => f.end));

  // Load: seeds and corpus files, smallest first, each kept if it reaches something new.
  const initial: Array<{ data: Buffer; fromDisk: boolean }> = target.seeds().map((data) => ({ data, fromDisk: false }));
  for (const dir of options.corpusDirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) initial.push({ data: readFileSync(path.join(dir, name)), fromDisk: true });
  }
  initial.sort((a, b) => a.data.length - b.data.length);
  for (const { data, fromDisk } of initial) {
    const input = data.subarray(0, target.maxLength);
    const error = await execute(input);
    if (error !== null) {
      await report('crash', input, error);
      continue;
    }
    const fresh = collect();
    if (fresh > 0 || corpus.length === 0) add(input, fresh, !fromDisk);
  }
  log(`${target.name}: loaded ${initial.length} inputs, ${corpus.length} kept; ${features} features`);

  const began = performance.now();
  const deadline = began + options.seconds * 1000;
  let runs = 0;
  let lastLog = began;
  let lastRssCheck = began;
  const recent: Entry[] = [];
  while (runs < options.maxRuns && findings.length === 0) {
    const now = performance.now();
    if (now >= deadline) break;
    if (now - lastRssCheck > 1000) {
      lastRssCheck = now;
      const rssMb = process.memoryUsage.rss() / 1048576;
      if (rssMb > options.rssLimitMb) {
        await report('oom', current, new Error(`resident set ${rssMb.toFixed(0)} MiB over ${options.rssLimitMb} MiB`));
        break;
      }
    }
    if (now - lastLog > 10_000) {
      lastLog = now;
      log(status(target.name, runs, (now - began) / 1000, corpus, features, reachedIn(virgin, 1, used)));
    }
    const parent = recent.length > 0 && random.chance(0.25) ? random.pick(recent) : random.pick(corpus);
    let child = parent.data;
    const stack = random.chance(0.8) ? random.between(1, 4) : random.between(5, 12);
    for (let i = 0; i < stack; i++) {
      const other = random.pick(corpus).data;
      const structured = target.mutate !== undefined && random.chance(0.5) ? target.mutate(random, child, other) : null;
      child = structured ?? mutateBytes(random, child, other, dictionary);
    }
    if (child.length > target.maxLength) child = child.subarray(0, target.maxLength);
    runs++;
    const error = await execute(child);
    if (error !== null) {
      await report('crash', child, error);
      break;
    }
    const fresh = collect();
    if (fresh > 0) {
      add(child, fresh, true);
      const entry = corpus[corpus.length - 1];
      recent.push(entry);
      if (recent.length > 32) recent.shift();
    }
  }
  const seconds = (performance.now() - began) / 1000;
  log(status(target.name, runs, seconds, corpus, features, reachedIn(virgin, 1, used)));
  watchdog.stop();

  if (options.mergeInto !== null && findings.length === 0) await merge(options.mergeInto);

  process.removeListener('uncaughtException', onAsyncError);
  process.removeListener('unhandledRejection', onAsyncError);

  const targetFiles = files.filter((f) => target.files.includes(f.file));
  const perFile = targetFiles.map((f) => ({ file: f.file, reached: reachedIn(virgin, f.first, f.end), total: f.end - f.first }));
  writeUnreached(path.join(options.findingsDir, `unreached-${target.name}.txt`), targetFiles, virgin);
  return {
    target: target.name,
    runs,
    seconds,
    corpus: corpus.length,
    corpusBytes: corpus.reduce((sum, e) => sum + e.data.length, 0),
    edgesAll: reachedIn(virgin, 1, used),
    edgesTarget: perFile.reduce((sum, f) => sum + f.reached, 0),
    edgesTargetTotal: perFile.reduce((sum, f) => sum + f.total, 0),
    features,
    slowestMs,
    slowestInput,
    findings,
    perFile,
  };

  /**
   * The smallest inputs that keep every feature (greedy set cover, smallest
   * first, as libFuzzer's -merge=1), written to `dir` in place of its files.
   */
  async function merge(dir: string): Promise<void> {
    const seen = new Uint8Array(counters.length);
    const kept: Buffer[] = [];
    const entries = [...corpus].sort((a, b) => a.data.length - b.data.length);
    for (const { data } of entries) {
      if ((await execute(data)) !== null) continue;
      let fresh = false;
      for (let i = 1; i < used; i++) {
        const bucket = bucketOf(counters[i]);
        if (bucket !== 0 && (seen[i] & bucket) === 0) {
          seen[i] |= bucket;
          fresh = true;
        }
      }
      if (fresh) kept.push(data);
    }
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) rmSync(path.join(dir, name));
    for (const data of kept) writeFileSync(path.join(dir, sha1(data).slice(0, 16)), data);
    log(`${target.name}: merged ${corpus.length} entries into ${kept.length} (${kept.reduce((s, d) => s + d.length, 0)} bytes) in ${dir}`);
  }
}

function reachedIn(virgin: Uint8Array, first: number, end: number): number {
  let reached = 0;
  for (let i = first; i < end; i++) if (virgin[i] !== 0) reached++;
  return reached;
}

function status(name: string, runs: number, seconds: number, corpus: Entry[], features: number, edges: number): string {
  const rss = (process.memoryUsage.rss() / 1048576).toFixed(0);
  const bytes = corpus.reduce((sum, e) => sum + e.data.length, 0);
  return `${name}: #${runs} ${seconds.toFixed(0)} s, ${Math.round(runs / Math.max(seconds, 0.001))} runs/s, edges ${edges}, features ${features}, corpus ${corpus.length} (${bytes} bytes), rss ${rss} MiB`;
}

/** Lists the target files' points never reached: where the corpus or the mutations fall short. */
function writeUnreached(file: string, targetFiles: InstrumentedFile[], virgin: Uint8Array): void {
  const lines: string[] = [];
  for (const f of targetFiles) {
    for (const [index, line, kind] of f.points) if (virgin[index] === 0) lines.push(`src/${f.file}:${line} ${kind}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

/** Runs one saved input without instrumentation feedback; returns its error or null. */
export async function replay(target: FuzzTarget, data: Buffer): Promise<unknown> {
  try {
    const pending = target.run(data);
    if (pending instanceof Promise) await pending;
    return null;
  } catch (error) {
    return error;
  }
}
