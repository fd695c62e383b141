/**
 * The RFC 8441 client: `http2: true` (shared sessions, ALPN) and
 * `http2: session`, against the netws HTTP/2 server, HTTP/1.1-only
 * servers (fallback) and servers that misbehave.
 */

import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer, type WebSocketError } from '../../src/index.ts';
import { isError, sleep, waitFor } from '../helpers.ts';
import { cert, h2Server, h2Session, key, listen } from './peer.ts';
import { runtime } from '../runtime.ts';

const client = suite('http2 client');

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
}

async function failure(ws: WebSocket): Promise<{ error: WebSocketError; code: number }> {
  const [[error], [code]] = await Promise.all([waitFor<[WebSocketError]>(ws, 'error'), waitFor<[number]>(ws, 'close')]);
  return { error, code };
}

function nextMessage(ws: WebSocket): Promise<[Buffer, boolean]> {
  return waitFor<[Buffer, boolean]>(ws, 'message');
}

function echoing(wss: WebSocketServer): void {
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const command = isBinary ? null : /^close (\d+) (.*)$/.exec(data.toString());
      if (command) ws.close(Number(command[1]), command[2]);
      else ws.send(data, { binary: isBinary });
    });
  });
}

client('http2: session: text, binary and 1 MiB both ways, permessage-deflate, the subprotocol, close codes both ways', async () => {
  const fixture = await h2Server({ perMessageDeflate: true });
  echoing(fixture.wss);
  const serverCloses: Array<[number, string, boolean]> = [];
  fixture.wss.on('connection', (ws) => ws.on('close', (code, reason, wasClean) => serverCloses.push([code, reason.toString(), wasClean])));
  const session = await h2Session(fixture.port);
  const ws = new WebSocket(`wss://localhost:${fixture.port}/echo`, ['chat'], { http2: session });
  await opened(ws);
  assert.is(ws._socket!.constructor.name, 'ClientHttp2Stream');
  assert.is(ws.protocol, 'chat');
  assert.match(ws.extensions, /^permessage-deflate/);
  assert.is(ws.url, `wss://localhost:${fixture.port}/echo`);
  ws.send('héllo');
  assert.equal((await nextMessage(ws)).map(String), ['héllo', 'false']);
  const big = Buffer.alloc(1024 * 1024).map((_, i) => (i * 7) & 0xff);
  ws.send(big);
  const [echoed, isBinary] = await nextMessage(ws);
  assert.ok(isBinary);
  assert.ok(echoed.equals(big));
  ws.send('close 4001 from server');
  const [code, reason, wasClean] = await waitFor<[number, Buffer, boolean]>(ws, 'close');
  assert.equal([code, reason.toString(), wasClean], [4001, 'from server', true]);

  const second = new WebSocket(`wss://localhost:${fixture.port}/echo`, { http2: session });
  await opened(second);
  second.close(4002, 'from client');
  const [secondCode, , secondClean] = await waitFor<[number, Buffer, boolean]>(second, 'close');
  assert.equal([secondCode, secondClean], [4002, true]);
  await sleep(10);
  assert.equal(serverCloses, [
    [4001, 'from server', true],
    [4002, 'from client', true],
  ]);
  assert.is(fixture.sessions.length, 1, 'both on the one session');
  assert.not.ok(session.closed, "the caller's session stays open");
  session.close();
  await fixture.close();
});

client('the request: user headers, Origin, Authorization from URL credentials, Host as :authority', async () => {
  const fixture = await h2Server();
  const session = await h2Session(fixture.port);
  const connected = waitFor<[WebSocket, http2.Http2ServerRequest]>(fixture.wss, 'connection');
  const ws = new WebSocket(`wss://user:pa%20ss@localhost:${fixture.port}/a?b=c`, {
    http2: session,
    origin: 'https://app.example',
    headers: { 'X-Custom': 'yes', Host: 'front.example' },
    perMessageDeflate: false,
  });
  await opened(ws);
  const [, req] = await connected;
  assert.equal(
    [req.url, req.authority, req.headers['x-custom'], req.headers.origin],
    ['/a?b=c', 'front.example', 'yes', 'https://app.example'],
  );
  assert.is(req.headers.authorization, `Basic ${Buffer.from('user:pa ss').toString('base64')}`);
  assert.is(req.headers['sec-websocket-key'], undefined, 'no key over HTTP/2');
  assert.is(req.headers['sec-websocket-extensions'], undefined);
  ws.terminate();
  session.close();
  await fixture.close();
});

