/** The results as a terminal table, a JSON file and an SVG bar chart (no charting dependency). */

import type { StallCase } from './stall-suite.ts';
import type { MicroResult } from './micro.ts';
import { SERVER_LABELS, type ServerImpl } from './servers.ts';
import { formatBytes, formatNumber } from './stats.ts';
import type { BroadcastResult, ConnectionCost, EchoCase } from './suites.ts';
import type { DeflateResults } from './deflate-suite.ts';
import type { LatencyCase } from './latency-suite.ts';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  ws: string;
  bufferutil: string;
  openFileLimit: string;
  date: string;
}

export interface Results {
  machine: Machine;
  smoke: boolean;
  micro: MicroResult[];
  echo: EchoCase[];
  connections: ConnectionCost[];
  broadcast: BroadcastResult[];
  /** Compressed traffic (bench/deflate-suite.ts); null when not run. */
  deflate: DeflateResults | null;
  latency: LatencyCase[];
  /** Event-loop stalls under compressed floods (bench/stall-suite.ts); absent when not run. */
  stall?: StallCase[];
}

const pct = (spread: number): string => `±${Math.round((spread * 100) / 2)}%`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`;

export function formatTables(results: Results): string {
  const out: string[] = [];
  const m = results.machine;
  out.push(`${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}, ws ${m.ws}, bufferutil ${m.bufferutil}`);
  if (results.micro.length > 0) {
    out.push('', 'Frame path, in memory (payload GB/s, median)');
    const rows = results.micro.map((r) => [
      r.case,
      formatBytes(r.size),
      Object.entries(r.rates)
        .map(([name, s]) => `${name} ${(s.median / 1e9).toFixed(2)}`)
        .join('  '),
    ]);
    out.push(table(['case', 'size', 'GB/s'], rows));
  }
  if (results.echo.length > 0) {
    out.push('', 'Echo over loopback (messages/s, median of runs, ± half the min-max spread)');
    const rows = results.echo.map((c) => {
      const cell = (impl: ServerImpl): string => {
        const s = c.messagesPerSecond[impl];
        return s ? `${formatNumber(s.median)} ${pct(s.spread)}` : '-';
      };
      const netws = c.messagesPerSecond.netws?.median;
      const mbs = netws === undefined ? '-' : `${((netws * c.size) / 1e6).toFixed(0)}`;
      return [
        formatBytes(c.size),
        String(c.connections),
        cell('netws'),
        cell('ws'),
        cell('ws-bu'),
        cell('net-echo'),
        cell('netws-bun'),
        cell('bun'),
        mbs,
        ratio(netws, c.messagesPerSecond['ws-bu']?.median),
        ratio(netws, c.messagesPerSecond.ws?.median),
        ratio(netws, c.messagesPerSecond.bun?.median),
      ];
    });
    out.push(
      table(
        [
          'size',
          'conns',
          'netws',
          'ws',
          'ws+bufferutil',
          'raw TCP echo',
          'netws on Bun',
          "Bun's own",
          'netws MB/s',
          'vs ws+bu',
          'vs ws',
          'vs uWS',
        ],
        rows,
      ),
    );
  }
  if (results.connections.length > 0) {
    out.push('', `Idle connections (${results.connections[0].connections}, server process, after GC)`);
    const rows = results.connections.map((c) => [
      SERVER_LABELS[c.impl],
      String(c.connections),
      `${(c.rssPerConnection.median / 1024).toFixed(2)} ${pct(c.rssPerConnection.spread)}`,
      `${(c.heapPerConnection.median / 1024).toFixed(2)}`,
      `${formatNumber(c.handshakesPerSecond.median)} ${pct(c.handshakesPerSecond.spread)}`,
      `${formatNumber(c.handshakesPerCpuSecond.median)} ${pct(c.handshakesPerCpuSecond.spread)}`,
    ]);
    out.push(table(['server', 'conns', 'RSS KiB/conn', 'heap KiB/conn', 'handshakes/s', 'per server CPU s'], rows));
  }
  if (results.broadcast.length > 0) {
    out.push('', 'Broadcast (ms until every client has the message; server ms = time in the send call)');
    const rows = results.broadcast.map((b) => [
      SERVER_LABELS[b.impl],
      `${formatBytes(b.size)} to ${b.clients}`,
      `${b.deliveredMs.median.toFixed(1)} ${pct(b.deliveredMs.spread)}`,
      `${b.serverMs.median.toFixed(1)}`,
    ]);
    out.push(table(['server', 'message', 'delivered ms', 'server ms'], rows));
  }
  if (results.deflate !== null) {
    const d = results.deflate;
    out.push('', 'Compressed echo (messages/s; JSON text; the offer decides the parameters for both servers)');
    out.push(
      table(
        ['context', 'size', 'conns', 'netws', 'ws+bufferutil', 'netws / ws+bu'],
        d.echo.map((c) => [
          c.mode === 'fresh' ? 'no takeover' : 'takeover',
          formatBytes(c.size),
          String(c.connections),
          `${formatNumber(c.messagesPerSecond.netws!.median)} ${pct(c.messagesPerSecond.netws!.spread)}`,
          `${formatNumber(c.messagesPerSecond['ws-bu']!.median)} ${pct(c.messagesPerSecond['ws-bu']!.spread)}`,
          ratio(c.messagesPerSecond.netws?.median, c.messagesPerSecond['ws-bu']?.median),
        ]),
      ),
    );
    out.push('', 'Compressed: server CPU seconds per million messages at a fixed rate; broadcast; longest event-loop stall');
    const rows: string[][] = [];
    for (const c of d.cpu) {
      rows.push([
        `CPU s / million, 2 KiB at ${c.rate}/s, ${c.mode}`,
        c.cpuSecondsPerMillion.netws!.median.toFixed(1),
        c.cpuSecondsPerMillion['ws-bu']!.median.toFixed(1),
      ]);
    }
    for (const b of d.broadcast) {
      rows.push([
        `broadcast ${formatBytes(b.size)} JSON to ${b.clients}, ms`,
        b.deliveredMs.netws!.median.toFixed(0),
        b.deliveredMs['ws-bu']!.median.toFixed(0),
      ]);
    }
    for (const st of d.stall) {
      rows.push([
        `longest stall, ${st.load} ${formatBytes(st.size)}, ms`,
        st.maxStallMs.netws!.median.toFixed(1),
        st.maxStallMs['ws-bu']!.median.toFixed(1),
      ]);
    }
    out.push(table(['case', 'netws', 'ws+bufferutil'], rows));
  }
  if (results.latency.length > 0) {
    out.push('', 'Latency under load (64 B echo round trip, ms; server CPU µs per message)');
    const rows: string[][] = [];
    for (const c of results.latency) {
      for (const impl of ['netws', 'ws-bu'] as const) {
        rows.push([
          `${c.connections} conns, ${c.rate}/s`,
          SERVER_LABELS[impl],
          c.p50[impl]!.median.toFixed(2),
          c.p99[impl]!.median.toFixed(2),
          c.p999[impl]!.median.toFixed(2),
          c.cpuMicrosPerMessage[impl]!.median.toFixed(1),
        ]);
      }
    }
    out.push(table(['load', 'server', 'p50', 'p99', 'p99.9', 'CPU µs/msg'], rows));
  }
  return out.join('\n');
}

interface Bar {
  group: string;
  label: string;
  value: number;
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Horizontal bars, one group per measurement, every value relative to
 * ws+bufferutil (1.0, the dashed line): longer is better for netws.
 */
export function renderSvg(results: Results): string {
  const bars: Bar[] = [];
  const relative = (value: number | undefined, base: number | undefined): number =>
    value === undefined || base === undefined || base === 0 ? 0 : value / base;
  for (const c of results.echo) {
    const base = c.messagesPerSecond['ws-bu']?.median;
    const group = `echo ${formatBytes(c.size)} x${c.connections}`;
    for (const impl of ['netws', 'ws', 'ws-bu', 'net-echo', 'netws-bun', 'bun'] as const) {
      const s = c.messagesPerSecond[impl];
      if (s) bars.push({ group, label: SERVER_LABELS[impl], value: relative(s.median, base) });
    }
  }
  const wsCost = results.connections.find((c) => c.impl === 'ws-bu');
  for (const c of results.connections) {
    bars.push({
      group: 'handshakes per CPU s',
      label: SERVER_LABELS[c.impl],
      value: relative(c.handshakesPerCpuSecond.median, wsCost?.handshakesPerCpuSecond.median),
    });
  }
  for (const c of results.connections) {
    // Less memory is better: plot ws's RSS per connection over this server's.
    bars.push({
      group: 'idle conns per MB',
      label: SERVER_LABELS[c.impl],
      value: relative(wsCost?.rssPerConnection.median, c.rssPerConnection.median),
    });
  }
  const sizes = [...new Set(results.broadcast.map((b) => b.size))];
  for (const size of sizes) {
    const ws = results.broadcast.find((b) => b.size === size && b.impl === 'ws-bu');
    for (const b of results.broadcast.filter((x) => x.size === size)) {
      bars.push({
        group: `broadcast ${formatBytes(size)} to ${b.clients}`,
        label: SERVER_LABELS[b.impl],
        value: relative(ws?.deliveredMs.median, b.deliveredMs.median),
      });
    }
  }
  if (results.deflate !== null) {
    for (const c of results.deflate.echo) {
      const base = c.messagesPerSecond['ws-bu']?.median;
      const group = `deflate ${c.mode === 'fresh' ? '' : 'takeover '}${formatBytes(c.size)} x${c.connections}`;
      for (const impl of ['netws', 'ws-bu'] as const) {
        const s = c.messagesPerSecond[impl];
        if (s) bars.push({ group, label: SERVER_LABELS[impl], value: relative(s.median, base) });
      }
    }
    for (const b of results.deflate.broadcast) {
      for (const impl of ['netws', 'ws-bu'] as const) {
        bars.push({
          group: `deflate broadcast to ${b.clients}`,
          label: SERVER_LABELS[impl],
          value: relative(b.deliveredMs['ws-bu']?.median, b.deliveredMs[impl]?.median),
        });
      }
    }
  }
  const colors: Record<string, string> = {
    netws: '#2b7bb9',
    ws: '#bbbbbb',
    'ws+bufferutil': '#e07b39',
    'bare node:net': '#6aa84f',
    'raw TCP echo': '#a0a040',
  };
  const barHeight = 14;
  const groupGap = 12;
  const labelWidth = 170;
  const plotWidth = 560;
  // The raw TCP echo runs far past any WebSocket server at small sizes; bars
  // are cut at `max` (the value is still printed) so the others stay readable.
  const max = Math.min(8, Math.max(2, ...bars.map((b) => b.value)));
  const scaleX = (v: number): number => labelWidth + (v / max) * plotWidth;
  const groups = [...new Set(bars.map((b) => b.group))];
  const parts: string[] = [];
  let y = 50;
  for (const group of groups) {
    const inGroup = bars.filter((b) => b.group === group);
    parts.push(`<text x="${labelWidth - 8}" y="${y + (inGroup.length * barHeight) / 2 + 4}" text-anchor="end">${escapeXml(group)}</text>`);
    for (const bar of inGroup) {
      const cut = bar.value > max;
      const width = Math.max(1, scaleX(Math.min(bar.value, max)) - labelWidth);
      parts.push(
        `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${barHeight - 2}" fill="${colors[bar.label] ?? '#888'}"/>`,
        `<text x="${(labelWidth + width + 4).toFixed(1)}" y="${y + barHeight - 4}" class="v">${bar.value.toFixed(2)}${cut ? ' (bar cut)' : ''}</text>`,
      );
      y += barHeight;
    }
    y += groupGap;
  }
  const height = y + 30;
  const width = labelWidth + plotWidth + 60;
  const one = scaleX(1);
  const legend = Object.entries(colors)
    .map(
      ([name, color], i) =>
        `<rect x="${labelWidth + i * 140}" y="${height - 20}" width="10" height="10" fill="${color}"/><text x="${labelWidth + i * 140 + 14}" y="${height - 11}">${escapeXml(name)}</text>`,
    )
    .join('');
  const m = results.machine;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    '<style>.v{font-size:10px;fill:#333}</style>',
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">netws vs ws, relative to ws+bufferutil (= 1, dashed; longer is better)</text>`,
    `<text x="10" y="34" fill="#555">${escapeXml(`${m.cpu}, ${m.cores} cores; Node ${m.node}; ws ${m.ws}; ${m.date}`)}</text>`,
    `<line x1="${one}" y1="42" x2="${one}" y2="${y}" stroke="#444" stroke-dasharray="4 3"/>`,
    ...parts,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
