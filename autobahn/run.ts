/**
 * Runs the Autobahn|Testsuite against netws and gates the result.
 *
 *   npm run autobahn [-- options]
 *
 *   --mode server|client|both   default both
 *                               server: netws WebSocketServer (echo-server.ts) ← wstest fuzzingclient
 *                               client: netws WebSocket (client.ts) → wstest fuzzingserver
 *   --cases '1.*,6.4.*'         wstest case patterns (comma separated)
 *   --full                      every case (groups 1-13); also writes autobahn/RESULTS.md
 *   (default)                   the CI subset: groups 1-10 plus a 12/13 sample (CI_CASES), on every runtime
 *   --timeout <minutes>         limit per mode (default 10, 30 with --full)
 *   --runtime node22|node24|bun|deno
 *                               run netws (echo-server.ts, client.ts) on that runtime, a pinned version
 *                               installed by scripts/runtimes.ts; default: the Node running this script.
 *                               The bridge and the gate stay on this Node: they are the harness, not netws.
 *                               Reports go to reports/<mode>-<runtime>/.
 *   --transport h1|h2|both      default h1
 *                               h2: the same modes with WebSockets over HTTP/2 (RFC 8441), through
 *                               h2-bridge.ts, since wstest speaks HTTP/1.1 only:
 *                               server: wstest fuzzingclient → bridge → CONNECT stream → echo-server.ts --http2
 *                               client: client.ts --http2 → CONNECT stream → bridge → wstest fuzzingserver
 *                               (npm run autobahn:h2); --full writes RESULTS-h2.md
 *
 * Reports go to autobahn/reports/{server,client}/ (h2-server, h2-client over
 * HTTP/2; git-ignored), with the logs of every child process (wstest.log,
 * echo-server.log, client.log, bridge.log). The same strict gate judges
 * both transports. Everything listens on 127.0.0.1 only; every
 * child process is killed on exit, failure or interruption. Exit status 0
 * only if every mode passes the gate (see gate.ts).
 */

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type RuntimeName, runtimeCommand, runtimeNames } from '../scripts/runtimes.ts';
import { describeNonOk, evaluate, renderTable, type NonOkCase, type Verdict } from './gate.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const VENV_PYTHON = path.join(HERE, '.venv', 'bin', 'python');
const REPORTS = path.join(HERE, 'reports');
type Transport = 'h1' | 'h2';
/** The agent name in wstest's reports: one per transport, so a report says which it is. */
const AGENTS: Record<Transport, string> = { h1: 'netws', h2: 'netws-h2' };

/**
 * Compression in CI: every parameter set of group 13 and two payloads of
 * group 12, each at message sizes 16 B to 32 KiB (cases 1-8) and auto-
 * fragmented to 256 bytes (11-13), plus two of the 131,072-byte cases. The
 * whole of 12/13 takes about 25 minutes per mode; this sample about 4.
 */
const COMPRESSION_SAMPLE = ['12.1', '12.5', '13.1', '13.2', '13.3', '13.4', '13.5', '13.6', '13.7'].flatMap((group) =>
  [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13].map((i) => `${group}.${i}`),
);

export const CI_CASES = [...Array.from({ length: 10 }, (_, i) => `${i + 1}.*`), ...COMPRESSION_SAMPLE, '12.1.18', '13.7.18'];
export const FULL_CASES = Array.from({ length: 13 }, (_, i) => `${i + 1}.*`);

type Mode = 'server' | 'client';

/** The runtime netws runs on (--runtime); undefined: the Node running this script. */
let netwsRuntime: RuntimeName | undefined;

/** Starts one of netws's own programs (echo-server.ts, client.ts) on the runtime under test. */
function startNetws(file: string, args: string[], options: { cwd: string; logFile: string }): Started {
  if (netwsRuntime === undefined) return start(process.execPath, ['--import', 'tsx', file, ...args], options);
  const [command, ...rest] = runtimeCommand(netwsRuntime, file, args);
  return start(command, rest, options);
}

