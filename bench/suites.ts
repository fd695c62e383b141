/** The end-to-end suites: echo over loopback, idle connection cost, broadcast. */

import type net from 'node:net';
import { headerSize } from '../src/protocol/frame.ts';
import { closeAll, openConnections, runEcho } from './load-generator.ts';
import { BenchServer, type ServerImpl } from './servers.ts';
import { summarize, type Summary } from './stats.ts';

export const ECHO_SIZES = [16, 1024, 64 * 1024, 1024 * 1024];
export const ECHO_CONNECTIONS = [1, 64];
/** Bun's own server (uWebSockets) is the peer to beat; netws on Bun beside it. */
export const ECHO_SERVERS: ServerImpl[] = ['netws', 'ws', 'ws-bu', 'net-echo', 'netws-bun', 'bun'];

export interface EchoCase {
  size: number;
  connections: number;
  window: number;
  /** Server → messages per second over the repeated runs. */
  messagesPerSecond: Partial<Record<ServerImpl, Summary>>;
}

/** Frames in flight per connection: many small ones, few large ones (memory stays bounded). */
export function echoWindow(size: number, connections: number): number {
  if (size <= 1024) return 64;
  if (size <= 64 * 1024) return connections > 1 ? 4 : 16;
  return connections > 1 ? 1 : 4;
}

export interface EchoSuiteOptions {
  repetitions: number;
  warmupMs: number;
  measureMs: number;
  servers: Map<ServerImpl, BenchServer>;
  log: (line: string) => void;
}

/**
 * Every case runs `repetitions` times against every server; the order of the
 * servers rotates from one repetition to the next so that a noisy stretch of
 * the shared machine does not always hit the same server.
 */
export async function runEchoSuite(options: EchoSuiteOptions): Promise<EchoCase[]> {
  const impls = [...options.servers.keys()];
  const cases: EchoCase[] = [];
  for (const connections of ECHO_CONNECTIONS) {
    for (const size of ECHO_SIZES) {
      const window = echoWindow(size, connections);
      const samples = new Map<ServerImpl, number[]>(impls.map((impl) => [impl, []]));
      for (let rep = 0; rep < options.repetitions; rep++) {
        for (let k = 0; k < impls.length; k++) {
          const impl = impls[(k + rep) % impls.length];
          const result = await runEcho({
            port: options.servers.get(impl)!.port,
            size,
            connections,
            window,
            warmupMs: options.warmupMs,
            measureMs: options.measureMs,
            rawEcho: impl === 'net-echo',
          });
          samples.get(impl)!.push(result.messagesPerSecond);
          await options.servers.get(impl)!.waitForClients(0);
        }
      }
      const echoCase: EchoCase = { size, connections, window, messagesPerSecond: {} };
      for (const [impl, values] of samples) echoCase.messagesPerSecond[impl] = summarize(values);
      options.log(
        `  echo ${String(size).padStart(7)} B x${String(connections).padStart(2)}: ` +
          impls.map((impl) => `${impl} ${Math.round(echoCase.messagesPerSecond[impl]!.median)}/s`).join('  '),
      );
      cases.push(echoCase);
    }
  }
  return cases;
}

export interface ConnectionCost {
  impl: ServerImpl;
  connections: number;
  /** Bytes per idle connection (after GC), server process. */
  rssPerConnection: Summary;
  heapPerConnection: Summary;
  handshakesPerSecond: Summary;
  /**
   * Handshakes per second of server CPU time (user + system): what one core
   * of the server could do, whatever the speed of the load generator.
   */
  handshakesPerCpuSecond: Summary;
}

export interface BroadcastResult {
  impl: ServerImpl;
  clients: number;
  size: number;
  /** Milliseconds from the broadcast command until every client had the whole frame. */
  deliveredMs: Summary;
  /** Milliseconds the server spent in its broadcast call (the send loop, or wss.broadcast). */
  serverMs: Summary;
}

export interface ConnectionSuiteOptions {
  impls: ServerImpl[];
  connections: number;
  repetitions: number;
  broadcastSizes: number[];
  broadcastRounds: number;
  log: (line: string) => void;
}

/**
 * Each repetition starts a fresh server per implementation (so the baseline
 * is clean), opens the idle connections with a bounded number of handshakes
 * in flight, weighs the server, then broadcasts to all of them.
 */
