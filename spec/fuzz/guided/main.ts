/**
 * The coverage-guided fuzzer's command line (see SECURITY.md, "Fuzzing"):
 *
 *   npm run fuzz:coverage -- --target frames --seconds 300
 *   npm run fuzz:coverage -- --target all --seconds 30        (each target)
 *   npm run fuzz:coverage -- --target frames --replay FILE    (one saved input, or a directory of them)
 *   npm run fuzz:coverage -- --target all --seconds 600 --merge   (refresh spec/fuzz/corpus/)
 *
 * Runs with the instrumenting hooks (`--import …/register.ts`). The
 * committed corpus (spec/fuzz/corpus/<target>/) is read; new entries go to
 * --work (default: a temporary directory), findings to --work/findings.
 * Exits 1 when anything was found.
 */

import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fuzz, replay, type EngineResult } from './engine.ts';
import { TARGETS } from './targets/index.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'all' },
    seconds: { type: 'string', default: '60' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    work: { type: 'string' },
    replay: { type: 'string' },
    merge: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '60' },
    'rss-limit-mb': { type: 'string', default: '2048' },
  },
});

const corpusRoot = path.resolve(import.meta.dirname, '../corpus');
const names = values.target === 'all' ? Object.keys(TARGETS) : values.target!.split(',');
for (const name of names) if (!(name in TARGETS)) throw new Error(`No target ${name}; targets: ${Object.keys(TARGETS).join(', ')}`);

if (values.replay !== undefined) {
  // One input, or every input of a directory (e.g. a corpus under c8, for line and branch figures).
  const target = TARGETS[names[0]];
  const files = statSync(values.replay).isDirectory()
    ? readdirSync(values.replay).map((name) => path.join(values.replay!, name))
    : [values.replay];
  for (const file of files) {
    const error = await replay(target, readFileSync(file));
    if (error === null) continue;
    console.log(`${target.name}: ${file} fails:`);
    console.log(error);
    process.exitCode = 1;
  }
  console.log(`${target.name}: replayed ${files.length} inputs, ${process.exitCode === 1 ? 'some failed' : 'all pass'}`);
} else {
  const work = values.work ?? mkdtempSync(path.join(os.tmpdir(), 'netws-fuzz-'));
  const seed = values.seed === undefined ? Date.now() >>> 0 : Number(values.seed);
  console.log(`fuzz:coverage: node ${process.version}, seed ${seed}, ${values.seconds} s per target, work directory ${work}`);
  const results: EngineResult[] = [];
  for (const name of names) {
    const result = await fuzz(TARGETS[name], {
      seconds: Number(values.seconds),
      maxRuns: values.runs === undefined ? Infinity : Number(values.runs),
      corpusDirs: [path.join(corpusRoot, name), path.join(work, 'corpus', name)],
      outputCorpus: path.join(work, 'corpus', name),
      findingsDir: path.join(work, 'findings'),
      seed,
      timeoutSeconds: Number(values.timeout),
      rssLimitMb: Number(values['rss-limit-mb']),
      mergeInto: values.merge ? path.join(corpusRoot, name) : null,
      log: (line) => console.log(line),
    });
    results.push(result);
  }
  console.log('\ntarget      runs   seconds   runs/s   edges (target files)   edges (src/)   corpus   slowest run   findings');
  for (const r of results) {
    const pct = ((100 * r.edgesTarget) / Math.max(1, r.edgesTargetTotal)).toFixed(1);
    console.log(
      `${r.target.padEnd(10)} ${String(r.runs).padStart(8)} ${r.seconds.toFixed(0).padStart(7)} ${String(Math.round(r.runs / r.seconds)).padStart(8)}   ` +
        `${`${r.edgesTarget}/${r.edgesTargetTotal} (${pct}%)`.padEnd(22)} ${String(r.edgesAll).padStart(10)}   ${String(r.corpus).padStart(6)}   ` +
        `${r.slowestMs.toFixed(1).padStart(8)} ms   ${r.findings.length === 0 ? 'none' : r.findings.map((f) => f.message).join('; ')}`,
    );
    for (const f of r.perFile) console.log(`             ${f.file}: ${f.reached}/${f.total} edges`);
  }
  console.log(`unreached edges per target: ${path.join(work, 'findings')}/unreached-<target>.txt`);
  if (results.some((r) => r.findings.length > 0)) process.exitCode = 1;
}
