/**
 * Compressed traffic, netws against ws+bufferutil with the same negotiated
 * parameters (the generator's offer decides them, see bench/deflate-load.ts):
 * echo throughput, CPU per message at a fixed rate, and a broadcast to
 * thousands of compressing clients. Servers alternate within every
 * repetition; medians count.
 */

import type net from 'node:net';
import { FrameCounter } from './frame-counter.ts';
import { OFFERS, jsonText, openDeflateConnections, runDeflateEcho, runFixedRate, sleep, type DeflateMode } from './deflate-load.ts';
import { closeAll } from './load-generator.ts';
import { BenchServer, type ServerImpl } from './servers.ts';
import { summarize, type Summary } from './stats.ts';

export const DEFLATE_SIZES = [256, 2048, 16 * 1024, 256 * 1024];
export const DEFLATE_CONNECTIONS = [1, 64];
export const DEFLATE_MODES: DeflateMode[] = ['fresh', 'takeover'];
export const DEFLATE_SERVERS: ServerImpl[] = ['netws', 'ws-bu'];

export interface DeflateEchoCase {
  mode: DeflateMode;
  offer: string;
  size: number;
  connections: number;
  window: number;
  messagesPerSecond: Partial<Record<ServerImpl, Summary>>;
}

export interface DeflateCpuCase {
  mode: DeflateMode;
  size: number;
  connections: number;
  rate: number;
  /** Server CPU seconds per million messages echoed. */
  cpuSecondsPerMillion: Partial<Record<ServerImpl, Summary>>;
}

export interface DeflateBroadcastCase {
  clients: number;
  size: number;
  /** Until the last client has the message. */
  deliveredMs: Partial<Record<ServerImpl, Summary>>;
}

export interface DeflateStallCase {
  /** What was sent: compressed JSON messages of `size` bytes, or a bomb (a few KiB inflating to `size`). */
  load: 'json' | 'bomb';
  size: number;
  /** The longest event-loop delay in the server while it ran, ms. */
  maxStallMs: Partial<Record<ServerImpl, Summary>>;
}

export interface DeflateResults {
  echo: DeflateEchoCase[];
  cpu: DeflateCpuCase[];
  broadcast: DeflateBroadcastCase[];
  stall: DeflateStallCase[];
}

interface Options {
  repetitions: number;
  warmupMs: number;
  measureMs: number;
  /** Clients of the broadcast case. */
  broadcastClients: number;
  cpuDurationMs: number;
  log: (line: string) => void;
}

export function window(size: number, connections: number): number {
  if (size <= 2048) return connections > 1 ? 16 : 32;
  if (size <= 16 * 1024) return connections > 1 ? 4 : 16;
  return connections > 1 ? 1 : 4;
}

