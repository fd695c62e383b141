/** WebSocketServer: options, events, methods, and the answers to handshake requests, netws against ws. */

import http from 'node:http';
import net from 'node:net';
import { suite } from 'uvu';
import { compat, errorShape, type CaseOptions, type Loose, type Run } from './harness.ts';
import {
  KEY,
  OP,
  describeFrame,
  encodeFrame,
  headShape,
  refusalShape,
  textFrame,
  upgradeRequest,
  type RawSocket,
  type RefusalBody,
} from './wire.ts';

const portOf = (server: Loose): number => server.address().port;

/**
 * Sends `request` on a raw connection and notes the answer's head (Date left
 * out) and whether the server then closed. A refusal the library wrote is
 * compared as refusalShape says (a decided difference); `written: 'user'`
 * keeps a body the user supplied, `'exact'` is for answers user code wrote.
 */
async function answer(t: Run, port: number, request: string, written: RefusalBody | 'exact' = 'generated'): Promise<RawSocket> {
  const raw = await t.raw(port);
  raw.write(request);
  const head = await raw.readHead();
  t.note('answer', written === 'exact' ? headShape(head) : refusalShape(head, written));
  if (!head.start.includes(' 101 ')) t.note('closed after answer', await raw.closedWithin(300));
  return raw;
}

// ---------------------------------------------------------------------------
const constructing = suite('compat: WebSocketServer constructor and modes');

compat(constructing, 'exactly one of port, server and noServer, else a TypeError', (lib, t) => {
  t.attempt('no mode', () => new lib.WebSocketServer({}));
  t.attempt('port and noServer', () => new lib.WebSocketServer({ port: 0, noServer: true }));
  t.attempt('server and noServer', () => new lib.WebSocketServer({ server: http.createServer(), noServer: true }));
  t.attempt('port and server', () => new lib.WebSocketServer({ port: 0, server: http.createServer() }));
});

compat(constructing, 'port: the callback and the listening event, in order', async (lib, t) => {
  const wss = new lib.WebSocketServer({ port: 0, host: '127.0.0.1' }, (...args: unknown[]) => t.note('callback', args.length));
  t.trackServer(wss);
  wss.on('listening', (...args: unknown[]) => t.note('listening event', args.length));
  await t.wait(wss, 'listening');
  await t.sleep(5);
});

compat(constructing, 'address(): port mode, before and after listening; host is honoured', async (lib, t) => {
  const wss = new lib.WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.trackServer(wss);
  t.note('before listening', wss.address());
  await t.wait(wss, 'listening');
  const address = wss.address();
  t.note('after', { address: address.address, family: address.family, port: typeof address.port, keys: Object.keys(address).sort() });
});

compat(constructing, 'address() in noServer mode', (lib, t) => {
  const wss = new lib.WebSocketServer({ noServer: true });
  t.trackServer(wss);
  t.attempt('address()', () => wss.address(), true);
});

compat(constructing, 'address() in server mode is the http server address; null after close()', async (lib, t) => {
  const server = await t.httpServer();
  const wss = new lib.WebSocketServer({ server });
  t.trackServer(wss);
  t.note('same as http server', JSON.stringify(wss.address()) === JSON.stringify(server.address()));
  wss.close();
  t.attempt('after close', () => {
    const address = wss.address();
    return address === null ? null : { ...address, port: typeof address.port };
  });
});

compat(constructing, 'backlog and host are passed to listen()', async (lib, t) => {
  const listen = net.Server.prototype.listen;
  const calls: unknown[][] = [];
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    calls.push(args);
    return (listen as Loose).apply(this, args);
  } as Loose;
  t.defer(() => {
    net.Server.prototype.listen = listen;
  });
  await t.server({ backlog: 7 });
  net.Server.prototype.listen = listen;
  t.note('listen calls', calls.length);
  t.note('port, host, backlog', calls[0]?.slice(0, 3));
});

compat(constructing, "server mode: 'listening' and 'error' of the http server are re-emitted", async (lib, t) => {
  const server = http.createServer();
  t.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const wss = new lib.WebSocketServer({ server });
  t.trackServer(wss);
  t.record(wss, 'wss', ['listening', 'error']);
  server.listen(0, '127.0.0.1');
  await t.wait(wss, 'listening');
  server.emit('error', Object.assign(new Error('boom'), { code: 'EBOOM' }));
});

compat(constructing, "port already in use: 'error' with EADDRINUSE", async (lib, t) => {
  const taken = await t.httpServer();
  const wss = new lib.WebSocketServer({ port: taken.port, host: '127.0.0.1' });
  t.trackServer(wss);
  const [error] = await t.wait(wss, 'error');
  t.note('error', error);
});

compat(constructing, 'server mode: plain HTTP requests are left to the http server', async (lib, t) => {
  const server = await t.httpServer((req, res) => res.end('from http'));
  const wss = new lib.WebSocketServer({ server });
  t.trackServer(wss);
  await answer(t, server.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'exact');
  const raw = await answer(t, server.port, upgradeRequest());
  raw.destroy();
});

compat(constructing, 'clients: a Set with clientTracking, absent without', async (lib, t) => {
  const tracked = new lib.WebSocketServer({ noServer: true });
  const untracked = new lib.WebSocketServer({ noServer: true, clientTracking: false });
  t.trackServer(tracked);
  t.trackServer(untracked);
  t.note('default', tracked.clients instanceof Set, tracked.clients?.size);
  t.note('clientTracking: false', untracked.clients === undefined ? 'undefined' : untracked.clients);
});

compat(constructing, 'clients: holds the connection while open, removed on close', async (lib, t) => {
  const { local, wss, peer } = await t.pair('server');
  t.note('while open', wss.clients.size, wss.clients.has(local));
  peer.close();
  await t.wait(local, 'close');
  t.note('after close', wss.clients.size);
});

