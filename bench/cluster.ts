/**
 * npm run bench:cluster [-- --smoke] [-- --sizes=1000,10000] [-- --repetitions=3]
 *
 * Topics across processes: NODES server processes and one redis-server on
 * this machine, N subscribers spread over them in rooms of N/ROOMS, one
 * publisher per process. Three servers, run in turn (alternating, medians
 * of the repetitions):
 *
 *   netws     netws + netws/redis, NODES processes
 *   socketio  Socket.IO 4.8 + @socket.io/redis-adapter, NODES processes
 *   single    netws in one process, no Redis: the ceiling
 *
 * Each run has a fixed-rate phase (the same offered load for all: latency
 * at equal work) and a saturation phase (publishers keep a fixed number of
 * deliveries outstanding: the most a server delivers). Latency is from the
 * publisher's send to the subscriber's receipt, in the generator process.
 * Redis traffic is each server process's Redis client sockets' bytes.
 *
 * Writes bench/results/cluster.json and cluster.svg (smoke runs: *.tmp).
 */

import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { RedisServer, redisAvailable } from '../spec/redis-server.ts';
import { buildServers } from './servers.ts';
import { LatencyHistogram, openClient, publishFrame, type Dialect, type LoadCounters } from './cluster-load.ts';
import { openMany } from './load-generator.ts';
import type { ClusterImpl, ClusterNodeMessage } from './cluster-node.ts';

const NODES = 4;
/** Rooms: 100, or fewer for small N (smoke runs), so that every room has 10 or more subscribers. */
const ROOMS = 100;
const roomsFor = (subscribers: number): number => Math.max(1, Math.min(ROOMS, Math.floor(subscribers / 10)));
/** Messages published per second in the fixed-rate phase, by N (equal offered load for every server). */
const FIXED_RATE: Record<number, number> = { 40: 200, 1000: 500, 10000: 100 };
/** Messages in flight (published, not yet delivered to their whole room) in the saturation phase. */
const IN_FLIGHT = 200;

export const CLUSTER_LABELS: Record<ClusterImpl, string> = {
  netws: `netws + netws/redis, ${NODES} processes`,
  socketio: `Socket.IO 4.8 + @socket.io/redis-adapter, ${NODES} processes`,
  single: 'netws, 1 process (no Redis)',
};

const script = fileURLToPath(new URL('./.build/bench/cluster-node.js', import.meta.url));

class ClusterNodeProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static start(impl: ClusterImpl, redisUrl: string, profile = false): Promise<ClusterNodeProcess> {
    // --profile: the first process of each server writes a CPU profile (bench/results/profiles/).
    const execArgv = profile
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${fileURLToPath(new URL('./results/profiles/', import.meta.url))}`,
          `--cpu-prof-name=cluster-${impl}.cpuprofile`,
        ]
      : [];
    const child = fork(script, [impl, redisUrl], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${impl} node did not start within 20 s`)), 20_000);
      child.once('exit', (code) => reject(new Error(`${impl} node exited (${code})`)));
      child.once('message', (message: ClusterNodeMessage) => {
        clearTimeout(timer);
        if (message.type === 'ready') resolve(new ClusterNodeProcess(child, message.port));
      });
    });
  }

  bytes(): Promise<Extract<ClusterNodeMessage, { type: 'bytes' }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
      const onMessage = (message: ClusterNodeMessage): void => {
        if (message.type !== 'bytes') return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        resolve(message);
      };
      this.child.on('message', onMessage);
      this.child.send({ type: 'bytes' });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.disconnect();
    });
  }
}

export interface PhaseResult {
  mode: 'fixed' | 'saturation';
  /** Messages published per second (offered in the fixed phase, achieved at saturation). */
  publishedPerSecond: number;
  deliveredPerSecond: number;
  /** Deliveries the fixed rate asks for per second (publishedPerSecond × room size). */
  expectedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Bytes each server process exchanged with Redis per second (read + written). */
  redisBytesPerSecondPerNode: number[];
  /** CPU seconds per second of all server processes together, and of the load generator. */
  serverCpu: number;
  generatorCpu: number;
  /** CPU seconds per second of redis-server. */
  redisCpu: number;
}

export interface ClusterRun {
  impl: ClusterImpl;
  subscribers: number;
  layout: 'spread' | 'by-room';
  repetition: number;
  phases: PhaseResult[];
}

