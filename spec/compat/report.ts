/**
 * Writes STATUS.md from a run of the compat suite:
 *
 *   COMPAT_DUMP=/tmp/compat.jsonl node --import tsx node_modules/uvu/bin.js spec/compat "\.spec\.ts$"
 *   node --import tsx spec/compat/report.ts /tmp/compat.jsonl > spec/compat/STATUS.md
 *
 * Every failing case is listed under the first cause whose rule matches its
 * title (or, failing that, its first differing transcript entry), with the
 * first entry where ws and netws part ways. A case no rule matches is listed
 * under "Unclassified": add a rule.
 */

import { readFileSync } from 'node:fs';

interface Case {
  file: string;
  title: string;
  passed: boolean;
  declared: string | null;
  ws: unknown[];
  netws: unknown[];
  expected: unknown[];
}

interface Cause {
  id: string;
  title: string;
  /** One line: where the fix probably goes in src/. */
  fix: string;
  /** Matched against "file: title" and the first differing entries. */
  rule: RegExp;
}

const causes: Cause[] = [
  {
    id: 'module',
    title: 'Module shape: no default export',
    fix: "src/index.ts: `export default WebSocket` (or decide it a difference). The ws side of the second case depends on the process: ws's ESM default (lib/websocket.js's class) carries .Server and the other statics only once ws's CJS entry (index.js) has run too, as it has after engineio.spec.ts loads engine.io",
    rule: /^module\.spec/,
  },
  {
    id: 'redirects',
    title: 'Client: followRedirects, maxRedirects and the redirect event are not implemented',
    fix: 'client.ts: on 3xx with Location and followRedirects, re-run the handshake (count against maxRedirects, emit redirect(url, request) before), dropping Authorization/Cookie/Host across origins unless a redirect listener exists',
    rule: /redirect/i,
  },
  {
    id: 'http-request-options',
    title: "Client: ws's http.request options are ignored (agent, auth, lookup, finishRequest, createConnection's signature, ws+unix:)",
    fix: 'client.ts: either build the request on node:http (http.request/https.request with the options, as ws does) or honour each option: agent.createConnection, auth → Authorization, lookup, socketPath for ws+unix:, finishRequest(req) before end(), createConnection(requestOptions)',
    rule: /agent|auth \(|lookup|finishRequest|createConnection|ws\+unix|credentials in the URL/,
  },
  {
    id: 'client-request',
    title: 'Client: the request headers (protocol list, array values, Host override, protocolVersion 8)',
    fix: 'client.ts/handshake.ts: join subprotocols with "," (no space), send array header values as repeated lines, let headers.Host replace the generated Host, accept protocolVersion 8 (Sec-WebSocket-Origin) and throw a RangeError for others',
    rule: /protocols: a string|headers: |protocolVersion|the opening request/,
  },
  {
    id: 'client-response',
    title: "Client: reading the server's response (unexpected-response, upgrade headers, garbage status line, missing subprotocol)",
    fix: "client.ts: emit 'unexpected-response'(req, res) with a readable IncomingMessage-like body and no error when listened to; headers like node:http (set-cookie an array); fail as soon as the status line is invalid; fail when a requested subprotocol is not answered",
    rule: /unexpected-response|'upgrade' gets|garbage status line|no subprotocol/,
  },
  {
    id: 'syntax-error',
    title: 'Constructor errors are DOMException SyntaxErrors (a decided difference, not declared yet)',
    fix: 'none in src/: issue 11 decided the DOMException (item 1); declare it (`differs:`) in client.spec.ts',
    rule: /invalid address|invalid subprotocols/,
  },
];

const file = process.argv[2];
if (!file) {
  console.error('usage: node --import tsx spec/compat/report.ts <COMPAT_DUMP file>');
  process.exit(2);
}
const cases: Case[] = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Case);

function firstDifference(a: unknown[], b: unknown[]): [string, string] {
  let i = 0;
  while (i < Math.min(a.length, b.length) && JSON.stringify(a[i]) === JSON.stringify(b[i])) i++;
  const show = (entries: unknown[]): string => (i < entries.length ? JSON.stringify(entries[i]) : '(nothing more)');
  return [show(a), show(b)];
}

