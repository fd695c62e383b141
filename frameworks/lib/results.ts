/**
 * What a run of a suite produced, per test, and the gates that compare the
 * netws run with the ws run of the same suite.
 *
 * - A framework's own tests (node --test): netws must pass every test ws
 *   passes, pass at least as many, and exit by itself soon after its last
 *   test (a hang is killed and fails).
 * - A differential body (the same cases against ws and netws): every case
 *   passes on netws, its notes equal ws's wherever ws passes, and netws
 *   leaves nothing running that ws does not.
 */
import path from 'node:path';
import type { Variant } from './projects.ts';
import type { WatchedRun } from './processes.ts';

export type Status = 'passed' | 'failed' | 'skipped' | 'never ran';

export interface TestResult {
  status: Status;
  error?: string;
  notes?: unknown;
  /** Why netws's notes differ from ws's on purpose (a body's declared difference). */
  differs?: string;
}

export interface VariantResult {
  variant: Variant;
  /** e.g. "ws 8.23.1", "netws 0.1.0". */
  label: string;
  tests: Map<string, TestResult>;
  /** Why the run was killed (a hang), if it was. */
  killed?: string;
  /** From the last test's end to the process's exit, in ms (undefined when killed). */
  exitAfterLastTest?: number;
  /** Handle types still active after a body's cases cleaned up, or ("file: type") after each test file's last test. */
  leaks?: string[];
  /** A body wrote @@done. */
  finished: boolean;
  exitCode: number | null;
  output: string;
  diagnostics: string[];
  wsCopies: string[];
}

interface TestRecord {
  ok: boolean;
  skipped: boolean;
  name: string;
  file?: string;
  line?: number;
  error?: string;
}

interface CaseRecord {
  name: string;
  ok: boolean;
  error?: string;
  notes: unknown;
  differs?: string;
}

function lastAt(run: WatchedRun, tags: string[]): number {
  let at = 0;
  for (const record of run.records) if (tags.includes(record.tag)) at = record.at;
  return at;
}

/** Reads the @@test records of node's test runner (frameworks/common/node-test-reporter.mjs). */
export function fromNodeTest(
  run: WatchedRun,
  projectDir: string,
  base: Omit<VariantResult, 'tests' | 'finished' | 'diagnostics'>,
): VariantResult {
  const tests = new Map<string, TestResult>();
  const diagnostics: string[] = [];
  for (const { tag, value } of run.records) {
    if (tag === 'diagnostic') diagnostics.push((value as { message: string }).message);
    if (tag !== 'test') continue;
    const test = value as TestRecord;
    const where = test.file ? `${path.relative(projectDir, test.file)}:${test.line ?? '?'}` : '(no file)';
    let id = `${where} ${test.name}`;
    for (let n = 2; tests.has(id); n++) id = `${where} ${test.name} #${n}`;
    tests.set(id, { status: test.skipped ? 'skipped' : test.ok ? 'passed' : 'failed', error: test.error });
  }
  return {
    ...base,
    tests,
    diagnostics,
    finished: run.killed === undefined,
    exitAfterLastTest: run.killed === undefined ? run.exitedAt - lastAt(run, ['test']) : undefined,
  };
}

/** Reads the @@case, @@leaks and @@done records of a body (frameworks/common/harness.cjs). */
export function fromBody(run: WatchedRun, base: Omit<VariantResult, 'tests' | 'finished' | 'diagnostics'>): VariantResult {
  const tests = new Map<string, TestResult>();
  const diagnostics: string[] = [];
  let leaks: string[] | undefined;
  let finished = false;
  for (const { tag, value } of run.records) {
    if (tag === 'case') {
      const record = value as CaseRecord;
      tests.set(record.name, {
        status: record.ok ? 'passed' : 'failed',
        error: record.error,
        notes: record.notes,
        differs: record.differs,
      });
    } else if (tag === 'leaks') leaks = value as string[];
    else if (tag === 'done') finished = true;
    else if (tag === 'uncaught') diagnostics.push(`outside a case: ${JSON.stringify(value)}`);
  }
  return {
    ...base,
    tests,
    leaks,
    diagnostics,
    finished: finished && run.killed === undefined,
    exitAfterLastTest: run.killed === undefined ? run.exitedAt - lastAt(run, ['case', 'leaks', 'done']) : undefined,
  };
}

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  neverRan: number;
}

