/** The client's opening handshake: the answers it accepts and refuses, its events, its timeouts, and its options. */

import { spawn } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';
import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer } from '../src/index.ts';
import { portOf, sleep, until, waitFor, isError, isDOMException } from './helpers.ts';
import { rawPeer, switching, type RequestHead } from './client/peer.ts';
import { runTypeScript } from './runtime.ts';

const client = suite('client');

client('bad URLs and subprotocols throw a SyntaxError DOMException synchronously', () => {
  for (const url of ['not a url', '', 'ftp://example.com', 'ws://example.com/#frag', 'ws+unix:', 'ws+unix:/tmp/x#frag']) {
    assert.throws(() => new WebSocket(url), isDOMException('SyntaxError'), url);
  }
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', ['a', 'a']), isDOMException('SyntaxError'));
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', 'bad protocol'), isDOMException('SyntaxError'));
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', [1 as unknown as string]), isDOMException('SyntaxError'));
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', 1 as unknown as string), isDOMException('SyntaxError'));
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', { headers: { 'X-A': 'a\r\nInjected: 1' } }), isError(TypeError));
});

/** A client of `peer`'s port with its error and close events collected. */
function connect(port: number, ...rest: unknown[]) {
  const ws = new (WebSocket as unknown as new (...args: unknown[]) => WebSocket)(`ws://127.0.0.1:${port}`, ...rest);
  const error = waitFor<[Error & { code?: string; statusCode?: number }]>(ws, 'error');
  const closed = waitFor<[number, Buffer, boolean]>(ws, 'close');
  return { ws, error, closed };
}

const badResponses: Array<[string, (head: RequestHead) => string, string]> = [
  ['a 200 answer', () => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'WS_ERR_UNEXPECTED_RESPONSE'],
  ['a wrong accept value', (head) => switching({ ...head, key: 'AAAAAAAAAAAAAAAAAAAAAA==' }), 'WS_ERR_INVALID_ACCEPT'],
  ['a missing Upgrade header', (head) => switching(head).replace('Upgrade: websocket\r\n', ''), 'WS_ERR_INVALID_UPGRADE'],
  ['a missing Connection header', (head) => switching(head).replace('Connection: Upgrade\r\n', ''), 'WS_ERR_INVALID_UPGRADE'],
  ['Upgrade: other', (head) => switching(head).replace('Upgrade: websocket', 'Upgrade: other'), 'WS_ERR_INVALID_UPGRADE'],
  ['a subprotocol not offered', (head) => switching(head, ['Sec-WebSocket-Protocol: chat']), 'WS_ERR_INVALID_SUBPROTOCOL'],
  ['an extension not offered', (head) => switching(head, ['Sec-WebSocket-Extensions: x-webkit-deflate-frame']), 'WS_ERR_INVALID_EXTENSION'],
  // node:http's parser errors, as ws reports them.
  ['a malformed status line', () => 'HTTP/1.1 abc\r\n\r\n', 'HPE_INVALID_STATUS'],
  ['a head that never ends', () => `HTTP/1.1 101 OK\r\nX: ${'a'.repeat(20000)}`, 'HPE_HEADER_OVERFLOW'],
  ['a close before the head ends', () => 'HTTP/1.1 101', 'ECONNRESET'],
];
for (const [name, respond, code] of badResponses) {
  client(`${name}: error ${code} at once, then close 1006`, async () => {
    const peer = await rawPeer((head, socket) => socket.end(respond(head)));
    const started = Date.now();
    const { ws, error, closed } = connect(peer.port, { handshakeTimeout: 5000 });
    assert.is((await error)[0].code, code);
    const [closeCode, , wasClean] = await closed;
    assert.ok(Date.now() - started < 2000, 'long before the handshake timeout');
    assert.is(closeCode, 1006);
    assert.not.ok(wasClean);
    assert.is(ws.readyState, WebSocket.CLOSED);
    await peer.close();
  });
}

// Issue 11, defect 10: the old client read heads up to the blank line and sat until the timeout.
client('a garbage status line ("foo\\r\\n") fails at once, not at the handshake timeout', async () => {
  const peer = await rawPeer((_head, socket) => socket.write('foo\r\n'));
  const started = Date.now();
  const { error, closed } = connect(peer.port, { handshakeTimeout: 5000 });
  const [failure] = await error;
  assert.is(failure.code, 'HPE_INVALID_CONSTANT');
  assert.ok(Date.now() - started < 1000, `failed after ${Date.now() - started} ms`);
  await closed;
  await peer.close();
});

