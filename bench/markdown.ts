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

console.log('| size | conns | netws | ws | ws+bufferutil | raw TCP echo | netws / ws+bufferutil |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const row of results.echo) {
  const m = row.messagesPerSecond;
  const ratio = m.netws.median / m['ws-bu'].median;
  const shown = ratio >= 2 ? `**${ratio.toFixed(2)}x**` : `${ratio.toFixed(2)}x`;
  console.log(
    `| ${sizeName(row.size)} | ${row.connections} | ${rate(m.netws.median)} | ${rate(m.ws.median)} | ${rate(m['ws-bu'].median)} | ${rate(m['net-echo']?.median ?? NaN)} | ${shown} |`,
  );
}

const names: Record<string, string> = { net: 'bare `node:net` (canned 101)', netws: 'netws', 'ws-bu': 'ws+bufferutil' };
console.log(`\n| ${(results.connections[0] as { connections?: number } | undefined)?.connections?.toLocaleString('en-US') ?? ''} idle connections | RSS per conn | heap per conn | handshakes/s | per server CPU second |`);
console.log('| --- | --- | --- | --- | --- |');
for (const row of results.connections) {
  console.log(
    `| ${names[row.impl] ?? row.impl} | ${kib(row.rssPerConnection.median)} | ${kib(row.heapPerConnection.median)} | ${rate(row.handshakesPerSecond.median)} | ${rate(row.handshakesPerCpuSecond.median)} |`,
  );
}

console.log('');
for (const size of [16, 1024]) {
  const of = (impl: string) => results.broadcast.find((b) => b.impl === impl && b.size === size)?.deliveredMs.median ?? NaN;
  console.log(`Broadcast of ${sizeName(size)} to 10,000 clients: netws ${of('netws').toFixed(0)} ms, ws+bufferutil ${of('ws-bu').toFixed(0)} ms.`);
}
for (const row of results.micro.filter((m) => m.group === 'mask' && m.size >= 1024)) {
  const gb = (impl: string) => (row.rates[impl]?.median ?? NaN) / 1e9; // rates are bytes per second
  console.log(
    `Mask ${row.case} ${sizeName(row.size)}: netws ${gb('netws').toFixed(1)} GB/s, bufferutil ${gb('bufferutil').toFixed(1)}, ws js ${gb('ws js').toFixed(2)}.`,
  );
}
