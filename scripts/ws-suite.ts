/**
 * node --import tsx scripts/ws-suite.ts <ws-checkout> [--out DIR] [--no-build] [--json FILE] [--grep TEXT]
 *
 * Runs ws's own public-API tests (test/websocket.test.js,
 * test/websocket-server.test.js, test/create-websocket-stream.test.js of a ws
 * 8.21+ checkout) twice with mocha, as ws runs them: once against ws itself
 * and once with ws's classes swapped for netws's CommonJS build, then sorts
 * every test (issue 20's measure: at least 95% of the tests that do not read
 * ws's private state pass, and every other failure is a declared difference).
 *
 * ws's tests are not part of this repository (they are ws's code; we learn
 * from them and do not copy them): get a checkout yourself, e.g.
 * `git clone --branch 8.21.0 --depth 1 <ws's repository> /tmp/ws`, then
 * `node --import tsx scripts/ws-suite.ts /tmp/ws`.
 *
 * What it does, in --out (default: $TMPDIR/netws-ws-suite; its ws/ and netws/
 * are made anew on each run, mocha is installed once):
 * - ws/: a copy of the checkout's index.js, lib/, test/, package.json, run as
 *   it is (a test that fails there fails for the environment: set aside);
 * - netws/: the same copy, where index.js, lib/websocket.js,
 *   lib/websocket-server.js and lib/stream.js re-export netws's dist/commonjs.cjs
 *   and lib/event-target.js netws's event classes (the tests check the class of
 *   the events they receive). ws's other modules (constants, sender's frame
 *   builder, ...) stay: the tests use them only as helpers;
 * - mocha 8 (ws's version) installed there with npm.
 * Tests set aside (below) are not run at all (mocha reports them pending), on
 * either side, so that what they leave behind cannot fail the next test.
 * netws is built first (`npm run build`) unless --no-build. A test that got
 * no outcome (mocha skips the rest of a suite after an afterEach hook failed)
 * is run again alone. After each test, what it left open for 300 ms (sockets,
 * servers) is listed; a run still alive 5 s after its last test is ended. The
 * whole takes about 20 s after the build; --json FILE writes every row.
 *
 * Sorting: a test whose body (or a hook around it) reads or patches ws's
 * private state (`_receiver`, `_socket`, `_req`, internal symbols, ...) is set
 * aside, found by the markers in PRIVATE below. Each failure on netws is looked
 * up in KNOWN (title → category): `message` (only the error's message or class
 * differs), `difference` (a row of "Differences from ws", named), `gap` (an
 * undeclared gap); a failure not listed is `unsorted`. The report with the
 * causes and proposed fixes is written by hand from this output.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const FILES = ['test/websocket.test.js', 'test/websocket-server.test.js', 'test/create-websocket-stream.test.js'];
/** A run that has not ended this long after it started is killed (a leaked handle keeps mocha alive). */
const RUN_DEADLINE_MS = 300_000;

/** Markers of ws's private state in a test's source, each with why it sets the test aside. */
const PRIVATE: [RegExp, string][] = [
  [/\._receiver\b/, "reads ws's Receiver (_receiver)"],
  [/\._sender\b/, "reads ws's Sender (_sender)"],
  [/\._socket\b/, "reads ws's socket slot (_socket)"],
  [/\._req\b/, "reads ws's client request slot (_req)"],
  [/\._redirects\b/, "reads ws's redirect counter (_redirects)"],
  [/\._state\b/, "reads ws's server state (_state)"],
  [/\._closeTimer\b/, "reads ws's close timer (_closeTimer)"],
  [/\._(maxPayload|maxFragments|maxBufferedChunks|idleTimeout|extensions)\b/, "reads ws's stored options (_maxPayload, ...)"],
  [/\._server\b/, "reads ws's server slot (_server)"],
  [/\[k[A-Z]\w*\]/, 'reads an internal symbol of ws (kListener, kStatusCode, ...)'],
  [/\bstrictEqual\(\s*\w+,\s*EMPTY_BUFFER\s*\)/, "compares by identity with ws's internal EMPTY_BUFFER constant"],
  [/\._(final|read)\s*=/, "patches the stream's implementation methods (_final, _read)"],
];

