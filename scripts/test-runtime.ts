/**
 * Runs the uvu suite on one runtime or several (Node 20, 22, 24, Bun, Deno), one spec file per process with a
 * time limit each: a file that hangs or never exits fails on its own instead of stopping the run, and a
 * runtime's crash (a segfault) names its file. Prints each file's counts, every test skipped on the runtime with
 * its reason (the `SKIP` lines that spec/runtime.ts writes), and a closing table per runtime: tests passed,
 * failed, skipped, never ran (declared by a file that crashed or hung before reaching them), files broken.
 *
 *   tsx scripts/test-runtime.ts node22 node24 bun deno [--timeout 240] [--log-dir DIR] [filter...]
 *
 * A filter keeps the spec files whose path contains it. Exit code 1 when a test failed or never ran, or a file
 * crashed, timed out or did not exit after its last test.
 */

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type RuntimeName, runtimeBinary, runtimeCommand, runtimeNames } from './runtimes.ts';

interface FileResult {
  file: string;
  /** tests the file declares (scripts/run-spec.ts), undefined when it died while loading */
  registered: number | undefined;
  passed: number;
  failed: number;
  skipped: number;
  /** declared, but neither run nor skipped: the file crashed, hung or was stopped first */
  neverRan: number;
  /** '0', another exit code, the signal that killed it, 'timeout', or 'no exit' (still running after its last test) */
  exit: string;
  seconds: number;
  skips: string[];
}

interface RuntimeResult {
  runtime: RuntimeName;
  version: string;
  files: FileResult[];
}

function parseArgs(argv: string[]): { runtimes: RuntimeName[]; timeout: number; logDir: string | undefined; filters: string[] } {
  const runtimes: RuntimeName[] = [];
  let timeout = 240;
  let logDir: string | undefined;
  const filters: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--timeout') timeout = Number(argv[++i]);
    else if (arg === '--log-dir') logDir = argv[++i];
    else if (arg === '--runtime') runtimes.push(argv[++i] as RuntimeName);
    else if ((runtimeNames as string[]).includes(arg)) runtimes.push(arg as RuntimeName);
    else filters.push(arg);
  }
  const unknown = runtimes.filter((name) => !runtimeNames.includes(name));
  if (runtimes.length === 0 || unknown.length > 0) throw new Error(`usage: test-runtime.ts ${runtimeNames.join('|')}... [filter...]`);
  return { runtimes, timeout, logDir, filters };
}

function specFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...specFiles(path));
    else if (entry.endsWith('.spec.ts')) found.push(path);
  }
  return found.sort();
}

/** A count that run-spec.ts ("Registered: N") or uvu's closing block ("Total: N", ...) printed; undefined if absent. */
function count(output: string, label: string): number | undefined {
  const match = output.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm'));
  return match ? Number(match[1]) : undefined;
}

/** How long a spec process may take to exit after its last test (a process left running means a handle left open). */
const EXIT_GRACE_MS = 10_000;

function runFile(command: string[], file: string, timeoutSeconds: number): Promise<{ result: FileResult; output: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command[0], command.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout ends the file's helpers (servers it spawned) with it.
      detached: true,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    });
    let output = '';
    let stopped: 'timeout' | 'no exit' | null = null;
    const stop = (why: 'timeout' | 'no exit'): void => {
      stopped = why;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {}
    };
    let exitTimer: NodeJS.Timeout | undefined;
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
      // uvu's summary is out: the tests are done, and a process that is still there after EXIT_GRACE holds a handle open.
      if (exitTimer === undefined && /^\s*Duration:/m.test(output)) exitTimer = setTimeout(stop, EXIT_GRACE_MS, 'no exit');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(stop, timeoutSeconds * 1000, 'timeout');
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(exitTimer);
      const registered = count(output, 'Registered');
      const total = count(output, 'Total');
      // uvu's Total counts the tests that ran (skipped ones are not in it); without its summary, the marks it
      // writes as each test ends ('•' passed, '✘' failed) say how far the file got.
      const passed = count(output, 'Passed') ?? (output.match(/•/g) ?? []).length;
      const failed = total !== undefined ? total - passed : (output.match(/✘/g) ?? []).length;
      const skipped = count(output, 'Skipped') ?? 0;
      const result: FileResult = {
        file,
        registered,
        passed,
        failed,
        skipped,
        neverRan: Math.max(0, (registered ?? 0) - passed - failed - skipped),
        exit: stopped ?? signal ?? String(code),
        seconds: (performance.now() - started) / 1000,
        skips: [...output.matchAll(/^SKIP (.*)$/gm)].map((match) => match[1]),
      };
      resolve({ result, output });
    });
  });
}

