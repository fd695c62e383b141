/**
 * The client half of the soak (a child process of soak.ts, so that each side
 * has its own descriptor limit): keeps `connections` netws clients connected
 * to 127.0.0.1:`port` with churn for `duration` seconds, then closes the rest
 * and prints one `RESULT {json}` line.
 *
 * Each connection sends 1-5 binary messages whose bytes all equal the count
 * (so the server can check delivery), waits for the echoes, holds `hold` s,
 * then ends one way: clean close from the client (60%), clean close asked of
 * the server (10%), TCP reset (15%), reset in the middle of a 256 KiB message
 * (10%), or silence (5%: paused, so only heartbeats can end it).
 */

import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocket } from '../src/index.ts';
import { countUncaught, fds, gcHeap } from './common.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    connections: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '180' },
    connecting: { type: 'string', default: '256' },
    hold: { type: 'string', default: '0.5-4.5' },
  },
});
const [holdMin, holdMax] = values.hold!.split('-').map((seconds) => Number(seconds) * 1000);
const port = Number(values.port);
const target = Number(values.connections);
const durationMs = Number(values.duration) * 1000;
const maxConnecting = Number(values.connecting);
const errors = countUncaught();

type Mode = 'client-close' | 'server-close' | 'reset' | 'reset-mid-message' | 'silent';
function pickMode(): Mode {
  const r = Math.random();
  if (r < 0.6) return 'client-close';
  if (r < 0.7) return 'server-close';
  if (r < 0.85) return 'reset';
  if (r < 0.95) return 'reset-mid-message';
  return 'silent';
}

const stats = {
  opened: 0,
  failedToOpen: 0,
  peakOpen: 0,
  messagesSent: 0,
  messagesEchoed: 0,
  cleanCloses: 0,
  lostOnCleanClose: 0,
  endings: {} as Record<string, number>,
  errors: {} as Record<string, number>,
};
const bump = (record: Record<string, number>, key: string): void => {
  record[key] = (record[key] ?? 0) + 1;
};

let open = 0;
let connecting = 0;
let stopping = false;
const live = new Set<WebSocket>();
const socketOf = (ws: WebSocket): Socket => (ws as unknown as { socket: Socket }).socket;

function startConnection(): void {
  connecting++;
  const mode = pickMode();
  // Spread source addresses over 127.0.0.2-9 so ephemeral ports never run out.
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
    localAddress: `127.0.0.${2 + Math.floor(Math.random() * 8)}`,
    heartbeat: mode === 'silent' ? { interval: 5000, timeout: 5000 } : undefined,
  });
  live.add(ws);
  const count = 1 + Math.floor(Math.random() * 5);
  let echoed = 0;
  let opened = false;
  let byeSent = false;
  ws.on('error', (error) => bump(stats.errors, (error as { code?: string }).code ?? error.message));
  ws.on('open', () => {
    opened = true;
    connecting--;
    open++;
    stats.opened++;
    stats.peakOpen = Math.max(stats.peakOpen, open);
    for (let i = 0; i < count; i++) {
      const size = Math.random() < 0.05 ? 64 * 1024 : 1 + Math.floor(Math.random() * 512);
      ws.send(Buffer.alloc(size, count));
      stats.messagesSent++;
    }
    if (mode === 'reset-mid-message') {
      ws.send(Buffer.alloc(256 * 1024, count));
      setImmediate(() => socketOf(ws).resetAndDestroy());
    }
    if (mode === 'silent') ws.pause();
  });
  ws.on('message', () => {
    echoed++;
    stats.messagesEchoed++;
    if (echoed !== count) return;
    setTimeout(
      () => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (mode === 'client-close') ws.close(1000);
        else if (mode === 'server-close') {
          byeSent = true;
          ws.send('bye');
        } else if (mode === 'reset') socketOf(ws).resetAndDestroy();
      },
      holdMin + Math.random() * (holdMax - holdMin),
    );
  });
  ws.on('close', (code, _reason, wasClean) => {
    live.delete(ws);
    if (opened) open--;
    else {
      connecting--;
      stats.failedToOpen++;
    }
    bump(stats.endings, `${mode} → ${code}${wasClean ? ' clean' : ''}`);
    if (wasClean) {
      stats.cleanCloses++;
      // A clean closing handshake comes after every echo of what we sent.
      if (echoed < count + (byeSent ? 1 : 0)) stats.lostOnCleanClose++;
    }
    fill();
  });
}

function fill(): void {
  while (!stopping && open + connecting < target && connecting < maxConnecting) startConnection();
}

const fdsBefore = fds();
const heapBefore = gcHeap();
let peakFds = 0;
const sampler = setInterval(() => {
  peakFds = Math.max(peakFds, fds());
  console.log(
    `clients: open ${open}, connecting ${connecting}, opened ${stats.opened}, messages ${stats.messagesSent}/${stats.messagesEchoed}`,
  );
}, 10_000);
fill();
await new Promise((resolve) => setTimeout(resolve, durationMs));
stopping = true;
for (const ws of live) if (ws.readyState === WebSocket.OPEN) ws.close(1000);
// Silent and still-connecting connections end through their own timeouts.
while (live.size > 0) await new Promise((resolve) => setTimeout(resolve, 200));
clearInterval(sampler);
await new Promise((resolve) => setTimeout(resolve, 500));
const result = {
  ...stats,
  fdsBefore,
  peakFds,
  fdsAfter: fds(),
  heapBefore,
  heapAfter: gcHeap(),
  uncaught: errors.uncaught,
  unhandled: errors.unhandled,
  activeResources: process.getActiveResourcesInfo(),
};
console.log(`RESULT ${JSON.stringify(result)}`);
