/**
 * Compressed echo of this checkout's netws against the same server built
 * from another checkout (`--checkout`, e.g. a git worktree of an older
 * commit), and optionally ws+bufferutil, alternating within every
 * repetition: what a change to the compression path does, measured in one
 * run on a noisy machine. Messages/s, medians.
 *
 *   node --import tsx bench/deflate-compare.ts --checkout dir [--sizes 256,2048,16384] [--conns 64,1] [--reps 3] [--mode fresh|takeover] [--ws]
 */

import { parseArgs } from 'node:util';
import { type DeflateMode, runDeflateEcho } from './deflate-load.ts';
import { window } from './deflate-suite.ts';
import { BenchServer, type ServerImpl } from './servers.ts';
import { summarize } from './stats.ts';

const { values } = parseArgs({
  options: {
    checkout: { type: 'string' },
    sizes: { type: 'string', default: '256,2048,16384' },
    conns: { type: 'string', default: '64,1' },
    reps: { type: 'string', default: '3' },
    mode: { type: 'string', default: 'fresh' },
    ws: { type: 'boolean', default: false },
  },
});
const mode = values.mode as DeflateMode;
const runs: Array<{ label: string; impl: ServerImpl; checkout?: string }> = [{ label: 'this checkout', impl: 'netws' }];
if (values.checkout !== undefined) runs.push({ label: values.checkout, impl: 'netws', checkout: values.checkout });
if (values.ws) runs.push({ label: 'ws+bufferutil', impl: 'ws-bu' });

const servers: BenchServer[] = [];
try {
  for (const run of runs) servers.push(await BenchServer.start(run.impl, [], [mode], run.checkout));
  for (const connections of values.conns.split(',').map(Number)) {
    for (const size of values.sizes.split(',').map(Number)) {
      const samples = runs.map((): number[] => []);
      for (let rep = 0; rep < Number(values.reps); rep++) {
        for (let k = 0; k < runs.length; k++) {
          const i = (k + rep) % runs.length;
          const rate = await runDeflateEcho({
            port: servers[i].port,
            mode,
            size,
            connections,
            window: window(size, connections),
            warmupMs: 500,
            measureMs: 2000,
          });
          samples[i].push(rate);
        }
      }
      const line = runs.map(
        (run, i) => `${run.label} ${Math.round(summarize(samples[i]).median)}/s [${samples[i].map(Math.round).join(' ')}]`,
      );
      console.log(`${mode} ${size} B x${connections}: ${line.join('  ')}`);
    }
  }
} finally {
  for (const server of servers) await server.stop();
}