client('http2: true: WebSockets to one origin share one session, closed after the last one', async () => {
  const fixture = await h2Server();
  echoing(fixture.wss);
  const sockets = Array.from({ length: 5 }, () => new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert }));
  await Promise.all(sockets.map(opened));
  assert.is(fixture.sessions.length, 1);
  const later = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert });
  await opened(later);
  assert.is(fixture.sessions.length, 1, 'a later WebSocket joins the open session');
  // One closed before the shared session is even handed to it gives its place back.
  const gone = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert });
  gone.terminate();
  await failure(gone);
  const sessionClosed = waitFor(fixture.sessions[0], 'close');
  for (const ws of [...sockets, later]) {
    ws.close();
    await waitFor(ws, 'close');
  }
  await sessionClosed;
  await fixture.close();
});

client('http2: true: a session whose server allows no more concurrent streams is full; the next WebSocket opens another', async () => {
  const fixture = await h2Server({}, { settings: { maxConcurrentStreams: 2 } });
  const first = [
    new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert }),
    new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert }),
  ];
  await Promise.all(first.map(opened));
  const third = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert });
  await opened(third);
  assert.is(fixture.sessions.length, 2);
  for (const ws of [...first, third]) ws.terminate();
  await fixture.close();
});

client("http2: true: WebSockets opened at once share a connection only up to its server's limit; the others open another", async () => {
  const fixture = await h2Server({}, { settings: { maxConcurrentStreams: 3 } });
  const burst = Array.from(
    { length: 7 },
    () => new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert, handshakeTimeout: 2000 }),
  );
  // Given up before the SETTINGS came: takes no place.
  burst[6].terminate();
  await Promise.all(burst.slice(0, 6).map(opened));
  assert.is(fixture.sessions.length, 2);
  for (const ws of burst) ws.terminate();
  await fixture.close();
});

client(
  'http2: true: a server that never sends its SETTINGS loses the connection when the WebSocket gives up; one that closes first fails it',
  async () => {
    const silent = tls.createServer({ cert, key, ALPNProtocols: ['h2'] });
    const sockets: tls.TLSSocket[] = [];
    silent.on('secureConnection', (socket) => sockets.push(socket.resume()));
    silent.listen(0, '127.0.0.1');
    await waitFor(silent, 'listening');
    const port = (silent.address() as AddressInfo).port;
    const { error } = await failure(new WebSocket(`wss://localhost:${port}/`, { http2: true, ca: cert, handshakeTimeout: 300 }));
    assert.is(error.code, 'WS_ERR_HANDSHAKE_TIMEOUT');
    await waitFor(sockets[0], 'close', 2000);
    silent.removeAllListeners('secureConnection');
    silent.on('secureConnection', (socket) => socket.destroy());
    const closing = await failure(new WebSocket(`wss://localhost:${port}/`, { http2: true, ca: cert }));
    assert.is(closing.error.code, 'WS_ERR_HTTP2_SESSION_CLOSED');
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  },
);

client('http2: true with other connection options (another ca object) opens another session', async () => {
  const fixture = await h2Server();
  const a = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert });
  const b = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: Buffer.from(cert) });
  await Promise.all([opened(a), opened(b)]);
  assert.is(fixture.sessions.length, 2);
  a.terminate();
  b.terminate();
  await fixture.close();
});

