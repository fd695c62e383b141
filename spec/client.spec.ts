import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { PassThrough, Duplex } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer } from '../src/index.ts';
import { computeAccept } from '../src/protocol/handshake.ts';
import { portOf, sleep, waitFor, isError, isDOMException } from './helpers.ts';

const client = suite('client');

client('bad URLs and subprotocols throw a SyntaxError DOMException synchronously', () => {
  assert.throws(() => new WebSocket('not a url'), isDOMException('SyntaxError'));
  assert.throws(() => new WebSocket('ftp://example.com'), isDOMException('SyntaxError'));
  assert.throws(() => new WebSocket('ws://example.com/#frag'), isDOMException('SyntaxError'));
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', ['a', 'a']), isDOMException('SyntaxError'));
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', 'bad protocol'), isDOMException('SyntaxError'));
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', { headers: { 'X-A': 'a\r\nInjected: 1' } }), isError(TypeError));
});

/** A fake server that answers every request with `respond(key)`. */
async function fakeServer(respond: (key: string) => string | null): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (data) => {
      const key = /Sec-WebSocket-Key: (.*)\r\n/.exec(data.toString())![1];
      const answer = respond(key);
      if (answer !== null) socket.end(answer);
    });
  });
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  return server;
}

const good = (key: string, extra = ''): string =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(key)}\r\n${extra}\r\n`;

const badResponses: Array<[string, (key: string) => string, string]> = [
  ['a 200 answer', () => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'WS_ERR_UNEXPECTED_RESPONSE'],
  ['a wrong accept value', () => good('AAAAAAAAAAAAAAAAAAAAAA=='), 'WS_ERR_INVALID_ACCEPT'],
  ['a missing Upgrade header', (key) => good(key).replace('Upgrade: websocket\r\n', ''), 'WS_ERR_INVALID_UPGRADE'],
  ['a subprotocol not offered', (key) => good(key, 'Sec-WebSocket-Protocol: chat\r\n'), 'WS_ERR_INVALID_SUBPROTOCOL'],
  ['an extension not offered', (key) => good(key, 'Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n'), 'WS_ERR_INVALID_EXTENSION'],
  ['a malformed status line', () => 'HTTP/1.1 abc\r\n\r\n', 'WS_ERR_INVALID_RESPONSE'],
  ['a head that never ends', () => `HTTP/1.1 101 OK\r\nX: ${'a'.repeat(20000)}`, 'WS_ERR_INVALID_RESPONSE'],
  ['a close before the head ends', () => 'HTTP/1.1 101', 'WS_ERR_CONNECTION_CLOSED'],
];
for (const [name, respond, code] of badResponses) {
  client(`${name}: error ${code}, then close 1006`, async () => {
    const server = await fakeServer(respond);
    const ws = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
    const closed = waitFor<[number, Buffer, boolean]>(ws, 'close');
    const [error] = await waitFor<[{ code: string }]>(ws, 'error');
    assert.is(error.code, code);
    const [closeCode, , wasClean] = await closed;
    assert.is(closeCode, 1006);
    assert.not.ok(wasClean);
    assert.is(ws.readyState, WebSocket.CLOSED);
    server.close();
  });
}

client('handshake timeout against a silent server', async () => {
  const server = await fakeServer(() => null);
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(server)}`, { handshakeTimeout: 100 });
  const closed = waitFor(ws, 'close');
  const [error] = await waitFor<[{ code: string }]>(ws, 'error');
  assert.is(error.code, 'WS_ERR_HANDSHAKE_TIMEOUT');
  await closed;
  server.close();
});

client('connection refused: error then close, no crash without an error listener', async () => {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await waitFor(probe, 'listening');
  const port = portOf(probe);
  probe.close();
  const withListener = new WebSocket(`ws://127.0.0.1:${port}`);
  const [error] = await waitFor<[NodeJS.ErrnoException]>(withListener, 'error');
  assert.is(error.code, 'ECONNREFUSED');
  const silent = new WebSocket(`ws://127.0.0.1:${port}`);
  const [code] = await waitFor<[number]>(silent, 'close');
  assert.is(code, 1006);
});

