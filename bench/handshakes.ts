/**
 * Handshake churn, as measured from outside: a client that is neither netws
 * nor ws (raw node:net sockets writing the upgrade request and reading the
 * 101 head) opens `count` connections with `parallel` under way, and drops
 * each as soon as its 101 arrived (`--close end` ends it with a FIN
 * instead of destroying it). Unlike the connection suite of `npm run
 * bench`, which keeps every connection open, this counts what a server
 * pays per connection from accept to teardown. The bare node:net server
 * answering a canned 101 is the ceiling; servers alternate within every
 * repetition.
 *
 *   node --import tsx bench/handshakes.ts [--count 5000] [--parallel 200] [--reps 5] [--close destroy|end] [--smoke]
 */

import { parseArgs } from 'node:util';
import { openConnection, openMany } from './load-generator.ts';
import { BenchServer, type ServerImpl } from './servers.ts';
import { summarize } from './stats.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '5000' },
    parallel: { type: 'string', default: '200' },
    reps: { type: 'string', default: '5' },
    close: { type: 'string', default: 'destroy' },
    smoke: { type: 'boolean', default: false },
  },
});
const smoke = values.smoke!;
const count = smoke ? 200 : Number(values.count);
const parallel = Number(values.parallel);
const reps = smoke ? 1 : Number(values.reps);
const impls: ServerImpl[] = ['net', 'netws', 'ws-bu'];

async function churn(port: number): Promise<number> {
  const start = process.hrtime.bigint();
  await openMany(count, parallel, async (index) => {
    const socket = await openConnection(port, () => {});
    if (values.close === 'end') socket.end();
    else socket.destroy();
    return index === 0 ? socket : (undefined as never);
  });
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
}

const servers = new Map<ServerImpl, BenchServer>();
const samples = new Map<ServerImpl, number[]>(impls.map((impl) => [impl, []]));
/** Server CPU microseconds (user + system) per connection: what the server pays, however fast the client is. */
const cpu = new Map<ServerImpl, number[]>(impls.map((impl) => [impl, []]));
try {
  for (const impl of impls) servers.set(impl, await BenchServer.start(impl));
  for (let rep = 0; rep < reps; rep++) {
    for (let k = 0; k < impls.length; k++) {
      const impl = impls[(k + rep) % impls.length];
      const server = servers.get(impl)!;
      const before = (await server.memory()).cpuMicros;
      samples.get(impl)!.push(await churn(server.port));
      await server.waitForClients(0);
      cpu.get(impl)!.push(((await server.memory()).cpuMicros - before) / count);
    }
  }
} finally {
  for (const server of servers.values()) await server.stop();
}
const bare = summarize(samples.get('net')!).median;
console.log(
  `\nHandshakes per second: ${count} connections, ${parallel} at a time, each dropped (${values.close}) on its 101; median of ${reps}\n`,
);
console.log('| server | handshakes/s | vs canned 101 | server CPU µs per connection |');
console.log('| --- | ---: | ---: | ---: |');
for (const impl of impls) {
  const s = summarize(samples.get(impl)!);
  const c = summarize(cpu.get(impl)!);
  console.log(
    `| ${impl} | ${Math.round(s.median)} (±${Math.round((s.spread * 100) / 2)}%) | ${(s.median / bare).toFixed(2)} | ${c.median.toFixed(0)} (±${Math.round((c.spread * 100) / 2)}%) |`,
  );
}
