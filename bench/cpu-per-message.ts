/**
 * Server CPU per echoed message (user + system, nanoseconds), the measure of
 * the per-message cost that the machine's load moves least: a server that
 * waits for the load generator is not charged for it. Echo of `--size`
 * bytes over `--connections`; servers (and, with `--checkout`, the same
 * server built from another checkout, e.g. a git worktree of an older
 * commit) alternate within every repetition.
 *
 *   node --import tsx bench/cpu-per-message.ts [--size 16] [--connections 64] [--reps 5] [--ms 2000] [--impls netws,ws-bu] [--checkout dir]
 */

import { parseArgs } from 'node:util';
import { runEcho } from './load-generator.ts';
import { BenchServer, type ServerImpl } from './servers.ts';
import { summarize } from './stats.ts';
import { echoWindow } from './suites.ts';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '16' },
    connections: { type: 'string', default: '64' },
    reps: { type: 'string', default: '5' },
    ms: { type: 'string', default: '2000' },
    impls: { type: 'string', default: 'netws,ws-bu' },
    checkout: { type: 'string' },
  },
});
const size = Number(values.size);
const connections = Number(values.connections);
const runs: Array<{ label: string; impl: ServerImpl; checkout?: string }> = values
  .impls!.split(',')
  .map((impl) => ({ label: impl, impl: impl as ServerImpl }));
if (values.checkout !== undefined) runs.push({ label: `netws (${values.checkout})`, impl: 'netws', checkout: values.checkout });

const nanos = new Map<string, number[]>(runs.map((run) => [run.label, []]));
const rates = new Map<string, number[]>(runs.map((run) => [run.label, []]));
for (let rep = 0; rep < Number(values.reps); rep++) {
  for (let k = 0; k < runs.length; k++) {
    const run = runs[(k + rep) % runs.length];
    const server = await BenchServer.start(run.impl, [], [], run.checkout);
    try {
      const before = (await server.memory()).cpuMicros;
      const result = await runEcho({
        port: server.port,
        size,
        connections,
        window: echoWindow(size, connections),
        warmupMs: 300,
        measureMs: Number(values.ms),
      });
      await server.waitForClients(0);
      const after = (await server.memory()).cpuMicros;
      nanos.get(run.label)!.push(((after - before) * 1000) / result.messages);
      rates.get(run.label)!.push(result.messagesPerSecond);
    } finally {
      await server.stop();
    }
  }
}
console.log(`\nEcho ${size} B x ${connections}: server CPU per message (median of ${values.reps}, ± half the spread)\n`);
console.log('| server | ns CPU per message | messages/s |');
console.log('| --- | ---: | ---: |');
for (const run of runs) {
  const n = summarize(nanos.get(run.label)!);
  const r = summarize(rates.get(run.label)!);
  console.log(`| ${run.label} | ${n.median.toFixed(0)} (±${Math.round(n.spread * 50)}%) | ${Math.round(r.median)} |`);
}