export async function runConnectionSuite(
  options: ConnectionSuiteOptions,
): Promise<{ costs: ConnectionCost[]; broadcasts: BroadcastResult[] }> {
  const { impls, connections } = options;
  const rss = new Map<ServerImpl, number[]>(impls.map((impl) => [impl, []]));
  const heap = new Map<ServerImpl, number[]>(impls.map((impl) => [impl, []]));
  const rate = new Map<ServerImpl, number[]>(impls.map((impl) => [impl, []]));
  const cpuRate = new Map<ServerImpl, number[]>(impls.map((impl) => [impl, []]));
  const delivered = new Map<string, number[]>();
  const serverTime = new Map<string, number[]>();
  for (let rep = 0; rep < options.repetitions; rep++) {
    for (let k = 0; k < impls.length; k++) {
      const impl = impls[(k + rep) % impls.length];
      const server = await BenchServer.start(impl);
      try {
        const before = await server.memory();
        const received = new Float64Array(connections);
        let target = Infinity;
        let reached = 0;
        let allReached: (() => void) | null = null;
        const start = process.hrtime.bigint();
        const sockets: net.Socket[] = await openConnections(server.port, connections, 256, (index, bytes) => {
          const previous = received[index];
          received[index] = previous + bytes;
          if (previous < target && received[index] >= target && ++reached === connections) allReached?.();
        });
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        await server.waitForClients(connections);
        const after = await server.memory();
        rss.get(impl)!.push((after.rss - before.rss) / connections);
        heap.get(impl)!.push((after.heapUsed - before.heapUsed) / connections);
        rate.get(impl)!.push(connections / seconds);
        cpuRate.get(impl)!.push(connections / ((after.cpuMicros - before.cpuMicros) / 1e6));
        options.log(
          `  ${impl.padEnd(6)} ${connections} idle: ${((after.rss - before.rss) / connections / 1024).toFixed(2)} KiB RSS, ` +
            `${((after.heapUsed - before.heapUsed) / connections / 1024).toFixed(2)} KiB heap per connection, ` +
            `${Math.round(connections / seconds)} handshakes/s, ` +
            `${Math.round(connections / ((after.cpuMicros - before.cpuMicros) / 1e6))} per server CPU second`,
        );
        if (impl !== 'net') {
          for (const size of options.broadcastSizes) {
            const frame = headerSize(size, false) + size;
            for (let round = 0; round < options.broadcastRounds; round++) {
              reached = 0;
              target = received[0] + frame;
              if (!received.every((value) => value === received[0])) throw new Error('clients out of step');
              const done = new Promise<void>((resolve) => (allReached = resolve));
              const sent = process.hrtime.bigint();
              const reply = await server.request({ type: 'broadcast', size }, 'broadcasted');
              await done;
              const ms = Number(process.hrtime.bigint() - sent) / 1e6;
              const key = `${impl}:${size}`;
              if (!delivered.has(key)) {
                delivered.set(key, []);
                serverTime.set(key, []);
              }
              delivered.get(key)!.push(ms);
              serverTime.get(key)!.push(reply.ms);
            }
          }
        }
        await closeAll(sockets);
      } finally {
        await server.stop();
      }
    }
  }
  const costs = impls.map((impl) => ({
    impl,
    connections,
    rssPerConnection: summarize(rss.get(impl)!),
    heapPerConnection: summarize(heap.get(impl)!),
    handshakesPerSecond: summarize(rate.get(impl)!),
    handshakesPerCpuSecond: summarize(cpuRate.get(impl)!),
  }));
  const broadcasts: BroadcastResult[] = [];
  for (const [key, values] of delivered) {
    const [impl, size] = key.split(':');
    broadcasts.push({
      impl: impl as ServerImpl,
      clients: connections,
      size: Number(size),
      deliveredMs: summarize(values),
      serverMs: summarize(serverTime.get(key)!),
    });
  }
  for (const b of broadcasts) {
    options.log(
      `  broadcast ${b.size} B to ${b.clients}: ${b.impl} ${b.deliveredMs.median.toFixed(1)} ms (server ${b.serverMs.median.toFixed(1)} ms)`,
    );
  }
  return { costs, broadcasts };
}
