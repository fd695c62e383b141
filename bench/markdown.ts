/**
 * Prints the README's Performance tables from bench/results/results.json,
 * so the README always quotes the latest full run.
 *
 *   node --import tsx bench/markdown.ts
 */

import { readFileSync } from 'node:fs';

interface Stat {
  median: number;
  min: number;
  max: number;
}
interface Results {
  machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string; ws: string; bufferutil: string; date: string };
  echo: Array<{ size: number; connections: number; messagesPerSecond: Record<string, Stat> }>;
  connections: Array<{
    impl: string;
    rssPerConnection: Stat;
    heapPerConnection: Stat;
    handshakesPerSecond: Stat;
    handshakesPerCpuSecond: Stat;
  }>;
  broadcast: Array<{ impl: string; size: number; deliveredMs: Stat }>;
  micro: Array<{ group: string; case: string; size: number; rates: Record<string, Stat> }>;
  deflate: {
    echo: Array<{ mode: string; size: number; connections: number; messagesPerSecond: Record<string, Stat> }>;
    cpu: Array<{ mode: string; rate: number; cpuSecondsPerMillion: Record<string, Stat> }>;
    broadcast: Array<{ clients: number; size: number; deliveredMs: Record<string, Stat> }>;
    stall: Array<{ load: string; size: number; maxStallMs: Record<string, Stat> }>;
  } | null;
  latency: Array<{
    connections: number;
    rate: number;
    p50: Record<string, Stat>;
    p99: Record<string, Stat>;
    p999: Record<string, Stat>;
    cpuMicrosPerMessage: Record<string, Stat>;
  }>;
}

const results = JSON.parse(readFileSync(new URL('./results/results.json', import.meta.url), 'utf8')) as Results;

const sizeName = (bytes: number): string =>
  bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
const rate = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KiB`;

const { machine } = results;
console.log(
  `Machine: ${machine.cpu}, ${machine.cores} vCPUs, ${machine.memoryGiB} GiB, ${machine.os}, **Node ${machine.node}**, ws ${machine.ws}, bufferutil ${machine.bufferutil}, ${machine.date.slice(0, 16).replace('T', ' ')} UTC.\n`,
);

console.log(
  "| size | conns | netws | ws | ws+bufferutil | raw TCP echo | netws on Bun | Bun's own (uWebSockets) | netws / ws+bufferutil | netws / uWebSockets |",
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const row of results.echo) {
  const m = row.messagesPerSecond;
  const ratio = m.netws.median / m['ws-bu'].median;
  const shown = ratio >= 2 ? `**${ratio.toFixed(2)}x**` : `${ratio.toFixed(2)}x`;
  const uws = m.bun === undefined ? '-' : `${(m.netws.median / m.bun.median).toFixed(2)}x`;
  console.log(
    `| ${sizeName(row.size)} | ${row.connections} | ${rate(m.netws.median)} | ${rate(m.ws.median)} | ${rate(m['ws-bu'].median)} | ${rate(m['net-echo']?.median ?? NaN)} | ${rate(m['netws-bun']?.median ?? NaN)} | ${rate(m.bun?.median ?? NaN)} | ${shown} | ${uws} |`,
  );
}

const names: Record<string, string> = { net: 'bare `node:net` (canned 101)', netws: 'netws', 'ws-bu': 'ws+bufferutil' };
console.log(
  `\n| ${(results.connections[0] as { connections?: number } | undefined)?.connections?.toLocaleString('en-US') ?? ''} idle connections | RSS per conn | heap per conn | handshakes/s | per server CPU second |`,
);
console.log('| --- | --- | --- | --- | --- |');
for (const row of results.connections) {
  console.log(
    `| ${names[row.impl] ?? row.impl} | ${kib(row.rssPerConnection.median)} | ${kib(row.heapPerConnection.median)} | ${rate(row.handshakesPerSecond.median)} | ${rate(row.handshakesPerCpuSecond.median)} |`,
  );
}

console.log('');
for (const size of [16, 1024]) {
  const of = (impl: string) => results.broadcast.find((b) => b.impl === impl && b.size === size)?.deliveredMs.median ?? NaN;
  console.log(
    `Broadcast of ${sizeName(size)} to 10,000 clients: netws ${of('netws').toFixed(0)} ms, ws+bufferutil ${of('ws-bu').toFixed(0)} ms.`,
  );
}
for (const row of results.micro.filter((m) => m.group === 'mask' && m.size >= 1024)) {
  const gb = (impl: string) => (row.rates[impl]?.median ?? NaN) / 1e9; // rates are bytes per second
  console.log(
    `Mask ${row.case} ${sizeName(row.size)}: netws ${gb('netws').toFixed(1)} GB/s, bufferutil ${gb('bufferutil').toFixed(1)}, ws js ${gb('ws js').toFixed(2)}.`,
  );
}

if (results.deflate) {
  const d = results.deflate;
  const target = (mode: string, size: number): number => (mode === 'takeover' ? 1.5 : size <= 2048 ? 5 : size <= 16384 ? 3 : NaN);
  console.log('\n| context takeover | size | conns | netws | ws+bufferutil | netws / ws+bufferutil | target |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const row of d.echo) {
    const m = row.messagesPerSecond;
    const ratio = m.netws.median / m['ws-bu'].median;
    const goal = target(row.mode, row.size);
    const met = Number.isNaN(goal) ? '' : ratio >= goal ? ` (≥ ${goal}x: met)` : ` (≥ ${goal}x: missed)`;
    console.log(
      `| ${row.mode === 'takeover' ? 'both ways' : 'none'} | ${sizeName(row.size)} | ${row.connections} | ${rate(m.netws.median)} | ${rate(m['ws-bu'].median)} | **${ratio.toFixed(2)}x** | ${met.trim()} |`,
    );
  }
  console.log('');
  for (const row of d.cpu) {
    console.log(
      `CPU per million compressed 2 KiB messages at ${row.rate}/s (${row.mode}): netws ${row.cpuSecondsPerMillion.netws.median.toFixed(0)} s, ws+bufferutil ${row.cpuSecondsPerMillion['ws-bu'].median.toFixed(0)} s.`,
    );
  }
  for (const row of d.broadcast) {
    const ratio = row.deliveredMs['ws-bu'].median / row.deliveredMs.netws.median;
    console.log(
      `Compressed broadcast of ${sizeName(row.size)} JSON to ${row.clients.toLocaleString('en-US')}: netws ${row.deliveredMs.netws.median.toFixed(0)} ms, ws+bufferutil ${row.deliveredMs['ws-bu'].median.toFixed(0)} ms (${ratio.toFixed(2)}x).`,
    );
  }
  for (const row of d.stall) {
    console.log(
      `Longest event-loop stall, ${row.load} ${sizeName(row.size)}: netws ${row.maxStallMs.netws.median.toFixed(1)} ms, ws+bufferutil ${row.maxStallMs['ws-bu'].median.toFixed(1)} ms.`,
    );
  }
}

if (results.latency?.length) {
  console.log('\n| load | server | p50 | p99 | p99.9 | CPU per message |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const row of results.latency) {
    for (const impl of ['netws', 'ws-bu']) {
      console.log(
        `| ${row.connections.toLocaleString('en-US')} conns, ${row.rate.toLocaleString('en-US')}/s | ${impl === 'netws' ? 'netws' : 'ws+bufferutil'} | ${row.p50[impl].median.toFixed(2)} ms | ${row.p99[impl].median.toFixed(2)} ms | ${row.p999[impl].median.toFixed(2)} ms | ${row.cpuMicrosPerMessage[impl].median.toFixed(1)} µs |`,
      );
    }
  }
}
