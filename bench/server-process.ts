/**
 * One benchmark server in its own process, driven over IPC by bench/run.ts.
 *
 *   netws     netws echo server
 *   ws        ws echo server without bufferutil (started with WS_NO_BUFFER_UTIL=1)
 *   ws-bu     ws echo server with bufferutil
 *   net       a bare node:net server answering a canned 101 and holding the
 *             socket: the floor for idle connection cost
 *   net-echo  the same, then sending every byte straight back (no framing):
 *             the ceiling of what the loopback and the load generator allow
 *   bun       Bun's own WebSocket server (uWebSockets, C++), echoing each
 *             message with its type; this process then runs on Bun
 *             (netws under Bun is `netws` run by Bun: bench/servers.ts)
 *
 * Messages from the parent: { type: 'memory' } → { type: 'memory', rss, heapUsed, external }
 * after a full GC; { type: 'broadcast', size } → { type: 'broadcasted', ms, clients };
 * { type: 'clients' } → { type: 'clients', count }; { type: 'profile', file } starts the
 * CPU profiler, or, when it runs, stops it and writes its profile to `file`
 * → { type: 'profiled' } (a profile of one phase, not of the whole process).
 */

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import net from 'node:net';
import path from 'node:path';
import { WebSocketServer as NetwsServer } from '../src/index.ts';

type Impl = 'netws' | 'ws' | 'ws-bu' | 'net' | 'net-echo' | 'bun';

export type ServerMessage =
  | { type: 'ready'; port: number; impl: Impl; mask: string }
  | { type: 'memory'; rss: number; heapUsed: number; external: number; arrayBuffers: number; cpuMicros: number }
  | { type: 'broadcasted'; ms: number; clients: number }
  | { type: 'clients'; count: number }
  | { type: 'stall'; maxMs: number; p99Ms: number }
  | { type: 'received'; messages: number }
  | { type: 'profiled' };

export type ParentMessage =
  | { type: 'memory' }
  | { type: 'broadcast'; size: number; text?: string }
  | { type: 'clients' }
  /** The longest event-loop delay since the last 'stall' message (and the histogram restarts). */
  | { type: 'stall' }
  /** Messages received so far. */
  | { type: 'received' }
  | { type: 'profile'; file: string };

const impl = process.argv[2] as Impl;
/**
 * 'sink': messages over 64 bytes are taken and dropped, not echoed (the
 * stall measurements send floods whose echo would only measure the echo);
 * small ones, a probe's, are still echoed.
 */
const sink = process.argv[4] === 'sink';
let received = 0;
/**
 * permessage-deflate: 'off' (the default), or on with ws's and netws's
 * options set alike: threshold 0 (every message compressed, as the
 * compressed benchmarks need), context takeover allowed when 'takeover'.
 * The client's offer then decides what is negotiated (bench/deflate-load.ts).
 */
const deflateMode = (process.argv[3] ?? 'off') as 'off' | 'fresh' | 'takeover';
const deflateOptions =
  deflateMode === 'off'
    ? false
    : deflateMode === 'fresh'
      ? { threshold: 0 }
      : { threshold: 0, serverNoContextTakeover: false, clientNoContextTakeover: false };

/**
 * Which mask implementation the ws code in this process really uses: the
 * bufferutil wrapper is an anonymous function, the fallback is `_unmask`, and
 * the addon shows up in the require cache only when it was loaded. (This
 * file must not import bench/ws-internals.ts, which loads the addon.)
 */
function activeWsMask(): { impl: 'bufferutil' | 'js'; addonLoaded: boolean } {
  const require = createRequire(import.meta.url);
  const bufferUtil = path.join(path.dirname(require.resolve('ws')), 'lib', 'buffer-util.js');
  const active = require(bufferUtil) as { unmask: { name: string } };
  const addonLoaded = Object.keys(require.cache).some((key) => key.includes(`${path.sep}bufferutil${path.sep}`));
  return { impl: active.unmask.name === '_unmask' ? 'js' : 'bufferutil', addonLoaded };
}
const send = (message: ServerMessage): void => {
  process.send!(message);
};

// Any connection error (the load generator resets sockets at the end of a run) is routine here.
const ignore = (): void => {};

interface Started {
  port: number;
  mask: string;
  broadcast(message: Buffer, binary?: boolean): number;
  clientCount(): number;
}

async function startNetws(): Promise<Started> {
  const wss = new NetwsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: deflateOptions });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    ws.on('error', ignore);
    ws.on('message', (data, isBinary) => {
      received++;
      if (!sink || (data as Buffer).length <= 64) ws.send(data, { binary: isBinary });
    });
  });
  const server = wss as unknown as { broadcast?: (data: Buffer) => void };
  return {
    port: (wss.address() as net.AddressInfo).port,
    mask: 'netws (pure TypeScript)',
    broadcast(message, binary = true) {
      if (typeof server.broadcast === 'function') (server.broadcast as (data: Buffer, options: object) => void)(message, { binary });
      else for (const client of wss.clients) client.send(message, { binary });
      return wss.clients.size;
    },
    clientCount: () => wss.clients.size,
  };
}

