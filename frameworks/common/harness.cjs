'use strict';
/**
 * The little harness every framework body runs under, inside its scratch
 * project, with plain node (no tsx there: the body uses the framework as its
 * users do). A body is a list of cases; each case writes notes (what it
 * observed, shaped so that two runs can be compared) and passes unless it
 * throws. frameworks/run.ts runs the same body once with the real ws and once
 * with ws overridden to netws and compares the notes case by case.
 *
 * Output is one line per case on stdout, prefixed with @@case, then @@leaks
 * (the handles still keeping the process alive after every case cleaned up)
 * and @@done. The process is not ended with process.exit(): the runner
 * measures how long it takes to exit by itself, since a handle that keeps a
 * framework's process alive is a defect users see (tests that never end).
 */

const crypto = require('node:crypto');

const CASE_TIMEOUT_MS = 20_000;
const CLEANUP_TIMEOUT_MS = 5_000;
/** How long the leak check waits for sockets and timers to go away by themselves. */
const SETTLE_MS = 3_000;

function shape(value) {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { bytes: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 12) };
  }
  if (value instanceof ArrayBuffer) return { arrayBuffer: shape(Buffer.from(value)) };
  if (value instanceof Error) {
    const out = { error: value.name, message: value.message };
    if (value.code !== undefined) out.code = value.code;
    return out;
  }
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === 'string' && value.length > 200) {
    return { string: value.length, sha256: crypto.createHash('sha256').update(value).digest('hex').slice(0, 12) };
  }
  if (value && typeof value === 'object') {
    const out = {};
    for (const key of Object.keys(value)) out[key] = shape(value[key]);
    return out;
  }
  return value === undefined ? '(undefined)' : value;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class Run {
  constructor() {
    this.notes = [];
    this.cleanups = [];
  }

  /** Records an observation; runs are compared on these. */
  note(label, ...values) {
    this.notes.push([label, ...values.map(shape)]);
  }

  /** Registers a cleanup; they run last-in first-out after the case, pass or fail. */
  defer(fn) {
    this.cleanups.push(fn);
  }

  /** The arguments of the next `event` from `emitter` (EventEmitter or Socket.IO/engine.io emitter). */
  event(emitter, event, ms = 10_000) {
    return withTimeout(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), ms, `waiting for '${event}'`);
  }

  check(condition, what) {
    if (!condition) throw new Error(`check failed: ${what}`);
  }

  equal(actual, expected, what) {
    const a = JSON.stringify(shape(actual));
    const e = JSON.stringify(shape(expected));
    if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
  }
}

function print(tag, value) {
  process.stdout.write(`@@${tag} ${JSON.stringify(value)}\n`);
}

/** The handle types that keep this process alive, other than its own stdio. */
function activeHandles() {
  return process
    .getActiveResourcesInfo()
    .filter((type) => type !== 'TTYWrap' && type !== 'PipeWrap' && type !== 'FSReqCallback')
    .sort();
}

async function settle() {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    // Checked from a setImmediate callback: the pending timer below is then not counted.
    await new Promise((resolve) => setImmediate(resolve));
    const handles = activeHandles();
    if (handles.length === 0 || Date.now() >= deadline) return handles;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// A failing stdout means the runner is gone (or its pipe was closed): nothing left to report to.
process.stdout.on('error', () => process.exit(2));

let current = null;
process.on('uncaughtException', (error) => {
  if (current) current.note('uncaught exception', error);
  else print('uncaught', shape(error));
});
process.on('unhandledRejection', (error) => {
  if (current) current.note('unhandled rejection', error);
  else print('uncaught', shape(error));
});

/**
 * Runs the cases one after the other: [{ name, body: async (t) => {}, timeout?, differs? }].
 * `differs` declares, with its reason, that netws's notes differ from ws's on purpose: the runner
 * then requires them to differ (so the declaration goes when the difference does).
 */
async function run(cases) {
  const only = process.env.FRAMEWORKS_ONLY_CASE;
  for (const { name, body, timeout, differs } of cases) {
    if (only && !name.includes(only)) continue;
    const t = new Run();
    current = t;
    let error = null;
    try {
      await withTimeout(
        Promise.resolve().then(() => body(t)),
        timeout ?? CASE_TIMEOUT_MS,
        name,
      );
    } catch (caught) {
      error = caught;
    }
    for (const cleanup of t.cleanups.reverse()) {
      try {
        await withTimeout(Promise.resolve().then(cleanup), CLEANUP_TIMEOUT_MS, 'a cleanup');
      } catch (caught) {
        t.note('cleanup failed', caught);
      }
    }
    current = null;
    const uncaught = t.notes.some(([label]) => label === 'uncaught exception' || label === 'unhandled rejection');
    print('case', {
      name,
      ok: error === null && !uncaught,
      differs,
      error: error
        ? String(error.stack ?? error)
            .split('\n')
            .slice(0, 4)
            .join('\n')
        : undefined,
      notes: t.notes,
    });
  }
  print('leaks', await settle());
  print('done', {});
}

module.exports = { run, shape };