interface RunOptions {
  impl: ClusterImpl;
  subscribers: number;
  layout: 'spread' | 'by-room';
  warmupMs: number;
  measureMs: number;
  redis: RedisServer;
  phases: Array<'fixed' | 'saturation'>;
  profile?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU seconds a process has used, from /proc (Linux; NaN elsewhere). Clock ticks are 1/100 s on Linux. */
function processCpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function runOnce(options: RunOptions): Promise<Omit<ClusterRun, 'repetition'>> {
  const { impl, subscribers } = options;
  const dialect: Dialect = impl === 'socketio' ? 'socketio' : 'netws';
  const nodeCount = impl === 'single' ? 1 : NODES;
  const nodes = await Promise.all(
    Array.from({ length: nodeCount }, (_, i) => ClusterNodeProcess.start(impl, options.redis.url, options.profile === true && i === 0)),
  );
  const counters: LoadCounters = { delivered: 0, latency: new LatencyHistogram(), measuring: false };
  const rooms = roomsFor(subscribers);
  const perRoom = subscribers / rooms;
  let sockets: net.Socket[] = [];
  let publishers: net.Socket[] = [];
  try {
    // Subscriber i is in room i % rooms; 'spread' puts each room on every node, 'by-room' each room on one.
    sockets = await openMany(subscribers, 64, (i) => {
      const room = i % rooms;
      const node = options.layout === 'spread' ? Math.floor(i / rooms) % nodeCount : room % nodeCount;
      return openClient(dialect, nodes[node].port, `room=r${room}`, counters);
    });
    publishers = await Promise.all(nodes.map((node) => openClient(dialect, node.port, 'publisher=1', null)));
    let sent = 0;
    const publish = (): void => {
      const room = sent % rooms;
      publishers[sent % publishers.length].write(publishFrame(dialect, `r${room}`));
      sent++;
    };

    // Fixed rate: a tick every 10 ms, the fraction carried over.
    const fixedRate = FIXED_RATE[subscribers] ?? 100;
    let ticker: NodeJS.Timeout | null = null;
    const startFixed = (): void => {
      let owed = 0;
      ticker = setInterval(() => {
        owed += fixedRate / 100;
        for (; owed >= 1; owed--) publish();
      }, 10);
    };
    // Saturation: publish while fewer than IN_FLIGHT messages' deliveries are outstanding.
    let saturating = false;
    const refill = (): void => {
      if (!saturating) return;
      let budget = 500; // per call, so the generator also reads
      while (budget-- > 0 && sent * perRoom - counters.delivered < IN_FLIGHT * perRoom) publish();
      setImmediate(refill);
    };
    const stopPublishing = async (): Promise<void> => {
      if (ticker !== null) clearInterval(ticker);
      ticker = null;
      saturating = false;
      // Let what is in flight arrive, so the next phase starts clean (bounded).
      const deadline = Date.now() + 5000;
      while (counters.delivered < sent * perRoom && Date.now() < deadline) await sleep(20);
    };

    // Warm-up (also lets every node's SUBSCRIBE reach Redis).
    startFixed();
    await sleep(options.warmupMs);
    await stopPublishing();

    const phases: PhaseResult[] = [];
    for (const mode of options.phases) {
      const bytesBefore = await Promise.all(nodes.map((node) => node.bytes()));
      counters.latency.reset();
      const deliveredBefore = counters.delivered;
      const sentBefore = sent;
      counters.measuring = true;
      const cpuBefore = process.cpuUsage();
      const redisCpuBefore = processCpuSeconds(options.redis.pid);
      const started = process.hrtime.bigint();
      if (mode === 'fixed') startFixed();
      else {
        saturating = true;
        refill();
      }
      await sleep(options.measureMs);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = process.cpuUsage(cpuBefore);
      const redisCpu = (processCpuSeconds(options.redis.pid) - redisCpuBefore) / seconds;
      counters.measuring = false;
      const delivered = counters.delivered - deliveredBefore;
      const published = sent - sentBefore;
      const bytesAfter = await Promise.all(nodes.map((node) => node.bytes()));
      await stopPublishing();
      phases.push({
        mode,
        publishedPerSecond: published / seconds,
        deliveredPerSecond: delivered / seconds,
        expectedPerSecond: (published * perRoom) / seconds,
        p50Ms: counters.latency.percentile(50),
        p99Ms: counters.latency.percentile(99),
        redisBytesPerSecondPerNode: bytesAfter.map(
          (after, i) => (after.read + after.written - bytesBefore[i].read - bytesBefore[i].written) / seconds,
        ),
        serverCpu: bytesAfter.reduce((sum, after, i) => sum + after.cpuMicros - bytesBefore[i].cpuMicros, 0) / 1e6 / seconds,
        generatorCpu: (cpu.user + cpu.system) / 1e6 / seconds,
        redisCpu,
      });
    }
    return { impl, subscribers, layout: options.layout, phases };
  } finally {
    for (const socket of [...sockets, ...publishers]) socket?.destroy();
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

function median(values: number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export interface ClusterSummary {
  impl: ClusterImpl;
  subscribers: number;
  layout: 'spread' | 'by-room';
  mode: 'fixed' | 'saturation';
  runs: number;
  publishedPerSecond: number;
  deliveredPerSecond: number;
  expectedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Median over runs of the mean over nodes; and of the busiest node. */
  redisBytesPerSecondPerNode: number;
  redisBytesPerSecondBusiestNode: number;
  serverCpu: number;
  generatorCpu: number;
  redisCpu: number;
  /** Server CPU microseconds per delivered message (all processes). */
  serverMicrosPerDelivery: number;
  /** Every run's delivered/s, for the spread. */
  deliveredPerSecondRuns: number[];
}

export function summarize(runs: ClusterRun[]): ClusterSummary[] {
  const groups = new Map<string, ClusterRun[]>();
  for (const run of runs) {
    const key = `${run.impl}|${run.subscribers}|${run.layout}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const summaries: ClusterSummary[] = [];
  for (const group of groups.values()) {
    for (const mode of ['fixed', 'saturation'] as const) {
      const phases = group.map((run) => run.phases.find((phase) => phase.mode === mode)).filter((phase) => phase !== undefined);
      if (phases.length === 0) continue;
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      summaries.push({
        impl: group[0].impl,
        subscribers: group[0].subscribers,
        layout: group[0].layout,
        mode,
        runs: phases.length,
        publishedPerSecond: median(phases.map((phase) => phase.publishedPerSecond)),
        deliveredPerSecond: median(phases.map((phase) => phase.deliveredPerSecond)),
        expectedPerSecond: median(phases.map((phase) => phase.expectedPerSecond)),
        p50Ms: median(phases.map((phase) => phase.p50Ms)),
        p99Ms: median(phases.map((phase) => phase.p99Ms)),
        redisBytesPerSecondPerNode: median(phases.map((phase) => mean(phase.redisBytesPerSecondPerNode))),
        redisBytesPerSecondBusiestNode: median(phases.map((phase) => Math.max(...phase.redisBytesPerSecondPerNode))),
        serverCpu: median(phases.map((phase) => phase.serverCpu)),
        generatorCpu: median(phases.map((phase) => phase.generatorCpu)),
        redisCpu: median(phases.map((phase) => phase.redisCpu)),
        serverMicrosPerDelivery: median(phases.map((phase) => (phase.serverCpu / phase.deliveredPerSecond) * 1e6)),
        deliveredPerSecondRuns: phases.map((phase) => Math.round(phase.deliveredPerSecond)),
      });
    }
  }
  return summaries;
}

export interface ClusterOptions {
  smoke: boolean;
  /** Profile the first process of each server in a saturation-only run (no figures kept). */
  profile?: boolean;
  sizes: number[];
  repetitions: number;
  log: (line: string) => void;
}

/** Runs the whole comparison; null when redis-server is not installed (the caller says so). */
export async function runClusterBench(options: ClusterOptions): Promise<{ runs: ClusterRun[]; summary: ClusterSummary[] } | null> {
  if (!redisAvailable()) return null;
  buildServers();
  const redis = await RedisServer.start();
  const runs: ClusterRun[] = [];
  const impls: ClusterImpl[] = ['netws', 'socketio', 'single'];
  const timing = options.smoke ? { warmupMs: 200, measureMs: 300 } : { warmupMs: 1000, measureMs: 3000 };
  try {
    if (options.profile) {
      for (const impl of ['netws', 'socketio'] as const) {
        const run = await runOnce({
          impl,
          subscribers: options.sizes[0],
          layout: 'spread',
          redis,
          phases: ['saturation'],
          profile: true,
          ...timing,
        });
        options.log(`  profiled ${impl}: ${Math.round(run.phases[0].deliveredPerSecond)}/s`);
      }
      return { runs: [], summary: [] };
    }
    for (const subscribers of options.sizes) {
      for (let repetition = 0; repetition < options.repetitions; repetition++) {
        // Alternate the order: no server always runs first (or last) on a machine that heats up.
        const order = impls.map((_, i) => impls[(i + repetition) % impls.length]);
        for (const impl of order) {
          const run = await runOnce({ impl, subscribers, layout: 'spread', redis, phases: ['fixed', 'saturation'], ...timing });
          runs.push({ ...run, repetition });
          const [fixed, saturation] = run.phases;
          options.log(
            `  N=${subscribers} ${impl.padEnd(8)} #${repetition + 1}: fixed ${Math.round(fixed.deliveredPerSecond)}/s ` +
              `(of ${Math.round(fixed.expectedPerSecond)}) p50 ${fixed.p50Ms} ms p99 ${fixed.p99Ms} ms; ` +
              `saturation ${Math.round(saturation.deliveredPerSecond)}/s p50 ${saturation.p50Ms} ms p99 ${saturation.p99Ms} ms; ` +
              `Redis ${Math.round(fixed.redisBytesPerSecondPerNode.reduce((a, b) => a + b, 0) / 1024)} KiB/s at the fixed rate; ` +
              `CPU at saturation: servers ${saturation.serverCpu.toFixed(2)}, generator ${saturation.generatorCpu.toFixed(2)}, ` +
              `Redis ${saturation.redisCpu.toFixed(2)}, ` +
              `${((saturation.serverCpu / saturation.deliveredPerSecond) * 1e6).toFixed(1)} server µs per delivery`,
          );
        }
      }
    }
    // Redis traffic when each room lives on one process (sticky rooms): what a node receives follows its topics.
    const bytesSize = options.sizes[0];
    for (let repetition = 0; repetition < options.repetitions; repetition++) {
      for (const impl of repetition % 2 === 0 ? (['netws', 'socketio'] as const) : (['socketio', 'netws'] as const)) {
        const run = await runOnce({ impl, subscribers: bytesSize, layout: 'by-room', redis, phases: ['fixed'], ...timing });
        runs.push({ ...run, repetition });
        const perNode = run.phases[0].redisBytesPerSecondPerNode.map((bytes) => Math.round(bytes / 1024));
        options.log(`  N=${bytesSize} ${impl} rooms by process #${repetition + 1}: Redis KiB/s per process ${perNode.join(', ')}`);
      }
    }
  } finally {
    await redis.stop();
  }
  return { runs, summary: summarize(runs) };
}