/** Killed by a signal after uvu's summary, every test passed: the runtime crashed while exiting. */
function crashedAfterLastTest(result: FileResult, output: string): boolean {
  return /^SIG/.test(result.exit) && /^\s*Duration:/m.test(output) && result.failed === 0 && result.neverRan === 0;
}

/** A file is broken when it did not exit 0 by itself, or declared no test at all (it died while loading). */
function broken(result: FileResult): boolean {
  return result.exit !== '0' || result.failed > 0 || result.neverRan > 0 || !result.registered;
}

async function runRuntime(runtime: RuntimeName, files: string[], timeout: number, logDir: string | undefined): Promise<RuntimeResult> {
  const version = execFileSync(runtimeBinary(runtime), ['--version']).toString().split('\n')[0];
  process.stdout.write(`== ${runtime} (${version}): ${files.length} spec files, ${timeout} s each\n`);
  const results: FileResult[] = [];
  const failedOutputs: string[] = [];
  const crashedAtExit: string[] = [];
  for (const file of files) {
    const command = runtimeCommand(runtime, 'scripts/run-spec.ts', [file]);
    let { result, output } = await runFile(command, file, timeout);
    if (crashedAfterLastTest(result, output)) {
      // Deno 2.9.6 now and then dies of SIGSEGV after a file's last test has passed (in 2 of 2 whole runs here, each
      // time another file; never reproduced alone; upstream: denoland/deno#12653). The file runs once more, and
      // the crash is printed in the summary, not hidden; a crash before the summary or a second one still fails.
      crashedAtExit.push(`${relative('spec', file)} (${result.exit})`);
      ({ result, output } = await runFile(command, file, timeout));
    }
    results.push(result);
    const exit = result.exit === '0' ? '' : `  exit ${result.exit}`;
    const never = result.neverRan > 0 ? `  ${result.neverRan} never ran` : '';
    process.stdout.write(
      `${broken(result) ? 'FAIL' : 'ok  '} ${relative('spec', file).padEnd(40)} ${String(result.passed).padStart(4)} passed ${String(result.failed).padStart(3)} failed ${String(result.skipped).padStart(3)} skipped  ${result.seconds.toFixed(1).padStart(6)} s${exit}${never}\n`,
    );
    if (logDir) writeFileSync(join(logDir, `${runtime}__${relative('spec', file).replaceAll('/', '__')}.log`), output);
    if (broken(result)) failedOutputs.push(`---- ${runtime} ${file} (exit ${result.exit})\n${output.slice(-6000)}`);
  }
  if (failedOutputs.length > 0) process.stdout.write(`\n${failedOutputs.join('\n')}\n`);
  const skips = results.flatMap((r) => r.skips.map((skip) => `  ${relative('spec', r.file)}: ${skip}`));
  process.stdout.write(`== ${runtime}: skipped on this runtime (${skips.length})\n${skips.map((line) => `${line}\n`).join('')}`);
  if (crashedAtExit.length > 0) {
    process.stdout.write(`== ${runtime}: crashed after the last test, run again: ${crashedAtExit.join(', ')}\n`);
  }
  const brokenFiles = results.filter(broken);
  if (brokenFiles.length > 0) {
    process.stdout.write(
      `== ${runtime}: files failed: ${brokenFiles.map((r) => `${relative('spec', r.file)} (exit ${r.exit})`).join(', ')}\n`,
    );
  }
  process.stdout.write('\n');
  return { runtime, version, files: results };
}

function sum(files: FileResult[], pick: (file: FileResult) => number): number {
  return files.reduce((total, file) => total + pick(file), 0);
}

async function main(): Promise<void> {
  const { runtimes, timeout, logDir, filters } = parseArgs(process.argv.slice(2));
  const files = specFiles('spec').filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)));
  if (logDir) mkdirSync(logDir, { recursive: true });
  const runs: RuntimeResult[] = [];
  for (const runtime of runtimes) runs.push(await runRuntime(runtime, files, timeout, logDir));
  const header = ['runtime', 'version', 'passed', 'failed', 'skipped', 'never ran', 'files broken', 'seconds'];
  const rows = runs.map(({ runtime, version, files: results }) => [
    runtime,
    version.replace(/^(deno|bun) /i, '').replace(/ \(.*\)$/, ''),
    String(sum(results, (r) => r.passed)),
    String(sum(results, (r) => r.failed)),
    String(sum(results, (r) => r.skipped)),
    String(sum(results, (r) => r.neverRan)),
    `${results.filter(broken).length} of ${results.length}`,
    sum(results, (r) => r.seconds).toFixed(0),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |\n`;
  process.stdout.write(line(header) + line(widths.map((width) => '-'.repeat(width))) + rows.map(line).join(''));
  process.exitCode = runs.some((run) => run.files.some(broken)) ? 1 : 0;
}

await main();
