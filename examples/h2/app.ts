/**
 * One HTTPS port speaking HTTP/2 and HTTP/1.1 (ALPN decides), a page at /,
 * an echo WebSocket at /echo over both (RFC 8441 streams on HTTP/2, the
 * usual upgrade on HTTP/1.1) with permessage-deflate, and GET /stats:
 * WebSockets opened so far, by transport.
 */

import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../../src/index.ts';

export interface H2EchoOptions {
  port?: number;
  host?: string;
  /** PEM certificate and key; default: the test suite's self-signed pair for localhost and 127.0.0.1. */
  cert?: Buffer;
  key?: Buffer;
}

export interface H2Echo {
  port: number;
  url: string;
  stats: { websockets: { h2: number; http1: number } };
  close(): Promise<void>;
}

const fixtures = new URL('../../spec/fixtures/', import.meta.url);

const page = `<!doctype html>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>netws over HTTP/2</title>
<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}#log{white-space:pre-wrap;border:1px solid #ccc;padding:.5rem;min-height:6rem}</style>
<h1>netws: a WebSocket over HTTP/2</h1>
<p>This page came over <b id="page">?</b>. WebSocket: <b id="state">connecting</b>
<span id="extensions"></span></p>
<p>Server's WebSockets so far: <b id="stats">?</b></p>
<form id="form"><input id="text" autofocus placeholder="Say something" size="30"> <button>Send</button></form>
<div id="log"></div>
<script>
const $ = (id) => document.getElementById(id);
const log = (line) => { $('log').textContent += line + '\\n'; };
$('page').textContent = performance.getEntriesByType('navigation')[0]?.nextHopProtocol || 'unknown';
const showStats = () => fetch('/stats').then((r) => r.json()).then((s) => {
  $('stats').textContent = s.websockets.h2 + ' over HTTP/2, ' + s.websockets.http1 + ' over HTTP/1.1';
});
const ws = new WebSocket('wss://' + location.host + '/echo');
ws.onopen = () => {
  $('state').textContent = 'open';
  $('extensions').textContent = ws.extensions ? '(' + ws.extensions + ')' : '';
  document.body.dataset.state = 'open';
  showStats();
};
ws.onclose = (e) => { $('state').textContent = 'closed (' + e.code + ')'; document.body.dataset.state = 'closed'; };
ws.onmessage = (e) => log('echo: ' + e.data);
$('form').onsubmit = (e) => {
  e.preventDefault();
  ws.send($('text').value);
  log('sent: ' + $('text').value);
  $('text').value = '';
};
</script>
`;

export async function startH2Echo(options: H2EchoOptions = {}): Promise<H2Echo> {
  const server = http2.createSecureServer({
    cert: options.cert ?? readFileSync(new URL('cert.pem', fixtures)),
    key: options.key ?? readFileSync(new URL('key.pem', fixtures)),
    allowHTTP1: true,
  });
  // Takes the WebSocket CONNECTs of HTTP/2 and the upgrades of HTTP/1.1, and
  // turns on SETTINGS_ENABLE_CONNECT_PROTOCOL for the sessions it serves.
  const wss = new WebSocketServer({ server, path: '/echo', perMessageDeflate: true });
  const stats = { websockets: { h2: 0, http1: 0 } };
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  wss.on('connection', (ws, req) => {
    stats.websockets[req.httpVersion === '2.0' ? 'h2' : 'http1']++;
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  // Everything else is plain HTTP, on node's compatibility API (both versions).
  server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
    } else if (req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(stats));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not found');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8443, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://${options.host ?? 'localhost'}:${port}`,
    stats,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
