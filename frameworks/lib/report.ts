/** Plain-text tables of a suite's two runs, and the details of what differs. */
import { allTests, counts, grouped, notesDiffer, statusOf, type VariantResult } from './results.ts';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

function ending(result: VariantResult): string {
  if (result.killed) return `killed: ${result.killed}`;
  return `exit ${String(result.exitCode)}, ${seconds(result.exitAfterLastTest)} after its last test`;
}

function oneLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0]!.slice(0, 160);
}

/** A framework's own tests: counts per run, then each test whose outcome differs, then failures both share. */
export function ownTestsReport(ws: VariantResult, netws: VariantResult): string {
  const all = allTests(ws, netws);
  const rows = [ws, netws].map((result) => {
    const c = counts(result, all);
    return [result.label, String(c.passed), String(c.failed), String(c.neverRan), String(c.skipped), ending(result)];
  });
  const out = [table(['run', 'passed', 'failed', 'never ran', 'skipped', 'ending'], rows)];
  out.push(
    '',
    table(
      ['run', "left running 3 s after a file's last test"],
      [ws, netws].map((r) => [r.label, grouped(r.leaks ?? []) || 'nothing']),
    ),
  );
  const differing = all.filter((id) => statusOf(ws, id) !== statusOf(netws, id));
  if (differing.length > 0) {
    out.push('', 'Tests whose outcome differs:');
    for (const id of differing) {
      out.push(
        `  ${id}`,
        `    ws: ${statusOf(ws, id)} ${oneLine(ws.tests.get(id)?.error)}`,
        `    netws: ${statusOf(netws, id)} ${oneLine(netws.tests.get(id)?.error)}`,
      );
    }
  }
  const shared = all.filter((id) => statusOf(ws, id) === 'failed' && statusOf(netws, id) === 'failed');
  if (shared.length > 0) {
    out.push('', 'Failing on both:');
    for (const id of shared)
      out.push(`  ${id}`, `    ws: ${oneLine(ws.tests.get(id)?.error)}`, `    netws: ${oneLine(netws.tests.get(id)?.error)}`);
  }
  for (const result of [ws, netws]) {
    if (result.diagnostics.length > 0) {
      out.push('', `${result.label}: ${result.diagnostics.length} diagnostics from the test runner, e.g.:`);
      for (const message of [...new Set(result.diagnostics)].slice(0, 3)) out.push(`  ${oneLine(message)}`);
    }
  }
  return out.join('\n');
}

function firstDifference(a: unknown, b: unknown): string {
  const left = Array.isArray(a) ? a : [];
  const right = Array.isArray(b) ? b : [];
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = JSON.stringify(left[i]);
    const y = JSON.stringify(right[i]);
    if (x !== y) return `note ${i + 1}:\n      ws:    ${x?.slice(0, 400)}\n      netws: ${y?.slice(0, 400)}`;
  }
  return '(none)';
}

/** A differential body: one row per case, then the first differing note of each case whose notes differ. */
export function differentialReport(ws: VariantResult, netws: VariantResult): string {
  const all = allTests(ws, netws);
  const bothPassed = (id: string) => statusOf(ws, id) === 'passed' && statusOf(netws, id) === 'passed';
  const differ = (id: string) => bothPassed(id) && notesDiffer(ws, netws, id);
  const rows = all.map((id) => {
    const declared = netws.tests.get(id)?.differs !== undefined;
    const same = !bothPassed(id)
      ? '-'
      : differ(id)
        ? declared
          ? 'differ (declared)'
          : 'DIFFER'
        : declared
          ? 'SAME (declared to differ)'
          : 'same';
    return [id.length > 100 ? `${id.slice(0, 97)}...` : id, statusOf(ws, id), statusOf(netws, id), same];
  });
  const c = [ws, netws].map((result) => counts(result, all));
  rows.push(['(total)', `${c[0]!.passed}/${all.length}`, `${c[1]!.passed}/${all.length}`, '']);
  const out = [table(['case', ws.label, netws.label, 'notes'], rows)];
  out.push(
    '',
    table(
      ['run', 'left running after its cases', 'ending'],
      [ws, netws].map((r) => [r.label, r.leaks ? grouped(r.leaks) || 'nothing' : '(no record)', ending(r)]),
    ),
  );
  for (const id of all) {
    for (const result of [ws, netws]) {
      const test = result.tests.get(id);
      if (test?.status === 'failed')
        out.push('', `${result.label} failed: ${id}`, `    ${(test.error ?? '').split('\n').slice(0, 3).join('\n    ')}`);
    }
    if (differ(id)) {
      const declared = netws.tests.get(id)?.differs;
      out.push(
        '',
        `notes differ${declared ? ` (declared: ${declared})` : ''}: ${id}`,
        `    ${firstDifference(ws.tests.get(id)?.notes, netws.tests.get(id)?.notes)}`,
      );
    }
  }
  for (const result of [ws, netws]) {
    for (const message of result.diagnostics) out.push(`${result.label}: ${oneLine(message)}`);
  }
  return out.join('\n');
}
