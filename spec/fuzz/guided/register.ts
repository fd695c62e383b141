/**
 * `node --import tsx --import ./spec/fuzz/guided/register.ts …`: makes the
 * edge counters and registers the hooks that instrument `src/` (hooks.mjs).
 * Must come after tsx: hooks registered last run first, so ours compile
 * `src/**.ts` and tsx still resolves the `.ts` specifiers and loads the rest.
 */

import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

export const MAX_COUNTERS = 1 << 16;

export interface InstrumentedFile {
  /** Path relative to src/. */
  file: string;
  /** Its counters are [first, end). */
  first: number;
  end: number;
  /** [counter, line, kind] of each point. */
  points: Array<[number, number, string]>;
}

const globals = globalThis as unknown as { __netwsFz: Uint32Array; __netwsFzFiles: InstrumentedFile[] };
globals.__netwsFz = new Uint32Array(MAX_COUNTERS);
globals.__netwsFzFiles = [];

const src = path.resolve(import.meta.dirname, '../../../src') + path.sep;
register('./hooks.mjs', import.meta.url, { data: { root: pathToFileURL(src).href, maxCounters: MAX_COUNTERS } });