compat(constructing, 'WebSocket option: connections are instances of the given subclass', async (lib, t) => {
  class Custom extends lib.WebSocket {}
  const { local } = await t.pair('server', { WebSocket: Custom });
  t.note('instance of Custom', local instanceof Custom);
});

// ---------------------------------------------------------------------------
const answers = suite('compat: WebSocketServer answers to handshake requests');

const lines = (...extra: string[]): string[] => extra;
const requests: Array<[string, string]> = [
  ['a valid request: 101 with the accept value', upgradeRequest()],
  ['Sec-WebSocket-Version: 8 is accepted', upgradeRequest({ version: '8' })],
  ['POST with upgrade headers', upgradeRequest().replace('GET', 'POST')],
  ['Upgrade: foo', upgradeRequest().replace('Upgrade: websocket', 'Upgrade: foo')],
  ['Upgrade: WebSocket (case-insensitive)', upgradeRequest().replace('Upgrade: websocket', 'Upgrade: WebSocket')],
  ['missing Sec-WebSocket-Key', upgradeRequest().replace(`Sec-WebSocket-Key: ${KEY}\r\n`, '')],
  ['invalid Sec-WebSocket-Key', upgradeRequest({ key: 'not-a-key' })],
  ['Sec-WebSocket-Version: 12', upgradeRequest({ version: '12' })],
  ['missing Sec-WebSocket-Version', upgradeRequest().replace('Sec-WebSocket-Version: 13\r\n', '')],
  ['invalid Sec-WebSocket-Protocol', upgradeRequest({ headers: lines('Sec-WebSocket-Protocol: a b') })],
  ['duplicate subprotocols', upgradeRequest({ headers: lines('Sec-WebSocket-Protocol: a, a') })],
  ['plain GET without Upgrade (port mode)', 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'],
  ['Upgrade without Connection: Upgrade', upgradeRequest().replace('Connection: Upgrade\r\n', '')],
  ['HTTP/1.0', upgradeRequest().replace('HTTP/1.1', 'HTTP/1.0')],
  ['missing Host', upgradeRequest().replace('Host: 127.0.0.1\r\n', '')],
  ['a garbage request line', 'FOO\r\n\r\n'],
];

/** A refusal as `answer()` notes it, followed by whether the server closed the connection. */
const refused = (start: string, headers: string[], closed = true): unknown[] => [
  ['answer', { start, headers, body: '(generated)' }],
  ['closed after answer', closed],
];

/** The requests netws answers differently on purpose (decided in issue 11), with both answers. */
const declaredAnswers: Record<string, CaseOptions['differs']> = {
  'POST with upgrade headers': {
    reason: 'netws names the allowed method in an Allow header, as RFC 9110 15.5.6 asks of a 405',
    ws: refused('HTTP/1.1 405 Method Not Allowed', ['connection: close']),
    netws: refused('HTTP/1.1 405 Method Not Allowed', ['allow: GET', 'connection: close']),
  },
  'Sec-WebSocket-Version: 12': {
    reason: 'netws answers an unsupported version 426 Upgrade Required (RFC 6455 4.4); ws 400',
    ws: refused('HTTP/1.1 400 Bad Request', ['connection: close', 'sec-websocket-version: 13, 8']),
    netws: refused('HTTP/1.1 426 Upgrade Required', ['connection: close', 'sec-websocket-version: 13, 8']),
  },
  'plain GET without Upgrade (port mode)': {
    reason: 'netws answers 426 and closes the connection; ws (node:http underneath) keeps it alive',
    ws: refused('HTTP/1.1 426 Upgrade Required', ['connection: keep-alive', 'keep-alive: timeout=5'], false),
    netws: refused('HTTP/1.1 426 Upgrade Required', ['connection: Upgrade', 'upgrade: websocket']),
  },
  'Upgrade without Connection: Upgrade': {
    reason:
      'netws refuses a missing Connection: Upgrade with 400 (RFC 6455 4.2.1); ws in port mode leaves the request to node:http, which answers 426',
    ws: refused('HTTP/1.1 426 Upgrade Required', ['connection: keep-alive', 'keep-alive: timeout=5'], false),
    netws: refused('HTTP/1.1 400 Bad Request', ['connection: close']),
  },
  'a garbage request line': {
    reason: 'netws says why in a body; ws (node:http underneath) answers 400 without one',
    ws: [
      ['answer', { start: 'HTTP/1.1 400 Bad Request', headers: ['connection: close'], body: '' }],
      ['closed after answer', true],
    ],
    netws: refused('HTTP/1.1 400 Bad Request', ['connection: close']),
  },
};

for (const [title, request] of requests) {
  compat(
    answers,
    title,
    async (lib, t) => {
      const wss = await t.server();
      t.record(wss, 'wss', ['connection'], { connection: 1 });
      await answer(t, portOf(wss), request);
    },
    { differs: declaredAnswers[title] },
  );
}

compat(answers, 'wsClientError: the listener gets (error, socket, request) and answers itself', async (lib, t) => {
  const wss = await t.server();
  wss.on('wsClientError', (error: Error, socket: net.Socket, req: Loose) => {
    t.note('wsClientError', errorShape(error, true), typeof socket.write, req.url, req.headers['sec-websocket-key']);
    socket.end('HTTP/1.1 418 Teapot\r\nContent-Length: 0\r\n\r\n');
  });
  await answer(t, portOf(wss), upgradeRequest({ path: '/x', key: 'bad' }), 'exact');
});

compat(answers, 'wsClientError: not emitted for a path mismatch or a verifyClient refusal', async (lib, t) => {
  const wss = await t.server({ path: '/only', verifyClient: () => false });
  t.record(wss, 'wss', ['wsClientError']);
  await answer(t, portOf(wss), upgradeRequest({ path: '/other' }));
  await answer(t, portOf(wss), upgradeRequest({ path: '/only' }));
});

// ---------------------------------------------------------------------------
const events = suite('compat: WebSocketServer events');

compat(events, "'connection' in port mode: the arguments", async (lib, t) => {
  const wss = await t.server();
  wss.on('connection', (...args: Loose[]) => {
    t.note('arguments', args.length, args[0] instanceof lib.WebSocket, args[0].readyState);
  });
  const raw = await t.raw(portOf(wss));
  raw.write(upgradeRequest());
  await t.wait(wss, 'connection');
});

compat(events, "'connection' in port mode: the request fields framework code reads", async (lib, t) => {
  const wss = await t.server();
  const raw = await t.raw(portOf(wss));
  raw.write(
    upgradeRequest({
      path: '/chat?room=1',
      headers: [
        'X-Dup: a',
        'X-Dup: b',
        'Set-Cookie: a=1',
        'Set-Cookie: b=2',
        'Cookie: c=1',
        'Cookie: d=2',
        'User-Agent: first',
        'User-Agent: second',
        'Origin: http://example.com',
      ],
    }),
  );
  const [, req] = await t.wait(wss, 'connection');
  t.note({
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    httpVersionMajor: req.httpVersionMajor,
    httpVersionMinor: req.httpVersionMinor,
    headers: { ...req.headers },
    rawHeaders: req.rawHeaders,
    remoteAddress: req.socket?.remoteAddress,
    remotePort: typeof req.socket?.remotePort,
    connectionIsSocket: req.connection === req.socket,
    encrypted: req.socket?.encrypted,
  });
});

compat(events, "'connection' in port mode: the request is an http.IncomingMessage", async (lib, t) => {
  const wss = await t.server();
  const raw = await t.raw(portOf(wss));
  raw.write(upgradeRequest());
  const [, req] = await t.wait(wss, 'connection');
  t.note('instanceof IncomingMessage', req instanceof http.IncomingMessage);
});

compat(events, "'headers': the 101 lines and the request, pushed lines are sent", async (lib, t) => {
  const wss = await t.server();
  wss.on('headers', (headers: string[], req: Loose) => {
    t.note('headers event', [...headers], req.url);
    headers.push('Set-Cookie: id=1');
    headers[1] = headers[1].toUpperCase();
  });
  await answer(t, portOf(wss), upgradeRequest({ path: '/h' }));
});

compat(events, "'listening' and 'close' have no arguments", async (lib, t) => {
  const wss = new lib.WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.trackServer(wss);
  t.record(wss, 'wss', ['listening', 'close']);
  await t.wait(wss, 'listening');
  wss.close();
  await t.wait(wss, 'close');
});

// ---------------------------------------------------------------------------
const closing = suite('compat: WebSocketServer close()');

compat(closing, 'close(cb) in port mode: close event, then the callback, no arguments; the port is released', async (lib, t) => {
  const wss = await t.server();
  const port = portOf(wss);
  wss.on('close', (...args: unknown[]) => t.note('close event', args.length));
  await new Promise<void>((resolve) =>
    wss.close((...args: unknown[]) => {
      t.note('callback', args);
      resolve();
    }),
  );
  const socket = net.connect(port, '127.0.0.1');
  const [error] = await t.wait(socket, 'error');
  t.note('connect after close', (error as NodeJS.ErrnoException).code);
});

compat(closing, 'close() twice, then again once closed: callbacks and close events', async (lib, t) => {
  const wss = await t.server();
  wss.on('close', () => t.note('close event'));
  wss.close((...args: unknown[]) => t.note('cb1', ...args));
  wss.close((...args: unknown[]) => t.note('cb2', ...args));
  await t.wait(wss, 'close');
  await t.sleep(5);
  wss.close((...args: unknown[]) => t.note('cb3', ...args.map((arg) => errorShape(arg, true))));
  await t.sleep(20);
});

compat(closing, 'port mode: open connections are left open, close comes after the last one ends', async (lib, t) => {
  const { wss, peer, local } = await t.pair('server');
  wss.on('close', () => t.note('wss close'));
  local.on('close', () => t.note('connection close'));
  wss.close();
  t.note('closed within 50 ms', await t.happens(wss, 'close', 50));
  t.note('connection still open', local.readyState);
  const both = Promise.all([t.wait(wss, 'close'), t.wait(local, 'close')]);
  peer.close();
  await both;
});

compat(closing, 'noServer mode: close comes on a later tick without connections', async (lib, t) => {
  const wss = new lib.WebSocketServer({ noServer: true });
  t.trackServer(wss);
  let sync = true;
  wss.on('close', () => t.note('close', sync ? 'same tick' : 'later'));
  wss.close();
  sync = false;
  await t.wait(wss, 'close');
});

compat(closing, 'noServer without clientTracking: close does not wait for connections', async (lib, t) => {
  const server = await t.httpServer();
  const wss = new lib.WebSocketServer({ noServer: true, clientTracking: false });
  t.trackServer(wss);
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws: Loose) => wss.emit('connection', ws)));
  const connected = t.wait(wss, 'connection');
  const peer = t.refClient(`ws://127.0.0.1:${server.port}`);
  await t.wait(peer, 'open');
  await connected;
  wss.close();
  t.note('close without waiting', await t.happens(wss, 'close', 100));
});

