/**
 * npm run test:frameworks: netws as frameworks get it, through npm
 * `overrides` ("ws": "file:netws-x.tgz"), in scratch projects installed from
 * the npm registry under os.tmpdir(), each suite run twice in the same run:
 * once with the real ws (overridden to the version the template pins) and
 * once with netws.
 *
 * - @fastify/websocket's own test suite, from its npm tarball, run as its
 *   package.json runs it (node --test): netws passes every test ws passes,
 *   at least as many, and exits within 30 s of its last test.
 * - engine.io and Socket.IO (engine.io's tarball ships no tests): a
 *   differential suite under the options deployments use.
 * - An echo and close smoke for express-ws, @hono/node-ws, isomorphic-ws,
 *   y-websocket and Socket.IO, each in its own project.
 *
 * Options: --only <folder>[,<folder>] runs some suites; --keep leaves the
 * scratch projects in place (their path is printed); --tarball <path> uses a
 * packed netws instead of packing this checkout.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { childEnv, runWatched } from './lib/processes.ts';
import { installedVersions, packNetws, pinnedWs, prepareProject, type ProjectSpec, type Variant, wsCopies } from './lib/projects.ts';
import { differentialReport, ownTestsReport, table } from './lib/report.ts';
import { allTests, counts, fromBody, fromNodeTest, gate, type VariantResult } from './lib/results.ts';

interface Suite extends ProjectSpec {
  title: string;
  kind: 'own-tests' | 'differential';
  /** The body a differential suite runs with node, in its project. */
  body?: string;
  /** Own tests netws must pass even where ws fails them. */
  netwsMustPass?: RegExp;
}

const suites: Suite[] = [
  {
    title: '@fastify/websocket, its own test suite (node --test)',
    folder: 'fastify-websocket',
    upstream: '@fastify/websocket@11.3.7',
    kind: 'own-tests',
    // injectWS, @fastify/websocket's testing API, is what setSocket() and _isServer exist for. ws 8.23.1 fails
    // the tests that use it only because injectWS sends Sec-WebSocket-Version as the number 13 and 8.23.1
    // compares it with the string '13' (400; 8.23.0 read it as a number). Without this rule a netws that lost
    // setSocket() would still pass the gate.
    netwsMustPass: /^test\/inject\.test\.js:|^test\/router\.test\.js:\d+ Should accept an array of GET methods$/,
  },
  { title: 'engine.io and Socket.IO, differential', folder: 'engine.io', body: 'suite.cjs', netwsByName: true, kind: 'differential' },
  { title: 'express-ws smoke', folder: 'express-ws', body: 'smoke.cjs', kind: 'differential' },
  { title: '@hono/node-ws smoke', folder: 'hono-node-ws', body: 'smoke.cjs', kind: 'differential' },
  { title: 'isomorphic-ws smoke', folder: 'isomorphic-ws', body: 'smoke.mjs', kind: 'differential' },
  { title: 'y-websocket smoke', folder: 'y-websocket', body: 'smoke.mjs', kind: 'differential' },
  { title: 'Socket.IO smoke', folder: 'socket.io', body: 'smoke.cjs', kind: 'differential' },
];

/** A run that reports no test for this long is a hang, and so is one that does not exit this long after its last test. */
const IDLE_MS = 30_000;
const CAP_MS = 240_000;
/** npm installs at once: they wait on the network and the cache more than on the 2 cores. */
const INSTALLS_AT_ONCE = 3;

const repository = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({
  options: { only: { type: 'string' }, keep: { type: 'boolean', default: false }, tarball: { type: 'string' } },
});
const selected = args.only ? suites.filter((suite) => args.only!.split(',').includes(suite.folder)) : suites;
if (selected.length === 0) throw new Error(`--only ${args.only}: no such suite (${suites.map((suite) => suite.folder).join(', ')})`);

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

async function inBatches<T, R>(items: T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return results;
}

/** What frameworks/common/linger-probe.mjs recorded: "file: handle" for each handle a test file left running. */
async function readProbe(probe: string, dir: string): Promise<string[]> {
  let text = '';
  try {
    text = await readFile(probe, 'utf8');
  } catch {
    return ['(no probe record)'];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      const { file, handles } = JSON.parse(line) as { file: string; handles: string[] };
      return handles.map((handle) => `${path.relative(dir, file)}: ${handle}`);
    })
    .sort();
}