client('an unexpected answer: the error carries the status, and the message is the one code parses in ws', async () => {
  const peer = await rawPeer((_head, socket) => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
  const { error, closed } = connect(peer.port);
  const [failure] = await error;
  assert.is(failure.statusCode, 403);
  assert.is(failure.message, 'Unexpected server response: 403');
  await closed;
  await peer.close();
});

client('a requested subprotocol the server does not answer fails the handshake (as ws and Chromium do)', async () => {
  const peer = await rawPeer((head, socket) => socket.write(switching(head)));
  const { ws, error, closed } = connect(peer.port, ['chat']);
  let opened = false;
  ws.on('open', () => (opened = true));
  const [failure] = await error;
  assert.is(failure.code, 'WS_ERR_INVALID_SUBPROTOCOL');
  assert.is(failure.message, 'Server sent no subprotocol');
  await closed;
  assert.not.ok(opened);
  await peer.close();
});

client('mid-handshake faults: a reset, or a head that stops halfway, fail the handshake', async () => {
  const reset = await rawPeer((_head, socket) => socket.resetAndDestroy());
  const first = connect(reset.port);
  assert.is((await first.error)[0].code, 'ECONNRESET');
  await first.closed;
  await reset.close();

  const stall = await rawPeer((_head, socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs'));
  const second = connect(stall.port, { handshakeTimeout: 100 });
  assert.is((await second.error)[0].code, 'WS_ERR_HANDSHAKE_TIMEOUT');
  await second.closed;
  await stall.close();
});

client('handshake timeout against a silent server', async () => {
  const peer = await rawPeer();
  const { error, closed } = connect(peer.port, { handshakeTimeout: 100 });
  const [failure] = await error;
  assert.is(failure.code, 'WS_ERR_HANDSHAKE_TIMEOUT');
  assert.is(failure.message, 'Opening handshake has timed out');
  await closed;
  await peer.close();
});

client('handshakeTimeout: 0 is no timeout (as in ws), undefined the default 10 s', async () => {
  const peer = await rawPeer();
  for (const handshakeTimeout of [0, undefined]) {
    const ws = new WebSocket(`ws://127.0.0.1:${peer.port}`, { handshakeTimeout });
    await sleep(150);
    assert.is(ws.readyState, WebSocket.CONNECTING, String(handshakeTimeout));
    ws.terminate();
    await waitFor(ws, 'close');
  }
  await peer.close();
});

client('connection refused: error then close, no crash without an error listener', async () => {
  const peer = await rawPeer();
  const port = peer.port;
  await peer.close();
  const withListener = new WebSocket(`ws://127.0.0.1:${port}`);
  const [error] = await waitFor<[NodeJS.ErrnoException]>(withListener, 'error');
  assert.is(error.code, 'ECONNREFUSED');
  const silent = new WebSocket(`ws://127.0.0.1:${port}`);
  const [code] = await waitFor<[number]>(silent, 'close');
  assert.is(code, 1006);
});

client('close() or terminate() while connecting aborts the handshake', async () => {
  const peer = await rawPeer();
  const ws = new WebSocket(`ws://127.0.0.1:${peer.port}`);
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
  const other = new WebSocket(`ws://127.0.0.1:${peer.port}`);
  other.terminate();
  await waitFor(other, 'close');
  await peer.close();
});

// ---------------------------------------------------------------- events

client("'upgrade' gets node's IncomingMessage before 'open' (set-cookie an array, lowercase names, rawHeaders)", async () => {
  const peer = await rawPeer((head, socket) => socket.write(switching(head, ['Set-Cookie: a=1', 'Set-Cookie: b=2', 'X-Custom: yes'])));
  const ws = new WebSocket(`ws://127.0.0.1:${peer.port}`);
  const order: string[] = [];
  let response: http.IncomingMessage | undefined;
  ws.on('upgrade', (res) => {
    order.push('upgrade');
    response = res;
  });
  ws.on('open', () => order.push('open'));
  await waitFor(ws, 'open');
  assert.equal(order, ['upgrade', 'open']);
  assert.ok(response instanceof http.IncomingMessage);
  assert.is(response!.statusCode, 101);
  assert.equal(response!.headers['set-cookie'], ['a=1', 'b=2']);
  assert.is(response!.headers['x-custom'], 'yes');
  assert.ok(response!.rawHeaders.includes('X-Custom'));
  ws.terminate();
  await waitFor(ws, 'close');
  await peer.close();
});

client("'upgrade' comes for a 101 that fails the checks too (as in ws), then the error", async () => {
  const peer = await rawPeer((head, socket) => socket.write(switching({ ...head, key: 'AAAAAAAAAAAAAAAAAAAAAA==' })));
  const { ws, error, closed } = connect(peer.port);
  const events: string[] = [];
  ws.on('upgrade', () => events.push('upgrade'));
  ws.on('error', () => events.push('error'));
  await error;
  await closed;
  assert.equal(events, ['upgrade', 'error']);
  await peer.close();
});

client("close() from an 'upgrade' listener: no open, the socket is destroyed", async () => {
  const peer = await rawPeer((head, socket) => socket.write(switching(head)));
  const { ws, error, closed } = connect(peer.port);
  let opened = false;
  ws.on('open', () => (opened = true));
  ws.on('upgrade', () => ws.close());
  assert.is((await error)[0].code, 'WS_ERR_CLOSED_BEFORE_CONNECT');
  await closed;
  await sleep(10);
  assert.not.ok(opened);
  const [socket] = peer.sockets;
  assert.ok(socket.destroyed || socket.readableEnded);
  await peer.close();
});

client("a throwing 'upgrade' listener: the exception goes on, the handshake fails with it, nothing stays open", async () => {
  const peer = await rawPeer((head, socket) => socket.write(switching(head)));
  const boom = new Error('listener bug');
  const uncaught = new Promise<unknown>((resolve) => process.prependOnceListener('uncaughtException', resolve));
  const { ws, error, closed } = connect(peer.port);
  ws.on('upgrade', () => {
    throw boom;
  });
  assert.is(await uncaught, boom);
  assert.is((await error)[0], boom);
  assert.is((await closed)[0], 1006);

  // One that closes the WebSocket first, then throws: the close is what is reported.
  const second = new Promise<unknown>((resolve) => process.prependOnceListener('uncaughtException', resolve));
  const other = connect(peer.port);
  other.ws.on('upgrade', () => {
    other.ws.close();
    throw boom;
  });
  assert.is(await second, boom);
  assert.is((await other.error)[0].code, 'WS_ERR_CLOSED_BEFORE_CONNECT');
  await other.closed;
  await peer.close();
});

client("'unexpected-response' with a listener: (ClientRequest, IncomingMessage), a readable body, no error, still CONNECTING", async () => {
  const peer = await rawPeer((_head, socket) =>
    socket.write('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 11\r\n\r\nlogin first'),
  );
  const ws = new WebSocket(`ws://127.0.0.1:${peer.port}`);
  const errors: unknown[] = [];
  ws.on('error', (error) => errors.push(error));
  const [request, response] = await waitFor<[http.ClientRequest, http.IncomingMessage]>(ws, 'unexpected-response');
  assert.ok(request instanceof http.ClientRequest);
  assert.is(response.statusCode, 401);
  assert.is(response.headers['www-authenticate'], 'Basic');
  let body = '';
  response.setEncoding('utf8');
  for await (const chunk of response) body += chunk;
  assert.is(body, 'login first');
  assert.is(ws.readyState, WebSocket.CONNECTING);
  assert.equal(errors, []);
  ws.terminate();
  await waitFor(ws, 'close');
  await peer.close();
});

client("'unexpected-response' listened to but never acted on: the handshake timeout still ends it", async () => {
  const peer = await rawPeer((_head, socket) => socket.write('HTTP/1.1 503 Busy\r\nContent-Length: 100\r\n\r\npartial'));
  const { ws, error, closed } = connect(peer.port, { handshakeTimeout: 100 });
  ws.on('unexpected-response', () => {});
  assert.is((await error)[0].code, 'WS_ERR_HANDSHAKE_TIMEOUT');
  await closed;
  await peer.close();
});

client('a 101 without Connection: Upgrade given to an unexpected-response listener (node sees no upgrade in it, as ws)', async () => {
  const peer = await rawPeer((head, socket) => socket.write(switching(head).replace('Connection: Upgrade\r\n', '')));
  const ws = new WebSocket(`ws://127.0.0.1:${peer.port}`);
  const [, response] = await waitFor<[http.ClientRequest, http.IncomingMessage]>(ws, 'unexpected-response');
  assert.is(response.statusCode, 101);
  ws.terminate();
  await waitFor(ws, 'close');
  await peer.close();
});

client('a request given up on is ignored if node still reports on it: no open from a late upgrade, its socket destroyed', async () => {
  const peer = await rawPeer();
  let request: http.ClientRequest | undefined;
  const { ws, closed } = connect(peer.port, {
    finishRequest: (req: http.ClientRequest) => {
      request = req;
      req.end();
    },
  });
  let opened = false;
  ws.on('open', () => (opened = true));
  ws.on('unexpected-response', () => assert.unreachable('unexpected-response'));
  ws.terminate();
  await closed;
  const late = new PassThrough();
  request!.emit('upgrade', new http.IncomingMessage(late as unknown as net.Socket), late, Buffer.alloc(0));
  request!.emit('response', new http.IncomingMessage(late as unknown as net.Socket));
  request!.emit('error', new Error('late'));
  await sleep(10);
  assert.ok(late.destroyed);
  assert.not.ok(opened);
  await peer.close();
});

// ---------------------------------------------------------------- finishRequest

client('finishRequest(request, websocket): called in place of end(), headers set there are sent', async () => {
  const peer = await rawPeer((head, socket) => socket.write(switching(head)));
  const calls: unknown[][] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${peer.port}`, {
    finishRequest: (request, websocket) => {
      calls.push([request instanceof http.ClientRequest, websocket]);
      request.setHeader('X-Late', 'yes');
      request.end();
    },
  });
  await waitFor(ws, 'open');
  assert.equal(calls, [[true, ws]]);
  assert.ok(peer.heads[0].headers.some(([name, value]) => name === 'X-Late' && value === 'yes'));
  ws.terminate();
  await waitFor(ws, 'close');
  await peer.close();
});

client('finishRequest that throws: the constructor throws it and nothing is left connecting', async () => {
  const peer = await rawPeer();
  const bug = new Error('finishRequest bug');
  assert.throws(
    () =>
      new WebSocket(`ws://127.0.0.1:${peer.port}`, {
        finishRequest: () => {
          throw bug;
        },
      }),
    (error: unknown) => error === bug,
  );
  // The request was already connecting (node:http connects on creation): it is closed at once.
  await sleep(50);
  for (const socket of peer.sockets) assert.ok(socket.destroyed, 'closed');
  assert.equal(peer.heads, []);
  await peer.close();
});