compat(closing, 'server mode: close() leaves the http server running and stops taking upgrades', async (lib, t) => {
  const server = await t.httpServer((req, res) => res.end('ok'));
  const wss = new lib.WebSocketServer({ server });
  t.trackServer(wss);
  t.record(wss, 'wss', ['connection', 'close']);
  wss.close();
  await t.wait(wss, 'close');
  t.note('http server listening', server.listening);
  const raw = await t.raw(server.port);
  raw.write(upgradeRequest());
  t.note('upgrade answered', await raw.closedWithin(100), raw.received.length > 0);
});

compat(closing, 'handleUpgrade() after close(): 503', async (lib, t) => {
  const server = await t.httpServer();
  const wss = new lib.WebSocketServer({ noServer: true });
  t.trackServer(wss);
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws: Loose) => {
      t.note('callback called');
      ws.terminate();
    });
  });
  wss.close();
  await t.wait(wss, 'close');
  await answer(t, server.port, upgradeRequest());
});

compat(
  closing,
  'close event although the user removed all listeners of a connection',
  async (lib, t) => {
    const { wss, local, peer } = await t.pair('server');
    local.removeAllListeners();
    wss.on('close', () => t.note('wss close'));
    wss.close();
    peer.close();
    await t.wait(peer, 'close');
    t.note('wss closed within 200 ms', await t.happens(wss, 'close', 200));
    t.note('clients', wss.clients.size);
  },
  {
    differs: {
      reason:
        "netws removes a closed connection from wss.clients whatever listeners the user removed; ws's removal is a listener removeAllListeners() drops",
      ws: ['wss close', ['wss closed within 200 ms', false], ['clients', 1]],
      netws: ['wss close', ['wss closed within 200 ms', false], ['clients', 0]],
    },
  },
);

