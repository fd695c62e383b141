/**
 * The server roundtrip.js talks to, for the Node run and the Chromium run
 * alike: a node:http server that serves the script (and a blank page to run
 * it from) and upgrades /echo; and the same over HTTP/2 (RFC 8441). Messages are echoed with their type; a few
 * text commands make the server act: `send N` sends N bytes, `close CODE
 * REASON` closes, `terminate now` cuts the connection, `report ID` answers with how connection ID was closed.
 */

import http from 'node:http';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from '../../src/index.ts';

export interface EchoServer {
  url: string;
  httpUrl: string;
  /** The Sec-WebSocket-Extensions header of each upgrade request, in order. */
  extensionOffers: string[];
  /** The extensions the server accepted for each connection (`ws.extensions`), in order. */
  extensionsAccepted: string[];
  close(): Promise<void>;
}

/** The shared scripts, served to the browser as they are. */
const scripts = new Map(
  ['roundtrip.js', 'websocketstream.js'].map((name) => [`/${name}`, readFileSync(new URL(`./${name}`, import.meta.url))]),
);

/** The scripts, and a blank page to run them from (HTTP/1.1, or HTTP/2 through node's compatibility API). */
function servePage(
  req: { url?: string },
  res: { writeHead(status: number, headers: Record<string, string>): unknown; end(body: unknown): unknown },
): void {
  const script = scripts.get(req.url ?? '');
  if (script !== undefined) {
    res.writeHead(200, { 'Content-Type': 'text/javascript' });
    res.end(script);
  } else {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>netws roundtrip</title>');
  }
}

export async function startEchoServer(): Promise<EchoServer> {
  const closes = new Map<string, { code: number; reason: string; wasClean: boolean }>();
  const extensionOffers: string[] = [];
  const extensionsAccepted: string[] = [];
  const server = http.createServer(servePage);
  // Spread so that it type-checks before the option exists; ignored until then.
  const compression = { perMessageDeflate: true };
  const wss = new WebSocketServer({ noServer: true, ...compression });
  server.on('upgrade', (req, socket, head) => {
    extensionOffers.push(String(req.headers['sec-websocket-extensions'] ?? ''));
    wss.handleUpgrade(req, socket, head, (ws) => {
      extensionsAccepted.push(ws.extensions);
      const id = new URL(req.url ?? '/', 'http://localhost').searchParams.get('id') ?? '';
      serve(ws, id, closes);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    extensionOffers,
    extensionsAccepted,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Http2EchoServer extends EchoServer {
  /** req.httpVersion of each WebSocket: '2.0' for an RFC 8441 stream. */
  transports: string[];
  /** HTTP/2 connections that carried a request (Chromium also opens one it leaves unused). */
  connectionsUsed(): number;
}

/**
 * The same echo server on one HTTPS port speaking HTTP/2 and HTTP/1.1
 * (allowHTTP1), the WebSocketServer in `{ server }` mode: WebSockets come
 * as extended CONNECT streams when the browser uses HTTP/2 for them.
 */
export async function startHttp2EchoServer(): Promise<Http2EchoServer> {
  const fixtures = new URL('../fixtures/', import.meta.url);
  const server = http2.createSecureServer({
    cert: readFileSync(new URL('cert.pem', fixtures)),
    key: readFileSync(new URL('key.pem', fixtures)),
    allowHTTP1: true,
  });
  server.on('request', servePage);
  const sessions = new Set<http2.ServerHttp2Session>();
  const used = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    session.once('stream', () => used.add(session));
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const closes = new Map<string, { code: number; reason: string; wasClean: boolean }>();
  const extensionOffers: string[] = [];
  const extensionsAccepted: string[] = [];
  const transports: string[] = [];
  const wss = new WebSocketServer({ server, perMessageDeflate: true });
  wss.on('connection', (ws, req) => {
    transports.push(req.httpVersion ?? '');
    extensionOffers.push(String(req.headers['sec-websocket-extensions'] ?? ''));
    extensionsAccepted.push(ws.extensions);
    serve(ws, new URL(req.url ?? '/', 'https://localhost').searchParams.get('id') ?? '', closes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `wss://127.0.0.1:${port}`,
    httpUrl: `https://127.0.0.1:${port}`,
    extensionOffers,
    extensionsAccepted,
    transports,
    connectionsUsed: () => used.size,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serve(ws: WebSocket, id: string, closes: Map<string, { code: number; reason: string; wasClean: boolean }>): void {
  ws.on('close', (code, reason, wasClean) => closes.set(id, { code, reason: reason.toString(), wasClean }));
  ws.on('message', (data, isBinary) => {
    const command = isBinary ? null : /^(send|close|report|terminate) (\S+) ?(.*)$/.exec(data.toString());
    if (command === null) {
      ws.send(data, { binary: isBinary });
    } else if (command[1] === 'send') {
      const size = Number(command[2]);
      ws.send(Buffer.alloc(size).map((_, i) => (i * 7) & 0xff));
    } else if (command[1] === 'terminate') {
      ws.terminate();
    } else if (command[1] === 'close') {
      ws.close(Number(command[2]), command[3]);
    } else {
      ws.send(JSON.stringify(closes.get(command[2]) ?? null));
    }
  });
}
