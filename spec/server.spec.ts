import http from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PreparedMessage, WebSocket, WebSocketServer, prepareMessage } from '../src/index.ts';
import type { UpgradeRequest } from '../src/options/server.ts';
import { closePayload, decodeFrames, frame, portOf, rawConnect, sleep, text, upgradeRequest, waitFor, isError } from './helpers.ts';

async function standalone(options: Record<string, unknown> = {}): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await waitFor(wss, 'listening');
  return wss;
}

async function stop(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

/** Sends raw bytes to the server and returns everything it answered before closing. */
async function exchange(port: number, request: string | Buffer): Promise<string> {
  const conn = await rawConnect(port);
  conn.socket.write(request);
  await conn.closed;
  return conn.received().toString('latin1');
}

const rejects = suite('server: refused handshakes');
let wss: WebSocketServer;
rejects.before(async () => {
  wss = await standalone({ path: '/ws', maxHeaderSize: 2048, maxHeaderCount: 20, handshakeTimeout: 300 });
});
rejects.after(() => stop(wss));

rejects('RFC 6455 sample handshake gets the sample accept value', async () => {
  const conn = await rawConnect(portOf(wss));
  conn.socket.write(upgradeRequest('/ws'));
  await sleep(50);
  const answer = conn.received().toString('latin1');
  assert.match(answer, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(answer, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  conn.socket.destroy();
});

const refusals: Array<[string, string, RegExp]> = [
  ['a POST', upgradeRequest('/ws').replace('GET', 'POST'), /^HTTP\/1\.1 405 .*\r\nAllow: GET/s],
  ['a plain GET', 'GET /ws HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 426 .*\r\nUpgrade: websocket/s],
  ['a missing key', upgradeRequest('/ws').replace(/Sec-WebSocket-Key: .*\r\n/, ''), /^HTTP\/1\.1 400 /],
  ['an invalid key', upgradeRequest('/ws', [], 'short=='), /^HTTP\/1\.1 400 /],
  ['version 7', upgradeRequest('/ws').replace('Version: 13', 'Version: 7'), /^HTTP\/1\.1 426 .*Sec-WebSocket-Version: 13, 8/s],
  ['a wrong path (400, as ws answers)', upgradeRequest('/other'), /^HTTP\/1\.1 400 /],
  ['a malformed request line', 'GARBAGE\r\n\r\n', /^HTTP\/1\.1 400 /],
  ['an obs-fold header', upgradeRequest('/ws', ['X-A: 1', ' folded']), /^HTTP\/1\.1 400 /],
  [
    'too many header lines',
    upgradeRequest(
      '/ws',
      Array.from({ length: 30 }, (_, i) => `X-${i}: 1`),
    ),
    /^HTTP\/1\.1 431 /,
  ],
  ['one huge header', upgradeRequest('/ws', [`X-Big: ${'a'.repeat(4000)}`]), /^HTTP\/1\.1 431 /],
  ['a bad subprotocol list', upgradeRequest('/ws', ['Sec-WebSocket-Protocol: a b']), /^HTTP\/1\.1 400 /],
];
for (const [name, request, expected] of refusals) {
  rejects(`${name} gets a real HTTP answer and the socket is closed`, async () => {
    const answer = await exchange(portOf(wss), request);
    assert.match(answer, expected);
    assert.match(answer, /Content-Length: \d+\r\n\r\n./s);
  });
}

rejects('thousands of headers: 431 without reading them all (CVE-2024-37890 class)', async () => {
  const lines = Array.from({ length: 5000 }, (_, i) => `X-H${i}: v`);
  const answer = await exchange(portOf(wss), upgradeRequest('/ws', lines));
  assert.match(answer, /^HTTP\/1\.1 431 /);
});

rejects('a silent peer is cut off at the handshake timeout (slowloris)', async () => {
  const conn = await rawConnect(portOf(wss));
  conn.socket.write('GET /ws HTTP/1.1\r\n');
  const started = Date.now();
  await conn.closed;
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 3000, `closed after ${elapsed} ms`);
  assert.match(conn.received().toString('latin1'), /^HTTP\/1\.1 408 /);
});

rejects('a head sent one byte at a time is still parsed', async () => {
  const conn = await rawConnect(portOf(wss));
  for (const byte of Buffer.from(upgradeRequest('/ws'))) {
    conn.socket.write(Buffer.from([byte]));
  }
  await sleep(100);
  assert.match(conn.received().toString('latin1'), /^HTTP\/1\.1 101 /);
  conn.socket.destroy();
});

rejects('a peer that leaves mid-head does not disturb the server', async () => {
  const conn = await rawConnect(portOf(wss));
  conn.socket.write('GET /ws HTTP/1.1\r\nHost: x\r\n');
  conn.socket.destroy();
  await sleep(20);
  const answer = await exchange(portOf(wss), upgradeRequest('/other'));
  assert.match(answer, /^HTTP\/1\.1 400 /);
});

const accept = suite('server: accepted handshakes');

accept('frames pipelined right behind the request head are not lost', async () => {
  const server = await standalone();
  const got = new Promise<string>((resolve) => server.on('connection', (ws) => ws.on('message', (data) => resolve(data.toString()))));
  const conn = await rawConnect(portOf(server));
  conn.socket.write(Buffer.concat([Buffer.from(upgradeRequest('/')), text('early bird')]));
  assert.is(await got, 'early bird');
  conn.socket.destroy();
  await stop(server);
});

accept('connection gets the request; clients are tracked and removed', async () => {
  const server = await standalone();
  let request: UpgradeRequest | undefined;
  server.on('connection', (_ws, req) => {
    request = req;
  });
  const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}/path?q=1`, { headers: { 'X-Test': 'yes' } });
  await waitFor(client, 'open');
  await sleep(10);
  assert.is(request?.url, '/path?q=1');
  assert.is(request?.headers['x-test'], 'yes');
  assert.is(server.clients.size, 1);
  client.close();
  await waitFor(client, 'close');
  await sleep(20);
  assert.is(server.clients.size, 0);
  await stop(server);
});

accept('handleProtocols picks the subprotocol; default is the first offered', async () => {
  const server = await standalone({ handleProtocols: (set: Set<string>) => (set.has('b') ? 'b' : false) });
  const a = new WebSocket(`ws://127.0.0.1:${portOf(server)}`, ['a', 'b']);
  await waitFor(a, 'open');
  assert.is(a.protocol, 'b');
  // handleProtocols said none: no Sec-WebSocket-Protocol, which a client that asked for one refuses (as ws and browsers do).
  const none = new WebSocket(`ws://127.0.0.1:${portOf(server)}`, ['a']);
  const [response] = await waitFor<[{ headers: Record<string, unknown> }]>(none, 'upgrade');
  assert.is(response.headers['sec-websocket-protocol'], undefined);
  await waitFor(none, 'close');
  await stop(server);

  const plain = await standalone();
  const first = new WebSocket(`ws://127.0.0.1:${portOf(plain)}`, ['x', 'y']);
  await waitFor(first, 'open');
  assert.is(first.protocol, 'x');
  await stop(plain);
});

accept('verifyClient may refuse synchronously (401) or with a status by callback', async () => {
  const sync = await standalone({ verifyClient: (info: { origin?: string }) => info.origin === 'https://ok.example' });
  const refused = new WebSocket(`ws://127.0.0.1:${portOf(sync)}`, { origin: 'https://evil.example' });
  const [error] = await waitFor<[{ statusCode?: number }]>(refused, 'error');
  assert.is(error.statusCode, 401);
  const allowed = new WebSocket(`ws://127.0.0.1:${portOf(sync)}`, { origin: 'https://ok.example' });
  await waitFor(allowed, 'open');
  await stop(sync);

  const async = await standalone({
    verifyClient: (_info: unknown, done: (ok: boolean, code?: number, message?: string) => void) =>
      setTimeout(() => done(false, 403, 'Go away'), 5),
  });
  const answer = await exchange(portOf(async), upgradeRequest('/'));
  assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n.*Go away$/s);
  await stop(async);
});

accept('a "headers" listener can add response headers', async () => {
  const server = await standalone();
  server.on('headers', (lines) => lines.push('X-Powered-By: netws'));
  const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
  const opened = waitFor(client, 'open');
  const [response] = await waitFor<[{ headers: Record<string, string> }]>(client, 'upgrade');
  assert.is(response.headers['x-powered-by'], 'netws');
  await opened;
  await stop(server);
});

accept('wsClientError listeners take over invalid handshakes; a path mismatch is answered 400 as in ws', async () => {
  const server = await standalone({ path: '/only' });
  server.on('wsClientError', (error, socket) => {
    socket.end(`HTTP/1.1 418 I'm a teapot\r\nX-Reason: ${error.statusCode}\r\n\r\n`);
  });
  const answer = await exchange(portOf(server), upgradeRequest('/only').replace('GET', 'PUT'));
  assert.match(answer, /^HTTP\/1\.1 418 .*X-Reason: 405/s);
  assert.match(await exchange(portOf(server), upgradeRequest('/elsewhere')), /^HTTP\/1\.1 400 /);
  await stop(server);
});

accept('embedded in node:http with the server option; plain requests still served', async () => {
  const httpServer = http.createServer((_req, res) => res.end('plain'));
  const server = new WebSocketServer({ server: httpServer });
  httpServer.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  assert.is(portOf(server), portOf(httpServer));
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const client = new WebSocket(`ws://127.0.0.1:${portOf(httpServer)}`);
  await waitFor(client, 'open');
  client.send('through http');
  const [data] = await waitFor<[Buffer]>(client, 'message');
  assert.is(data.toString(), 'through http');
  const res = await fetch(`http://127.0.0.1:${portOf(httpServer)}/`);
  assert.is(await res.text(), 'plain');
  client.terminate();
  await waitFor(client, 'close');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.is(httpServer.listenerCount('upgrade'), 0, 'listeners removed on close');
  httpServer.close();
});

accept('noServer + handleUpgrade keeps head bytes and refuses a second upgrade of a socket', async () => {
  const server = new WebSocketServer({ noServer: true });
  assert.throws(() => server.address(), /noServer/);
  const httpServer = http.createServer();
  const received: string[] = [];
  httpServer.on('upgrade', (req, socket, head) => {
    server.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) => received.push(data.toString()));
      assert.throws(() => server.handleUpgrade(req, socket, Buffer.alloc(0), () => {}), /more than once/);
    });
  });
  httpServer.listen(0, '127.0.0.1');
  await waitFor(httpServer, 'listening');
  const conn = await rawConnect(portOf(httpServer));
  conn.socket.write(Buffer.concat([Buffer.from(upgradeRequest('/')), text('in head'), text('second')]));
  await sleep(100);
  assert.equal(received, ['in head', 'second']);
  conn.socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  httpServer.close();
});

