/**
 * The coverage-guided fuzzer itself: the instrumentation keeps a program's
 * meaning and counts both arms of each branch, and the loop, led by
 * coverage, finds an input no random search would (4 nested byte
 * comparisons: 2^-32 at random), then minimizes it.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzz } from './guided/engine.ts';
// @ts-expect-error: plain JavaScript (the module hooks' thread loads it), no types.
import { instrument } from './guided/hooks.mjs';
import type { InstrumentedFile } from './guided/register.ts';
import type { FuzzTarget } from './guided/target.ts';

const guided = suite('fuzz: the coverage-guided engine');
const globals = globalThis as unknown as { __netwsFz?: Uint32Array; __netwsFzFiles?: InstrumentedFile[] };

guided('instrumented code computes the same and counts each arm it takes', () => {
  const source = `
    export function f(a, b) {
      let out = a && b ? 'both' : a ?? 'none';
      switch (typeof b) { case 'number': out += b; break; default: out += '-'; }
      for (const c of [1, 2]) if (c > 1) out += c; else out += '.';
      const g = (x) => x || 'empty';
      try { if (b === 3) throw new Error('x'); } catch { out += '!'; }
      return out + g('') + g('y');
    }`;
  const { code, points } = instrument('snippet.js', source) as { code: string; points: Array<{ index: number; kind: string }> };
  const saved = globals.__netwsFz;
  const counters = new Uint32Array(1 << 16);
  globals.__netwsFz = counters;
  try {
    // Plain JavaScript, no imports: evaluated as a function body.
    const f = new Function(`${code.replace('export function', 'function')}; return f;`)() as (a: unknown, b: unknown) => string;
    const plain = new Function(`${source.replace('export function', 'function')}; return f;`)() as (a: unknown, b: unknown) => string;
    for (const [a, b] of [
      [1, 3],
      [0, 'x'],
      [null, 2],
      [undefined, undefined],
    ])
      assert.is(f(a, b), plain(a, b));
    const kinds = new Set(points.map((p) => p.kind));
    for (const kind of ['function', 'then', 'else', '?:', ':', '&&', '??', '||', 'case', 'default', 'loop', 'catch'])
      assert.ok(kinds.has(kind), `no ${kind} point`);
    for (const p of points) assert.ok(counters[p.index] > 0, `point ${p.index} (${p.kind}) never counted`);
  } finally {
    globals.__netwsFz = saved;
  }
});

guided('coverage leads the loop to a 4-byte magic input, which it minimizes', async () => {
  const savedCounters = globals.__netwsFz;
  const savedFiles = globals.__netwsFzFiles;
  const counters = new Uint32Array(1 << 16);
  globals.__netwsFz = counters;
  globals.__netwsFzFiles = [{ file: 'toy.ts', first: 1, end: 8, points: [] }];
  const work = mkdtempSync(path.join(os.tmpdir(), 'netws-guided-'));
  // The counters a compiled `if` chain would bump: one per byte matched.
  const toy: FuzzTarget = {
    name: 'toy',
    files: ['toy.ts'],
    maxLength: 64,
    dictionary: [],
    seeds: () => [Buffer.from('hello')],
    run(data) {
      counters[1]++;
      if (data[0] !== 0x46) return;
      counters[2]++;
      if (data[1] !== 0x55) return;
      counters[3]++;
      if (data[2] !== 0x5a) return;
      counters[4]++;
      if (data[3] === 0x5a) throw new Error('found FUZZ');
    },
  };
  try {
    const result = await fuzz(toy, {
      seconds: 120,
      maxRuns: 2_000_000,
      corpusDirs: [],
      outputCorpus: null,
      findingsDir: work,
      seed: 42,
      timeoutSeconds: 60,
      rssLimitMb: 4096,
      mergeInto: null,
      log: () => {},
    });
    assert.is(result.findings.length, 1, `no finding in ${result.runs} runs`);
    assert.is(result.findings[0].message, 'Error: found FUZZ');
    assert.is(result.findings[0].length, 4);
    assert.ok(result.corpus >= 4, `corpus of ${result.corpus}: each new byte matched is kept`);
  } finally {
    globals.__netwsFz = savedCounters;
    globals.__netwsFzFiles = savedFiles;
    rmSync(work, { recursive: true, force: true });
  }
});

guided.run();
