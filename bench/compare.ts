/**
 * npm run bench:compare -- [--baseline <git ref>] [--repetitions N] [--connections N] [--only echo|idle] [--smoke]
 *
 * This checkout's netws against an older commit's (default: HEAD~1), in one
 * run on this machine: echo throughput of 16 B and 1 KiB messages over 1
 * and 64 connections (the old and the new server alternate, the order
 * rotating every repetition), and heap and RSS per idle connection (fresh
 * servers, alternating). The baseline is checked out as a git worktree in a
 * temporary folder, sharing this checkout's node_modules, and built there;
 * both servers are the same bench/server-process.ts of their commit.
 *
 * Prints the medians and the new/old ratio of each figure; the machine is
 * shared and noisy, so a ratio is worth what its spread says (min-max shown).
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { closeAll, openConnections, runEcho } from './load-generator.ts';
import { BenchServer } from './servers.ts';
import { summarize, type Summary } from './stats.ts';
import { echoWindow } from './suites.ts';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string', default: 'HEAD~1' },
    repetitions: { type: 'string', default: '7' },
    connections: { type: 'string', default: '10000' },
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const smoke = values.smoke;
const repetitions = smoke ? 1 : Number(values.repetitions);
const idle = smoke ? 200 : Number(values.connections);
const root = fileURLToPath(new URL('../', import.meta.url));

const checkout = mkdtempSync(path.join(os.tmpdir(), 'netws-baseline-'));
const git = (...args: string[]): string => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' }).trim();
const commit = git('rev-parse', '--short', values.baseline);
git('worktree', 'add', '--detach', checkout, commit);
symlinkSync(path.join(root, 'node_modules'), path.join(checkout, 'node_modules'));

type Side = 'old' | 'new';
const sides: Side[] = ['old', 'new'];
const start = (side: Side): Promise<BenchServer> => BenchServer.start('netws', [], [], side === 'old' ? checkout : undefined);
const fmt = (s: Summary, digits = 0): string => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
const ratio = (a: Summary, b: Summary): string => (b.median / a.median).toFixed(3);

/** Echo throughput and server CPU per message, old and new servers alternating. */
async function compareEcho(): Promise<void> {
  const servers = { old: await start('old'), new: await start('new') };
  try {
    for (const connections of [1, 64]) {
      for (const size of [16, 1024]) {
        const rate: Record<Side, number[]> = { old: [], new: [] };
        // Server CPU time per echoed message: what the shared machine's noise disturbs least.
        const cpu: Record<Side, number[]> = { old: [], new: [] };
        for (let rep = 0; rep < repetitions; rep++) {
          for (let k = 0; k < 2; k++) {
            const side = sides[(k + rep) % 2];
            const before = await servers[side].memory();
            const result = await runEcho({
              port: servers[side].port,
              size,
              connections,
              window: echoWindow(size, connections),
              warmupMs: smoke ? 50 : 300,
              measureMs: smoke ? 150 : 1200,
            });
            await servers[side].waitForClients(0);
            const after = await servers[side].memory();
            rate[side].push(result.messagesPerSecond);
            cpu[side].push(((after.cpuMicros - before.cpuMicros) * 1000) / result.messages);
          }
        }
        const name = `echo ${String(size).padStart(5)} B x${String(connections).padStart(2)}`;
        const [oldRate, newRate, oldCpu, newCpu] = [summarize(rate.old), summarize(rate.new), summarize(cpu.old), summarize(cpu.new)];
        console.log(`${name}: old ${fmt(oldRate)}/s  new ${fmt(newRate)}/s  new/old ${ratio(oldRate, newRate)}`);
        console.log(`${name}: server CPU per message old ${fmt(oldCpu)} ns  new ${fmt(newCpu)} ns  new/old ${ratio(oldCpu, newCpu)}`);
      }
    }
  } finally {
    await servers.old.stop();
    await servers.new.stop();
  }
}

/** Heap and RSS per idle connection: fresh servers, old and new alternating. */
async function compareIdle(): Promise<void> {
  const heap: Record<Side, number[]> = { old: [], new: [] };
  const rss: Record<Side, number[]> = { old: [], new: [] };
  for (let rep = 0; rep < repetitions; rep++) {
    for (let k = 0; k < 2; k++) {
      const side = sides[(k + rep) % 2];
      const server = await start(side);
      try {
        const before = await server.memory();
        const sockets: net.Socket[] = await openConnections(server.port, idle, 256, () => {});
        await server.waitForClients(idle);
        const after = await server.memory();
        heap[side].push((after.heapUsed - before.heapUsed) / idle);
        rss[side].push((after.rss - before.rss) / idle);
        await closeAll(sockets);
      } finally {
        await server.stop();
      }
    }
  }
  const [oldHeap, newHeap, oldRss, newRss] = [summarize(heap.old), summarize(heap.new), summarize(rss.old), summarize(rss.new)];
  console.log(
    `${idle} idle connections, heap per connection: old ${fmt(oldHeap)} B  new ${fmt(newHeap)} B  new/old ${ratio(oldHeap, newHeap)}`,
  );
  console.log(
    `${idle} idle connections, RSS per connection:  old ${fmt(oldRss)} B  new ${fmt(newRss)} B  new/old ${ratio(oldRss, newRss)}`,
  );
}

try {
  console.log(
    `netws ${git('rev-parse', '--short', 'HEAD')} (new, with uncommitted changes) against ${commit} (old); ${repetitions} repetitions`,
  );
  if (values.only !== 'idle') await compareEcho();
  if (values.only !== 'echo') await compareIdle();
} finally {
  git('worktree', 'remove', '--force', checkout);
  rmSync(checkout, { recursive: true, force: true });
}