const cell = (text: string): string => {
  const short = text.length > 160 ? `${text.slice(0, 157)}…` : text;
  return '`' + short.replace(/`/g, "'").replace(/\|/g, '\\|') + '`';
};

const failing = cases.filter((c) => !c.passed);
const byCause = new Map<string, Case[]>();
for (const c of failing) {
  const [wsEntry, netwsEntry] = firstDifference(c.expected, c.netws);
  const subject = `${c.file}: ${c.title}`;
  const cause =
    causes.find((candidate) => candidate.rule.test(subject)) ?? causes.find((candidate) => candidate.rule.test(`${wsEntry} ${netwsEntry}`));
  const id = cause?.id ?? 'unclassified';
  if (!byCause.has(id)) byCause.set(id, []);
  byCause.get(id)!.push(c);
}

const out: string[] = [];
const passed = cases.length - failing.length;
const perFile = new Map<string, [number, number]>();
for (const c of cases) {
  const [p, f] = perFile.get(c.file) ?? [0, 0];
  perFile.set(c.file, c.passed ? [p + 1, f] : [p, f + 1]);
}
out.push('# spec/compat status');
out.push('');
out.push('Generated by `spec/compat/report.ts` from a run of the compat suite (see its header for the commands);');
out.push('regenerate it after changing src/ or the cases. "ws" is the first transcript entry where the two');
out.push('libraries part ways as ws has it (or as the declared difference expects it), "netws" is netws\'s entry there.');
out.push('');
out.push(`**${cases.length} cases: ${passed} pass, ${failing.length} fail on netws.**`);
out.push('');
out.push('| file | pass | fail |');
out.push('| --- | ---: | ---: |');
for (const [name, [p, f]] of [...perFile].sort()) out.push(`| ${name} | ${p} | ${f} |`);
out.push('');
out.push('## Failing cases by cause');
out.push('');
out.push('| cause | cases | fix (a guess at where in src/) |');
out.push('| --- | ---: | --- |');
for (const cause of [...causes, { id: 'unclassified', title: 'Unclassified', fix: 'add a rule to report.ts', rule: /$^/ }]) {
  const list = byCause.get(cause.id);
  if (list) out.push(`| [${cause.title}](#${cause.id}) | ${list.length} | ${cause.fix} |`);
}
out.push('');
const timedOut = failing.filter((c) =>
  c.netws.some((entry) => Array.isArray(entry) && entry[0] === 'threw' && String(entry[1]).includes('timed out')),
);
const leaked = cases.filter((c) => c.netws.some((entry) => Array.isArray(entry) && entry[0] === 'leaked'));
// An uncaught exception the expected transcript has too (ws throws there as well) is no finding.
const isUncaught = (entry: unknown): boolean => Array.isArray(entry) && entry[0] === 'uncaught';
const uncaught = cases.filter((c) => c.netws.some(isUncaught) && !c.expected.some(isUncaught));
out.push('## Hangs, leaks and uncaught exceptions on netws');
out.push('');
out.push('None of these hangs the suite: a netws run gets ten times what the ws run took (at least 300 ms), what it');
out.push('leaves open is reported as `leaked` and force-closed, an exception escaping a socket handler is caught.');
out.push('');
out.push(`- Waited in vain (timed out): ${timedOut.length} cases, each listed below with \`threw … timed out\`.`);
out.push(
  `- Leaked handles or timers after cleanup: ${leaked.length === 0 ? 'none' : leaked.map((c) => `${c.file}: ${c.title}`).join('; ')}.`,
);
out.push(`- Uncaught exceptions: ${uncaught.length === 0 ? 'none' : uncaught.map((c) => `${c.file}: ${c.title}`).join('; ')}.`);
out.push('');
for (const cause of [...causes, { id: 'unclassified', title: 'Unclassified', fix: 'add a rule to report.ts', rule: /$^/ }]) {
  const list = byCause.get(cause.id);
  if (!list) continue;
  out.push(`### ${cause.title}`);
  out.push(`<a id="${cause.id}"></a>`);
  out.push('');
  out.push(`Fix: ${cause.fix}.`);
  out.push('');
  out.push('| case | ws | netws |');
  out.push('| --- | --- | --- |');
  for (const c of list) {
    const [wsEntry, netwsEntry] = firstDifference(c.expected, c.netws);
    const declared = c.declared ? ' (declared difference)' : '';
    out.push(`| ${c.file.replace('.spec.ts', '')}: ${c.title.replace(/\|/g, '\\|')}${declared} | ${cell(wsEntry)} | ${cell(netwsEntry)} |`);
  }
  out.push('');
}
process.stdout.write(out.join('\n'));
