/**
 * Server memory per connection with permessage-deflate: netws and ws, each
 * with its default compression settings, each in its own process.
 *
 *   npm run bench:deflate-memory [-- --connections 500 --rounds 3]
 *
 * For each server: RSS and heap after a full GC with no connections, with
 * N idle connections that negotiated permessage-deflate, and after every
 * client in turn sent one 32 KiB JSON message and got it echoed (so each
 * connection has inflated and deflated once). Clients are ws clients (the offer a
 * browser makes) in this process; only the server process is measured.
 * NETWS_DEFLATE='{"serverNoContextTakeover":false,...}' measures netws with
 * other settings. Servers run under tsx, which adds about 2 KiB of heap per netws
 * connection that a build would not have; the figures include it.
 */

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import WsWebSocket, { WebSocketServer as WsServer } from 'ws';
import { WebSocketServer } from '../src/index.ts';

type Impl = 'netws' | 'ws';
type Memory = { rss: number; heapUsed: number };

const MESSAGE = JSON.stringify(
  Array.from({ length: 420 }, (_, i) => ({ id: i, user: `user${i % 37}`, text: `message number ${i * 7919}`, ok: i % 3 === 0 })),
).slice(0, 32 * 1024);

// ---- server role ------------------------------------------------------------

function serve(impl: Impl): void {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const onConnection = (ws: {
    on(event: 'message', cb: (data: Buffer, isBinary: boolean) => void): void;
    send(data: Buffer, options: { binary: boolean }): void;
  }) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  const server =
    impl === 'netws'
      ? new WebSocketServer({
          port: 0,
          host: '127.0.0.1',
          perMessageDeflate: process.env.NETWS_DEFLATE ? JSON.parse(process.env.NETWS_DEFLATE) : true,
        })
      : new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  server.on('connection', onConnection as never);
  server.on('listening', () => {
    const { port } = server.address() as { port: number };
    process.send!({ type: 'ready', port });
  });
  process.on('message', () => {
    for (let i = 0; i < 3; i++) gc();
    const { rss, heapUsed } = process.memoryUsage();
    process.send!({ type: 'memory', rss, heapUsed });
  });
}

// ---- parent role ------------------------------------------------------------

async function measure(child: ChildProcess): Promise<Memory> {
  child.send({ type: 'memory' });
  const [message] = (await once(child, 'message')) as [Memory];
  return message;
}

async function runOnce(
  impl: Impl,
  connections: number,
): Promise<{ idle: number; afterMessage: number; heapAfter: number; extension: string }> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', impl], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
  });
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  const base = await measure(child);
  const clients: WsWebSocket[] = [];
  for (let i = 0; i < connections; i++) {
    const ws = new WsWebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: true });
    clients.push(ws);
    await once(ws, 'open');
  }
  const extension = (clients[0] as unknown as { _extensions: Record<string, { params: unknown }> })._extensions['permessage-deflate']
    ? 'permessage-deflate'
    : '(none)';
  const idle = await measure(child);
  // One connection at a time, so the figure is what each connection keeps,
  // not the peak of many messages in flight at once.
  for (const ws of clients) {
    const reply = once(ws, 'message');
    ws.send(MESSAGE);
    await reply;
  }
  const after = await measure(child);
  for (const ws of clients) ws.terminate();
  child.kill();
  return {
    idle: (idle.rss - base.rss) / connections,
    afterMessage: (after.rss - base.rss) / connections,
    heapAfter: (after.heapUsed - base.heapUsed) / connections,
    extension,
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const kib = (bytes: number): string => (bytes / 1024).toFixed(1);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      connections: { type: 'string', default: '500' },
      rounds: { type: 'string', default: '3' },
    },
  });
  if (values.serve) {
    serve(values.serve as Impl);
    return;
  }
  const connections = Number(values.connections);
  const rounds = Number(values.rounds);
  const results: Record<Impl, Array<Awaited<ReturnType<typeof runOnce>>>> = { netws: [], ws: [] };
  for (let round = 0; round < rounds; round++) {
    for (const impl of ['netws', 'ws'] as const) results[impl].push(await runOnce(impl, connections));
  }
  console.log(`Server memory per connection with permessage-deflate (defaults), ${connections} connections, median of ${rounds} rounds`);
  console.log(`Node ${process.version}\n`);
  console.log('| server | RSS idle | RSS after one 32 KiB message each way | heap after |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const impl of ['netws', 'ws'] as const) {
    const r = results[impl];
    console.log(
      `| ${impl} | ${kib(median(r.map((x) => x.idle)))} KiB | ${kib(median(r.map((x) => x.afterMessage)))} KiB | ${kib(median(r.map((x) => x.heapAfter)))} KiB |`,
    );
  }
}

await main();