type Outcome = 'passed' | 'failed' | 'pending';
interface Result {
  id: string;
  file: string;
  title: string;
  state: Outcome;
  error?: string;
  source: string;
  /** Whether mocha gave the test an outcome (false: skipped after a hook failed). */
  reported: boolean;
  /** What the test left open (sockets, servers) 300 ms after it ended. */
  leaked?: string[];
}
type Category = 'message' | 'difference' | 'gap';
interface Known {
  category: Category;
  note: string;
}

/**
 * netws's failures, sorted by hand (see /work/notes/ws-suite-report.md for the
 * causes): keyed by the test's full title. `difference` notes name the row.
 */
const KNOWN: Record<string, Known> = {
  'WebSocket Attributes `bufferedAmount` takes into account the data in the sender queue': {
    category: 'difference',
    note: 'row "bufferedAmount right after a small send()" (a small message is deflated at once: its frame counts)',
  },
  'WebSocket Attributes `extensions` exposes the negotiated extensions names (2/2)': {
    category: 'difference',
    note: 'row "ws.extensions"',
  },
  'WebSocket permessage-deflate is enabled by default': {
    category: 'difference',
    note: 'row "permessage-deflate defaults" (the client\'s offer)',
  },
  'WebSocket permessage-deflate #terminate can be used while data is being compressed': {
    category: 'difference',
    note: 'row "terminate() right after send() of a compressed message up to 64 KiB" (deflated at once and sent: the callback gets no error)',
  },
  'WebSocketServer #ctor 426s for non-Upgrade requests': {
    category: 'difference',
    note: 'row "refusal answers" (netws\'s wording of the 426 body)',
  },
  'WebSocketServer Connection establishing fails if the Sec-WebSocket-Version header is invalid (2/2)': {
    category: 'difference',
    note: 'row "unsupported Sec-WebSocket-Version" (426)',
  },
  'WebSocketServer Connection establishing fails if the Sec-WebSocket-Extensions header is invalid': {
    category: 'difference',
    note: 'row "an offer netws cannot take as it is" (declined, the connection opens)',
  },
  'WebSocketServer permessage-deflate is disabled by default': {
    category: 'difference',
    note: 'row "permessage-deflate defaults" (the client\'s offer)',
  },
  'WebSocketServer permessage-deflate uses configuration options': {
    category: 'difference',
    note: 'row "permessage-deflate defaults" (the server\'s answer)',
  },
};

function parseArgs(argv: string[]) {
  const args = { checkout: '', out: path.join(os.tmpdir(), 'netws-ws-suite'), build: true, json: '', grep: '' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--out') args.out = path.resolve(argv[++i]!);
    else if (arg === '--no-build') args.build = false;
    else if (arg === '--json') args.json = path.resolve(argv[++i]!);
    else if (arg === '--grep') args.grep = argv[++i]!;
    else args.checkout = path.resolve(arg);
  }
  const insideOut = ['ws', 'netws'].some((dir) => !path.relative(path.join(args.out, dir), args.checkout).startsWith('..'));
  if (args.checkout === '' || !existsSync(path.join(args.checkout, 'lib/websocket.js')) || insideOut) {
    console.error('usage: node --import tsx scripts/ws-suite.ts <ws-checkout> [--out DIR] [--no-build] [--json FILE] [--grep TEXT]');
    process.exit(2);
  }
  return args;
}

/**
 * The reporter mocha loads. It writes JSON lines: every test of the files at
 * the start (with the source of its body and of the hooks around it, and an id
 * that tells apart tests of the same title), then each outcome, then the
 * handles still open if the process has not exited 5 s after the last test
 * (then it exits: a leak must not hang the run).
 */
