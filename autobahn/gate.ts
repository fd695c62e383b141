/**
 * The pass/fail gate over an Autobahn|Testsuite report (`<outdir>/index.json`)
 * and the summary table printed by run.ts and written to RESULTS.md.
 *
 * Pure functions, no I/O: `evaluate` takes the parsed index.json, the agent
 * name and the case ids that were meant to run.
 *
 * A run fails on:
 *   - an index that is not an object, has no entry for the agent, or an empty one;
 *   - an expected case missing from the report;
 *   - behavior FAILED or NON-STRICT (or any value the gate does not know);
 *   - behavior UNIMPLEMENTED, unless its group is in `unimplementedGroups`
 *     (none by default: permessage-deflate is implemented, groups 12 and 13 must pass);
 *   - behaviorClose other than OK or INFORMATIONAL.
 * INFORMATIONAL is never a failure; 7.1.6, 7.13.1 and 7.13.2 are always
 * INFORMATIONAL, any other INFORMATIONAL case gets a warning.
 */

export const BEHAVIORS = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED'] as const;
export type Behavior = (typeof BEHAVIORS)[number];

/** The permessage-deflate groups (first number of the case id). */
export const DEFLATE_GROUPS: readonly number[] = [12, 13];

/** Cases whose behavior is INFORMATIONAL by design, whatever the implementation does. */
export const ALWAYS_INFORMATIONAL: readonly string[] = ['7.1.6', '7.13.1', '7.13.2'];

/** Case categories as wstest names them (autobahntestsuite/case/__init__.py). */
export const GROUP_NAMES: Readonly<Record<number, string>> = {
  1: 'Framing',
  2: 'Pings/Pongs',
  3: 'Reserved Bits',
  4: 'Opcodes',
  5: 'Fragmentation',
  6: 'UTF-8 Handling',
  7: 'Close Handling',
  8: 'Misc',
  9: 'Limits/Performance',
  10: 'Misc',
  12: 'Compression (payloads)',
  13: 'Compression (parameters)',
};

/** One entry of index.json, as wstest writes it. */
export interface CaseEntry {
  behavior: string;
  behaviorClose: string;
  duration?: number;
  remoteCloseCode?: number | null;
  reportfile?: string;
}

export interface GateOptions {
  /** Groups where UNIMPLEMENTED is accepted; default none (e.g. DEFLATE_GROUPS for a build without compression). */
  unimplementedGroups?: readonly number[];
}

export interface GroupSummary {
  group: number;
  name: string;
  /** Expected cases in the group. */
  cases: number;
  behavior: Record<Behavior, number>;
  /** Cases whose behavior is none of BEHAVIORS. */
  unknown: number;
  /** Cases whose behaviorClose is not OK (INFORMATIONAL included). */
  closeNotOk: number;
  missing: number;
}

export interface NonOkCase {
  id: string;
  behavior: string;
  behaviorClose: string;
  remoteCloseCode: number | null;
  duration: number | null;
  reportfile: string | null;
  /** Whether this case makes the gate fail. */
  failing: boolean;
  /** True for ALWAYS_INFORMATIONAL cases. */
  informationalByDesign: boolean;
}

export interface Verdict {
  agent: string;
  passed: boolean;
  /** Why the gate failed, one line per reason; empty when passed. */
  failures: string[];
  /** Worth a look but not failing: unexpected INFORMATIONAL, cases not asked for. */
  warnings: string[];
  groups: GroupSummary[];
  total: GroupSummary;
  /** Cases with behavior or behaviorClose other than OK, in case order. */
  nonOk: NonOkCase[];
  missing: string[];
  /** Report entries for cases that were not expected (ignored by the counts). */
  unexpected: string[];
}

function emptyCounts(group: number): GroupSummary {
  return {
    group,
    name: GROUP_NAMES[group] ?? '',
    cases: 0,
    behavior: { OK: 0, 'NON-STRICT': 0, INFORMATIONAL: 0, UNIMPLEMENTED: 0, FAILED: 0 },
    unknown: 0,
    closeNotOk: 0,
    missing: 0,
  };
}

/** First number of a case id: '12.1.3' → 12. */
export function caseGroup(id: string): number {
  return Number(id.split('.')[0]);
}

