/**
 * The server roundtrip.js talks to, for the Node run and the Chromium run
 * alike: a node:http server that serves the script (and a blank page to run
 * it from) and upgrades /echo. Messages are echoed with their type; a few
 * text commands make the server act: `send N` sends N bytes, `close CODE
 * REASON` closes, `terminate now` cuts the connection, `report ID` answers with how connection ID was closed.
 */

import http from 'node:http';
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
const scripts = new Map(['roundtrip.js', 'websocketstream.js'].map((name) => [`/${name}`, readFileSync(new URL(`./${name}`, import.meta.url))]));

export async function startEchoServer(): Promise<EchoServer> {
  const closes = new Map<string, { code: number; reason: string; wasClean: boolean }>();
  const extensionOffers: string[] = [];
  const extensionsAccepted: string[] = [];
  const server = http.createServer((req, res) => {
    const script = scripts.get(req.url ?? '');
    if (script !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      res.end(script);
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>netws roundtrip</title>');
    }
  });
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