client('falls back to HTTP/1.1 when the server does not advertise extended CONNECT (http2: true and a session)', async () => {
  const h2 = http2.createSecureServer({ cert, key, allowHTTP1: true });
  const wss = new WebSocketServer({ noServer: true });
  h2.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  const versions: string[] = [];
  wss.on('connection', (ws, req) => {
    versions.push(req.httpVersion!);
    ws.on('message', (data) => ws.send(data));
  });
  const fixture = await listen(h2, wss);
  const pooled = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert });
  await opened(pooled);
  const session = await h2Session(fixture.port);
  const own = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session, ca: cert });
  await opened(own);
  const again = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session, ca: cert });
  await opened(again);
  assert.equal(versions, ['1.1', '1.1', '1.1']);
  assert.is(own._socket!.constructor.name, 'TLSSocket');
  own.send('x');
  assert.is((await nextMessage(own))[0].toString(), 'x');
  for (const ws of [pooled, own, again]) ws.terminate();
  session.close();
  await fixture.close();
});

client('falls back to HTTP/1.1 on the TLS connection ALPN ran on when the server speaks only http/1.1', async () => {
  const server = https.createServer({ cert, key });
  const wss = new WebSocketServer({ server });
  let connections = 0;
  server.on('secureConnection', () => connections++);
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const connected = waitFor<[WebSocket, { httpVersion: string }]>(wss, 'connection');
  const ws = new WebSocket(`wss://localhost:${port}/`, { http2: true, ca: cert });
  await opened(ws);
  assert.is((await connected)[1].httpVersion, '1.1');
  assert.is(connections, 1, 'one TLS connection');
  // Two at once: the first takes the ALPN connection, the second opens its own.
  const both = [
    new WebSocket(`wss://localhost:${port}/`, { http2: true, ca: cert }),
    new WebSocket(`wss://localhost:${port}/`, { http2: true, ca: cert }),
  ];
  await Promise.all(both.map(opened));
  assert.is(connections, 3);
  for (const one of [ws, ...both]) one.terminate();
  wss.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

client('http2: true: a refused handshake gives its shared session back; the last one closes the connection', async () => {
  const fixture = await h2Server({ verifyClient: () => false });
  const ws = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert });
  const { error } = await failure(ws);
  assert.is(error.statusCode, 401);
  // The client's GOAWAY, then the end of its TLS connection.
  await waitFor(fixture.sessions[0], 'close', 2000);
  await fixture.close();
});

client('a refusal is an error with its status (WS_ERR_UNEXPECTED_RESPONSE), then close 1006', async () => {
  const fixture = await h2Server({ verifyClient: (_info: unknown, callback: (ok: boolean, code: number) => void) => callback(false, 403) });
  const session = await h2Session(fixture.port);
  const { error, code } = await failure(new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session }));
  assert.equal([error.code, error.statusCode, code], ['WS_ERR_UNEXPECTED_RESPONSE', 403, 1006]);
  session.close();
  await fixture.close();
});

client('a server that selects no subprotocol when one was asked for fails the handshake, as on HTTP/1.1', async () => {
  const fixture = await h2Server({ handleProtocols: () => false });
  const session = await h2Session(fixture.port);
  const { error } = await failure(new WebSocket(`wss://localhost:${fixture.port}/`, ['chat'], { http2: session }));
  assert.is(error.code, 'WS_ERR_INVALID_SUBPROTOCOL');
  session.close();
  await fixture.close();
});

/** An HTTP/2 server advertising extended CONNECT whose streams `onStream` handles (a misbehaving peer). */
async function rawH2Server(onStream: (stream: http2.ServerHttp2Stream) => void) {
  const h2 = http2.createSecureServer({ cert, key, settings: { enableConnectProtocol: true } });
  const streams: http2.ServerHttp2Stream[] = [];
  h2.on('stream', (stream) => {
    streams.push(stream);
    stream.on('error', () => {});
    onStream(stream);
  });
  const fixture = await listen(h2, new WebSocketServer({ noServer: true }));
  return { ...fixture, streams };
}

