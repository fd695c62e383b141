import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFLATE_GROUPS, caseGroup, compareCaseIds, evaluate, renderNonOk, renderTable, type CaseEntry } from '../../autobahn/gate.ts';

// Recorded from a real server-mode run (npm run autobahn -- --mode server --cases ...)
// of these 11 cases: 9 OK (12.1.1 and 13.1.1 with permessage-deflate), 2 INFORMATIONAL by design.
type Index = Record<string, Record<string, CaseEntry>>;
const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/index.json', import.meta.url), 'utf8')) as Index;
const EXPECTED = Object.keys(FIXTURE.netws!).sort(compareCaseIds);

function fixture(): Index {
  return structuredClone(FIXTURE);
}

function withCase(id: string, entry: Partial<CaseEntry>): Index {
  const index = fixture();
  index.netws![id] = { ...index.netws![id]!, ...entry };
  return index;
}

test('the recorded run passes, with the expected counts', () => {
  const verdict = evaluate(FIXTURE, 'netws', EXPECTED);
  assert.ok(verdict.passed, verdict.failures.join('; '));
  assert.equal(verdict.failures, []);
  assert.equal(verdict.warnings, []);
  assert.is(verdict.total.cases, 11);
  assert.equal(verdict.total.behavior, { OK: 9, 'NON-STRICT': 0, INFORMATIONAL: 2, UNIMPLEMENTED: 0, FAILED: 0 });
  assert.is(verdict.total.closeNotOk, 2);
  assert.equal(
    verdict.groups.map((g) => g.group),
    [1, 2, 5, 6, 7, 9, 10, 12, 13],
  );
  const seven = verdict.groups.find((g) => g.group === 7)!;
  assert.is(seven.cases, 3);
  assert.is(seven.behavior.INFORMATIONAL, 2);
  assert.is(seven.closeNotOk, 2);
  assert.equal(
    verdict.nonOk.map((c) => [c.id, c.failing, c.informationalByDesign]),
    [
      ['7.1.6', false, true],
      ['7.13.1', false, true],
    ],
  );
});

test('NON-STRICT fails the gate', () => {
  const verdict = evaluate(withCase('6.4.1', { behavior: 'NON-STRICT' }), 'netws', EXPECTED);
  assert.not.ok(verdict.passed);
  assert.equal(verdict.failures, ['6.4.1: behavior NON-STRICT']);
  assert.is(verdict.groups.find((g) => g.group === 6)!.behavior['NON-STRICT'], 1);
  assert.ok(verdict.nonOk.some((c) => c.id === '6.4.1' && c.failing));
});

test('FAILED fails the gate', () => {
  const verdict = evaluate(withCase('5.1', { behavior: 'FAILED', behaviorClose: 'FAILED' }), 'netws', EXPECTED);
  assert.not.ok(verdict.passed);
  assert.equal(verdict.failures, ['5.1: behavior FAILED', '5.1: behaviorClose FAILED']);
  assert.is(verdict.total.behavior.FAILED, 1);
  assert.is(verdict.total.closeNotOk, 3);
});

test('an unknown behavior value fails the gate', () => {
  const verdict = evaluate(withCase('1.1.1', { behavior: 'WEIRD' }), 'netws', EXPECTED);
  assert.not.ok(verdict.passed);
  assert.equal(verdict.failures, ['1.1.1: unknown behavior "WEIRD"']);
  assert.is(verdict.total.unknown, 1);
});

test('a bad behaviorClose fails the gate, INFORMATIONAL does not', () => {
  for (const value of ['WRONG CODE', 'UNCLEAN', 'FAILED BY CLIENT', 'FAILED']) {
    const verdict = evaluate(withCase('2.1', { behaviorClose: value }), 'netws', EXPECTED);
    assert.not.ok(verdict.passed, value);
    assert.equal(verdict.failures, [`2.1: behaviorClose ${value}`]);
    assert.is(verdict.groups.find((g) => g.group === 2)!.closeNotOk, 1);
  }
  const informational = evaluate(withCase('2.1', { behaviorClose: 'INFORMATIONAL' }), 'netws', EXPECTED);
  assert.ok(informational.passed);
});

test('INFORMATIONAL outside the by-design cases passes with a warning', () => {
  const verdict = evaluate(withCase('7.3.1', { behavior: 'INFORMATIONAL' }), 'netws', EXPECTED);
  assert.ok(verdict.passed);
  assert.equal(verdict.warnings, ['7.3.1: INFORMATIONAL']);
});