/** Starts one server per implementation for `mode`, runs `body`, stops them. */
async function withServers<T>(mode: DeflateMode, body: (servers: Map<ServerImpl, BenchServer>) => Promise<T>): Promise<T> {
  const servers = new Map<ServerImpl, BenchServer>();
  try {
    for (const impl of DEFLATE_SERVERS) servers.set(impl, await BenchServer.start(impl, [], [mode]));
    return await body(servers);
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}

export async function runDeflateSuite(options: Options): Promise<DeflateResults> {
  const results: DeflateResults = { echo: [], cpu: [], broadcast: [], stall: [] };
  for (const mode of DEFLATE_MODES) {
    await withServers(mode, async (servers) => {
      for (const connections of DEFLATE_CONNECTIONS) {
        for (const size of DEFLATE_SIZES) {
          const samples = new Map<ServerImpl, number[]>(DEFLATE_SERVERS.map((impl) => [impl, []]));
          const inFlight = window(size, connections);
          for (let rep = 0; rep < options.repetitions; rep++) {
            for (let k = 0; k < DEFLATE_SERVERS.length; k++) {
              const impl = DEFLATE_SERVERS[(k + rep) % DEFLATE_SERVERS.length];
              const rate = await runDeflateEcho({
                port: servers.get(impl)!.port,
                mode,
                size,
                connections,
                window: inFlight,
                warmupMs: options.warmupMs,
                measureMs: options.measureMs,
              });
              samples.get(impl)!.push(rate);
            }
          }
          const rates = Object.fromEntries([...samples].map(([impl, values]) => [impl, summarize(values)]));
          results.echo.push({ mode, offer: OFFERS[mode], size, connections, window: inFlight, messagesPerSecond: rates });
          options.log(
            `  ${mode.padEnd(8)} ${String(size).padStart(6)} B x${String(connections).padStart(2)}: ` +
              DEFLATE_SERVERS.map((impl) => `${impl} ${Math.round(rates[impl]!.median)}/s`).join('  ') +
              `  (${(rates.netws!.median / rates['ws-bu']!.median).toFixed(2)}x)`,
          );
        }
      }
    });
  }
  // CPU per message at a fixed rate both servers sustain: 2 KiB JSON on 64 connections.
  for (const mode of DEFLATE_MODES) {
    await withServers(mode, async (servers) => {
      const rate = 2000;
      const cpu = new Map<ServerImpl, number[]>(DEFLATE_SERVERS.map((impl) => [impl, []]));
      for (let rep = 0; rep < options.repetitions; rep++) {
        for (let k = 0; k < DEFLATE_SERVERS.length; k++) {
          const impl = DEFLATE_SERVERS[(k + rep) % DEFLATE_SERVERS.length];
          const server = servers.get(impl)!;
          let before = 0;
          let after = 0;
          const { echoed } = await runFixedRate(
            { port: server.port, mode, size: 2048, connections: 64, rate, durationMs: options.cpuDurationMs },
            async () => {
              before = (await server.memory()).cpuMicros;
              await sleep(options.cpuDurationMs);
              after = (await server.memory()).cpuMicros;
            },
          );
          // Messages echoed while the CPU clock ran: the rate times the span (echoes lag sends by microseconds).
          const messages = Math.min(echoed, (rate * options.cpuDurationMs) / 1000);
          cpu.get(impl)!.push(((after - before) / 1e6 / messages) * 1e6);
        }
      }
      const summaries = Object.fromEntries([...cpu].map(([impl, values]) => [impl, summarize(values)]));
      results.cpu.push({ mode, size: 2048, connections: 64, rate, cpuSecondsPerMillion: summaries });
      options.log(
        `  CPU at ${rate}/s, 2 KiB, ${mode}: ` +
          DEFLATE_SERVERS.map((impl) => `${impl} ${summaries[impl]!.median.toFixed(1)} s per million`).join('  '),
      );
    });
  }
  results.broadcast.push(await runDeflateBroadcast(options));
  results.stall = await runStallSuite(options);
  return results;
}

/**
 * A 2 KiB JSON text to `broadcastClients` clients that negotiated
 * permessage-deflate without context takeover: netws's `wss.broadcast()`
 * against ws's send loop, until the last client has it.
 */
export async function runDeflateBroadcast(options: Options): Promise<DeflateBroadcastCase> {
  const size = 2048;
  const text = jsonText(size).toString();
  const delivered = new Map<ServerImpl, number[]>(DEFLATE_SERVERS.map((impl) => [impl, []]));
  for (let rep = 0; rep < Math.max(1, Math.ceil(options.repetitions / 2)); rep++) {
    for (let k = 0; k < DEFLATE_SERVERS.length; k++) {
      const impl = DEFLATE_SERVERS[(k + rep) % DEFLATE_SERVERS.length];
      const server = await BenchServer.start(impl, [], ['fresh']);
      let sockets: net.Socket[] = [];
      try {
        const counters = Array.from({ length: options.broadcastClients }, () => new FrameCounter());
        let reached = 0;
        let target = 1;
        let allReached: (() => void) | null = null;
        sockets = await openDeflateConnections(server.port, 'fresh', options.broadcastClients, (index, chunk) => {
          counters[index].push(chunk);
          if (counters[index].frames === target && ++reached === options.broadcastClients) allReached?.();
        });
        await server.waitForClients(options.broadcastClients, 30_000);
        for (let round = 0; round < 3; round++) {
          reached = 0;
          target = round + 1;
          const done = new Promise<void>((resolve) => (allReached = resolve));
          const start = process.hrtime.bigint();
          await server.request({ type: 'broadcast', size, text }, 'broadcasted');
          await done;
          // The first round warms up (zlib streams, JIT); the others count.
          if (round > 0) delivered.get(impl)!.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
      } finally {
        await closeAll(sockets);
        await server.stop();
      }
    }
  }
  const summaries = Object.fromEntries([...delivered].map(([impl, values]) => [impl, summarize(values)]));
  options.log(
    `  compressed broadcast of 2 KiB JSON to ${options.broadcastClients}: ` +
      DEFLATE_SERVERS.map((impl) => `${impl} ${summaries[impl]!.median.toFixed(0)} ms`).join('  '),
  );
  return { clients: options.broadcastClients, size, deliveredMs: summaries };
}

/**
 * The longest event-loop stall while a server handles compressed messages:
 * 1 MiB JSON messages (zlib on the thread pool) and 64 KiB ones (the
 * largest the main thread takes), and a bomb: 4 KiB that inflates to 4 MiB,
 * begun on the main thread (1 MiB at most) and finished on the thread pool.
 */
export async function runStallSuite(options: Options): Promise<DeflateStallCase[]> {
  const loads: Array<['json' | 'bomb', number]> = [
    ['json', 64 * 1024],
    ['json', 1024 * 1024],
    ['bomb', 4 * 1024 * 1024],
  ];
  const cases: DeflateStallCase[] = [];
  await withServers('fresh', async (servers) => {
    for (const [load, size] of loads) {
      const stalls = new Map<ServerImpl, number[]>(DEFLATE_SERVERS.map((impl) => [impl, []]));
      for (let rep = 0; rep < options.repetitions; rep++) {
        for (let k = 0; k < DEFLATE_SERVERS.length; k++) {
          const impl = DEFLATE_SERVERS[(k + rep) % DEFLATE_SERVERS.length];
          const server = servers.get(impl)!;
          await server.request({ type: 'stall' }, 'stall');
          await runDeflateEcho({
            port: server.port,
            mode: 'fresh',
            size,
            payload: load === 'bomb' ? Buffer.alloc(size) : undefined,
            connections: 4,
            window: 2,
            warmupMs: 100,
            measureMs: options.measureMs,
          });
          stalls.get(impl)!.push((await server.request({ type: 'stall' }, 'stall')).maxMs);
        }
      }
      const summaries = Object.fromEntries([...stalls].map(([impl, values]) => [impl, summarize(values)]));
      cases.push({ load, size, maxStallMs: summaries });
      options.log(
        `  longest event-loop stall, ${load} of ${size} B: ` +
          DEFLATE_SERVERS.map((impl) => `${impl} ${summaries[impl]!.median.toFixed(1)} ms`).join('  '),
      );
    }
  });
  return cases;
}