client('close() or terminate() while connecting aborts the handshake', async () => {
  const server = await fakeServer(() => null);
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
  assert.is(ws.readyState, WebSocket.CONNECTING);
  assert.is(ws.bufferedAmount, 0);
  assert.throws(() => ws.send('too early'), /CONNECTING/);
  assert.throws(() => ws.ping(), /CONNECTING/);
  const errors: string[] = [];
  ws.on('error', (e) => errors.push((e as unknown as { code: string }).code));
  ws.close();
  ws.close(); // no-op while closing
  await waitFor(ws, 'close');
  assert.equal(errors, ['WS_ERR_CLOSED_BEFORE_CONNECT']);
  const other = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
  other.terminate();
  await waitFor(other, 'close');
  server.close();
});

client('the request carries origin, subprotocols, custom headers and the path with query', async () => {
  let request = '';
  const server = await fakeServer(() => null);
  server.removeAllListeners('connection');
  server.on('connection', (socket) => socket.once('data', (data) => {
    request = data.toString();
    socket.destroy();
  }));
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(server)}/a/b?c=d`, ['chat', 'json'], {
    origin: 'https://app.example',
    headers: { Authorization: 'Bearer t' },
  });
  await waitFor(ws, 'close');
  assert.match(request, /^GET \/a\/b\?c=d HTTP\/1\.1\r\n/);
  assert.match(request, new RegExp(`\r\nHost: 127\\.0\\.0\\.1:${portOf(server)}\r\n`));
  assert.match(request, /\r\nSec-WebSocket-Protocol: chat, json\r\n/);
  assert.match(request, /\r\nOrigin: https:\/\/app\.example\r\n/);
  assert.match(request, /\r\nAuthorization: Bearer t\r\n/);
  server.close();
});

client('http: URLs map to ws:, and the client works over IPv6 loopback', async () => {
  const wss = new WebSocketServer({ port: 0, host: '::1' });
  const listening = await Promise.race([
    waitFor(wss, 'listening').then(() => true),
    waitFor(wss, 'error').then(() => false),
  ]);
  if (!listening) return; // no IPv6 on this host
  const ws = new WebSocket(`http://[::1]:${portOf(wss)}`);
  assert.ok(ws.url!.startsWith('ws://[::1]:'));
  await waitFor(ws, 'open');
  ws.terminate();
  await waitFor(ws, 'close');
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

client('wss: over node:tls with a custom CA; an untrusted certificate fails', async () => {
  const cert = readFileSync(new URL('./fixtures/cert.pem', import.meta.url));
  const key = readFileSync(new URL('./fixtures/key.pem', import.meta.url));
  const httpsServer = https.createServer({ cert, key });
  const wss = new WebSocketServer({ server: httpsServer });
  let secure = false;
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
  wss.options.verifyClient;
  httpsServer.listen(0, '127.0.0.1');
  await waitFor(httpsServer, 'listening');
  const port = portOf(httpsServer);
  const ws = new WebSocket(`wss://localhost:${port}`, { ca: cert });
  await waitFor(ws, 'open');
  ws.send('secret');
  const [data] = await waitFor<[Buffer]>(ws, 'message');
  assert.is(data.toString(), 'secret');
  ws.close();
  await waitFor(ws, 'close');
  const untrusted = new WebSocket(`wss://127.0.0.1:${port}`);
  const [error] = await waitFor<[NodeJS.ErrnoException]>(untrusted, 'error');
  assert.match(String(error.code), /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
  secure = true;
  assert.ok(secure);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  httpsServer.close();
});

client('createConnection: the client runs over any Duplex', async () => {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  // Two PassThrough streams make an in-memory pipe; the server side gets a
  // Duplex whose head is parsed by hand, as an embedding framework would.
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const clientSide = Duplex.from({ readable: toClient, writable: toServer });
  const serverSide = Duplex.from({ readable: toServer, writable: toClient });
  serverSide.once('data', (chunk: Buffer) => {
    const text = chunk.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    const lines = text.slice(0, end).split('\r\n').slice(1);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    serverSide.pause();
    wss.handleUpgrade({ method: 'GET', url: '/', httpVersion: '1.1', headers }, serverSide, chunk.subarray(end + 4), (ws) =>
      wss.emit('connection', ws, { headers }),
    );
  });
  const ws = new WebSocket('ws://in-memory.test', { createConnection: () => clientSide });
  await waitFor(ws, 'open');
  ws.send(Buffer.from([1, 2, 3]));
  const [data, isBinary] = await waitFor<[Buffer, boolean]>(ws, 'message');
  assert.equal([...data], [1, 2, 3]);
  assert.ok(isBinary);
  ws.terminate();
  await waitFor(ws, 'close');
  await sleep(5);
});

client.run();
