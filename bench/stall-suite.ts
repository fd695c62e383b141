/**
 * How long a server's event loop is held by compressed floods, netws
 * against ws+bufferutil, each taking and dropping the messages (sink mode:
 * the echo is not what is measured) while a probe connection echoes a small
 * uncompressed message every 5 ms:
 *
 *   flood   one peer sends 1,000 messages of about 1 KiB at once, each
 *           inflating to 1 MiB (zeros): small enough to be inflated on the
 *           main thread one by one, many enough to hold it for long
 *   json50  50 peers each send 5 ordinary JSON messages of 64 KiB to 1 MiB
 *
 * Reported per load: the longest event-loop delay of each run (the server's
 * monitorEventLoopDelay), its median and second worst over the runs, and the
 * probe's round trip (p99 and max).
 */

import type net from 'node:net';
import { compressedFrame, jsonText, openDeflateConnections, sleep } from './deflate-load.ts';
import { closeAll, openConnection, maskedFrame } from './load-generator.ts';
import { BenchServer, type ServerImpl } from './servers.ts';
import { summarize, type Summary } from './stats.ts';

export const STALL_SERVERS: ServerImpl[] = ['netws', 'ws-bu'];

export interface StallCase {
  load: 'flood' | 'json50';
  /** The longest event-loop delay of each run, ms. */
  maxStallMs: Partial<Record<ServerImpl, Summary & { secondWorst: number }>>;
  /** The probe's round trips, ms: p99 and max of each run. */
  probeP99Ms: Partial<Record<ServerImpl, Summary>>;
  probeMaxMs: Partial<Record<ServerImpl, Summary>>;
}

export interface StallOptions {
  repetitions: number;
  log: (line: string) => void;
}

interface Load {
  connections: number;
  frames: Buffer[];
}

function floodLoad(): Load {
  const frame = compressedFrame(Buffer.alloc(1024 * 1024));
  return { connections: 1, frames: [Buffer.concat(Array.from({ length: 1000 }, () => frame))] };
}

function jsonLoad(): Load {
  const sizes = [64, 128, 256, 512, 1024].map((k) => k * 1024);
  const burst = Buffer.concat(sizes.map((size) => compressedFrame(jsonText(size))));
  return { connections: 50, frames: Array.from({ length: 50 }, () => burst) };
}

/** Echoes a 16-byte text message every 5 ms over its own connection; returns the round trips once stopped. */
async function startProbe(port: number): Promise<{ stop(): Promise<number[]> }> {
  const rtts: number[] = [];
  let sentAt = 0n;
  let waiting = false;
  const frame = maskedFrame(1, Buffer.from('probe-0123456789'));
  const socket = await openConnection(port, () => {
    if (!waiting) return;
    waiting = false;
    rtts.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
  });
  const timer = setInterval(() => {
    if (waiting) return; // the last one is still out: its time counts when it comes
    waiting = true;
    sentAt = process.hrtime.bigint();
    socket.write(frame);
  }, 5);
  return {
    async stop() {
      clearInterval(timer);
      await closeAll([socket]);
      return rtts;
    },
  };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runLoad(server: BenchServer, load: Load): Promise<{ stall: number; p99: number; max: number }> {
  const probe = await startProbe(server.port);
  const sockets: net.Socket[] = await openDeflateConnections(server.port, 'fresh', load.connections, () => {});
  const expected =
    (await server.request({ type: 'received' }, 'received')).messages + load.frames.length * (load.connections === 1 ? 1000 : 5);
  await sleep(50);
  await server.request({ type: 'stall' }, 'stall');
  for (const [i, socket] of sockets.entries()) socket.write(load.frames[i]);
  const deadline = Date.now() + 60_000;
  // The probe's own messages count too; wait until the load's are all in.
  while ((await server.request({ type: 'received' }, 'received')).messages < expected) {
    if (Date.now() > deadline) throw new Error(`${server.impl}: the load was not all received within 60 s`);
    await sleep(20);
  }
  await sleep(50);
  const stall = (await server.request({ type: 'stall' }, 'stall')).maxMs;
  const rtts = await probe.stop();
  await closeAll(sockets);
  return { stall, p99: percentile(rtts, 99), max: Math.max(0, ...rtts) };
}

export async function runStallSuite(options: StallOptions): Promise<StallCase[]> {
  const servers = new Map<ServerImpl, BenchServer>();
  try {
    for (const impl of STALL_SERVERS) servers.set(impl, await BenchServer.start(impl, [], ['fresh', 'sink']));
    const cases: StallCase[] = [];
    for (const [name, make] of [
      ['flood', floodLoad],
      ['json50', jsonLoad],
    ] as const) {
      const load = make();
      const stalls = new Map<ServerImpl, number[]>(STALL_SERVERS.map((impl) => [impl, []]));
      const p99s = new Map<ServerImpl, number[]>(STALL_SERVERS.map((impl) => [impl, []]));
      const maxes = new Map<ServerImpl, number[]>(STALL_SERVERS.map((impl) => [impl, []]));
      for (let rep = 0; rep < options.repetitions; rep++) {
        for (let k = 0; k < STALL_SERVERS.length; k++) {
          const impl = STALL_SERVERS[(k + rep) % STALL_SERVERS.length];
          const result = await runLoad(servers.get(impl)!, load);
          stalls.get(impl)!.push(result.stall);
          p99s.get(impl)!.push(result.p99);
          maxes.get(impl)!.push(result.max);
        }
      }
      const stallCase: StallCase = { load: name, maxStallMs: {}, probeP99Ms: {}, probeMaxMs: {} };
      for (const impl of STALL_SERVERS) {
        const values = stalls.get(impl)!;
        const sorted = [...values].sort((a, b) => b - a);
        stallCase.maxStallMs[impl] = { ...summarize(values), secondWorst: sorted[Math.min(1, sorted.length - 1)] };
        stallCase.probeP99Ms[impl] = summarize(p99s.get(impl)!);
        stallCase.probeMaxMs[impl] = summarize(maxes.get(impl)!);
      }
      options.log(
        `  ${name}: ` +
          STALL_SERVERS.map((impl) => {
            const stall = stallCase.maxStallMs[impl]!;
            return `${impl} stall median ${stall.median.toFixed(1)} ms, 2nd worst ${stall.secondWorst.toFixed(1)} ms, probe p99 ${stallCase.probeP99Ms[impl]!.median.toFixed(1)} ms max ${stallCase.probeMaxMs[impl]!.median.toFixed(1)} ms`;
          }).join('; '),
      );
      cases.push(stallCase);
    }
    return cases;
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}