async function runVariant(suite: Suite, variant: Variant, dir: string, label: string): Promise<VariantResult> {
  const base = { variant, label, exitCode: null as number | null, output: '', wsCopies: await wsCopies(dir) };
  if (suite.kind === 'own-tests') {
    const probe = path.join(dir, 'linger-probe.jsonl');
    const env = { ...childEnv, NODE_OPTIONS: `--import=${path.join(dir, 'linger-probe.mjs')}`, NETWS_FRAMEWORKS_PROBE: probe };
    const run = await runWatched(
      process.execPath,
      ['--test', `--test-reporter=${path.join(dir, 'node-test-reporter.mjs')}`, '--test-reporter-destination=stdout'],
      { cwd: dir, env, idleMs: IDLE_MS, capMs: CAP_MS },
    );
    const lingering = await readProbe(probe, dir);
    return fromNodeTest(run, dir, { ...base, exitCode: run.code, killed: run.killed, output: run.output, leaks: lingering });
  }
  const env = { ...childEnv, NETWS_FRAMEWORKS_LIB: variant, NETWS_FRAMEWORKS_FIXTURES: path.join(repository, 'spec/fixtures') };
  const run = await runWatched(process.execPath, [suite.body!], { cwd: dir, env, idleMs: IDLE_MS, capMs: CAP_MS });
  return fromBody(run, { ...base, exitCode: run.code, killed: run.killed, output: run.output });
}

async function main(): Promise<number> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'netws-frameworks-'));
  const cleanup = () => (args.keep ? undefined : rm(root, { recursive: true, force: true }));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void Promise.resolve(cleanup()).finally(() => process.exit(130));
    });
  }
  try {
    const tarball = args.tarball ? path.resolve(args.tarball) : await packNetws(repository, path.join(root, 'pack'));
    const netwsVersion = path.basename(tarball).replace(/^netws-|\.tgz$/g, '');
    console.log(`== netws ${netwsVersion} packed (${elapsed()}): ${tarball}`);

    const jobs = selected.flatMap((suite) => (['ws', 'netws'] as const).map((variant) => ({ suite, variant })));
    const dirs = await inBatches(jobs, INSTALLS_AT_ONCE, ({ suite, variant }) => prepareProject(suite, variant, tarball, root));
    console.log(`== ${jobs.length} scratch projects installed under ${root} (${elapsed()})`);

    const summary: string[][] = [];
    let failedGates = 0;
    for (const [index, suite] of selected.entries()) {
      const wsDir = dirs[index * 2]!;
      const netwsDir = dirs[index * 2 + 1]!;
      const wsLabel = `ws ${await pinnedWs(suite.folder)}`;
      const netwsLabel = `netws ${netwsVersion}`;
      const suiteStarted = Date.now();
      const ws = await runVariant(suite, 'ws', wsDir, wsLabel);
      const netws = await runVariant(suite, 'netws', netwsDir, netwsLabel);
      const reasons = gate(suite.kind, ws, netws, suite.netwsMustPass);
      for (const result of [ws, netws]) {
        const expected = result.variant === 'ws' ? `ws@${wsLabel.slice(3)}` : `netws@${netwsVersion}`;
        const wrong = result.wsCopies.filter((copy) => !copy.startsWith(expected));
        if (result.wsCopies.length === 0 || wrong.length > 0)
          reasons.push(`${result.label}: ws copies not all overridden: ${result.wsCopies.join(', ')}`);
      }
      console.log(`\n== ${suite.title} (${((Date.now() - suiteStarted) / 1000).toFixed(1)} s)`);
      console.log(
        `installed: ${(await installedVersions(wsDir, suite)).join(', ')}; ws copies: ${ws.wsCopies.length} (${wsLabel}), ${netws.wsCopies.length} (${netwsLabel})`,
      );
      console.log(suite.kind === 'own-tests' ? ownTestsReport(ws, netws) : differentialReport(ws, netws));
      for (const result of [ws, netws]) {
        if ((result.killed || result.exitCode !== 0 || !result.finished) && result.output.trim()) {
          console.log(`\n${result.label}: the end of its output:\n${result.output.trim().split('\n').slice(-15).join('\n')}`);
        }
      }
      console.log(reasons.length === 0 ? 'gate: passed' : `gate: FAILED\n  ${reasons.join('\n  ')}`);
      if (reasons.length > 0) failedGates++;
      const all = allTests(ws, netws);
      const shown = [ws, netws].map((result) => {
        const c = counts(result, all);
        return `${c.passed}/${c.failed}/${c.neverRan}${result.killed ? ' (hang)' : ''}`;
      });
      summary.push([suite.title, ...shown, reasons.length === 0 ? 'passed' : 'FAILED']);
    }
    console.log(`\n== Summary (${elapsed()}): passed/failed/never ran`);
    console.log(table(['suite', 'ws', 'netws', 'gate'], summary));
    console.log(`frameworks: ${selected.length - failedGates} passed, ${failedGates} failed`);
    return failedGates === 0 ? 0 : 1;
  } finally {
    await cleanup();
    if (args.keep) console.log(`scratch projects kept in ${root}`);
  }
}

process.exitCode = await main();