const fmt = (value: number, digits = 0): string =>
  Number.isNaN(value) ? 'n/a' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The README's table. */
export function clusterTable(summary: ClusterSummary[]): string {
  const lines = [
    '| subscribers | server | phase | published/s | delivered/s | p50 ms | p99 ms | Redis KiB/s per process | CPU (cores): servers | server µs per delivery | CPU: generator | CPU: Redis |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of summary.filter((entry) => entry.layout === 'spread')) {
    lines.push(
      `| ${fmt(row.subscribers)} | ${CLUSTER_LABELS[row.impl]} | ${row.mode} | ${fmt(row.publishedPerSecond)} | ${fmt(row.deliveredPerSecond)} | ` +
        `${fmt(row.p50Ms, 2)} | ${fmt(row.p99Ms, 2)} | ${row.impl === 'single' ? '—' : fmt(row.redisBytesPerSecondPerNode / 1024, 1)} | ${fmt(row.serverCpu, 2)} | ` +
        `${fmt(row.serverMicrosPerDelivery, 1)} | ${fmt(row.generatorCpu, 2)} | ${row.impl === 'single' ? '—' : fmt(row.redisCpu, 2)} |`,
    );
  }
  const byRoom = summary.filter((entry) => entry.layout === 'by-room');
  if (byRoom.length > 0) {
    lines.push(
      '',
      '| rooms by process (N = ' + fmt(byRoom[0].subscribers) + ', fixed rate) | Redis KiB/s per process (mean) | busiest process |',
      '| --- | ---: | ---: |',
    );
    for (const row of byRoom) {
      lines.push(
        `| ${CLUSTER_LABELS[row.impl]} | ${fmt(row.redisBytesPerSecondPerNode / 1024, 1)} | ${fmt(row.redisBytesPerSecondBusiestNode / 1024, 1)} |`,
      );
    }
  }
  return lines.join('\n');
}