// ---------------------------------------------------------------------------
const upgrading = suite('compat: WebSocketServer handleUpgrade() and shouldHandle()');

compat(upgrading, 'handleUpgrade(): callback (ws, req), no connection event by itself, head bytes kept', async (lib, t) => {
  const server = await t.httpServer();
  const wss = new lib.WebSocketServer({ noServer: true });
  t.trackServer(wss);
  t.record(wss, 'wss', ['connection'], { connection: 1 });
  server.on('upgrade', (req, socket, head) => {
    t.note('head bytes', head.length);
    wss.handleUpgrade(req, socket, head, (...args: Loose[]) => {
      const [ws, request] = args;
      t.note('callback', args.length, ws instanceof lib.WebSocket, ws.readyState, request === req);
      t.track(ws);
      ws.on('message', (data: Buffer, isBinary: boolean) => t.note('message', data, isBinary));
    });
  });
  const raw = await t.raw(server.port);
  raw.write(Buffer.concat([Buffer.from(upgradeRequest()), textFrame('early')]));
  const head = await raw.readHead();
  t.note('answer', headShape(head).start);
  await t.until(() => t.log.some((entry) => Array.isArray(entry) && entry[0] === 'message'), 1000, 'the early message');
});

compat(
  upgrading,
  "handleUpgrade() of a test harness's request: no Host, Sec-WebSocket-Version a number (fastify's injectWS)",
  async (lib, t) => {
    const server = await t.httpServer();
    const wss = new lib.WebSocketServer({ noServer: true });
    t.trackServer(wss);
    const opened = new Promise<void>((resolve) => {
      server.on('upgrade', (req, socket, head) => {
        delete req.headers.host;
        req.headers['sec-websocket-version'] = 13 as never;
        wss.handleUpgrade(req, socket, head, (ws: Loose) => {
          t.note('callback', ws.readyState);
          t.track(ws);
          resolve();
        });
      });
    });
    const raw = await t.raw(server.port);
    raw.write(upgradeRequest());
    t.note('answer', headShape(await raw.readHead()).start);
    await opened;
  },
);

compat(upgrading, 'handleUpgrade() twice with the same socket throws', async (lib, t) => {
  const server = await t.httpServer();
  const wss = new lib.WebSocketServer({ noServer: true });
  t.trackServer(wss);
  const done = new Promise<void>((resolve) => {
    server.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws: Loose) => t.track(ws));
      t.attempt('second call', () => wss.handleUpgrade(req, socket, head, () => t.note('second callback')));
      resolve();
    });
  });
  const raw = await t.raw(server.port);
  raw.write(upgradeRequest());
  await done;
});

compat(upgrading, 'path: matched without the query string; a mismatch is refused', async (lib, t) => {
  const wss = await t.server({ path: '/chat' });
  t.record(wss, 'wss', ['connection'], { connection: 1 });
  const ok = await answer(t, portOf(wss), upgradeRequest({ path: '/chat?room=1' }));
  ok.destroy();
  await answer(t, portOf(wss), upgradeRequest({ path: '/other' }));
  await answer(t, portOf(wss), upgradeRequest({ path: '/chat/' }));
});

compat(upgrading, 'path mismatch in server mode', async (lib, t) => {
  const server = await t.httpServer();
  const wss = new lib.WebSocketServer({ server, path: '/chat' });
  t.trackServer(wss);
  await answer(t, server.port, upgradeRequest({ path: '/other' }));
});

compat(upgrading, 'shouldHandle(): default results for requests', (lib, t) => {
  const withPath = new lib.WebSocketServer({ noServer: true, path: '/chat' });
  const without = new lib.WebSocketServer({ noServer: true });
  // An empty path is no path (a config like path: process.env.WS_PATH ?? '').
  const empty = new lib.WebSocketServer({ noServer: true, path: '' });
  t.trackServer(withPath);
  t.trackServer(without);
  t.trackServer(empty);
  for (const url of ['/chat', '/chat?x=1', '/chat/', '/', '/other?chat']) {
    const request = { url, headers: {} };
    t.note(url, withPath.shouldHandle(request), without.shouldHandle(request), empty.shouldHandle(request));
  }
});

compat(upgrading, 'shouldHandle() overridden: true accepts any path, false refuses', async (lib, t) => {
  const accepting = await t.server({ path: '/chat' });
  accepting.shouldHandle = (req: Loose) => {
    t.note('shouldHandle called', req.url);
    return true;
  };
  const raw = await answer(t, portOf(accepting), upgradeRequest({ path: '/anything' }));
  raw.destroy();
  const refusing = await t.server();
  refusing.shouldHandle = () => false;
  await answer(t, portOf(refusing), upgradeRequest());
});