test('a missing expected case fails the gate', () => {
  const index = fixture();
  delete index.netws!['9.1.1'];
  const verdict = evaluate(index, 'netws', EXPECTED);
  assert.not.ok(verdict.passed);
  assert.equal(verdict.missing, ['9.1.1']);
  assert.is(verdict.groups.find((g) => g.group === 9)!.missing, 1);
  assert.equal(verdict.failures, ['1 expected case(s) missing from the report: 9.1.1']);

  // Expected but never run at all (a case the patterns select that wstest skipped).
  const more = evaluate(FIXTURE, 'netws', [...EXPECTED, '3.1']);
  assert.not.ok(more.passed);
  assert.equal(more.missing, ['3.1']);

  // A malformed entry counts as missing.
  const broken = fixture();
  (broken.netws as Record<string, unknown>)['10.1.1'] = { behavior: 'OK' };
  assert.equal(evaluate(broken, 'netws', EXPECTED).missing, ['10.1.1']);
});

test('extra cases in the report only warn', () => {
  const verdict = evaluate(
    FIXTURE,
    'netws',
    EXPECTED.filter((id) => id !== '1.1.1'),
  );
  assert.ok(verdict.passed);
  assert.equal(verdict.unexpected, ['1.1.1']);
  assert.is(verdict.total.cases, 10);
  assert.is(verdict.warnings.length, 1);
});

test('empty JSON, a non-object, a missing or empty agent fail the gate', () => {
  for (const index of [{}, null, undefined, [], 'OK', 42]) {
    const verdict = evaluate(index, 'netws', EXPECTED);
    assert.not.ok(verdict.passed, JSON.stringify(index));
    assert.ok(verdict.failures[0]!.startsWith('report is empty'), verdict.failures[0]);
    assert.is(verdict.missing.length, EXPECTED.length);
  }
  const other = evaluate({ ws: FIXTURE.netws }, 'netws', EXPECTED);
  assert.not.ok(other.passed);
  assert.is(other.failures[0], 'no results for agent "netws" (agents in report: ws)');
  const empty = evaluate({ netws: {} }, 'netws', EXPECTED);
  assert.not.ok(empty.passed);
  assert.is(empty.failures[0], 'no cases recorded for agent "netws"');
  const nothingExpected = evaluate(FIXTURE, 'netws', []);
  assert.not.ok(nothingExpected.passed);
});

test('UNIMPLEMENTED fails in every group by default; an allowance covers only its groups', () => {
  const index = withCase('12.1.1', { behavior: 'UNIMPLEMENTED' });
  index.netws!['13.1.1']!.behavior = 'UNIMPLEMENTED';
  const strict = evaluate(index, 'netws', EXPECTED);
  assert.not.ok(strict.passed);
  assert.equal(strict.failures, [
    '12.1.1: behavior UNIMPLEMENTED outside groups (none)',
    '13.1.1: behavior UNIMPLEMENTED outside groups (none)',
  ]);
  assert.ok(strict.nonOk.filter((c) => c.behavior === 'UNIMPLEMENTED').every((c) => c.failing));

  // A build without compression could pass DEFLATE_GROUPS; other groups still fail.
  index.netws!['4.1.1'] = { behavior: 'UNIMPLEMENTED', behaviorClose: 'OK', duration: 1, remoteCloseCode: 1000 };
  const allowed = evaluate(index, 'netws', [...EXPECTED, '4.1.1'], { unimplementedGroups: DEFLATE_GROUPS });
  assert.equal(allowed.failures, ['4.1.1: behavior UNIMPLEMENTED outside groups 12/13']);
});

test('the table has a row per group and a total', () => {
  const table = renderTable(evaluate(FIXTURE, 'netws', EXPECTED)).split('\n');
  assert.is(table.length, 2 + 9 + 1);
  assert.ok(table[0]!.startsWith('| Group | Name | Cases | OK | NON-STRICT | INFORMATIONAL | UNIMPLEMENTED | FAILED |'));
  assert.is(table[2], '| 1 | Framing | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 0 |');
  assert.ok(table.includes('| 7 | Close Handling | 3 | 1 | 0 | 2 | 0 | 0 | 2 | 0 |'), table.join('\n'));
  assert.is(table.at(-1), '| **all** |  | 11 | 9 | 0 | 2 | 0 | 0 | 2 | 0 |');
  const lines = renderNonOk(evaluate(withCase('6.4.1', { behavior: 'NON-STRICT' }), 'netws', EXPECTED));
  assert.match(lines, /6\.4\.1: behavior NON-STRICT, behaviorClose OK, remote close 1007 \[FAIL\]/);
  assert.match(lines, /7\.1\.6: behavior INFORMATIONAL, behaviorClose INFORMATIONAL, remote close 1000 \[informational by design\]/);
});

test('case ids sort numerically and group by their first number', () => {
  assert.equal(['10.1.1', '2.10', '2.2', '1.1.10', '1.1.2', '12.1.1'].sort(compareCaseIds), [
    '1.1.2',
    '1.1.10',
    '2.2',
    '2.10',
    '10.1.1',
    '12.1.1',
  ]);
  assert.is(caseGroup('13.7.18'), 13);
});

test.run();
