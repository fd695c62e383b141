/**
 * The chat demo's server: node:http serves the page (public/) and hands
 * upgrades of /chat to `wss.handleUpgrade`, the way a framework embeds
 * netws. Rooms and messages are in chat.ts. With `redisUrl`, servers share
 * the chat through Redis (redis-store.ts): any number of processes, on one
 * machine or many, form one chat.
 */

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from '../../src/index.ts';
import { ChatRooms, LIMITS } from './chat.ts';
import { MemoryStore, type ChatStore } from './store.ts';

const PUBLIC = new URL('./public/', import.meta.url);

/** The only files served: a fixed list, so no request path reaches the file system. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** Dead connections (a phone that lost its network) are dropped after this long without a pong. */
const HEARTBEAT_INTERVAL = 30_000;

export interface ChatServer {
  url: string;
  port: number;
  wss: WebSocketServer;
  close(): Promise<void>;
}

export interface ChatServerOptions {
  /** Share the chat with the other servers on this Redis (redis://host:port). Default: this process only. */
  redisUrl?: string;
  /** How often nickname leases are renewed, in ms (tests shorten it). */
  renewEvery?: number;
}

export async function startChatServer(port = 0, host?: string, options: ChatServerOptions = {}): Promise<ChatServer> {
  let store: ChatStore = new MemoryStore(LIMITS.historySize, LIMITS.maxRooms);
  let disconnect = async (): Promise<void> => {};
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: LIMITS.maxPayload,
    // Browsers offer permessage-deflate on every connection; chat JSON compresses well.
    perMessageDeflate: true,
  });
  if (options.redisUrl !== undefined) {
    // Loaded only when asked for: `npm start` needs no Redis client.
    const { connectRedis } = await import('./redis-store.ts');
    const redis = await connectRedis(options.redisUrl, LIMITS.historySize);
    wss.adapter = redis.adapter;
    store = redis.store;
    disconnect = redis.close;
  }
  // Redis trouble (the adapter reports it once per outage): logged; the chat goes on locally.
  wss.on('error', (error) => console.error(`chat: ${error.message}`));
  const rooms = new ChatRooms(wss, store, options.renewEvery);

  // Heartbeat: a connection that did not answer the last ping is dropped.
  const alive = new WeakSet<WebSocket>();
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.delete(ws)) ws.terminate();
      else ws.ping();
    }
  }, HEARTBEAT_INTERVAL);
  heartbeat.unref();

  const server = http.createServer((req, res) => void serveFile(req, res));
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refusal = url.pathname !== '/chat' ? '404 Not Found' : sameOrigin(req) ? null : '403 Forbidden';
    if (refusal !== null) {
      socket.on('error', () => socket.destroy());
      socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      alive.add(ws);
      ws.on('pong', () => alive.add(ws));
      void rooms.join(ws, url.searchParams.get('room'), url.searchParams.get('nick'));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${actualPort}`,
    port: actualPort,
    wss,
    close: async () => {
      clearInterval(heartbeat);
      rooms.stop();
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // After the connections: their nicknames are released first.
      await new Promise((resolve) => setTimeout(resolve, 20));
      wss.adapter = null;
      await disconnect();
    },
  };
}

async function serveFile(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const entry = FILES[new URL(req.url ?? '/', 'http://localhost').pathname];
  if (entry === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found');
    return;
  }
  try {
    const body = await readFile(new URL(entry.file, PUBLIC));
    res.writeHead(200, {
      'Content-Type': entry.type,
      'Cache-Control': 'no-cache',
      'Content-Security-Policy': "default-src 'self'; connect-src 'self' ws: wss:",
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    res.writeHead(500, { 'Content-Type': 'text/plain' }).end('Cannot read the page');
  }
}

/** A page from another site may not join (cross-site WebSocket hijacking); non-browser clients send no Origin. */
function sameOrigin(req: http.IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