client("a stream reset before the response fails the handshake: node's stream error, or WS_ERR_HTTP2_STREAM_RESET for CANCEL", async () => {
  let code = http2.constants.NGHTTP2_REFUSED_STREAM;
  const fixture = await rawH2Server((stream) => stream.close(code));
  const session = await h2Session(fixture.port);
  const refused = await failure(new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session }));
  assert.is((refused.error as { code?: string }).code, 'ERR_HTTP2_STREAM_ERROR');
  code = http2.constants.NGHTTP2_CANCEL;
  const cancelled = await failure(new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session }));
  assert.is(cancelled.error.code, 'WS_ERR_HTTP2_STREAM_RESET');
  assert.match(cancelled.error.message, /code 8/);
  session.close();
  await fixture.close();
});

client('a Sec-WebSocket-Accept the client did not ask for (it sent no key) is ignored', async () => {
  const fixture = await rawH2Server((stream) => stream.respond({ ':status': 200, 'sec-websocket-accept': 'bogus' }));
  const session = await h2Session(fixture.port);
  const ws = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session });
  await opened(ws);
  ws.terminate();
  session.close();
  await fixture.close();
});

client('handshakeTimeout: a server that never answers; the stream is reset with CANCEL', async () => {
  const fixture = await rawH2Server(() => {});
  const session = await h2Session(fixture.port);
  const { error } = await failure(new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session, handshakeTimeout: 100 }));
  assert.is(error.code, 'WS_ERR_HANDSHAKE_TIMEOUT');
  await waitFor(fixture.streams[0], 'close');
  assert.is(fixture.streams[0].rstCode, http2.constants.NGHTTP2_CANCEL);
  session.close();
  await fixture.close();
});

client('close() while connecting resets the stream (CANCEL), or gives up waiting for the connection', async () => {
  const fixture = await rawH2Server(() => {});
  const session = await h2Session(fixture.port);
  const ws = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session });
  while (fixture.streams.length === 0) await sleep(5);
  ws.close();
  const { error } = await failure(ws);
  assert.is(error.code, 'WS_ERR_CLOSED_BEFORE_CONNECT');
  await waitFor(fixture.streams[0], 'close');
  assert.is(fixture.streams[0].rstCode, http2.constants.NGHTTP2_CANCEL);
  // Before the shared connection is even made: nothing is left behind.
  const early = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert });
  early.terminate();
  assert.is((await failure(early)).error.code, 'WS_ERR_CLOSED_BEFORE_CONNECT');
  await sleep(50);
  assert.is(fixture.streams.length, 1);
  session.close();
  await fixture.close();
});

client('http2: true to a port nobody listens on: the connection error, then 1006', async () => {
  const fixture = await h2Server();
  const port = fixture.port;
  await fixture.close();
  const { error, code } = await failure(new WebSocket(`wss://localhost:${port}/`, { http2: true, ca: cert }));
  assert.is((error as { code?: string }).code, 'ECONNREFUSED');
  assert.is(code, 1006);
});

client('the http2 option: a boolean or a ClientHttp2Session, else a TypeError', () => {
  for (const value of ['yes', 1, {}, { request() {} }]) {
    assert.throws(() => new WebSocket('wss://localhost:1/', { http2: value as never }), isError(TypeError), String(value));
  }
});

client("a closed session of the caller's: WS_ERR_HTTP2_SESSION_CLOSED; a session still connecting is waited for", async () => {
  const fixture = await h2Server();
  const closed = await h2Session(fixture.port);
  closed.close();
  const { error } = await failure(new WebSocket(`wss://localhost:${fixture.port}/`, { http2: closed }));
  assert.is(error.code, 'WS_ERR_HTTP2_SESSION_CLOSED');
  const connecting = http2.connect(`https://localhost:${fixture.port}`, { ca: cert });
  assert.ok(connecting.connecting);
  // Two WebSockets wait for one SETTINGS frame.
  const [ws, other] = [0, 1].map(() => new WebSocket(`wss://localhost:${fixture.port}/`, { http2: connecting }));
  await Promise.all([opened(ws), opened(other)]);
  assert.is(ws._socket!.constructor.name, 'ClientHttp2Stream');
  ws.terminate();
  other.terminate();
  connecting.close();
  // A session that fails while connecting.
  const refused = http2.connect('https://localhost:1', { ca: cert });
  refused.on('error', () => {});
  assert.is((await failure(new WebSocket('wss://localhost:1/', { http2: refused }))).error.code, 'WS_ERR_HTTP2_SESSION_CLOSED');
  await fixture.close();
});