const REPORTER = `'use strict';
const fs = require('fs');
const Mocha = require('mocha');
const { EVENT_RUN_BEGIN, EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;
module.exports = function LineReporter(runner) {
  Mocha.reporters.Base.call(this, runner);
  const out = process.env.WS_SUITE_OUT;
  const write = (line) => fs.appendFileSync(out, JSON.stringify(line) + '\\n');
  const ids = new Map();
  global.wsSuiteIds = ids;
  const fileOf = (test) => (test.file || '').replace(/^.*\\/test\\//, 'test/');
  const hooksOf = (test) => {
    let source = '';
    for (let suite = test.parent; suite && !suite.root; suite = suite.parent) {
      for (const hook of [...suite._beforeEach, ...suite._afterEach, ...suite._beforeAll, ...suite._afterAll]) source += hook.body;
    }
    return source;
  };
  const markers = JSON.parse(process.env.WS_SUITE_PRIVATE || '[]').map((source) => new RegExp(source));
  const errorText = (err) => String(err && err.stack ? err.stack.split('\\n').slice(0, 8).join('\\n') : err);
  runner.on(EVENT_RUN_BEGIN, () => {
    const seen = new Map();
    const walk = (suite) => {
      for (const test of suite.tests) {
        const key = fileOf(test) + ' ' + test.fullTitle();
        const n = seen.get(key) || 0;
        seen.set(key, n + 1);
        ids.set(test, key + ' #' + n);
        const source = (test.body || '') + hooksOf(test);
        // Set aside before it runs: a test that reaches into ws's internals must not
        // leave listeners or sockets behind that the next test trips over.
        if (markers.some((marker) => marker.test(source))) test.pending = true;
        write({ kind: 'test', id: ids.get(test), file: fileOf(test), title: test.fullTitle(), source });
      }
      suite.suites.forEach(walk);
    };
    walk(runner.suite);
  });
  runner.on(EVENT_TEST_PASS, (test) => write({ kind: 'result', id: ids.get(test), state: 'passed' }));
  runner.on(EVENT_TEST_PENDING, (test) => write({ kind: 'result', id: ids.get(test), state: 'pending' }));
  runner.on(EVENT_TEST_FAIL, (test, err) => {
    if (test.type === 'hook') {
      const current = test.ctx && test.ctx.currentTest;
      write({ kind: 'result', id: current ? ids.get(current) : undefined, state: 'failed', hook: test.fullTitle(), error: errorText(err) });
    } else write({ kind: 'result', id: ids.get(test), state: 'failed', error: errorText(err) });
  });
  runner.once(EVENT_RUN_END, () => {
    write({ kind: 'end' });
    setTimeout(() => {
      const handles = process._getActiveHandles().map((h) => (h && h.constructor ? h.constructor.name : typeof h));
      write({ kind: 'leak', handles });
      process.exit(0);
    }, 5000).unref();
  });
};
`;

/**
 * Root hooks mocha loads (--require): after each test, the sockets and servers
 * it opened that are still open once it called done() and 300 ms passed (ws's
 * own tests close everything they open, so on ws this stays empty).
 */
const LEAK_HOOKS = `'use strict';
const fs = require('fs');
const describe = (h) => {
  const name = h && h.constructor ? h.constructor.name : typeof h;
  if (typeof h.address === 'function' && typeof h.listen === 'function') return name + ' ' + JSON.stringify(h.address());
  if (h.remotePort !== undefined || h.localPort !== undefined) return name + ' ' + h.localPort + '->' + h.remotePort;
  return name;
};
let before = new Set();
exports.mochaHooks = {
  beforeEach() {
    before = new Set(process._getActiveHandles());
  },
  afterEach(done) {
    const test = this.currentTest;
    if (test.isPending()) return done();
    const started = Date.now();
    const check = () => {
      const left = process._getActiveHandles().filter((h) => !before.has(h) && !(h === process.stdout || h === process.stderr || h === process.stdin));
      if (left.length === 0) return done();
      if (Date.now() - started < 300) return void setTimeout(check, 10);
      fs.appendFileSync(process.env.WS_SUITE_OUT, JSON.stringify({ kind: 'leak-test', id: global.wsSuiteIds && global.wsSuiteIds.get(test), handles: left.map(describe) }) + '\\n');
      done();
    };
    check();
  },
};
`;

/** The modules replaced in the netws copy: each re-exports a piece of netws's CommonJS build. */
function shims(netwsEntry: string): Record<string, string> {
  const entry = JSON.stringify(netwsEntry);
  return {
    'index.js': `'use strict';\nmodule.exports = require(${entry});\n`,
    'lib/websocket.js': `'use strict';\nmodule.exports = require(${entry});\n`,
    'lib/websocket-server.js': `'use strict';\nmodule.exports = require(${entry}).WebSocketServer;\n`,
    'lib/stream.js': `'use strict';\nmodule.exports = require(${entry}).createWebSocketStream;\n`,
    'lib/event-target.js': [
      `'use strict';`,
      `const netws = require(${entry});`,
      `module.exports = { Event: netws.WebSocketEvent, CloseEvent: netws.CloseEvent, ErrorEvent: netws.ErrorEvent, MessageEvent: netws.MessageEvent };`,
      '',
    ].join('\n'),
  };
}