// ---------------------------------------------------------------------------
const verifying = suite('compat: WebSocketServer verifyClient and handleProtocols');

compat(verifying, 'verifyClient(info): the info object; false refuses with 401', async (lib, t) => {
  const wss = await t.server({
    verifyClient: (...args: Loose[]) => {
      const [info] = args;
      t.note('verifyClient', args.length, Object.keys(info).sort(), info.origin, info.secure, info.req.url, typeof info.req.headers);
      return false;
    },
  });
  await answer(t, portOf(wss), upgradeRequest({ path: '/v', headers: ['Origin: http://example.com'] }));
});

compat(verifying, 'verifyClient: Sec-WebSocket-Origin is the origin for version 8', async (lib, t) => {
  const wss = await t.server({
    verifyClient: (info: Loose) => {
      t.note('origin', info.origin);
      return true;
    },
  });
  const raw = await answer(t, portOf(wss), upgradeRequest({ version: '8', headers: ['Sec-WebSocket-Origin: http://eight.example'] }));
  raw.destroy();
});

compat(verifying, 'verifyClient(info) returning true accepts', async (lib, t) => {
  const wss = await t.server({ verifyClient: () => true });
  t.record(wss, 'wss', ['connection'], { connection: 1 });
  const raw = await answer(t, portOf(wss), upgradeRequest());
  raw.destroy();
});

compat(verifying, 'verifyClient(info, cb): refusal with code, message and headers', async (lib, t) => {
  const wss = await t.server({
    verifyClient: (_info: Loose, cb: Loose) => setImmediate(() => cb(false, 403, 'Go away', { 'Retry-After': 120, 'X-Reason': 'test' })),
  });
  await answer(t, portOf(wss), upgradeRequest(), 'user');
});

compat(verifying, 'verifyClient(info, cb): refusal without a code is 401', async (lib, t) => {
  const wss = await t.server({ verifyClient: (_info: Loose, cb: Loose) => cb(false) });
  await answer(t, portOf(wss), upgradeRequest());
});

compat(verifying, 'verifyClient(info, cb): acceptance after a delay', async (lib, t) => {
  const wss = await t.server({ verifyClient: (_info: Loose, cb: Loose) => setTimeout(() => cb(true), 10) });
  t.record(wss, 'wss', ['connection'], { connection: 1 });
  const raw = await answer(t, portOf(wss), upgradeRequest());
  raw.destroy();
});

compat(verifying, 'verifyClient refusal with a wsClientError listener: still answered with its headers', async (lib, t) => {
  const wss = await t.server({ verifyClient: (_info: Loose, cb: Loose) => cb(false, 429, 'Slow down', { 'Retry-After': 5 }) });
  wss.on('wsClientError', (error: Error, socket: net.Socket) => {
    t.note('wsClientError', errorShape(error, true));
    socket.destroy();
  });
  await answer(t, portOf(wss), upgradeRequest(), 'user');
});

compat(verifying, 'handleProtocols(protocols, req): a Set in offered order; the return value is the answer', async (lib, t) => {
  const wss = await t.server({
    handleProtocols: (...args: Loose[]) => {
      const [protocols, req] = args;
      t.note('handleProtocols', args.length, protocols instanceof Set, [...protocols], req.url);
      return 'b';
    },
  });
  const raw = await answer(t, portOf(wss), upgradeRequest({ path: '/p', headers: ['Sec-WebSocket-Protocol: a, b,c'] }));
  raw.destroy();
});

compat(verifying, 'handleProtocols returning false: no Sec-WebSocket-Protocol header', async (lib, t) => {
  const wss = await t.server({ handleProtocols: () => false });
  const raw = await answer(t, portOf(wss), upgradeRequest({ headers: ['Sec-WebSocket-Protocol: a'] }));
  raw.destroy();
});

compat(verifying, 'handleProtocols not called without offered protocols', async (lib, t) => {
  const wss = await t.server({ handleProtocols: () => t.note('called') });
  const raw = await answer(t, portOf(wss), upgradeRequest());
  raw.destroy();
});

compat(verifying, 'without handleProtocols the first offered protocol is chosen; ws.protocol is it', async (lib, t) => {
  const wss = await t.server();
  const connection = t.wait(wss, 'connection');
  const raw = await answer(t, portOf(wss), upgradeRequest({ headers: ['Sec-WebSocket-Protocol: second, first'] }));
  const [ws] = await connection;
  t.note('protocol', ws.protocol);
  raw.destroy();
});

// ---------------------------------------------------------------------------
const limits = suite('compat: WebSocketServer limits and connection options');

/** A server of the library under test and a raw client past the handshake. */
async function rawConnection(t: Run, options: Record<string, unknown> = {}): Promise<{ wss: Loose; ws: Loose; raw: RawSocket }> {
  const wss = await t.server(options);
  const connection = t.wait(wss, 'connection');
  const raw = await t.raw(portOf(wss));
  raw.socket.setNoDelay(true);
  raw.write(upgradeRequest());
  await raw.readHead();
  const [ws] = await connection;
  return { wss, ws, raw };
}

/**
 * After the server failed the connection: the raw client, as a well-behaved
 * peer, echoes the server's close frame; notes the frames it got, and waits
 * for the server side's close event.
 */
async function outcome(t: Run, ws: Loose, raw: RawSocket): Promise<void> {
  await echoClose(t, raw);
  await t.wait(ws, 'close');
}