client('ws: URLs: http2: true stays on HTTP/1.1 (no negotiation without TLS); an h2c session is used', async () => {
  const h2c = http2.createServer({ settings: { enableConnectProtocol: true } });
  const wss = new WebSocketServer({ server: h2c });
  const versions: string[] = [];
  wss.on('connection', (_ws, req) => versions.push(req.httpVersion!));
  h2c.listen(0, '127.0.0.1');
  await waitFor(h2c, 'listening');
  const port = (h2c.address() as AddressInfo).port;
  // An HTTP/1.1 upgrade to a cleartext HTTP/2-only server cannot work: the point is which one was tried.
  const plain = new WebSocket(`ws://127.0.0.1:${port}/`, { http2: true });
  plain.on('error', () => {});
  await waitFor(plain, 'close');
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { http2: session });
  await opened(ws);
  assert.equal(versions, ['2.0']);
  ws.terminate();
  session.close();
  wss.close();
  await new Promise<void>((resolve) => h2c.close(() => resolve()));
});

client("terminate() resets only its stream; the server's session ending is 1006 on the client", async () => {
  const fixture = await h2Server();
  const session = await h2Session(fixture.port);
  const [a, b] = [
    new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session }),
    new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session }),
  ];
  await Promise.all([opened(a), opened(b)]);
  const [serverA] = [...fixture.wss.clients];
  const serverClosed = waitFor<[number]>(serverA, 'close');
  a.terminate();
  assert.is((await serverClosed)[0], 1006);
  assert.is(b.readyState, WebSocket.OPEN);
  const closed = waitFor<[number, Buffer, boolean]>(b, 'close');
  fixture.sessions[0].destroy();
  const [code, , wasClean] = await closed;
  assert.equal([code, wasClean], [1006, false]);
  session.destroy();
  await fixture.close();
});

client('over HTTP/2 too: protocolVersion 8 sends Sec-WebSocket-Origin; the auth option becomes Authorization', async () => {
  const fixture = await h2Server();
  const session = await h2Session(fixture.port);
  const connected = waitFor<[WebSocket, http2.Http2ServerRequest]>(fixture.wss, 'connection');
  const ws = new WebSocket(`wss://localhost:${fixture.port}/`, {
    http2: session,
    protocolVersion: 8,
    origin: 'https://old.example',
    auth: 'a:b',
  });
  await opened(ws);
  const [, req] = await connected;
  assert.equal(
    [req.headers['sec-websocket-version'], req.headers['sec-websocket-origin'], req.headers.origin],
    ['8', 'https://old.example', undefined],
  );
  assert.is(req.headers.authorization, `Basic ${Buffer.from('a:b').toString('base64')}`);
  ws.terminate();
  session.close();
  await fixture.close();
});

client("a header node:http2 will not send (TE other than trailers) fails the handshake with the runtime's error", async () => {
  const fixture = await h2Server();
  const session = await h2Session(fixture.port);
  try {
    const { error } = await failure(new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session, headers: { TE: 'gzip' } }));
    // Bun 1.4.5's request() sends the field, and the stream is then reset with PROTOCOL_ERROR: the runtime's error either way.
    assert.is((error as { code?: string }).code, runtime === 'bun' ? 'ERR_HTTP2_STREAM_ERROR' : 'ERR_HTTP2_INVALID_CONNECTION_HEADERS');
    assert.is(fixture.wss.clients.size, 0);
  } finally {
    session.close();
    await fixture.close();
  }
});