function copyCheckout(checkout: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const name of ['index.js', 'package.json', 'lib', 'test'])
    cpSync(path.join(checkout, name), path.join(dir, name), { recursive: true });
}

interface Line {
  kind: 'test' | 'result' | 'end' | 'leak' | 'leak-test';
  id?: string;
  file?: string;
  title?: string;
  source?: string;
  state?: Outcome;
  hook?: string;
  error?: string;
  handles?: string[];
}

/** One mocha process over `files` in `dir`; returns its reporter's lines. */
function mocha(dir: string, label: string, files: string[], grep: string): Line[] {
  const lines = path.join(dir, '..', `${label}.jsonl`);
  rmSync(lines, { force: true });
  const argv = [
    path.join(dir, '..', 'node_modules/mocha/bin/mocha'),
    '--throw-deprecation',
    '--reporter',
    path.join(dir, '..', 'reporter.js'),
  ];
  argv.push('--require', path.join(dir, '..', 'leak-hooks.js'));
  if (grep !== '') argv.push('--grep', grep);
  const child = spawnSync(process.execPath, [...argv, ...files], {
    cwd: dir,
    env: { ...process.env, WS_SUITE_OUT: lines, WS_SUITE_PRIVATE: JSON.stringify(PRIVATE.map(([marker]) => marker.source)) },
    encoding: 'utf8',
    timeout: RUN_DEADLINE_MS,
    killSignal: 'SIGKILL',
  });
  if (child.signal !== null) console.log(`${label}: killed (${child.signal}) after ${RUN_DEADLINE_MS / 1000} s`);
  if (!existsSync(lines)) return [];
  return readFileSync(lines, 'utf8')
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Line);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Every test of the files in `dir`, with its outcome. A test that got none in
 * the whole run (a failing `afterEach` hook makes mocha skip the rest of its
 * suite) is run again alone, so one failure does not hide the tests after it.
 */
