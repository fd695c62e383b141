/**
 * The demo: an echo server on node:http, with a tiny page to try it from a
 * browser. `npm run example:echo`, then open http://localhost:8080 (PORT overrides).
 */

import http from 'node:http';
import { WebSocketServer } from '../src/index.ts';

const port = Number(process.env.PORT ?? 8080);

const page = `<!doctype html>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>netws echo</title>
<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}#log{white-space:pre-wrap;border:1px solid #ccc;padding:.5rem;min-height:8rem}</style>
<h1>netws echo</h1>
<p>Status: <b id="state">connecting</b></p>
<form id="form"><input id="text" autofocus placeholder="Say something" size="30"> <button>Send</button></form>
<div id="log"></div>
<script>
const log = (line) => { document.getElementById('log').textContent += line + '\\n'; };
const ws = new WebSocket('ws://' + location.host + '/echo');
ws.onopen = () => { document.getElementById('state').textContent = 'open'; };
ws.onclose = (e) => { document.getElementById('state').textContent = 'closed (' + e.code + ')'; };
ws.onmessage = (e) => log('echo: ' + e.data);
document.getElementById('form').onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById('text');
  ws.send(input.value);
  log('sent: ' + input.value);
  input.value = '';
};
</script>
`;

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(page);
});

const wss = new WebSocketServer({ server, path: '/echo' });
wss.on('connection', (ws, req) => {
  console.log(`connection from ${(req.socket as { remoteAddress?: string } | undefined)?.remoteAddress ?? 'unknown'}`);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

server.listen(port, () => {
  console.log(`netws echo demo on http://localhost:${port} (WebSocket at ws://localhost:${port}/echo)`);
});
