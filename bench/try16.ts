import { BenchServer } from './servers.ts';
import { runDeflateEcho } from './deflate-load.ts';
for (const mode of ['fresh', 'takeover'] as const) {
  const servers = [await BenchServer.start('netws', [], [mode]), await BenchServer.start('ws-bu', [], [mode])];
  for (const connections of [1, 64]) for (const size of [16384, 65536]) {
    const out: string[] = [];
    for (const s of servers) {
      const vals = [];
      for (let r = 0; r < 3; r++) vals.push(await runDeflateEcho({ port: s.port, mode, size, connections, window: connections > 1 ? 4 : 16, warmupMs: 200, measureMs: 600 }));
      vals.sort((a, b) => a - b);
      out.push(`${s.impl} ${Math.round(vals[1])}`);
    }
    console.log(mode, size, connections, out.join(' '));
  }
  for (const s of servers) await s.stop();
}