/** Counts over the union of the tests both runs reported: a test only one run reached never ran in the other. */
export function counts(result: VariantResult, all: string[]): Counts {
  const out: Counts = { passed: 0, failed: 0, skipped: 0, neverRan: 0 };
  for (const id of all) {
    const status = result.tests.get(id)?.status ?? 'never ran';
    if (status === 'passed') out.passed++;
    else if (status === 'failed') out.failed++;
    else if (status === 'skipped') out.skipped++;
    else out.neverRan++;
  }
  return out;
}

export function allTests(ws: VariantResult, netws: VariantResult): string[] {
  const ids = [...ws.tests.keys()];
  for (const id of netws.tests.keys()) if (!ws.tests.has(id)) ids.push(id);
  return ids;
}

export function notesDiffer(ws: VariantResult, netws: VariantResult, id: string): boolean {
  return JSON.stringify(ws.tests.get(id)?.notes) !== JSON.stringify(netws.tests.get(id)?.notes);
}

export function statusOf(result: VariantResult, id: string): Status {
  return result.tests.get(id)?.status ?? 'never ran';
}

/**
 * The reasons the netws run fails its gate; empty when it passes. `mustPass`: tests netws must pass
 * whatever ws does (own tests that ws fails for a reason of its own would otherwise guard nothing).
 */
export function gate(kind: 'own-tests' | 'differential', ws: VariantResult, netws: VariantResult, mustPass?: RegExp): string[] {
  const reasons: string[] = [];
  const all = allTests(ws, netws);
  if (netws.killed) reasons.push(`netws run killed: ${netws.killed}`);
  else if (netws.exitCode === null) reasons.push('netws run died of a signal');
  if (kind === 'own-tests') {
    const wsCounts = counts(ws, all);
    const netwsCounts = counts(netws, all);
    for (const id of all) {
      if (statusOf(ws, id) === 'passed' && statusOf(netws, id) !== 'passed') reasons.push(`ws passes, netws ${statusOf(netws, id)}: ${id}`);
      else if (mustPass?.test(id) && statusOf(netws, id) !== 'passed') reasons.push(`netws must pass, ${statusOf(netws, id)}: ${id}`);
    }
    if (netwsCounts.passed < wsCounts.passed) reasons.push(`netws passes ${netwsCounts.passed} tests, ws ${wsCounts.passed}`);
    if (all.length === 0) reasons.push('no test ran');
    leftRunning(ws, netws, reasons);
    return reasons;
  }
  if (!netws.finished && !netws.killed) reasons.push('netws run ended before its last case');
  for (const id of all) {
    const netwsStatus = statusOf(netws, id);
    if (netwsStatus !== 'passed') reasons.push(`netws ${netwsStatus}: ${id}`);
    else if (statusOf(ws, id) === 'passed') {
      const differ = notesDiffer(ws, netws, id);
      const declared = netws.tests.get(id)?.differs;
      if (differ && !declared) reasons.push(`notes differ from ws's: ${id}`);
      if (!differ && declared) reasons.push(`a declared difference is no longer seen (remove its declaration): ${id}`);
    }
  }
  leftRunning(ws, netws, reasons);
  if (all.length === 0) reasons.push('no case ran');
  return reasons;
}

/** "a, a, b" as "a ×2, b". */
export function grouped(items: string[]): string {
  const tally = new Map<string, number>();
  for (const item of items) tally.set(item, (tally.get(item) ?? 0) + 1);
  return [...tally].map(([item, n]) => (n > 1 ? `${item} ×${n}` : item)).join(', ');
}

/** Handles netws leaves running that ws does not (compared as multisets). */
function leftRunning(ws: VariantResult, netws: VariantResult, reasons: string[]): void {
  const extra = [...(netws.leaks ?? [])];
  for (const leak of ws.leaks ?? []) {
    const index = extra.indexOf(leak);
    if (index !== -1) extra.splice(index, 1);
  }
  if (extra.length > 0) reasons.push(`netws leaves running what ws does not: ${grouped(extra)}`);
}