/** A bar chart of delivered messages/s at saturation, per N, with p99 at the fixed rate written beside. */
export function clusterSvg(summary: ClusterSummary[]): string {
  const impls: ClusterImpl[] = ['netws', 'socketio', 'single'];
  const colors: Record<ClusterImpl, string> = { netws: '#2563eb', socketio: '#9ca3af', single: '#93c5fd' };
  const sizes = [...new Set(summary.filter((row) => row.layout === 'spread').map((row) => row.subscribers))];
  const find = (impl: ClusterImpl, n: number, mode: 'fixed' | 'saturation') =>
    summary.find((row) => row.impl === impl && row.subscribers === n && row.mode === mode && row.layout === 'spread');
  const max = Math.max(1, ...summary.filter((row) => row.mode === 'saturation').map((row) => row.deliveredPerSecond));
  const width = 760;
  const rowHeight = 26;
  const groupGap = 34;
  const left = 330;
  const barMax = width - left - 170;
  let y = 76;
  const parts: string[] = [];
  for (const n of sizes) {
    parts.push(
      `<text x="12" y="${y - 8}" font-weight="bold">${fmt(n)} subscribers in ${roomsFor(n)} rooms of ${fmt(n / roomsFor(n))}</text>`,
    );
    for (const impl of impls) {
      const saturation = find(impl, n, 'saturation');
      const fixed = find(impl, n, 'fixed');
      if (saturation === undefined) continue;
      const length = Math.max(2, (saturation.deliveredPerSecond / max) * barMax);
      parts.push(`<text x="12" y="${y + 16}">${CLUSTER_LABELS[impl]}</text>`);
      parts.push(`<rect x="${left}" y="${y + 3}" width="${length.toFixed(1)}" height="${rowHeight - 8}" fill="${colors[impl]}"/>`);
      parts.push(
        `<text x="${(left + length + 6).toFixed(1)}" y="${y + 16}">${fmt(saturation.deliveredPerSecond)}/s · p99 ${fmt(fixed?.p99Ms ?? NaN, 1)} ms</text>`,
      );
      y += rowHeight;
    }
    y += groupGap;
  }
  const height = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">Topics across processes: delivered messages/s at saturation</text>`,
    `<text x="12" y="38" fill="#555">median of alternating runs; p99 latency at the fixed rate; ${NODES} server processes, Redis and the load generator on ${os.cpus().length} cores</text>`,
    ...parts,
    `</svg>`,
  ].join('\n');
}

