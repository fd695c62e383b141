/**
 * `npm run fuzz:report`: line and branch coverage (c8, V8's own counts) of
 * each target's files when its committed corpus is replayed: what the
 * corpus reaches, in the figures the rest of the project uses. The edge
 * counts of the fuzzer itself are printed by each fuzzing run.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TARGET_FILES } from '../targets-glue.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(TARGET_FILES);
for (const name of names) {
  const files = TARGET_FILES[name as keyof typeof TARGET_FILES];
  const temp = mkdtempSync(path.join(os.tmpdir(), 'netws-fuzz-c8-'));
  try {
    const args = ['c8', '--reporter', 'text', '--temp-directory', path.join(temp, 'raw'), '--report-dir', path.join(temp, 'report')];
    for (const file of files) args.push('--include', `src/${file}`);
    args.push('node', '--import', 'tsx', 'spec/fuzz/guided/main.ts', '--target', name, '--replay', `spec/fuzz/corpus/${name}`);
    const result = spawnSync('npx', args, { cwd: root, encoding: 'utf8' });
    console.log(`== ${name}\n${result.stdout}${result.stderr}`);
    if (result.status !== 0) process.exitCode = 1;
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
