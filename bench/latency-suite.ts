/**
 * Latency under load, the figure users feel: 10,000 connections, each
 * sending 64 B messages at a steady aggregate rate; every message carries
 * its send time, the echo's arrival gives its round trip. p50/p99/p99.9 and
 * the server's CPU per message, netws against ws+bufferutil, alternating.
 * The generator (raw node:net, neither library) shares the machine, so its
 * own scheduling adds the same delay to both servers.
 */

import type net from 'node:net';
import { FrameCounter } from './frame-counter.ts';
import { closeAll, maskedFrame, openConnections } from './load-generator.ts';
import { BenchServer, type ServerImpl } from './servers.ts';
import { summarize, type Summary } from './stats.ts';

const SIZE = 64;

export interface LatencyCase {
  connections: number;
  /** Messages per second, all connections together. */
  rate: number;
  /** Round trips in milliseconds, per server: medians over the repetitions of each percentile. */
  p50: Partial<Record<ServerImpl, Summary>>;
  p99: Partial<Record<ServerImpl, Summary>>;
  p999: Partial<Record<ServerImpl, Summary>>;
  /** Server CPU microseconds per message. */
  cpuMicrosPerMessage: Partial<Record<ServerImpl, Summary>>;
  /** Share of messages echoed in time (all, unless a server falls behind). */
  echoed: Partial<Record<ServerImpl, Summary>>;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** A masked 64 B binary frame whose first 8 payload bytes are `sentAt` (ms, a double). */
function timedFrame(sentAt: number, scratch: Buffer): Buffer {
  scratch.writeDoubleBE(sentAt, 0);
  return maskedFrame(2, scratch);
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/** One measurement: `connections` sockets on `server`, `rate` timed messages per second for `durationMs`. */
export interface LatencyRun {
  p50: number;
  p99: number;
  p999: number;
  cpuMicrosPerMessage: number;
  echoed: number;
}

export async function measureLatency(
  server: BenchServer,
  connections: number,
  rate: number,
  durationMs: number,
  /** Called as the measured phase begins and ends (bench/profile.ts profiles it). */
  phase: { begin(): Promise<void>; end(): Promise<void> } | null = null,
): Promise<LatencyRun> {
  let sockets: net.Socket[] = [];
  try {
    const samples = new Float64Array(Math.ceil((rate * durationMs) / 1000) + 1000);
    let sampled = 0;
    let measuring = false;
    const counters = Array.from(
      { length: connections },
      () =>
        new FrameCounter((start) => {
          if (measuring && sampled < samples.length) samples[sampled++] = now() - unmaskedTime(start);
        }, 8),
    );
    sockets = await openConnections(server.port, connections, 256, (index, bytes) => void bytes);
    // openConnections counts bytes; these sockets need the bytes themselves.
    for (let i = 0; i < sockets.length; i++) {
      sockets[i].removeAllListeners('data');
      sockets[i].on('data', (chunk: Buffer) => counters[i].push(chunk));
    }
    await server.waitForClients(connections, 30_000);
    const scratch = Buffer.alloc(SIZE, 0x61);
    let sent = 0;
    let next = 0;
    const send = (count: number): void => {
      const at = now();
      for (let i = 0; i < count; i++) {
        sockets[next].write(timedFrame(at, scratch));
        next = (next + 1) % sockets.length;
      }
      sent += count;
    };
    // Warm up for half a second, then measure.
    const tickMs = 5;
    const warmup = Date.now() + 500;
    let started = 0;
    let due = 0;
    const begin = Date.now();
    let cpuBefore = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const elapsed = Date.now() - begin;
        const target = Math.floor((elapsed / 1000) * rate);
        if (target > due) {
          send(target - due);
          due = target;
        }
        if (!measuring && Date.now() >= warmup) {
          measuring = true;
          started = sent;
          void server.memory().then((m) => (cpuBefore = m.cpuMicros));
          void phase?.begin();
        }
        if (measuring && Date.now() >= warmup + durationMs) {
          clearInterval(timer);
          resolve();
        }
      }, tickMs);
    });
    const measuredSends = sent - started;
    const cpuAfter = (await server.memory()).cpuMicros;
    await phase?.end();
    await new Promise((resolve) => setTimeout(resolve, 200));
    measuring = false;
    const sorted = samples.subarray(0, sampled).sort();
    return {
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      p999: percentile(sorted, 0.999),
      cpuMicrosPerMessage: (cpuAfter - cpuBefore) / Math.max(1, measuredSends),
      echoed: Math.min(1, sampled / Math.max(1, measuredSends)),
    };
  } finally {
    await closeAll(sockets);
  }
}

export async function runLatencySuite(options: {
  servers: ServerImpl[];
  connections: number;
  rates: number[];
  durationMs: number;
  repetitions: number;
  log: (line: string) => void;
}): Promise<LatencyCase[]> {
  const cases: LatencyCase[] = [];
  for (const rate of options.rates) {
    const runs = new Map<ServerImpl, LatencyRun[]>(options.servers.map((impl) => [impl, []]));
    for (let rep = 0; rep < options.repetitions; rep++) {
      for (let k = 0; k < options.servers.length; k++) {
        const impl = options.servers[(k + rep) % options.servers.length];
        const server = await BenchServer.start(impl);
        try {
          runs.get(impl)!.push(await measureLatency(server, options.connections, rate, options.durationMs));
        } finally {
          await server.stop();
        }
      }
    }
    const summary = (field: keyof LatencyRun) =>
      Object.fromEntries([...runs].map(([impl, values]) => [impl, summarize(values.map((run) => run[field]))])) as Partial<
        Record<ServerImpl, Summary>
      >;
    const result: LatencyCase = {
      connections: options.connections,
      rate,
      p50: summary('p50'),
      p99: summary('p99'),
      p999: summary('p999'),
      cpuMicrosPerMessage: summary('cpuMicrosPerMessage'),
      echoed: summary('echoed'),
    };
    cases.push(result);
    options.log(
      `  ${options.connections} connections, ${rate}/s: ` +
        options.servers
          .map(
            (impl) =>
              `${impl} p50 ${result.p50[impl]!.median.toFixed(2)} p99 ${result.p99[impl]!.median.toFixed(2)} ` +
              `p99.9 ${result.p999[impl]!.median.toFixed(2)} ms, ${result.cpuMicrosPerMessage[impl]!.median.toFixed(1)} µs CPU/msg`,
          )
          .join('  |  '),
    );
  }
  return cases;
}

/** The send time in an echoed (unmasked) payload. */
function unmaskedTime(start: Buffer): number {
  return start.readDoubleBE(0);
}