// ---- child processes -------------------------------------------------------

const children = new Set<ChildProcess>();
/** Children spawned as process-group leaders (install.sh and its pip processes). */
const groupLeaders = new WeakSet<ChildProcess>();

/**
 * Kills a child. The long-lived children (wstest, echo server, client) are
 * single processes left in our process group, so a CI runner that kills the
 * group gets them too; install.sh is a group leader and is killed with its group.
 */
function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (groupLeaders.has(child)) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
}

function killAll(): void {
  for (const child of children) kill(child);
  children.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    console.error(`\n[autobahn] ${signal}: stopping child processes`);
    killAll();
    process.exit(130);
  });
}

interface Started {
  child: ChildProcess;
  log: WriteStream;
  /** Everything the child printed so far (stdout and stderr). */
  output: () => string;
}

function start(command: string, args: string[], options: { cwd: string; logFile: string }): Started {
  const log = createWriteStream(options.logFile);
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let text = '';
  const collect = (chunk: Buffer): void => {
    log.write(chunk);
    if (text.length < 1_000_000) text += chunk.toString('utf8');
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.on('error', (error) => collect(Buffer.from(`[spawn error] ${error.message}\n`)));
  return { child, log, output: () => text };
}

type Exit = { code: number | null; signal: NodeJS.Signals | null } | 'timeout';

async function waitExit(child: ChildProcess, ms: number): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, ms));
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  try {
    return await Promise.race([exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM, then SIGKILL if it is still there after `grace` ms. */
async function stop(child: ChildProcess, grace = 3000): Promise<void> {
  kill(child, 'SIGTERM');
  if ((await waitExit(child, grace)) === 'timeout') {
    kill(child, 'SIGKILL');
    await waitExit(child, grace);
  }
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- helpers -----------------------------------------------------------------

async function runInstall(): Promise<void> {
  const child = spawn('bash', [path.join(HERE, 'install.sh')], { cwd: ROOT, detached: true, stdio: 'inherit' });
  children.add(child);
  groupLeaders.add(child);
  const exit = await waitExit(child, 15 * 60_000);
  children.delete(child);
  if (exit === 'timeout') {
    kill(child);
    throw new Error('install.sh timed out');
  }
  if (exit.code !== 0) throw new Error(`install.sh failed (exit ${exit.code ?? exit.signal})`);
}

/** The case ids wstest selects for these patterns, with its own resolver (CaseSet.parseSpecCases). */
function expandCases(patterns: readonly string[], exclude: readonly string[] = []): string[] {
  const script = [
    'import json, sys',
    'from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories, CaseSetname, CaseBasename',
    'from autobahntestsuite.caseset import CaseSet',
    'spec = json.loads(sys.argv[1])',
    'cs = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)',
    'ids = cs.parseSpecCases(spec)',
    'unknown = [i for i in ids if i not in cs.CasesById]',
    'if unknown:',
    '    sys.stderr.write("unknown case ids: %s\\n" % ", ".join(unknown))',
    '    sys.exit(2)',
    'print(json.dumps(ids))',
  ].join('\n');
  let out: string;
  try {
    out = execFileSync(VENV_PYTHON, ['-c', script, JSON.stringify({ cases: patterns, 'exclude-cases': exclude })], {
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`cannot expand the case patterns ${patterns.join(',')}: ${stderr || (error as Error).message}`);
  }
  return JSON.parse(out) as string[];
}

function wstestVersion(): string {
  const out = execFileSync(path.join(HERE, '.venv', 'bin', 'wstest'), ['-a'], { encoding: 'utf8', timeout: 60_000 });
  const suite = /AutobahnTestSuite\s+(\S+)/.exec(out)?.[1] ?? '?';
  const lib = /Autobahn\s+(\d\S*)/.exec(out)?.[1] ?? '?';
  return `AutobahnTestSuite ${suite} (Autobahn ${lib})`;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setTimeout(1000);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

function readIndex(file: string): { index: unknown; error?: string } {
  if (!existsSync(file)) return { index: undefined, error: `${path.relative(ROOT, file)} was not written` };
  try {
    return { index: JSON.parse(readFileSync(file, 'utf8')) as unknown };
  } catch (error) {
    return { index: undefined, error: `${path.relative(ROOT, file)}: ${(error as Error).message}` };
  }
}

function short(value: unknown, limit = 200): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

/** The interesting fields of a case's own report file, one per line. */
function caseDetail(outdir: string, c: NonOkCase): string[] {
  if (c.reportfile === null) return [];
  const file = path.join(outdir, c.reportfile);
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return [`(no readable ${c.reportfile})`];
  }
  const lines = [
    `description: ${short(report.description)}`,
    `expectation: ${short(report.expectation)}`,
    `result: ${short(report.result)}`,
    `resultClose: ${short(report.resultClose)}`,
    `expected: ${short(report.expected)}`,
    `received: ${short(report.received)}`,
    `expectedClose: ${short(report.expectedClose)}`,
    `close: local ${short(report.localCloseCode)}, remote ${short(report.remoteCloseCode)} ${short(report.remoteCloseReason)}; ` +
      `wasClean ${short(report.wasClean)} (${short(report.wasNotCleanReason)}); closedByMe ${short(report.closedByMe)}, ` +
      `droppedByMe ${short(report.droppedByMe)}, failedByMe ${short(report.failedByMe)}; ` +
      `closeHandshakeTimeout ${short(report.wasCloseHandshakeTimeout)}, serverDropTimeout ${short(report.wasServerConnectionDropTimeout)}`,
  ];
  return lines;
}

// ---- modes -------------------------------------------------------------------

interface ModeResult {
  mode: Mode;
  transport: Transport;
  verdict: Verdict;
  outdir: string;
  errors: string[];
  seconds: number;
}

/** Where a mode's reports and logs go: reports/server and reports/client for HTTP/1.1, reports/h2-* for HTTP/2. */
function modeDir(mode: Mode, transport: Transport): string {
  const dir = transport === 'h1' ? mode : `h2-${mode}`;
  return path.join(REPORTS, netwsRuntime === undefined ? dir : `${dir}-${netwsRuntime}`);
}

/** wstest's spec file for a mode's run, beside its reports: runs on different runtimes can share the machine. */
function specPath(outdir: string): string {
  return `${outdir}.json`;
}

/** Waits for a child to print `listening on <port>`; 0 if it did not within 30 s (or exited). */
async function listeningPort(started: Started, deadline: number): Promise<number> {
  const listenDeadline = Math.min(deadline, Date.now() + 30_000);
  while (Date.now() < listenDeadline && started.child.exitCode === null && started.child.signalCode === null) {
    const match = /listening on (\d+)/.exec(started.output());
    if (match) return Number(match[1]);
    await sleep(50);
  }
  return 0;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** The HTTP/1.1 ↔ HTTP/2 bridge (h2-bridge.ts) for one mode. */
function startBridge(direction: 'h1-to-h2' | 'h2-to-h1', target: string, outdir: string): Started {
  return start(
    process.execPath,
    ['--import', 'tsx', path.join(HERE, 'h2-bridge.ts'), '--direction', direction, '--target', target, '--port', '0'],
    {
      cwd: ROOT,
      logFile: path.join(outdir, 'bridge.log'),
    },
  );
}

/**
 * Over HTTP/2, every case must have gone through the bridge as a WebSocket
 * (wstest's connections, or the client's getCaseCount, cases and
 * updateReports): fewer would mean some did not test HTTP/2.
 */
function checkBridged(bridge: Started, expected: number, errors: string[]): void {
  const bridged = bridge.output().match(/^\[bridge\] #\d+ \S+ (?:200|101)\b/gm)?.length ?? 0;
  console.log(`[autobahn] ${bridged} WebSockets went through the HTTP/2 bridge`);
  if (bridged < expected) errors.push(`only ${bridged} WebSockets went through the HTTP/2 bridge, for ${expected} cases`);
}

async function runServerMode(
  patterns: string[],
  expected: number,
  transport: Transport,
  deadline: number,
): Promise<{ outdir: string; errors: string[] }> {
  const outdir = modeDir('server', transport);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const errors: string[] = [];

  const echo = startNetws(
    path.join(HERE, 'echo-server.ts'),
    ['--port', '0', '--host', '127.0.0.1', ...(transport === 'h2' ? ['--http2'] : [])],
    { cwd: ROOT, logFile: path.join(outdir, 'echo-server.log') },
  );
  let bridge: Started | null = null;
  try {
    const echoPort = await listeningPort(echo, deadline);
    if (echoPort === 0) {
      errors.push(`echo server did not start:\n${tail(echo.output())}`);
      return { outdir, errors };
    }
    let port = echoPort;
    if (transport === 'h2') {
      console.log(`[autobahn] server mode: echo-server.ts --http2 on 127.0.0.1:${echoPort}`);
      bridge = startBridge('h1-to-h2', `https://127.0.0.1:${echoPort}`, outdir);
      port = await listeningPort(bridge, deadline);
      if (port === 0) {
        errors.push(`h2-bridge.ts did not start:\n${tail(bridge.output())}`);
        return { outdir, errors };
      }
      console.log(`[autobahn] server mode: h2-bridge.ts (HTTP/1.1 upgrade → extended CONNECT) on 127.0.0.1:${port}`);
    } else {
      console.log(`[autobahn] server mode: echo-server.ts on 127.0.0.1:${port}`);
    }

    const specFile = specPath(outdir);
    writeFileSync(
      specFile,
      JSON.stringify(
        {
          outdir,
          servers: [{ agent: AGENTS[transport], url: `ws://127.0.0.1:${port}` }],
          cases: patterns,
          'exclude-cases': [],
          'exclude-agent-cases': {},
          options: { failByDrop: false },
        },
        null,
        2,
      ),
    );
    const wstest = start(VENV_PYTHON, [path.join(HERE, 'wstest-loopback.py'), '-m', 'fuzzingclient', '-s', specFile], {
      cwd: REPORTS,
      logFile: path.join(outdir, 'wstest.log'),
    });
    const exit = await waitExit(wstest.child, deadline - Date.now());
    if (exit === 'timeout') {
      errors.push(`wstest fuzzingclient timed out; last output:\n${tail(wstest.output())}`);
      await stop(wstest.child);
    } else if (exit.code !== 0) {
      errors.push(`wstest fuzzingclient exited with ${exit.code ?? exit.signal}:\n${tail(wstest.output())}`);
    }
    if (!alive(echo.child)) errors.push(`echo server died during the run:\n${tail(echo.output())}`);
    if (bridge !== null) {
      if (!alive(bridge.child)) errors.push(`h2-bridge.ts died during the run:\n${tail(bridge.output())}`);
      checkBridged(bridge, expected, errors);
    }
    return { outdir, errors };
  } finally {
    if (bridge !== null) await stop(bridge.child);
    await stop(echo.child);
  }
}

async function runClientMode(
  patterns: string[],
  expected: number,
  transport: Transport,
  deadline: number,
): Promise<{ outdir: string; errors: string[] }> {
  const outdir = modeDir('client', transport);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const errors: string[] = [];

  const port = await freePort();
  const specFile = specPath(outdir);
  writeFileSync(
    specFile,
    JSON.stringify({ url: `ws://127.0.0.1:${port}`, outdir, cases: patterns, 'exclude-cases': [], 'exclude-agent-cases': {} }, null, 2),
  );
  const wstest = start(VENV_PYTHON, [path.join(HERE, 'wstest-loopback.py'), '-m', 'fuzzingserver', '-s', specFile, '-u', '0'], {
    cwd: REPORTS,
    logFile: path.join(outdir, 'wstest.log'),
  });
  let bridge: Started | null = null;
  try {
    const readyDeadline = Math.min(deadline, Date.now() + 30_000);
    let ready = false;
    while (!ready && Date.now() < readyDeadline && alive(wstest.child)) {
      ready = await canConnect(port);
      if (!ready) await sleep(200);
    }
    if (!ready) {
      errors.push(`wstest fuzzingserver did not accept connections on 127.0.0.1:${port}:\n${tail(wstest.output())}`);
      return { outdir, errors };
    }
    console.log(`[autobahn] client mode: wstest fuzzingserver on 127.0.0.1:${port}`);

    let url = `ws://127.0.0.1:${port}`;
    if (transport === 'h2') {
      bridge = startBridge('h2-to-h1', `127.0.0.1:${port}`, outdir);
      const bridgePort = await listeningPort(bridge, deadline);
      if (bridgePort === 0) {
        errors.push(`h2-bridge.ts did not start:\n${tail(bridge.output())}`);
        return { outdir, errors };
      }
      console.log(`[autobahn] client mode: h2-bridge.ts (extended CONNECT → HTTP/1.1 upgrade) on 127.0.0.1:${bridgePort}`);
      url = `wss://127.0.0.1:${bridgePort}`;
    }

    const client = startNetws(
      path.join(HERE, 'client.ts'),
      ['--url', url, '--agent', AGENTS[transport], ...(transport === 'h2' ? ['--http2'] : [])],
      { cwd: ROOT, logFile: path.join(outdir, 'client.log') },
    );
    const exit = await waitExit(client.child, deadline - Date.now());
    if (exit === 'timeout') {
      errors.push(`client.ts timed out; last output:\n${tail(client.output())}`);
      await stop(client.child);
    } else if (exit.code !== 0) {
      errors.push(`client.ts exited with ${exit.code ?? exit.signal}:\n${tail(client.output())}`);
    }
    if (bridge !== null) {
      if (!alive(bridge.child)) errors.push(`h2-bridge.ts died during the run:\n${tail(bridge.output())}`);
      checkBridged(bridge, expected, errors);
    }
    return { outdir, errors };
  } finally {
    if (bridge !== null) await stop(bridge.child);
    // The reports are written before /updateReports closes; wstest would serve forever.
    await stop(wstest.child);
  }
}

async function runMode(mode: Mode, transport: Transport, patterns: string[], expected: string[], budgetMs: number): Promise<ModeResult> {
  const started = Date.now();
  const deadline = started + budgetMs;
  const limit = budgetMs >= 60_000 ? `${Math.round(budgetMs / 6_000) / 10} min` : `${Math.round(budgetMs / 1000)} s`;
  const on = netwsRuntime ?? `node ${process.version}`;
  console.log(`\n[autobahn] ${label(mode, transport)}, netws on ${on}: ${expected.length} cases, limit ${limit}`);
  const run = mode === 'server' ? runServerMode : runClientMode;
  const { outdir, errors } = await run(patterns, expected.length, transport, deadline);
  const { index, error } = readIndex(path.join(outdir, 'index.json'));
  if (error !== undefined) errors.push(error);
  const verdict = evaluate(index, AGENTS[transport], expected);
  return { mode, transport, verdict, outdir, errors, seconds: Math.round((Date.now() - started) / 1000) };
}

/** 'server mode', 'client mode over HTTP/2', ... */
function label(mode: Mode, transport: Transport): string {
  return `${mode} mode${transport === 'h2' ? ' over HTTP/2' : ''}`;
}

const MODE_TITLES: Record<Transport, Record<Mode, string>> = {
  h1: {
    server: 'Server: netws WebSocketServer (autobahn/echo-server.ts) ← wstest fuzzingclient',
    client: 'Client: netws WebSocket (autobahn/client.ts) → wstest fuzzingserver',
  },
  h2: {
    server: 'Server over HTTP/2: netws WebSocketServer on node:http2 (echo-server.ts --http2) ← h2-bridge.ts ← wstest fuzzingclient',
    client: 'Client over HTTP/2: netws WebSocket, http2: true (client.ts --http2) → h2-bridge.ts → wstest fuzzingserver',
  },
};

function passed(result: ModeResult): boolean {
  return result.verdict.passed && result.errors.length === 0;
}

function printResult(result: ModeResult): void {
  const { verdict } = result;
  console.log(`\n=== ${MODE_TITLES[result.transport][result.mode]} ===`);
  console.log(`${passed(result) ? 'PASS' : 'FAIL'} in ${result.seconds} s; reports: ${path.relative(ROOT, result.outdir)}/index.json\n`);
  console.log(renderTable(verdict));
  if (verdict.nonOk.length > 0) {
    console.log(`\nNon-OK cases (${verdict.nonOk.length}):`);
    // Allowed UNIMPLEMENTED cases (permessage-deflate) go on one line; the rest one by one, with details.
    const allowedUnimplemented = verdict.nonOk.filter((c) => c.behavior === 'UNIMPLEMENTED' && !c.failing);
    for (const c of verdict.nonOk) {
      if (allowedUnimplemented.includes(c)) continue;
      console.log(`  ${describeNonOk(c)}`);
      if (!c.informationalByDesign) for (const d of caseDetail(result.outdir, c)) console.log(`      ${d}`);
    }
    if (allowedUnimplemented.length > 0) {
      console.log(`  UNIMPLEMENTED (allowed): ${allowedUnimplemented.map((c) => c.id).join(', ')}`);
    }
  }
  for (const error of result.errors) console.log(`\nERROR: ${error}`);
  if (verdict.failures.length > 0) console.log(`\nGate failures:\n${verdict.failures.map((f) => `  - ${f}`).join('\n')}`);
  if (verdict.warnings.length > 0) console.log(`\nWarnings:\n${verdict.warnings.map((w) => `  - ${w}`).join('\n')}`);
}

/** The file `--full` writes for a transport. */
const RESULTS_FILES: Record<Transport, string> = { h1: 'RESULTS.md', h2: 'RESULTS-h2.md' };

function resultsMarkdown(transport: Transport, results: ModeResult[], version: string, caseCount: number): string {
  const cpus = os.cpus();
  const lines = [
    transport === 'h1' ? '# Autobahn|Testsuite results' : '# Autobahn|Testsuite results over HTTP/2 (RFC 8441)',
    '',
    transport === 'h1'
      ? 'Generated by `npm run autobahn -- --full` (autobahn/run.ts); do not edit by hand.'
      : 'Generated by `npm run autobahn -- --full --transport h2` (autobahn/run.ts); do not edit by hand. ' +
        'wstest speaks HTTP/1.1 only: autobahn/h2-bridge.ts turns its upgrades into extended CONNECT streams ' +
        'and back, passing the bytes through unchanged (see its header for what that can and cannot show). ' +
        'HTTP/1.1 results: [RESULTS.md](RESULTS.md).',
    '',
    `- wstest: ${version}`,
    `- date: ${new Date().toISOString()}`,
    `- machine: ${execFileSync('uname', ['-srm'], { encoding: 'utf8' }).trim()}, ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? '?'})`,
    `- node: ${process.version}`,
    `- cases: all of groups 1-13 (${caseCount} per mode)`,
    '',
  ];
  for (const result of results) {
    lines.push(
      `## ${MODE_TITLES[result.transport][result.mode]}`,
      '',
      `Gate: **${passed(result) ? 'PASS' : 'FAIL'}** (${result.seconds} s)`,
      '',
    );
    lines.push(renderTable(result.verdict), '');
    const listed = result.verdict.nonOk.filter((c) => c.behavior !== 'UNIMPLEMENTED');
    const unimplemented = result.verdict.nonOk.length - listed.length;
    if (listed.length > 0) {
      lines.push('Non-OK cases:', '');
      for (const c of listed) {
        const note = c.informationalByDesign ? ' (informational by design)' : c.failing ? ' — **fails the gate**' : '';
        const code = c.remoteCloseCode === null ? '' : `, remote close ${c.remoteCloseCode}`;
        lines.push(`- ${c.id}: ${c.behavior} / close ${c.behaviorClose}${code}${note}`);
      }
      lines.push('');
    }
    if (unimplemented > 0) lines.push(`${unimplemented} case(s) UNIMPLEMENTED.`, '');
    for (const failure of [...result.errors.map((e) => e.split('\n')[0]!), ...result.verdict.failures]) {
      lines.push(`- ${failure}`);
    }
    if (result.errors.length + result.verdict.failures.length > 0) lines.push('');
  }
  return lines.join('\n');
}

// ---- main --------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'both' },
      cases: { type: 'string' },
      full: { type: 'boolean', default: false },
      timeout: { type: 'string' },
      transport: { type: 'string', default: 'h1' },
      runtime: { type: 'string' },
    },
  });
  if (values.runtime !== undefined) {
    if (!(runtimeNames as string[]).includes(values.runtime)) throw new Error(`--runtime must be one of ${runtimeNames.join(', ')}`);
    netwsRuntime = values.runtime as RuntimeName;
  }
  const mode = values.mode;
  if (mode !== 'server' && mode !== 'client' && mode !== 'both') throw new Error(`--mode must be server, client or both, not ${mode}`);
  const transport = values.transport;
  if (transport !== 'h1' && transport !== 'h2' && transport !== 'both')
    throw new Error(`--transport must be h1, h2 or both, not ${transport}`);
  if (values.full && values.cases !== undefined) throw new Error('--full and --cases exclude each other');
  if (values.full && netwsRuntime !== undefined) throw new Error('--full writes the RESULTS files of this Node; not with --runtime');
  const patterns =
    values.cases !== undefined
      ? values.cases
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : values.full
        ? FULL_CASES
        : CI_CASES;
  const minutes = values.timeout !== undefined ? Number(values.timeout) : values.full ? 30 : 10;
  if (!(minutes > 0)) throw new Error(`bad --timeout ${values.timeout}`);

  await runInstall();
  const expected = expandCases(patterns);
  if (expected.length === 0) throw new Error(`the case patterns ${patterns.join(',')} select no case`);
  const version = wstestVersion();
  console.log(`[autobahn] ${version}; patterns ${patterns.join(',')}`);
  mkdirSync(REPORTS, { recursive: true });

  const modes: Mode[] = mode === 'both' ? ['server', 'client'] : [mode];
  const transports: Transport[] = transport === 'both' ? ['h1', 'h2'] : [transport];
  const results: ModeResult[] = [];
  for (const t of transports) {
    for (const m of modes) {
      const result = await runMode(m, t, patterns, expected, minutes * 60_000);
      results.push(result);
      printResult(result);
    }
  }

  if (values.full) {
    for (const t of transports) {
      const file = path.join(HERE, RESULTS_FILES[t]);
      writeFileSync(
        file,
        resultsMarkdown(
          t,
          results.filter((r) => r.transport === t),
          version,
          expected.length,
        ),
      );
      console.log(`\n[autobahn] wrote ${path.relative(ROOT, file)}`);
    }
  }
  const ok = results.every(passed);
  const summary = results.map((r) => `${r.transport === 'h2' ? 'h2 ' : ''}${r.mode} ${passed(r) ? 'pass' : 'FAIL'} (${r.seconds} s)`);
  console.log(`\n[autobahn] ${ok ? 'PASS' : 'FAIL'}: ${summary.join(', ')}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (error: unknown) => {
    console.error(`[autobahn] ERROR: ${error instanceof Error ? error.message : String(error)}`);
    killAll();
    process.exit(2);
  },
);
