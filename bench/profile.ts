/**
 * npm run bench:profile — the profiles behind bench/results/profiles.md.
 *
 * Runs servers under `node --cpu-prof` for the cases where netws misses a
 * target (compressed 16 KiB echo, CPU per message under load, large echo,
 * broadcast, handshakes) and prints, per case, the share
 * of the server's samples by function (self time) and the idle share: a
 * server that idles is waiting for the load generator or the kernel.
 */

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeAll, openConnections, runEcho } from './load-generator.ts';
import { runDeflateEcho } from './deflate-load.ts';
import { measureLatency } from './latency-suite.ts';
import { summarizeProfile } from './profile-summary.ts';
import { BenchServer, type ServerImpl } from './servers.ts';
import { echoWindow } from './suites.ts';

interface ProfileCase {
  name: string;
  impl: ServerImpl;
  /** Arguments for the server process (permessage-deflate mode). */
  serverArgs?: string[];
  /** Profiles only the phase the case marks (the server's profiler over IPC), not the whole process. */
  phased?: boolean;
  run(server: BenchServer, dir: string): Promise<string>;
}

const echo = (size: number, connections: number) => async (server: BenchServer) => {
  const result = await runEcho({
    port: server.port,
    size,
    connections,
    window: echoWindow(size, connections),
    warmupMs: 300,
    measureMs: 3000,
  });
  await server.waitForClients(0);
  return `${Math.round(result.messagesPerSecond)} msgs/s`;
};

const broadcast = (clients: number) => async (server: BenchServer) => {
  const received = new Float64Array(clients);
  let target = 0;
  let reached = 0;
  let allReached = (): void => {};
  const sockets = await openConnections(server.port, clients, 256, (index, bytes) => {
    const before = received[index];
    received[index] += bytes;
    if (before < target && received[index] >= target && ++reached === clients) allReached();
  });
  await server.waitForClients(clients);
  const times: number[] = [];
  for (let round = 1; round <= 10; round++) {
    reached = 0;
    target = round * 18;
    const done = new Promise<void>((resolve) => (allReached = resolve));
    const start = process.hrtime.bigint();
    await server.request({ type: 'broadcast', size: 16 }, 'broadcasted');
    await done;
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  await closeAll(sockets);
  times.sort((a, b) => a - b);
  return `16 B to ${clients}: median ${times[5].toFixed(1)} ms`;
};

const handshakes = (count: number) => async (server: BenchServer) => {
  const start = process.hrtime.bigint();
  const sockets = await openConnections(server.port, count, 256, () => {});
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await server.waitForClients(count);
  await closeAll(sockets);
  return `${Math.round(count / seconds)} handshakes/s`;
};

/** Compressed echo, the case where netws stays under its target (16 KiB JSON, no context takeover). */
const deflateEcho = (size: number, connections: number) => async (server: BenchServer) => {
  const rate = await runDeflateEcho({ port: server.port, mode: 'fresh', size, connections, window: 4, warmupMs: 300, measureMs: 3000 });
  await server.waitForClients(0);
  return `${Math.round(rate)} msgs/s`;
};

/** Latency under load, where CPU per message stays above half of ws's: 64 B timed messages, the steady phase only. */
const latency = (connections: number, rate: number) => async (server: BenchServer, dir: string) => {
  const toggle = async (): Promise<void> =>
    void (await server.request({ type: 'profile', file: path.join(dir, 'phase.cpuprofile') }, 'profiled'));
  const run = await measureLatency(server, connections, rate, 4000, { begin: toggle, end: toggle });
  await server.waitForClients(0);
  return `p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, ${run.cpuMicrosPerMessage.toFixed(1)} µs CPU per message`;
};

let cases: ProfileCase[] = [];
for (const impl of ['netws', 'ws-bu'] as const) {
  cases.push({ name: `compressed echo 16 KiB x64 (${impl})`, impl, serverArgs: ['fresh'], run: deflateEcho(16 * 1024, 64) });
  cases.push({ name: `compressed echo 2 KiB x64 (${impl})`, impl, serverArgs: ['fresh'], run: deflateEcho(2048, 64) });
  cases.push({ name: `latency, 10000 connections at 10000 msgs/s (${impl})`, impl, phased: true, run: latency(10_000, 10_000) });
}
for (const impl of ['netws', 'ws-bu'] as const) {
  // The per-message cost: small messages over many connections (issue: half the gap to uWebSockets).
  cases.push({ name: `echo 16 B x64 (${impl})`, impl, run: echo(16, 64) });
  cases.push({ name: `echo 1 KiB x64 (${impl})`, impl, run: echo(1024, 64) });
  cases.push({ name: `echo 16 B x1 (${impl})`, impl, run: echo(16, 1) });
  cases.push({ name: `echo 1 KiB x1 (${impl})`, impl, run: echo(1024, 1) });
  cases.push({ name: `echo 64 KiB x1 (${impl})`, impl, run: echo(65536, 1) });
  cases.push({ name: `echo 1 MiB x1 (${impl})`, impl, run: echo(1 << 20, 1) });
  cases.push({ name: `broadcast to 10000 (${impl})`, impl, run: broadcast(10_000) });
  cases.push({ name: `10000 handshakes (${impl})`, impl, run: handshakes(10_000) });
}

// `npm run bench:profile -- latency` runs only the cases whose name has that word.
const only = process.argv[2];
if (only !== undefined) cases = cases.filter((profileCase) => profileCase.name.includes(only));

for (const profileCase of cases) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netws-prof-'));
  const flags = profileCase.phased === true ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  const server = await BenchServer.start(profileCase.impl, flags, profileCase.serverArgs);
  const outcome = await profileCase.run(server, dir);
  await server.stop();
  const file = path.join(dir, readdirSync(dir)[0]);
  console.log(
    `### ${profileCase.name}: ${outcome}\n\n\`\`\`\n${summarizeProfile(file, Number(process.env.PROFILE_LINES ?? 12))}\n\`\`\`\n`,
  );
  if (process.env.PROFILE_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${file}`);
}
