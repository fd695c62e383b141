/** Servers for the client tests: a raw TCP peer that answers request heads with exact bytes, and netws behind node:http. */

import http from 'node:http';
import net from 'node:net';
import { WebSocketServer } from '../../src/index.ts';
import { computeAccept } from '../../src/protocol/handshake.ts';
import { waitFor } from '../helpers.ts';

export interface RequestHead {
  /** The request line. */
  start: string;
  /** Header lines as sent, in order. */
  headers: Array<[string, string]>;
  /** The value of the (last) Sec-WebSocket-Key line. */
  key: string;
}

export function headerValues(head: RequestHead, name: string): string[] {
  return head.headers.filter(([key]) => key.toLowerCase() === name.toLowerCase()).map(([, value]) => value);
}

export function headerValue(head: RequestHead, name: string): string | undefined {
  return headerValues(head, name).at(-1);
}

/** A correct 101 answer to `head`, with extra header lines. */
export function switching(head: RequestHead, extra: string[] = []): string {
  return [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${computeAccept(head.key)}`,
    ...extra,
    '',
    '',
  ].join('\r\n');
}

export interface RawPeer {
  port: number;
  /** Every request head received, in order. */
  heads: RequestHead[];
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

/**
 * A TCP server that reads one request head per connection and calls
 * `respond` with it (write nothing to stall, end or destroy the socket to
 * fail). Sockets are destroyed on close().
 */
export async function rawPeer(respond: (head: RequestHead, socket: net.Socket) => void = () => {}): Promise<RawPeer> {
  const heads: RequestHead[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.removeListener('data', onData);
      const [start, ...lines] = buffered.slice(0, end).split('\r\n');
      const headers = lines.map((line): [string, string] => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon), line.slice(colon + 1).trim()];
      });
      const head = { start, headers, key: '' };
      head.key = headerValue(head, 'sec-websocket-key') ?? '';
      heads.push(head);
      respond(head, socket);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    heads,
    sockets,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface HttpPeer {
  port: number;
  http: http.Server;
  wss: WebSocketServer;
  /** The headers of every upgrade request, in order, with its url. */
  requests: Array<{ url: string; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

/**
 * A node:http server whose upgrades go through `route`: return a Location
 * to answer with a redirect (`status`, default 302), or null to accept the
 * WebSocket with netws (which then sends 'hello').
 */
export async function httpPeer(route: (url: string) => string | null = () => null, status = 302): Promise<HttpPeer> {
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true });
  const requests: HttpPeer['requests'] = [];
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => sockets.add(socket));
  server.on('upgrade', (req, socket, head) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    const location = route(req.url ?? '');
    if (location === null) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send('hello');
        wss.emit('connection', ws, req);
      });
    } else {
      socket.end(`HTTP/1.1 ${status} Moved\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    }
  });
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    http: server,
    wss,
    requests,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
