/**
 * Soak test: up to 10,000 concurrent loopback connections with churn for a
 * few minutes, then checks that nothing leaked.
 *
 *   npm run soak -- --connections 10000 --duration 180 --hold 10-30
 *
 * This process is the server (a netws WebSocketServer echoing every message,
 * with heartbeats, and no 'error' listener on its connections); the clients
 * run in a child process (bench/soak-clients.ts), so each side has its own
 * file descriptor limit. Reported: descriptors before/after (/proc/self/fd),
 * heap after a full GC before and after the churn (run with --expose-gc),
 * uncaught errors and unhandled rejections (must be 0), messages lost on
 * cleanly closed connections on either side (must be 0), and whether both
 * processes exit by themselves after wss.close().
 */

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from '../src/index.ts';
import { countUncaught, fds, gcHeap, mib, openFileLimit } from './common.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '180' },
    connecting: { type: 'string', default: '256' },
    /** Seconds each connection stays open after its echoes, "min-max". */
    hold: { type: 'string', default: '10-30' },
  },
});

const limit = openFileLimit();
let connections = Number(values.connections);
if (limit - 200 < connections) {
  connections = limit - 200;
  console.log(`ulimit -n is ${limit}: at most ${connections} concurrent connections per process`);
}
const errors = countUncaught();

const wss = new WebSocketServer({
  port: 0,
  host: '127.0.0.1',
  backlog: 4096,
  heartbeat: { interval: 5000, timeout: 5000 },
  closeTimeout: 5000,
});
let lostOnCleanClose = 0;
let cleanCloses = 0;
let peakClients = 0;
wss.on('connection', (ws: WebSocket) => {
  // Every binary message's bytes equal the number of binary messages the client sends.
  let expected = 0;
  let received = 0;
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      expected = (data as Buffer)[0];
      received++;
    }
    ws.send(data, { binary: isBinary });
    if (!isBinary && String(data) === 'bye') ws.close(1001, 'bye');
  });
  ws.on('close', (_code, _reason, wasClean) => {
    if (!wasClean) return;
    cleanCloses++;
    // Clean closes come after the first `expected` messages ("reset in the middle" never closes cleanly).
    if (received < expected || expected === 0) lostOnCleanClose++;
  });
  peakClients = Math.max(peakClients, wss.clients.size);
});
await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
const port = (wss.address() as { port: number }).port;

const fdsBefore = fds();
const heapBefore = gcHeap();
let peakHeap = 0;
let peakFds = 0;
const started = Date.now();
console.log(`soak: ${connections} concurrent connections for ${values.duration} s; server fds ${fdsBefore}, heap ${mib(heapBefore)}`);
const sampler = setInterval(() => {
  const heap = process.memoryUsage().heapUsed;
  peakHeap = Math.max(peakHeap, heap);
  peakFds = Math.max(peakFds, fds());
  console.log(`${((Date.now() - started) / 1000).toFixed(0)} s: server clients ${wss.clients.size}, heap ${mib(heap)}, fds ${fds()}`);
}, 10_000);

const child = fork(
  fileURLToPath(new URL('./soak-clients.ts', import.meta.url)),
  [
    '--port',
    String(port),
    '--connections',
    String(connections),
    '--duration',
    String(values.duration),
    '--connecting',
    String(values.connecting),
    '--hold',
    String(values.hold),
  ],
  { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
);
let clientResult: Record<string, unknown> | null = null;
let childOutput = '';
child.stdout!.on('data', (data: Buffer) => {
  childOutput += data;
  let newline: number;
  while ((newline = childOutput.indexOf('\n')) !== -1) {
    const line = childOutput.slice(0, newline);
    childOutput = childOutput.slice(newline + 1);
    if (line.startsWith('RESULT ')) clientResult = JSON.parse(line.slice(7));
    else console.log(line);
  }
});
const childStarted = Date.now();
const childExit = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
const childRan = Date.now() - childStarted;

// Connections the clients left (none, when all is well) end through heartbeats or closeTimeout.
while (wss.clients.size > 0) await new Promise((resolve) => setTimeout(resolve, 200));
clearInterval(sampler);
await new Promise<void>((resolve) => wss.close(() => resolve()));
await new Promise((resolve) => setTimeout(resolve, 500));
const closedAt = Date.now();
const c = clientResult as unknown as (Record<string, number> & { endings: object; errors: object; activeResources: string[] }) | null;
console.log(
  [
    `--- server (this process) ---`,
    `peak concurrent connections ${peakClients}; clean closes ${cleanCloses}; messages lost on clean closes ${lostOnCleanClose}`,
    `fds ${fdsBefore} before, ${peakFds} peak, ${fds()} after`,
    `heap after full GC ${mib(heapBefore)} before, ${mib(peakHeap)} peak (sampled, no GC), ${mib(gcHeap())} after`,
    `uncaught errors ${errors.uncaught}, unhandled rejections ${errors.unhandled}`,
    `active resources after wss.close(): ${JSON.stringify(process.getActiveResourcesInfo())}`,
    `--- clients (child process, exit code ${childExit}, ran ${(childRan / 1000).toFixed(0)} s) ---`,
    c === null
      ? 'no result'
      : [
          `opened ${c.opened}, failed to open ${c.failedToOpen}, peak concurrent ${c.peakOpen}`,
          `messages sent ${c.messagesSent}, echoed ${c.messagesEchoed}; clean closes ${c.cleanCloses}, lost on clean closes ${c.lostOnCleanClose}`,
          `fds ${c.fdsBefore} before, ${c.peakFds} peak, ${c.fdsAfter} after`,
          `heap after full GC ${mib(c.heapBefore)} before, ${mib(c.heapAfter)} after`,
          `uncaught errors ${c.uncaught}, unhandled rejections ${c.unhandled}; active resources at the end ${JSON.stringify(c.activeResources)}`,
          `endings ${JSON.stringify(c.endings)}`,
          `client errors ${JSON.stringify(c.errors)}`,
        ].join('\n'),
  ].join('\n'),
);
process.on('exit', () => console.log(`server process exited by itself ${Date.now() - closedAt} ms after wss.close()`));