/** Numeric order of case ids: 1.1.2 < 1.1.10 < 2.1. */
export function compareCaseIds(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBehavior(value: string): value is Behavior {
  return (BEHAVIORS as readonly string[]).includes(value);
}

function readEntry(value: unknown): CaseEntry | null {
  if (!isRecord(value) || typeof value.behavior !== 'string' || typeof value.behaviorClose !== 'string') return null;
  return {
    behavior: value.behavior,
    behaviorClose: value.behaviorClose,
    duration: typeof value.duration === 'number' ? value.duration : undefined,
    remoteCloseCode: typeof value.remoteCloseCode === 'number' ? value.remoteCloseCode : null,
    reportfile: typeof value.reportfile === 'string' ? value.reportfile : undefined,
  };
}

/**
 * Judges one agent's results. `index` is the parsed index.json (anything:
 * a non-object fails the gate), `expected` the case ids that should have run.
 */
export function evaluate(index: unknown, agent: string, expected: readonly string[], options: GateOptions = {}): Verdict {
  const unimplementedGroups = options.unimplementedGroups ?? [];
  const failures: string[] = [];
  const warnings: string[] = [];
  const expectedIds = [...new Set(expected)].sort(compareCaseIds);
  const groups = new Map<number, GroupSummary>();
  const total = emptyCounts(0);
  total.name = '';
  const nonOk: NonOkCase[] = [];
  const missing: string[] = [];

  let results: Record<string, unknown> = {};
  if (!isRecord(index) || Object.keys(index).length === 0) {
    failures.push('report is empty or not a JSON object');
  } else if (!isRecord(index[agent])) {
    failures.push(`no results for agent "${agent}" (agents in report: ${Object.keys(index).join(', ') || 'none'})`);
  } else {
    results = index[agent] as Record<string, unknown>;
    if (Object.keys(results).length === 0) failures.push(`no cases recorded for agent "${agent}"`);
  }
  if (expectedIds.length === 0) failures.push('no expected cases: the case patterns selected nothing');

  for (const id of expectedIds) {
    const group = caseGroup(id);
    let counts = groups.get(group);
    if (counts === undefined) groups.set(group, (counts = emptyCounts(group)));
    counts.cases++;
    total.cases++;

    const raw = Object.hasOwn(results, id) ? results[id] : undefined;
    const entry = readEntry(raw);
    if (entry === null) {
      counts.missing++;
      total.missing++;
      missing.push(id);
      continue;
    }

    const reasons: string[] = [];
    const { behavior, behaviorClose } = entry;
    if (isBehavior(behavior)) {
      counts.behavior[behavior]++;
      total.behavior[behavior]++;
    } else {
      counts.unknown++;
      total.unknown++;
    }
    if (behavior === 'FAILED' || behavior === 'NON-STRICT') reasons.push(`behavior ${behavior}`);
    else if (behavior === 'UNIMPLEMENTED' && !unimplementedGroups.includes(group)) {
      reasons.push(`behavior UNIMPLEMENTED outside groups ${unimplementedGroups.join('/') || '(none)'}`);
    } else if (!isBehavior(behavior)) reasons.push(`unknown behavior ${JSON.stringify(behavior)}`);
    if (behaviorClose !== 'OK') {
      counts.closeNotOk++;
      total.closeNotOk++;
      if (behaviorClose !== 'INFORMATIONAL') reasons.push(`behaviorClose ${behaviorClose}`);
    }

    const informationalByDesign = ALWAYS_INFORMATIONAL.includes(id);
    if (behavior === 'INFORMATIONAL' && !informationalByDesign) warnings.push(`${id}: INFORMATIONAL`);
    if (behavior !== 'OK' || behaviorClose !== 'OK') {
      nonOk.push({
        id,
        behavior,
        behaviorClose,
        remoteCloseCode: entry.remoteCloseCode ?? null,
        duration: entry.duration ?? null,
        reportfile: entry.reportfile ?? null,
        failing: reasons.length > 0,
        informationalByDesign,
      });
    }
    for (const reason of reasons) failures.push(`${id}: ${reason}`);
  }

  if (missing.length > 0) {
    failures.push(`${missing.length} expected case(s) missing from the report: ${abbreviate(missing)}`);
  }
  const expectedSet = new Set(expectedIds);
  const unexpected = Object.keys(results)
    .filter((id) => !expectedSet.has(id))
    .sort(compareCaseIds);
  if (unexpected.length > 0) warnings.push(`${unexpected.length} case(s) in the report were not expected: ${abbreviate(unexpected)}`);

  return {
    agent,
    passed: failures.length === 0,
    failures,
    warnings,
    groups: [...groups.values()].sort((a, b) => a.group - b.group),
    total,
    nonOk,
    missing,
    unexpected,
  };
}

function abbreviate(ids: readonly string[], limit = 20): string {
  return ids.length <= limit ? ids.join(', ') : `${ids.slice(0, limit).join(', ')}, … (+${ids.length - limit})`;
}

/** The per-group summary as a markdown table (FAILED counts unknown behavior values too). */
export function renderTable(verdict: Verdict): string {
  const header = ['Group', 'Name', 'Cases', 'OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED', 'Close not OK', 'Missing'];
  const row = (g: GroupSummary, label: string): string[] => [
    label,
    g.name,
    String(g.cases),
    String(g.behavior.OK),
    String(g.behavior['NON-STRICT']),
    String(g.behavior.INFORMATIONAL),
    String(g.behavior.UNIMPLEMENTED),
    String(g.behavior.FAILED + g.unknown),
    String(g.closeNotOk),
    String(g.missing),
  ];
  const rows = [...verdict.groups.map((g) => row(g, String(g.group))), row(verdict.total, '**all**')];
  const lines = [header, header.map((h) => (h === 'Name' ? '---' : '---:')), ...rows];
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** One line for a non-OK case: id, behavior, behaviorClose, remote close code and its standing. */
export function describeNonOk(c: NonOkCase): string {
  const tag = c.failing ? 'FAIL' : c.informationalByDesign ? 'informational by design' : 'allowed';
  const code = c.remoteCloseCode === null ? '' : `, remote close ${c.remoteCloseCode}`;
  return `${c.id}: behavior ${c.behavior}, behaviorClose ${c.behaviorClose}${code} [${tag}]`;
}

/** One line per non-OK case, for the console. */
export function renderNonOk(verdict: Verdict): string {
  return verdict.nonOk.map((c) => `  ${describeNonOk(c)}`).join('\n');
}