accept('a socket that is gone before verifyClient answers is simply destroyed', async () => {
  let release: (ok: boolean) => void = () => {};
  const server = await standalone({
    verifyClient: (_info: unknown, done: (ok: boolean) => void) => {
      release = done;
    },
  });
  let connections = 0;
  server.on('connection', () => connections++);
  const conn = await rawConnect(portOf(server));
  conn.socket.write(upgradeRequest('/'));
  await sleep(30);
  conn.socket.destroy();
  await sleep(30);
  release(true);
  await sleep(10);
  assert.is(connections, 0);
  await stop(server);
});

const lifecycle = suite('server: options and lifecycle');

lifecycle('exactly one of port, server and noServer', () => {
  assert.throws(() => new WebSocketServer({}), isError(TypeError));
  assert.throws(() => new WebSocketServer({ port: 0, noServer: true }), isError(TypeError));
});

lifecycle('close(): callback once closed, again with an error; listening errors are emitted', async () => {
  const server = await standalone();
  const port = portOf(server);
  const clash = new WebSocketServer({ port, host: '127.0.0.1' });
  const [error] = await waitFor<[NodeJS.ErrnoException]>(clash, 'error');
  assert.is(error.code, 'EADDRINUSE');
  await stop(server);
  const [again] = await new Promise<[Error | undefined]>((resolve) => server.close((e) => resolve([e])));
  assert.ok(again instanceof Error);
  server.close(); // no-op
});