/** Reads frames up to a close frame, notes them, and answers the close frame with the same code. */
export async function echoClose(t: Run, raw: RawSocket): Promise<void> {
  const frames: string[] = [];
  for (;;) {
    const [frame] = await raw.readFrames(1);
    frames.push(describeFrame(frame));
    if (frame.opcode === OP.close) {
      if (!raw.closed) raw.write(encodeFrame({ opcode: OP.close, payload: frame.payload.subarray(0, 2) }));
      break;
    }
  }
  t.note('frames', frames);
}

/**
 * Records the server side's events. After failing a connection ws reports
 * close code 1006 and netws the code it failed with, whatever the peer
 * answers; that difference is asserted once ('after failing the
 * connection, ...'), so here 'close' is noted without its arguments.
 */
function recordConnection(t: Run, ws: Loose): void {
  t.record(ws, 'ws', ['message', 'error', 'close', 'ping', 'pong'], { close: 0 });
}

compat(limits, 'maxPayload: a message of exactly maxPayload passes, one byte more closes 1009', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { maxPayload: 10 });
  recordConnection(t, ws);
  raw.write(textFrame('0123456789'));
  await t.wait(ws, 'message');
  raw.write(textFrame('0123456789X'));
  await outcome(t, ws, raw);
});

compat(limits, 'maxPayload counts the fragments of a message together', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { maxPayload: 10 });
  recordConnection(t, ws);
  raw.write(Buffer.concat([textFrame('012345', { fin: false }), encodeFrame({ opcode: OP.cont, payload: '6789X' })]));
  await outcome(t, ws, raw);
});

compat(
  limits,
  'option values ws takes: maxPayload 1e10 (engine.io passes maxHttpBufferSize through), fractions, numeric strings',
  async (lib, t) => {
    for (const options of [
      { maxPayload: 1e10 },
      { maxPayload: 1e8 },
      { maxPayload: 1024.5 },
      { closeTimeout: '500' },
      { backlog: 10.5 },
      { clientTracking: 0 },
    ]) {
      t.attempt(JSON.stringify(options), () => {
        const wss = new lib.WebSocketServer({ noServer: true, ...options });
        t.trackServer(wss);
        return 'constructed';
      });
    }
    const { local, peer } = await t.pair('server', { maxPayload: 1e10 });
    const got = t.wait(local, 'message');
    peer.send(Buffer.alloc(1 << 20));
    t.note('received', ((await got)[0] as Buffer).length);
  },
);

compat(limits, 'maxPayload: 0 means no limit', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { maxPayload: 0 });
  recordConnection(t, ws);
  raw.write(encodeFrame({ opcode: OP.binary, payload: Buffer.alloc(200_000, 7) }));
  await t.wait(ws, 'message');
});

compat(limits, 'maxPayload: undefined means the default', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { maxPayload: undefined });
  recordConnection(t, ws);
  raw.write(textFrame('small'));
  await t.wait(ws, 'message');
  raw.write(encodeFrame({ opcode: OP.binary, payload: Buffer.alloc(70_000, 1) }));
  await t.wait(ws, 'message');
  raw.write(
    Buffer.concat([
      encodeFrame({ opcode: OP.binary, payload: Buffer.alloc(100, 2), fin: false }),
      encodeFrame({ opcode: OP.cont, payload: Buffer.alloc(70_000, 3) }),
    ]),
  );
  await t.wait(ws, 'message');
});

compat(limits, 'maxPayload: undefined, other options undefined too, on a compressing connection', async (lib, t) => {
  const wss = await t.server({
    maxPayload: undefined,
    closeTimeout: undefined,
    maxFragments: undefined,
    perMessageDeflate: { threshold: undefined },
  });
  const connection = t.wait(wss, 'connection');
  const peer = t.refClient(`ws://127.0.0.1:${portOf(wss)}`);
  const [ws] = await connection;
  await t.wait(peer, 'open');
  ws.on('message', (data: Buffer) => ws.send(data));
  peer.send(Buffer.alloc(100_000, 4));
  const [echo] = await t.wait(peer, 'message');
  t.note('echo', echo);
});

compat(
  limits,
  'maxPayload: null and clientTracking: null',
  (lib, t) => {
    for (const name of ['maxPayload', 'clientTracking']) {
      try {
        const wss = new lib.WebSocketServer({ noServer: true, [name]: null });
        t.trackServer(wss);
        t.note(name, 'accepted', name === 'clientTracking' ? wss.clients === undefined : 'no limit');
      } catch (error) {
        t.note(name, (error as Error).constructor.name);
      }
    }
  },
  {
    differs: {
      reason:
        'ws reads null as 0 or false (maxPayload: null is no limit, clientTracking: null no tracking); netws refuses it with a TypeError',
      ws: [
        ['maxPayload', 'accepted', 'no limit'],
        ['clientTracking', 'accepted', true],
      ],
      netws: [
        ['maxPayload', 'TypeError'],
        ['clientTracking', 'TypeError'],
      ],
    },
  },
);

compat(
  limits,
  'the peer resets the TCP connection',
  async (lib, t) => {
    const { ws, raw } = await rawConnection(t);
    recordConnection(t, ws);
    raw.socket.resetAndDestroy();
    await t.wait(ws, 'close');
  },
  {
    differs: {
      reason: "ws reports a failing socket only as 'close' 1006; netws gives the socket's error to an 'error' listener first",
      ws: [['ws', 'close']],
      netws: [
        ['ws', 'error', { error: 'Error', code: 'ECONNRESET' }],
        ['ws', 'close'],
      ],
    },
  },
);