client('finishRequest that never ends the request: the handshake timeout ends it', async () => {
  const peer = await rawPeer();
  const { error, closed } = connect(peer.port, { handshakeTimeout: 100, finishRequest: () => {} });
  assert.is((await error)[0].code, 'WS_ERR_HANDSHAKE_TIMEOUT');
  await closed;
  assert.equal(peer.heads, []);
  await peer.close();
});

client('the handshake timer keeps no process alive, and stops once the server answered', async () => {
  // A child whose only handle is the handshake's own socket, unref'd: it must exit long before its 60 s timeout.
  const silent = await rawPeer();
  // A file, not `-e`: the child runs on the spec's runtime (Bun and Deno take no `--import tsx`).
  const child = spawn(...runTypeScript('spec/fixtures/handshake-timer-child.ts', [String(silent.port)]), { stdio: 'ignore' });
  try {
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Connected: Node and Bun also write the request before the child exits, Deno exits first (nothing holds it).
    await until(() => silent.sockets.size === 1, 10_000, 'the child to connect');
    const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')]);
    assert.is(code, 0, 'the child exited by itself while its handshake waited');
  } finally {
    child.kill();
    await silent.close();
  }

  const refusing = await rawPeer((_head, socket) => socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\nno'));
  const { ws, closed } = connect(refusing.port, { handshakeTimeout: 50 });
  const read = new Promise<void>((resolve) => ws.on('unexpected-response', (_req, res) => res.resume().on('end', resolve)));
  await read;
  await sleep(150);
  assert.is(ws.readyState, WebSocket.CONNECTING, 'no timeout after the answer: the listener decides');
  ws.close();
  await closed;
  await refusing.close();
});

// ---------------------------------------------------------------- options

const optionErrors: Array<[string, unknown, new (...args: never[]) => Error]> = [
  ['handshakeTimeout', -1, RangeError],
  ['handshakeTimeout', NaN, TypeError],
  ['maxHeaderSize', 0, RangeError],
  ['maxHeaderSize', -1, RangeError],
  ['maxHeaderSize', 'big', TypeError],
  ['maxRedirects', -1, RangeError],
  ['followRedirects', 'yes', TypeError],
  ['protocolVersion', 0, RangeError],
  ['protocolVersion', -1, RangeError],
  ['protocolVersion', 9, RangeError],
  ['protocolVersion', '13', RangeError],
  ['origin', 0, TypeError],
  ['origin', {}, TypeError],
  ['headers', 0, TypeError],
  ['headers', 'X-A: 1', TypeError],
  ['headers', ['X-A', '1'], TypeError],
  ['headers', { 'bad name': 'v' }, TypeError],
  ['headers', { 'X-A': undefined }, TypeError],
  ['headers', { 'X-A': ['ok', 'a\nb'] }, TypeError],
  ['finishRequest', 0, TypeError],
  ['finishRequest', 'end', TypeError],
  ['createConnection', 0, TypeError],
  ['perMessageDeflate', 0, TypeError],
  ['generateMask', 'random', TypeError],
];
client('options: a wrong type is a TypeError naming the option, out of range a RangeError; nothing connects', async () => {
  const peer = await rawPeer();
  for (const [name, value, type] of optionErrors) {
    let thrown: unknown;
    try {
      new WebSocket(`ws://127.0.0.1:${peer.port}`, { [name]: value });
    } catch (error) {
      thrown = error;
    }
    assert.ok(thrown instanceof type, `${name}: ${String(value)} → ${String(thrown)}`);
    // The option is named, but where ws words the error its way (protocolVersion: 'Unsupported protocol version').
    const named = name === 'protocolVersion' && thrown instanceof RangeError ? 'protocol version' : name;
    if (!name.startsWith('headers')) assert.match(String((thrown as Error).message), named, `${name} named`);
  }
  await sleep(50);
  assert.is(peer.sockets.size, 0);
  await peer.close();
});

client('options: every client option undefined means its default, and the handshake succeeds', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await waitFor(wss, 'listening');
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`, {
    handshakeTimeout: undefined,
    maxHeaderSize: undefined,
    maxRedirects: undefined,
    followRedirects: undefined,
    protocolVersion: undefined,
    origin: undefined,
    headers: undefined,
    finishRequest: undefined,
    createConnection: undefined,
    perMessageDeflate: undefined,
    generateMask: undefined,
    agent: undefined,
    lookup: undefined,
  });
  const [, request] = await waitFor<[unknown, http.IncomingMessage]>(wss, 'connection');
  assert.is(request.headers['sec-websocket-version'], '13');
  assert.is(request.headers.origin, undefined);
  assert.match(String(request.headers['sec-websocket-extensions']), /^permessage-deflate/);
  await waitFor(ws, 'open');
  ws.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

client('maxHeaderSize: a response head larger than it fails (node:http HPE_HEADER_OVERFLOW)', async () => {
  const peer = await rawPeer((head, socket) => socket.write(switching(head, [`X-Pad: ${'p'.repeat(300)}`])));
  const { error, closed } = connect(peer.port, { maxHeaderSize: 200 });
  assert.is((await error)[0].code, 'HPE_HEADER_OVERFLOW');
  await closed;
  const ok = await rawPeer((head, socket) => socket.write(switching(head, [`X-Pad: ${'p'.repeat(300)}`])));
  const ws = new WebSocket(`ws://127.0.0.1:${ok.port}`, { maxHeaderSize: 1000 });
  await waitFor(ws, 'open');
  ws.terminate();
  await waitFor(ws, 'close');
  await peer.close();
  await ok.close();
});