function run(dir: string, label: string, grep: string): Result[] {
  const started = Date.now();
  const tests = new Map<string, Result>();
  const take = (lines: Line[], note: string) => {
    for (const line of lines) {
      if (line.kind === 'test' && !tests.has(line.id!)) {
        tests.set(line.id!, {
          id: line.id!,
          file: line.file!,
          title: line.title!,
          state: 'pending',
          source: line.source!,
          reported: false,
        });
      } else if (line.kind === 'result' && line.id !== undefined) {
        const test = tests.get(line.id)!;
        if (line.state === 'failed') {
          const error = `${line.hook === undefined ? '' : `(in ${line.hook}) `}${line.error}`;
          test.error = test.error === undefined ? error : `${test.error}\n-- then: ${error}`;
          test.state = 'failed';
        } else if (test.state !== 'failed') test.state = line.state!;
        test.reported = true;
      } else if (line.kind === 'leak-test' && line.id !== undefined) {
        tests.get(line.id)!.leaked = line.handles;
      } else if (line.kind === 'leak')
        console.log(`${label}${note}: still running 5 s after its last test, open handles: ${line.handles!.join(', ')}`);
    }
  };
  take(mocha(dir, label, FILES, grep), '');
  const missed = [...tests.values()].filter((test) => !test.reported && (grep === '' || test.title.includes(grep)));
  for (const test of missed) {
    take(mocha(dir, label, [test.file], `^${escapeRegExp(test.title)}$`), ` (alone: ${test.title})`);
    if (test.reported) test.error = test.error === undefined ? undefined : `${test.error}\n(run alone: skipped in the full run)`;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${label}: ${tests.size} tests, ${missed.length} run again alone, ${seconds} s`);
  return [...tests.values()].filter((test) => test.reported);
}

function privateReason(source: string): string | undefined {
  for (const [marker, reason] of PRIVATE) if (marker.test(source)) return reason;
  return undefined;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const netwsEntry = path.join(root, 'dist/commonjs.cjs');
  if (args.build) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  rmSync(path.join(args.out, 'ws'), { recursive: true, force: true });
  rmSync(path.join(args.out, 'netws'), { recursive: true, force: true });
  copyCheckout(args.checkout, path.join(args.out, 'ws'));
  copyCheckout(args.checkout, path.join(args.out, 'netws'));
  for (const [file, text] of Object.entries(shims(netwsEntry))) writeFileSync(path.join(args.out, 'netws', file), text);
  writeFileSync(path.join(args.out, 'reporter.js'), REPORTER);
  writeFileSync(path.join(args.out, 'leak-hooks.js'), LEAK_HOOKS);
  if (!existsSync(path.join(args.out, 'node_modules/mocha'))) {
    writeFileSync(path.join(args.out, 'package.json'), '{ "private": true }\n');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--silent', 'mocha@8'], { cwd: args.out, stdio: 'inherit' });
  }

  const onWs = new Map(run(path.join(args.out, 'ws'), 'ws', args.grep).map((r) => [r.id, r]));
  const onNetws = run(path.join(args.out, 'netws'), 'netws', args.grep);

  interface Row {
    result: Result;
    verdict: 'passed' | 'set aside' | 'environment' | Category | 'unsorted';
    note: string;
  }
  const rows: Row[] = onNetws.map((result) => {
    const reason = privateReason(result.source);
    if (reason !== undefined) return { result, verdict: 'set aside', note: reason };
    const wsResult = onWs.get(result.id);
    if (wsResult === undefined || wsResult.state !== 'passed')
      return { result, verdict: 'environment', note: `on ws: ${wsResult?.state ?? 'not run'}` };
    if (result.state === 'passed') return { result, verdict: 'passed', note: '' };
    const known = KNOWN[result.title];
    if (known !== undefined) return { result, verdict: known.category, note: known.note };
    return { result, verdict: 'unsorted', note: '' };
  });

  const verdicts = ['passed', 'set aside', 'environment', 'message', 'difference', 'gap', 'unsorted'] as const;
  const table = [`| file | ${verdicts.join(' | ')} | passed of those not set aside |`, `| --- |${' ---: |'.repeat(verdicts.length + 1)}`];
  for (const file of [...FILES, 'all']) {
    const mine = rows.filter((row) => file === 'all' || row.result.file === file);
    const count = (verdict: string) => mine.filter((row) => row.verdict === verdict).length;
    const counted = mine.length - count('set aside') - count('environment');
    const share = counted === 0 ? '-' : `${count('passed')}/${counted} (${((100 * count('passed')) / counted).toFixed(1)}%)`;
    table.push(`| ${file} | ${verdicts.map(count).join(' | ')} | ${share} |`);
  }
  const wsCounted = [...onWs.values()].filter((r) => privateReason(r.source) === undefined);
  console.log(`\nws: ${wsCounted.filter((r) => r.state === 'passed').length} of its ${wsCounted.length} tests not set aside passed\n`);
  console.log(table.join('\n'));
  for (const verdict of ['set aside', 'environment', 'message', 'difference', 'gap', 'unsorted'] as const) {
    const mine = rows.filter((row) => row.verdict === verdict);
    if (mine.length === 0) continue;
    console.log(`\n## ${verdict} (${mine.length})`);
    for (const row of mine) {
      console.log(
        `- [${row.result.file.replace(/^test\/|\.test\.js$/g, '')}] ${row.result.title}${row.note === '' ? '' : ` — ${row.note}`}`,
      );
      if (verdict === 'unsorted' && row.result.error !== undefined)
        console.log(`    ${row.result.error.split('\n').slice(0, 3).join('\n    ')}`);
    }
  }
  for (const [label, results] of [
    ['ws', [...onWs.values()]],
    ['netws', onNetws],
  ] as const) {
    const leaky = results.filter((r) => r.leaked !== undefined);
    if (leaky.length === 0) continue;
    console.log(`\n## left open 300 ms after the test ended, on ${label} (${leaky.length})`);
    for (const r of leaky) console.log(`- ${r.title}: ${r.leaked!.join(', ')}`);
  }
  if (args.json !== '') writeFileSync(args.json, JSON.stringify(rows, null, 1));
}

main();