compat(verifying, 'verifyClient over https (server mode): info.secure and req.socket.encrypted', async (lib, t) => {
  const { readFileSync } = await import('node:fs');
  const https = await import('node:https');
  const cert = readFileSync(new URL('../fixtures/cert.pem', import.meta.url));
  const key = readFileSync(new URL('../fixtures/key.pem', import.meta.url));
  const server = https.createServer({ cert, key });
  const sockets = new Set<net.Socket>();
  server.on('secureConnection', (socket) => sockets.add(socket));
  t.defer(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const wss = new lib.WebSocketServer({
    server,
    verifyClient: (info: Loose) => {
      t.note('secure', info.secure, 'encrypted', info.req.socket.encrypted === true);
      return true;
    },
  });
  t.trackServer(wss);
  const peer = t.refClient(`wss://127.0.0.1:${(server.address() as net.AddressInfo).port}`, { ca: cert });
  await t.wait(peer, 'open');
});

compat(
  limits,
  'maxPayload default: a frame announcing 64 MiB + 1 byte',
  async (lib, t) => {
    const { ws, raw } = await rawConnection(t);
    recordConnection(t, ws);
    raw.write(encodeFrame({ opcode: OP.binary, length: 64 * 1024 * 1024 + 1, payload: Buffer.alloc(10) }));
    t.note('closed within 150 ms', await t.happens(ws, 'close', 150));
    t.note(
      'frames',
      raw.takeFrames().map((frame) => describeFrame(frame)),
    );
  },
  {
    differs: {
      reason: 'netws defaults maxPayload to 64 MiB, ws to 100 MiB',
      ws: [
        ['closed within 150 ms', false],
        ['frames', []],
      ],
      netws: [
        [
          'ws',
          'error',
          { error: 'RangeError', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', name: 'RangeError', message: 'Max payload size exceeded' },
        ],
        ['ws', 'close'],
        ['closed within 150 ms', true],
        ['frames', ['close 1009 ""']],
      ],
    },
  },
);

compat(limits, 'maxPayload default: a frame announcing 100 MiB + 1 byte closes 1009', async (lib, t) => {
  const { ws, raw } = await rawConnection(t);
  recordConnection(t, ws);
  raw.write(encodeFrame({ opcode: OP.binary, length: 100 * 1024 * 1024 + 1, payload: Buffer.alloc(10) }));
  await outcome(t, ws, raw);
});

compat(limits, 'maxFragments: one fragment too many', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { maxFragments: 2 });
  recordConnection(t, ws);
  raw.write(
    Buffer.concat([
      textFrame('a', { fin: false }),
      encodeFrame({ opcode: OP.cont, payload: 'b', fin: false }),
      encodeFrame({ opcode: OP.cont, payload: 'c' }),
    ]),
  );
  await outcome(t, ws, raw);
});

compat(limits, 'maxFragments: exactly the limit passes', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { maxFragments: 2 });
  recordConnection(t, ws);
  raw.write(Buffer.concat([textFrame('a', { fin: false }), encodeFrame({ opcode: OP.cont, payload: 'b' })]));
  await t.wait(ws, 'message');
});

compat(
  limits,
  'maxFragments default: a message in 16,385 fragments',
  async (lib, t) => {
    const { ws, raw } = await rawConnection(t);
    recordConnection(t, ws);
    const fragments = [textFrame('a', { fin: false })];
    for (let i = 1; i < 16_384; i++) fragments.push(encodeFrame({ opcode: OP.cont, payload: 'a', fin: false }));
    fragments.push(encodeFrame({ opcode: OP.cont, payload: 'a' }));
    raw.write(Buffer.concat(fragments));
    const [event] = await Promise.race([t.wait(ws, 'message').then(() => ['message']), t.wait(ws, 'close').then(() => ['close'])]);
    t.note('first event', event);
  },
  {
    differs: {
      reason: "netws's default maxFragments is 131,072, the value ws documents; ws's code uses 16,384",
      ws: [
        [
          'ws',
          'error',
          { error: 'RangeError', code: 'WS_ERR_TOO_MANY_BUFFERED_PARTS', name: 'RangeError', message: 'Too many message fragments' },
        ],
        ['ws', 'close'],
        ['first event', 'close'],
      ],
      netws: [
        ['ws', 'message', 'Buffer 16385 bytes sha1:521b836124c4', false],
        ['first event', 'message'],
      ],
    },
  },
);

compat(limits, 'maxBufferedChunks: a frame arriving in more chunks than allowed', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { maxBufferedChunks: 2 });
  recordConnection(t, ws);
  const frame = textFrame('x'.repeat(100));
  for (let offset = 0; offset < frame.length; offset += 20) {
    raw.write(frame.subarray(offset, offset + 20));
    await t.sleep(15);
  }
  await t.until(() => t.log.length > 0, 1000, 'an event');
  await t.sleep(20);
});

compat(limits, 'skipUTF8Validation: invalid UTF-8 text is delivered as is', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { skipUTF8Validation: true });
  recordConnection(t, ws);
  ws.on('close', (code: number, reason: Buffer) => t.note('close args', code, reason));
  raw.write(textFrame(Buffer.from([0x68, 0xff, 0x69])));
  await t.wait(ws, 'message');
  raw.write(encodeFrame({ opcode: OP.close, payload: Buffer.from([0x03, 0xe8, 0xff]) }));
  await t.wait(ws, 'close');
});

compat(limits, 'without skipUTF8Validation: invalid UTF-8 text closes 1007', async (lib, t) => {
  const { ws, raw } = await rawConnection(t);
  recordConnection(t, ws);
  raw.write(textFrame(Buffer.from([0x68, 0xff, 0x69])));
  await outcome(t, ws, raw);
});

compat(limits, 'autoPong: false: no pong is sent, the ping event still comes', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { autoPong: false });
  recordConnection(t, ws);
  ws.on('message', (data: Buffer) => ws.send(data));
  raw.write(Buffer.concat([encodeFrame({ opcode: OP.ping, payload: 'p' }), textFrame('after')]));
  const frames = await raw.readFrames(1);
  t.note('first frame', describeFrame(frames[0]));
});

