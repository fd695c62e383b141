/**
 * The chat demo's server: node:http serves the page (public/) and hands
 * upgrades of /chat to `wss.handleUpgrade`, the way a framework embeds
 * netws. Rooms and messages are in chat.ts.
 */

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from '../../src/index.ts';
import { ChatRooms, LIMITS } from './chat.ts';

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
  close(): Promise<void>;
}

export async function startChatServer(port = 0, host?: string): Promise<ChatServer> {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: LIMITS.maxPayload,
    // Browsers offer permessage-deflate on every connection; chat JSON compresses well.
    perMessageDeflate: true,
  });
  const rooms = new ChatRooms(wss);

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
      rooms.join(ws, url.searchParams.get('room'), url.searchParams.get('nick'));
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
    close: async () => {
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
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
