/**
 * npm run bench [-- --smoke] [-- --only=micro,echo,connections,deflate,stall,latency,cluster] [-- --profile]
 *
 * Runs the frame-path microbenchmarks in this process, then the end-to-end
 * suites against servers in child processes, and writes bench/results/:
 * results.json and results.svg (smoke runs, and runs of some suites only
 * (--only), write *.tmp files instead, so neither replaces the published
 * numbers of a whole run with fewer).
 */

import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { runClusterBench } from './cluster.ts';
import { runMicro } from './micro.ts';
import { formatTables, renderSvg, type Results } from './report.ts';
import { BenchServer, fileLimits, type ServerImpl } from './servers.ts';
import { ECHO_SERVERS, runConnectionSuite, runEchoSuite } from './suites.ts';
import { runDeflateSuite } from './deflate-suite.ts';
import { runLatencySuite } from './latency-suite.ts';
import { runStallSuite } from './stall-suite.ts';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const only = args
  .find((arg) => arg.startsWith('--only='))
  ?.slice(7)
  .split(',');
const wants = (suite: string): boolean => only === undefined || only.includes(suite);
const log = (line: string): void => console.log(line);

const require = createRequire(import.meta.url);
const version = (name: string): string => (require(`${name}/package.json`) as { version: string }).version;

const limits = fileLimits();
// Both ends of each connection live on this machine, one per process; keep
// some descriptors spare for the process itself.
const idleConnections = smoke ? 200 : limits.soft >= 10_200 ? 10_000 : Math.min(5_000, limits.soft - 200);

const results: Results = {
  machine: {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    ws: version('ws'),
    bufferutil: version('bufferutil'),
    openFileLimit: `${limits.soft} soft / ${limits.hard} hard`,
    date: new Date().toISOString(),
  },
  smoke,
  micro: [],
  echo: [],
  connections: [],
  broadcast: [],
  deflate: null,
  latency: [],
};

if (wants('micro')) {
  log('== frame path (in memory)');
  results.micro = runMicro({ minMs: smoke ? 2 : 100, rounds: smoke ? 1 : 5, log });
}

if (wants('echo')) {
  log('== echo over loopback');
  const servers = new Map<ServerImpl, BenchServer>();
  try {
    for (const impl of ECHO_SERVERS) {
      const server = await BenchServer.start(impl);
      log(`  ${impl}: port ${server.port}, mask ${server.mask}`);
      servers.set(impl, server);
    }
    results.echo = await runEchoSuite({
      repetitions: smoke ? 1 : 7,
      warmupMs: smoke ? 50 : 300,
      measureMs: smoke ? 150 : 1200,
      servers,
      log,
    });
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}

if (wants('connections')) {
  log(`== ${idleConnections} idle connections and broadcast (open files: ${results.machine.openFileLimit})`);
  const suite = await runConnectionSuite({
    impls: ['net', 'netws', 'ws-bu'],
    connections: idleConnections,
    repetitions: smoke ? 1 : 3,
    broadcastSizes: [16, 1024],
    broadcastRounds: smoke ? 1 : 7,
    log,
  });
  results.connections = suite.costs;
  results.broadcast = suite.broadcasts;
}

if (wants('deflate')) {
  log('== compressed traffic (permessage-deflate, same negotiated parameters for both)');
  results.deflate = await runDeflateSuite({
    repetitions: smoke ? 1 : 5,
    warmupMs: smoke ? 50 : 300,
    measureMs: smoke ? 150 : 1000,
    broadcastClients: smoke ? 200 : idleConnections,
    cpuDurationMs: smoke ? 300 : 3000,
    log,
  });
}

if (wants('stall')) {
  log('== event-loop stalls under compressed floods (sink servers, a probe echoing every 5 ms)');
  results.stall = await runStallSuite({ repetitions: smoke ? 1 : 5, log });
}

if (wants('latency')) {
  log(`== latency under load (${smoke ? 200 : idleConnections} connections, timed 64 B messages)`);
  results.latency = await runLatencySuite({
    servers: ['netws', 'ws-bu'],
    connections: smoke ? 200 : idleConnections,
    rates: smoke ? [200] : [1_000, 10_000, 50_000],
    durationMs: smoke ? 300 : 4000,
    repetitions: smoke ? 1 : 3,
    log,
  });
}

// Topics across processes has its own script (npm run bench:cluster, a few
// minutes); a smoke run checks that it still runs, and --only=cluster runs it briefly.
if (smoke ? wants('cluster') : only?.includes('cluster') === true) {
  log('== topics across processes (npm run bench:cluster has the figures)');
  const cluster = await runClusterBench({ smoke: true, sizes: [40], repetitions: 1, log });
  if (cluster === null) log('  redis-server is not installed: skipped (apt-get install redis-server)');
}

const name = smoke ? 'smoke' : only !== undefined ? 'partial' : 'results';
const base = new URL(`./results/${name}`, import.meta.url);
const suffix = name === 'results' ? '' : '.tmp';
writeFileSync(new URL(`${base.href}.json${suffix}`), JSON.stringify(results, null, 2) + '\n');
writeFileSync(new URL(`${base.href}.svg${suffix}`), renderSvg(results));
log('');
log(formatTables(results));