async function startWs(): Promise<Started> {
  const { WebSocketServer } = await import('ws');
  // ws takes what the client offers unless told otherwise, so its takeover options are left unset.
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: deflateMode === 'off' ? false : { threshold: 0 } });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    ws.on('error', ignore);
    ws.on('message', (data, isBinary) => {
      received++;
      if (!sink || (data as Buffer).length <= 64) ws.send(data as Buffer, { binary: isBinary });
    });
  });
  const active = activeWsMask();
  const wanted = impl === 'ws-bu' ? 'bufferutil' : 'js';
  if (active.impl !== wanted || active.addonLoaded !== (wanted === 'bufferutil')) {
    throw new Error(`${impl}: ws uses the ${active.impl} mask (addon loaded: ${active.addonLoaded}), expected ${wanted}`);
  }
  return {
    port: (wss.address() as net.AddressInfo).port,
    mask: `ws ${active.impl}${active.addonLoaded ? ' (addon loaded)' : ' (addon not loaded)'}`,
    broadcast(message, binary = true) {
      // What ws users write: its documentation's broadcast example.
      for (const client of wss.clients) if (client.readyState === 1) client.send(message, { binary });
      return wss.clients.size;
    },
    clientCount: () => wss.clients.size,
  };
}

/** Bun.serve's surface used here (this file is type-checked for Node). */
interface BunSocket {
  send(data: string | Uint8Array): number;
}
interface BunGlobal {
  serve(options: {
    hostname: string;
    port: number;
    fetch(req: Request, server: { upgrade(req: Request): boolean }): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      maxPayloadLength: number;
      open(ws: BunSocket): void;
      close(ws: BunSocket): void;
      message(ws: BunSocket, data: string | Uint8Array): void;
    };
  }): { port: number };
}

async function startBun(): Promise<Started> {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (bun === undefined) throw new Error("the 'bun' server runs on Bun");
  const sockets = new Set<BunSocket>();
  const server = bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('WebSocket only', { status: 400 })),
    websocket: {
      perMessageDeflate: deflateMode !== 'off',
      maxPayloadLength: 64 * 1024 * 1024,
      open: (ws) => sockets.add(ws),
      close: (ws) => sockets.delete(ws),
      message(ws, data) {
        received++;
        // A string arrives for a text message and goes back as text.
        if (!sink || data.length <= 64) ws.send(data);
      },
    },
  });
  return {
    port: server.port,
    mask: "uWebSockets (Bun's own)",
    broadcast(message, binary = true) {
      const data = binary ? message : message.toString();
      for (const ws of sockets) ws.send(data);
      return sockets.size;
    },
    clientCount: () => sockets.size,
  };
}

const CANNED_101 = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
);

async function startNet(): Promise<Started> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.on('error', ignore);
    socket.once('data', () => {
      socket.write(CANNED_101);
      if (impl === 'net-echo') socket.on('data', (chunk: Buffer) => socket.write(chunk));
    });
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    mask: 'none',
    broadcast: () => 0,
    clientCount: () => sockets.size,
  };
}

const started = await (impl === 'netws' ? startNetws() : impl === 'bun' ? startBun() : impl.startsWith('net') ? startNet() : startWs());
const gc = (globalThis as { gc?: () => void }).gc;
// How long the event loop was held: zlib work on the main thread shows here.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

process.on('message', (message: ParentMessage) => {
  if (message.type === 'memory') {
    // CPU time so far, read before the collections below so they are not counted.
    const cpu = process.cpuUsage();
    for (let i = 0; i < 4; i++) gc?.();
    const usage = process.memoryUsage();
    send({
      type: 'memory',
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
      cpuMicros: cpu.user + cpu.system,
    });
  } else if (message.type === 'broadcast') {
    // A text message (JSON, say) is what compressed broadcasts carry; otherwise binary bytes.
    const payload = message.text === undefined ? Buffer.alloc(message.size, 0x62) : Buffer.from(message.text);
    const start = process.hrtime.bigint();
    const clients = started.broadcast(payload, message.text === undefined);
    // Measured after this turn of the event loop, so writes deferred to the
    // next tick (netws uncorks there) are counted too.
    setImmediate(() => send({ type: 'broadcasted', ms: Number(process.hrtime.bigint() - start) / 1e6, clients }));
  } else if ((message as { type: string }).type === 'snapshot') {
    // Used only by ad-hoc memory investigations.
    const file = (message as unknown as { file: string }).file;
    for (let i = 0; i < 4; i++) gc?.();
    void import('node:v8').then((v8) => {
      v8.writeHeapSnapshot(file);
      process.send!({ type: 'snapshot' });
    });
  } else if (message.type === 'stall') {
    send({ type: 'stall', maxMs: loopDelay.max / 1e6, p99Ms: loopDelay.percentile(99) / 1e6 });
    loopDelay.reset();
  } else if (message.type === 'received') {
    send({ type: 'received', messages: received });
  } else if (message.type === 'clients') {
    send({ type: 'clients', count: started.clientCount() });
  } else if (message.type === 'profile') {
    toggleProfiler(message.file);
  }
});

let profiler: Session | null = null;

function toggleProfiler(file: string): void {
  if (profiler === null) {
    const session = (profiler = new Session());
    session.connect();
    session.post('Profiler.enable', () => session.post('Profiler.start', () => send({ type: 'profiled' })));
    return;
  }
  const session = profiler;
  profiler = null;
  session.post('Profiler.stop', (error, result) => {
    if (error === null) writeFileSync(file, JSON.stringify(result.profile));
    session.disconnect();
    send({ type: 'profiled' });
  });
}
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', port: started.port, impl, mask: started.mask });
