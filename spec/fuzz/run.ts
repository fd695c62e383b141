/**
 * The fuzzer's command line: `npm run fuzz -- --iterations N --seed S`
 * [--target protocol|handshake|socket|all] [--socket-iterations M]
 * [--start I] (resume or reproduce from iteration I).
 *
 * Iteration i of a run uses its own seed derived from (S, i), so a failure is
 * replayed with `--seed S --start i --iterations 1`.
 */

import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Random } from './random.ts';
import { iterationSeed } from './seed.ts';
import { startFuzzServer, fuzzSocket } from './socket.ts';
import { fuzzHandshake, fuzzProtocol } from './targets.ts';

function iterationRandom(seed: number, iteration: number): Random {
  return new Random(iterationSeed(seed, iteration));
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

function runSync(name: string, target: (random: Random) => void, seed: number, start: number, iterations: number): void {
  const baseline = heapUsed();
  let peak = baseline;
  const began = performance.now();
  for (let i = start; i < start + iterations; i++) {
    try {
      target(iterationRandom(seed, i));
    } catch (error) {
      console.error(
        `${name}: FAILED at iteration ${i} (seed ${seed}); replay with --target ${name} --seed ${seed} --start ${i} --iterations 1`,
      );
      throw error;
    }
    if ((i - start + 1) % 250_000 === 0) {
      peak = Math.max(peak, heapUsed());
      console.log(`${name}: ${i - start + 1} iterations, ${((performance.now() - began) / 1000).toFixed(0)} s, heap ${mib(peak)}`);
    }
  }
  const seconds = (performance.now() - began) / 1000;
  const after = heapUsed();
  console.log(
    `${name}: ${iterations} iterations from ${start}, seed ${seed}, ${seconds.toFixed(1)} s ` +
      `(${Math.round(iterations / seconds)}/s); heap ${mib(baseline)} before, ${mib(peak)} peak, ${mib(after)} after`,
  );
}

async function runSocket(seed: number, start: number, iterations: number, concurrency: number): Promise<void> {
  const fdsBefore = readdirSync('/proc/self/fd').length;
  const wss = await startFuzzServer();
  let serverErrors = 0;
  wss.on('error', () => serverErrors++);
  const outcomes = new Map<string, number>();
  const began = performance.now();
  let next = start;
  async function worker(): Promise<void> {
    while (next < start + iterations) {
      const i = next++;
      let outcome: string;
      try {
        outcome = await fuzzSocket(iterationRandom(seed, i), wss, 10_000);
      } catch (error) {
        console.error(`socket: FAILED at iteration ${i} (seed ${seed})`);
        throw error;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - began) / 1000;
  for (const ws of wss.clients) ws.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  const fdsAfter = readdirSync('/proc/self/fd').length;
  console.log(
    `socket: ${iterations} connections from ${start}, seed ${seed}, ${seconds.toFixed(1)} s, ${concurrency} at a time; ` +
      `fds ${fdsBefore} before, ${fdsAfter} after; server errors ${serverErrors}; clients left ${wss.clients.size}`,
  );
  const sorted = [...outcomes].sort((a, b) => b[1] - a[1]);
  console.log(`socket outcomes: ${sorted.map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  if (fdsAfter > fdsBefore || wss.clients.size > 0 || serverErrors > 0) {
    throw new Error('socket run leaked descriptors or connections, or the server reported errors');
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '100000' },
      seed: { type: 'string' },
      start: { type: 'string', default: '0' },
      target: { type: 'string', default: 'all' },
      'socket-iterations': { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '32' },
    },
  });
  const seed = values.seed === undefined ? Date.now() >>> 0 : Number(values.seed);
  const start = Number(values.start);
  const iterations = Number(values.iterations);
  const target = values.target;
  console.log(`fuzz: seed ${seed}, target ${target}, node ${process.version}`);
  if (target === 'all' || target === 'protocol') runSync('protocol', fuzzProtocol, seed, start, iterations);
  if (target === 'all' || target === 'handshake') runSync('handshake', fuzzHandshake, seed, start, iterations);
  if (target === 'all' || target === 'socket') {
    const count = target === 'socket' ? iterations : Number(values['socket-iterations']);
    await runSocket(seed, start, count, Number(values.concurrency));
  }
}

process.on('unhandledRejection', (error) => {
  throw error;
});
await main();