client('a client socket is handed over clean: bytes right behind the 101 arrive as messages', async () => {
  const frame = Buffer.from([0x81, 0x02, 0x68, 0x69]); // text "hi", unmasked
  const peer = await rawPeer((head, socket: net.Socket) => socket.write(Buffer.concat([Buffer.from(switching(head)), frame])));
  const ws = new WebSocket(`ws://127.0.0.1:${peer.port}`);
  const [data] = await waitFor<[Buffer]>(ws, 'message');
  assert.is(String(data), 'hi');
  ws.terminate();
  await waitFor(ws, 'close');
  await peer.close();
});

client(
  "terminate() after a failed handshake (the usual on('error', () => ws.terminate())) does not throw; close() then terminate() while connecting neither",
  async () => {
    const refusing = http.createServer((_request, response) => response.writeHead(403).end());
    refusing.on('upgrade', (_request, socket) => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', () => resolve()));
    const port = (refusing.address() as net.AddressInfo).port;
    for (const url of [`ws://127.0.0.1:${port}/`, 'ws://127.0.0.1:1/']) {
      const ws = new WebSocket(url);
      const outcome: string[] = [];
      ws.on('error', () => {
        try {
          ws.terminate();
          outcome.push('terminated');
        } catch (error) {
          outcome.push(`threw ${(error as Error).message}`);
        }
      });
      const [code] = await waitFor<[number]>(ws, 'close');
      assert.equal(outcome, ['terminated'], url);
      assert.is(code, 1006);
    }
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.on('error', () => {});
    ws.close();
    ws.terminate();
    ws.terminate();
    assert.is((await waitFor<[number]>(ws, 'close'))[0], 1006);
    refusing.close();
  },
);

client.run();