compat(limits, 'autoPong default: the pong goes out before a reply to a later message', async (lib, t) => {
  const { ws, raw } = await rawConnection(t);
  recordConnection(t, ws);
  ws.on('message', (data: Buffer) => ws.send(data));
  raw.write(Buffer.concat([encodeFrame({ opcode: OP.ping, payload: 'p' }), textFrame('after')]));
  t.note(
    'frames',
    (await raw.readFrames(2)).map((frame) => describeFrame(frame)),
  );
});

/** The order of message handlers and the microtasks they queue, for three messages in one chunk. */
async function eventTicks(t: Run, ws: Loose, raw: RawSocket): Promise<void> {
  ws.on('message', (data: Buffer) => {
    t.note('message', String(data));
    queueMicrotask(() => t.note('microtask after', String(data)));
  });
  ws.on('ping', () => {
    t.note('ping');
    queueMicrotask(() => t.note('microtask after ping'));
  });
  raw.write(Buffer.concat([textFrame('1'), encodeFrame({ opcode: OP.ping }), textFrame('2')]));
  await t.until(() => t.log.length >= 6, 1000, 'three events and their microtasks');
}

compat(limits, 'allowSynchronousEvents: true (default): events of one chunk in one tick', async (lib, t) => {
  const { ws, raw } = await rawConnection(t);
  await eventTicks(t, ws, raw);
});

compat(limits, 'allowSynchronousEvents: false: microtasks run between events', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { allowSynchronousEvents: false });
  await eventTicks(t, ws, raw);
});

compat(limits, 'closeTimeout: the socket is destroyed when the peer does not answer close()', async (lib, t) => {
  const { ws, raw } = await rawConnection(t, { closeTimeout: 150 });
  const start = Date.now();
  ws.close(1000);
  const [code] = await t.wait(ws, 'close', 2000);
  const elapsed = Date.now() - start;
  t.note('close code', code, 'after about closeTimeout', elapsed >= 120 && elapsed < 1000);
  t.note(
    'frames',
    raw.takeFrames().map((frame) => describeFrame(frame)),
  );
});

compat(
  limits,
  'closeTimeout: undefined means the default (30 s), not an instant timeout',
  async (lib, t) => {
    const { ws } = await rawConnection(t, { closeTimeout: undefined });
    ws.close(1000);
    t.note('closed within 100 ms', await t.happens(ws, 'close', 100));
  },
  {
    differs: {
      reason:
        'in netws undefined means the default for every option (issue 11, defect 1); ws spreads undefined over its default and arms a 1 ms timer',
      ws: [['closed within 100 ms', true]],
      netws: [['closed within 100 ms', false]],
    },
  },
);

compat(
  limits,
  'maxPayload: undefined is the default limit, not no limit',
  async (lib, t) => {
    const { ws, raw } = await rawConnection(t, { maxPayload: undefined });
    recordConnection(t, ws);
    raw.write(encodeFrame({ opcode: OP.binary, length: 200 * 1024 * 1024, payload: Buffer.alloc(10) }));
    t.note('closed within 150 ms', await t.happens(ws, 'close', 150));
  },
  {
    differs: {
      reason: "in netws undefined means the default for every option (issue 11, defect 1); ws's receiver coerces undefined to 0, no limit",
      ws: [['closed within 150 ms', false]],
      netws: [
        [
          'ws',
          'error',
          { error: 'RangeError', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', name: 'RangeError', message: 'Max payload size exceeded' },
        ],
        ['ws', 'close'],
        ['closed within 150 ms', true],
      ],
    },
  },
);

for (const name of ['serverMaxWindowBits', 'clientMaxWindowBits', 'threshold', 'serverNoContextTakeover', 'clientNoContextTakeover']) {
  compat(limits, `perMessageDeflate.${name}: undefined answers as when it is not given`, async (lib, t) => {
    const offer = 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; server_max_window_bits=12';
    const answers: string[] = [];
    for (const options of [{}, { [name]: undefined }]) {
      const wss = await t.server({ perMessageDeflate: options });
      const raw = await t.raw(portOf(wss));
      raw.write(upgradeRequest({ headers: [offer] }));
      const head = await raw.readHead();
      answers.push(head.headers.find(([key]) => key === 'Sec-WebSocket-Extensions')?.[1] ?? 'none');
      raw.destroy();
    }
    t.note('the same answer', answers[0] === answers[1]);
  });
}

compat(
  limits,
  'after failing the connection, the close code when the peer does not answer the close frame',
  async (lib, t) => {
    const { ws, raw } = await rawConnection(t);
    t.record(ws, 'ws', ['error', 'close']);
    raw.write(textFrame(Buffer.from([0xff])));
    t.note(
      'frames',
      (await raw.readFrames(1)).map((frame) => describeFrame(frame)),
    );
    await t.wait(ws, 'close');
  },
  {
    differs: {
      reason: 'netws reports the code it failed the connection with; ws reports 1006 without a close frame from the peer',
      ws: [
        [
          'ws',
          'error',
          { error: 'Error', code: 'WS_ERR_INVALID_UTF8', name: 'Error', message: 'Invalid WebSocket frame: invalid UTF-8 sequence' },
        ],
        ['frames', ['close 1007 ""']],
        ['ws', 'close', 1006, 'Buffer ""'],
      ],
      netws: [
        [
          'ws',
          'error',
          { error: 'Error', code: 'WS_ERR_INVALID_UTF8', name: 'Error', message: 'Invalid WebSocket frame: invalid UTF-8 sequence' },
        ],
        ['frames', ['close 1007 ""']],
        ['ws', 'close', 1007, 'Buffer ""'],
      ],
    },
  },
);

for (const s of [constructing, answers, events, closing, upgrading, verifying, limits]) s.run();