// Run directly: npm run bench:cluster.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const smoke = args.includes('--smoke');
  const sizesArg = args.find((arg) => arg.startsWith('--sizes='))?.slice(8);
  const sizes = sizesArg ? sizesArg.split(',').map(Number) : smoke ? [40] : [1000, 10000];
  const repetitionsArg = args.find((arg) => arg.startsWith('--repetitions='))?.slice(14);
  const repetitions = repetitionsArg ? Number(repetitionsArg) : smoke ? 1 : 3;
  const log = (line: string): void => console.log(line);
  log(`== topics across processes: ${NODES} processes + Redis, N = ${sizes.join(', ')}, ${repetitions} alternating runs`);
  const profile = args.includes('--profile');
  const result = await runClusterBench({ smoke, sizes, repetitions, log, profile });
  if (profile && result !== null) {
    const { summarizeProfile } = await import('./profile-summary.ts');
    const sections = [
      '# Topics across processes: server profiles (node --cpu-prof)',
      '',
      `Written by \`npm run bench:cluster -- --profile --sizes=${sizes[0]}\` on ${new Date().toISOString().slice(0, 10)}: ` +
        `the first of the ${NODES} server processes of each server, through warm-up and a saturation phase ` +
        `(connection setup included). Self time by function, share of all samples; \`(idle)\` is the process ` +
        'waiting: for the kernel, Redis, the load generator, or a core (2 cores for 4 servers, Redis and the generator).',
    ];
    for (const impl of ['netws', 'socketio']) {
      const summary = summarizeProfile(fileURLToPath(new URL(`./results/profiles/cluster-${impl}.cpuprofile`, import.meta.url)), 25);
      log(`\n== ${impl}: self time, first server process\n${summary}`);
      sections.push('', `### ${CLUSTER_LABELS[impl as ClusterImpl]}, N = ${sizes[0]}`, '', '```', summary, '```');
    }
    writeFileSync(new URL('./results/cluster-profiles.md', import.meta.url), sections.join('\n') + '\n');
  } else if (result === null) {
    log('  redis-server is not installed: skipped (apt-get install redis-server)');
  } else {
    const require = createRequire(import.meta.url);
    const version = (name: string): string => (require(`${name}/package.json`) as { version: string }).version;
    const output = {
      machine: {
        cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
        cores: os.cpus().length,
        node: process.version,
        redis: (await import('node:child_process')).execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim(),
        socketio: version('socket.io'),
        redisAdapter: version('@socket.io/redis-adapter'),
        ioredis: version('ioredis'),
        date: new Date().toISOString(),
      },
      smoke,
      ...result,
    };
    const base = new URL(smoke ? './results/cluster-smoke' : './results/cluster', import.meta.url);
    const suffix = smoke ? '.tmp' : '';
    writeFileSync(new URL(`${base.href}.json${suffix}`), JSON.stringify(output, null, 2) + '\n');
    writeFileSync(new URL(`${base.href}.svg${suffix}`), clusterSvg(result.summary));
    log('');
    log(clusterTable(result.summary));
  }
}