lifecycle('close() waits for tracked clients to go away', async () => {
  const server = new WebSocketServer({ noServer: true });
  const httpServer = http.createServer();
  httpServer.on('upgrade', (req, socket, head) => server.handleUpgrade(req, socket, head, () => {}));
  httpServer.listen(0, '127.0.0.1');
  await waitFor(httpServer, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(httpServer)}`);
  await waitFor(client, 'open');
  await sleep(10);
  let closed = false;
  server.close(() => {
    closed = true;
  });
  await sleep(30);
  assert.not.ok(closed, 'a client is still connected');
  client.close();
  await sleep(50);
  assert.ok(closed);
  httpServer.close();
});

lifecycle('server-side WebSocket: close handshake from the server, ping/pong events, pipelined close', async () => {
  const server = await standalone();
  const serverSide = new Promise<WebSocket>((resolve) => server.on('connection', (ws) => resolve(ws)));
  const conn = await rawConnect(portOf(server));
  conn.socket.write(upgradeRequest('/'));
  const ws = await serverSide;
  assert.is(ws.url, undefined);
  const pings: string[] = [];
  ws.on('ping', (data) => pings.push(data.toString()));
  conn.socket.write(frame({ opcode: 9, payload: 'hb' }));
  await sleep(30);
  assert.equal(pings, ['hb']);
  ws.close(1001, 'going');
  conn.socket.write(frame({ opcode: 8, payload: closePayload(1001) }));
  const [code, , wasClean] = await waitFor<[number, Buffer, boolean]>(ws, 'close');
  assert.is(code, 1001);
  assert.ok(wasClean);
  const frames = decodeFrames(conn.received().subarray(conn.received().indexOf('\r\n\r\n') + 4));
  assert.equal(
    frames.map((f) => f.opcode),
    [10, 8],
  );
  assert.is(frames[1].payload.subarray(2).toString(), 'going');
  await stop(server);
});

rejects.run();
accept.run();
lifecycle.run();

const broadcasts = suite('server: broadcast');

/** Opens `count` netws clients and waits until the server has all of them. */
async function connectClients(server: WebSocketServer, count: number): Promise<WebSocket[]> {
  const clients: WebSocket[] = [];
  for (let i = 0; i < count; i++) {
    const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
    clients.push(client);
    await waitFor(client, 'open');
  }
  while (server.clients.size < count) await sleep(5);
  return clients;
}

broadcasts('every open client gets the message once; the count of clients is returned', async () => {
  const server = await standalone();
  const clients = await connectClients(server, 3);
  const received = clients.map((client) => waitFor<[Buffer, boolean]>(client, 'message'));
  assert.is(server.broadcast('hello all'), 3);
  for (const message of await Promise.all(received)) assert.equal([message[0].toString(), message[1]], ['hello all', false]);
  for (const client of clients) client.close();
  await stop(server);
});

broadcasts('strings go as text, buffers as binary, and { binary: true } makes a string binary', async () => {
  const server = await standalone();
  const [client] = await connectClients(server, 1);
  const messages: Array<[string, boolean]> = [];
  client.on('message', (data, isBinary) => messages.push([data.toString(), isBinary]));
  server.broadcast('t');
  server.broadcast(Buffer.from('b'));
  server.broadcast('s', { binary: true });
  while (messages.length < 3) await sleep(5);
  assert.equal(messages, [
    ['t', false],
    ['b', true],
    ['s', true],
  ]);
  client.close();
  await stop(server);
});

broadcasts('a PreparedMessage is framed once and can be broadcast again', async () => {
  const server = await standalone();
  const [client] = await connectClients(server, 1);
  const messages: string[] = [];
  client.on('message', (data) => messages.push(data.toString()));
  const prepared = prepareMessage('tick');
  assert.ok(prepared instanceof PreparedMessage);
  server.broadcast(prepared);
  server.broadcast(prepared);
  while (messages.length < 2) await sleep(5);
  assert.equal(messages, ['tick', 'tick']);
  client.close();
  await stop(server);
});

broadcasts('clients that are closing are skipped', async () => {
  const server = await standalone();
  const clients = await connectClients(server, 2);
  const [closing] = [...server.clients];
  closing.close(1000);
  assert.is(closing.readyState, WebSocket.CLOSING);
  assert.is(server.broadcast('late'), 1);
  for (const client of clients) client.terminate();
  await stop(server);
});

broadcasts(
  'a broadcast that comes while a fragmented message is open waits for its end: frames of two messages never interleave',
  async () => {
    const server = await standalone();
    const conn = await rawConnect(portOf(server));
    conn.socket.write(upgradeRequest());
    while (server.clients.size < 1) await sleep(5);
    const [serverSide] = [...server.clients];
    serverSide.send('first ', { fin: false });
    assert.is(server.broadcast('broadcast'), 1);
    serverSide.send('last', { fin: true });
    await sleep(50);
    const received = conn.received();
    conn.socket.destroy();
    const frames = decodeFrames(received.subarray(received.indexOf('\r\n\r\n') + 4));
    assert.equal(
      frames.map((f) => [f.opcode, f.fin, f.payload.toString()]),
      [
        [1, false, 'first '],
        [0, true, 'last'],
        [1, true, 'broadcast'],
      ],
    );
    await stop(server);
  },
);

broadcasts(
  "an 'error' listener that throws on a failing client stops nothing: the others get the message, then the error is thrown",
  async () => {
    const server = await standalone({ maxBufferedAmount: 1000 });
    try {
      const clients = await connectClients(server, 2);
      const got: string[] = [];
      clients[1].on('message', (data) => got.push(String(data)));
      const [slow, fast] = [...server.clients];
      for (const ws of [slow, fast]) {
        ws.on('error', (error) => {
          throw error;
        });
      }
      slow.send('open', { fin: false }); // what is broadcast to it is held, counting against maxBufferedAmount
      const line = 'x'.repeat(600);
      assert.is(server.broadcast(line), 2);
      await sleep(20);
      assert.throws(
        () => server.broadcast(line),
        (error: unknown) => (error as { code?: string }).code === 'WS_ERR_SLOW_READER',
      );
      for (let i = 0; i < 100 && got.length < 2; i++) await sleep(10);
      assert.equal(got, [line, line], 'the client after the failing one got both');
    } finally {
      await stop(server); // its clients' sockets end with it
    }
  },
);

broadcasts('a compressing client whose send() is refused over maxBufferedAmount is not counted', async () => {
  const server = await standalone({ maxBufferedAmount: 1000, perMessageDeflate: true });
  try {
    await connectClients(server, 1);
    const [serverSide] = [...server.clients];
    serverSide.on('error', () => {});
    serverSide.send(new Blob([Buffer.alloc(900)])); // queued: the broadcast goes through send(), behind it
    assert.is(server.broadcast('y'.repeat(200)), 0);
    assert.is(serverSide.readyState, WebSocket.CLOSING);
  } finally {
    await stop(server); // its clients' sockets end with it
  }
});

broadcasts('a number is sent as text, as send() sends it, by broadcast() and publish()', async () => {
  const server = await standalone();
  try {
    const [client] = await connectClients(server, 1);
    const [serverSide] = [...server.clients];
    serverSide.subscribe('t');
    const got: Array<[string, boolean]> = [];
    client.on('message', (data, isBinary) => got.push([String(data), isBinary]));
    server.broadcast(42 as unknown as string);
    server.publish('t', 43 as unknown as string);
    for (let i = 0; i < 100 && got.length < 2; i++) await sleep(10);
    assert.equal(got, [
      ['42', false],
      ['43', false],
    ]);
  } finally {
    await stop(server); // its clients' sockets end with it
  }
});

broadcasts('without clientTracking there is nobody to broadcast to: it throws', async () => {
  const server = await standalone({ clientTracking: false });
  assert.throws(
    () => server.broadcast('x'),
    (error: Error & { code?: string }) => error.code === 'WS_ERR_NO_CLIENT_TRACKING',
  );
  await stop(server);
});

broadcasts.run();

const footprint = suite('server: idle connection footprint');

footprint("a standalone upgrade leaves only the connection's own listeners on the socket", async () => {
  // A handshake listener left attached keeps the head reader, its timer and
  // closures alive for as long as the connection stays open.
  const server = await standalone();
  const opened = waitFor<[WebSocket, UpgradeRequest]>(server, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
  const [, req] = await opened;
  const socket = req.socket!;
  try {
    // The connection's own: one each (net.Socket adds an 'end' listener of its own).
    assert.equal([socket.listenerCount('data'), socket.listenerCount('close'), socket.listenerCount('error')], [1, 1, 1]);
  } finally {
    client.close();
    await stop(server);
  }
});

footprint.run();

const batching = suite('server: frames batched per tick');

batching('a message sent right before terminate() in the same tick still reaches the peer', async () => {
  const server = await standalone();
  server.on('connection', (ws) => {
    ws.send('last words');
    ws.terminate();
  });
  const conn = await rawConnect(portOf(server));
  conn.socket.write(upgradeRequest());
  await conn.closed;
  const received = conn.received();
  const frames = decodeFrames(received.subarray(received.indexOf('\r\n\r\n') + 4));
  assert.equal(
    frames.map((f) => f.payload.toString()),
    ['last words'],
  );
  await stop(server);
});

batching.run();