client("close() while a connecting session's SETTINGS are awaited: nothing is sent", async () => {
  const fixture = await h2Server();
  const connecting = http2.connect(`https://localhost:${fixture.port}`, { ca: cert });
  const ws = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: connecting });
  ws.terminate();
  assert.is((await failure(ws)).error.code, 'WS_ERR_CLOSED_BEFORE_CONNECT');
  await waitFor(connecting, 'remoteSettings');
  await sleep(20);
  assert.is(fixture.wss.clients.size, 0);
  connecting.close();
  await fixture.close();
});

client('close() during the HTTP/1.1 fallback aborts the upgrade request', async () => {
  const h2 = http2.createSecureServer({ cert, key, allowHTTP1: true });
  const upgrades: import('node:stream').Duplex[] = [];
  h2.on('upgrade', (_req, socket) => upgrades.push(socket)); // never answered
  const fixture = await listen(h2, new WebSocketServer({ noServer: true }));
  const session = await h2Session(fixture.port);
  const ws = new WebSocket(`wss://localhost:${fixture.port}/`, { http2: session, ca: cert });
  while (upgrades.length === 0) await sleep(5);
  const serverSocketClosed = waitFor(upgrades[0], 'close');
  ws.close();
  assert.is((await failure(ws)).error.code, 'WS_ERR_CLOSED_BEFORE_CONNECT');
  await serverSocketClosed;
  session.close();
  await fixture.close();
});

/** An HTTPS (HTTP/1.1 only) server with a WebSocketServer; `first` may answer the first upgrade itself. */
async function http1Server(first?: (socket: import('node:stream').Duplex) => void) {
  const server = https.createServer({ cert, key });
  const wss = new WebSocketServer({ noServer: true });
  let upgrades = 0;
  let connections = 0;
  server.on('secureConnection', () => connections++);
  server.on('upgrade', (req, socket, head) => {
    if (upgrades++ === 0 && first) first(socket);
    else wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  return {
    server,
    wss,
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

client('after an ALPN fallback, a redirect opens a connection of its own; an invalid option fails the fallback', async () => {
  const server = await http1Server((socket) => socket.end('HTTP/1.1 302 Found\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n'));
  const connected = waitFor<[WebSocket, { url: string }]>(server.wss, 'connection');
  const ws = new WebSocket(`wss://localhost:${server.port}/`, { http2: true, ca: cert, followRedirects: true });
  await opened(ws);
  assert.is((await connected)[1].url, '/moved');
  assert.is(server.connections(), 2);
  ws.terminate();
  // node:http checks its own options only when the fallback creates its request.
  const { error } = await failure(
    new WebSocket(`wss://localhost:${server.port}/`, { http2: true, ca: cert, insecureHTTPParser: 'yes' as never }),
  );
  assert.is((error as { code?: string }).code, 'ERR_INVALID_ARG_TYPE');
  await server.close();
});

client('ALPN http/1.1 with nobody left waiting: the TLS connection is closed', async () => {
  const server = await http1Server();
  const closed = new Promise<void>((resolve) => server.server.once('connection', (socket) => socket.once('close', () => resolve())));
  const ws = new WebSocket(`wss://localhost:${server.port}/`, { http2: true, ca: cert });
  ws.terminate();
  await failure(ws);
  await closed;
  assert.is(server.wss.clients.size, 0);
  await server.close();
});

client('http2: true to an IP address (no SNI) or with an explicit servername; a URL without a port connects to 443', async () => {
  const fixture = await h2Server();
  const byIp = new WebSocket(`wss://127.0.0.1:${fixture.port}/`, { http2: true, ca: cert });
  const named = new WebSocket(`wss://127.0.0.1:${fixture.port}/`, { http2: true, ca: cert, servername: 'localhost' });
  await Promise.all([opened(byIp), opened(named)]);
  assert.is(fixture.sessions.length, 2, 'a servername is a connection option');
  byIp.terminate();
  named.terminate();
  await fixture.close();
  // Nothing listens on 443 here: the point is where it connected.
  const { error } = await failure(new WebSocket('wss://127.0.0.1/', { http2: true }));
  assert.match(error.message, /127\.0\.0\.1:443/);
});

client.run();
