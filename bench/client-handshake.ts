/**
 * Client handshake cost: connections per second that open (full opening
 * handshake) and close (closing handshake, TCP closed) against a netws
 * server running in its own process. Clients: this tree's netws, ws, and
 * optionally another netws source tree (an older commit, say) to compare
 * with. Runs alternate between clients within every repetition; the
 * medians are printed with their spread.
 *
 *   node --import tsx bench/client-handshake.ts [--other <dir with src/index.ts>] [--count 2000] [--concurrency 1,32] [--reps 5]
 */

import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket as Ws } from 'ws';
import { summarize } from './stats.ts';

type ClientClass = new (
  url: string,
  options?: Record<string, unknown>,
) => {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  close(): void;
};

if (process.argv[2] === 'server') {
  const { WebSocketServer } = await import('../src/index.ts');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('listening', () => process.send!({ port: (wss.address() as { port: number }).port }));
  wss.on('connection', (ws) => ws.on('error', () => {}));
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL(import.meta.url).pathname, ['server'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => child.once('message', (message) => resolve((message as { port: number }).port)));
  return { child, port };
}

/** Opens and closes `count` connections, `concurrency` at a time; connections per second. */
function run(Client: ClientClass, url: string, count: number, concurrency: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let started = 0;
    let done = 0;
    const start = process.hrtime.bigint();
    const next = (): void => {
      if (started >= count) return;
      started++;
      const ws = new Client(url);
      ws.on('error', reject);
      ws.on('open', () => ws.close());
      ws.on('close', () => {
        if (++done === count) resolve(count / (Number(process.hrtime.bigint() - start) / 1e9));
        else next();
      });
    };
    for (let i = 0; i < concurrency; i++) next();
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      other: { type: 'string' },
      count: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '1,32' },
      reps: { type: 'string', default: '5' },
    },
  });
  const clients: Array<[string, ClientClass]> = [
    ['netws', (await import('../src/index.ts')).WebSocket as unknown as ClientClass],
    ['ws', Ws as unknown as ClientClass],
  ];
  if (values.other) {
    const entry = pathToFileURL(path.resolve(values.other, 'src/index.ts')).href;
    clients.push([`netws (${values.other})`, (await import(entry)).WebSocket as ClientClass]);
  }
  const { child, port } = await startServer();
  const url = `ws://127.0.0.1:${port}`;
  const count = Number(values.count);
  try {
    for (const concurrency of values.concurrency.split(',').map(Number)) {
      const samples = new Map<string, number[]>(clients.map(([name]) => [name, []]));
      // Warm-up, then alternate: each repetition runs every client once, in a rotating order.
      for (const [, Client] of clients) await run(Client, url, Math.min(count, 200), concurrency);
      for (let rep = 0; rep < Number(values.reps); rep++) {
        for (let i = 0; i < clients.length; i++) {
          const [name, Client] = clients[(rep + i) % clients.length];
          samples.get(name)!.push(await run(Client, url, count, concurrency));
        }
      }
      console.log(`\n${count} connections opened and closed, ${concurrency} at a time (connections/s):`);
      for (const [name, values] of samples) {
        const summary = summarize(values);
        console.log(
          `  ${name.padEnd(28)} median ${summary.median.toFixed(0).padStart(6)}  min ${summary.min.toFixed(0).padStart(6)}  max ${summary.max.toFixed(0).padStart(6)}`,
        );
      }
    }
  } finally {
    child.disconnect();
  }
}
