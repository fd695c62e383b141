/** The WebSocket client: constructor, options, the request it sends, and its events, netws against ws. */

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import { Ref, compat, errorShape, type Loose, type Run } from './harness.ts';
import {
  OP,
  describeFrame,
  encodeFrame,
  headShape,
  headerValue,
  switchingProtocols,
  textFrame,
  type HttpHead,
  type RawServer,
  type RawSocket,
} from './wire.ts';

const cert = readFileSync(new URL('../fixtures/cert.pem', import.meta.url));
const key = readFileSync(new URL('../fixtures/key.pem', import.meta.url));

/** The request head a client sends, with what varies (the random key, the port) replaced. */
function requestShape(head: HttpHead, port: number): ReturnType<typeof headShape> {
  const key = headerValue(head, 'sec-websocket-key') ?? '<none>';
  return headShape(head, [
    [key, '<key>'],
    [String(port), '<port>'],
  ]);
}

/** Starts a client of the library under test against a raw server; returns the request it sent. */
async function capture(
  t: Run,
  url: (port: number) => string,
  ...rest: unknown[]
): Promise<{ client: Loose; raw: RawSocket; head: HttpHead; server: RawServer }> {
  const server = await t.rawServer();
  const client = t.client(url(server.port), ...rest);
  client.on('error', () => {});
  const raw = await server.connection();
  const head = await raw.readHead();
  return { client, raw, head, server };
}

async function noteRequest(t: Run, url: (port: number) => string, ...rest: unknown[]): Promise<void> {
  const { head, server } = await capture(t, url, ...rest);
  t.note('request', requestShape(head, server.port));
}

const at = (port: number): string => `ws://127.0.0.1:${port}`;

// ---------------------------------------------------------------------------
const constructing = suite('compat: WebSocket client constructor');

// The request shapes below turn permessage-deflate off: its offer differs on
// purpose and is asserted in deflate.spec.ts.
const NO_DEFLATE = { perMessageDeflate: false };

compat(constructing, 'the opening request (no permessage-deflate)', async (lib, t) => {
  await noteRequest(t, (port) => `${at(port)}/path?query=1`, NO_DEFLATE);
});

compat(constructing, 'url: the value of ws.url for ws:, http:, https: and URL objects', (lib, t) => {
  for (const address of [
    'ws://127.0.0.1:1/a?b',
    'http://127.0.0.1:1/x',
    'https://127.0.0.1:1',
    new URL('ws://127.0.0.1:1/u'),
    'ws://127.0.0.1:1',
  ]) {
    const ws = t.client(address);
    ws.on('error', () => {});
    t.note(String(address), ws.url);
  }
});

/** Decision 1 of issue 11: the browser's DOMException named SyntaxError (`err.name` is the same in both). */
const CONSTRUCTOR_SYNTAX_ERROR = {
  reason: 'browser semantics: a DOMException named SyntaxError, where ws throws a SyntaxError',
  ws: [['new WebSocket', 'threw', { error: 'SyntaxError' }]],
  netws: [['new WebSocket', 'threw', { error: 'DOMException', name: 'SyntaxError' }]],
};

for (const [title, address] of [
  ['not a URL', 'not a url'],
  ['scheme ftp:', 'ftp://127.0.0.1:1'],
  ['a fragment', 'ws://127.0.0.1:1/#frag'],
  ['an empty string', ''],
]) {
  compat(
    constructing,
    `invalid address (${title}) throws`,
    (lib, t) => {
      t.attempt('new WebSocket', () => new lib.WebSocket(address));
    },
    { differs: CONSTRUCTOR_SYNTAX_ERROR },
  );
}

compat(constructing, 'protocols: a string, an array, joined as ws joins them', async (lib, t) => {
  for (const protocols of ['chat', ['chat', 'superchat', 'x.y']]) {
    const { head, server } = await capture(t, at, protocols);
    t.note(JSON.stringify(protocols), headerValue(head, 'sec-websocket-protocol'));
    server.connections[0].destroy();
  }
});

for (const [title, protocols] of [
  ['a space', ['a b']],
  ['a duplicate', ['a', 'a']],
  ['an empty string', ['']],
  ['a non-string', [1]],
  ['a comma in a string', 'a,b'],
] as Array<[string, unknown]>) {
  compat(
    constructing,
    `invalid subprotocols (${title}) throw`,
    (lib, t) => {
      t.attempt('new WebSocket', () => new lib.WebSocket('ws://127.0.0.1:1', protocols));
    },
    { differs: CONSTRUCTOR_SYNTAX_ERROR },
  );
}

compat(constructing, 'options in second position', async (lib, t) => {
  const { head } = await capture(t, at, { headers: { 'X-Second': 'yes' }, origin: 'http://o.example' });
  t.note('x-second', headerValue(head, 'x-second'), 'origin', headerValue(head, 'origin'));
});

compat(constructing, 'protocols undefined and options in third position', async (lib, t) => {
  const { head } = await capture(t, at, undefined, { headers: { 'X-Third': 'yes' } });
  t.note('x-third', headerValue(head, 'x-third'), 'protocol header', headerValue(head, 'sec-websocket-protocol'));
});

compat(constructing, 'origin: the Origin header', async (lib, t) => {
  await noteRequest(t, at, { ...NO_DEFLATE, origin: 'https://app.example' });
});

compat(constructing, 'protocolVersion: 8 sends version 8 and Sec-WebSocket-Origin', async (lib, t) => {
  await noteRequest(t, at, { ...NO_DEFLATE, protocolVersion: 8, origin: 'https://app.example' });
});

compat(constructing, 'protocolVersion: 13 is the default', async (lib, t) => {
  const { head } = await capture(t, at, { protocolVersion: 13 });
  t.note('version', headerValue(head, 'sec-websocket-version'));
});

compat(constructing, 'protocolVersion other than 8 and 13 throws', (lib, t) => {
  t.attempt('protocolVersion 9', () => new lib.WebSocket('ws://127.0.0.1:1', { protocolVersion: 9 }));
});

compat(constructing, 'headers: extra headers, array values as repeated lines', async (lib, t) => {
  await noteRequest(t, at, { ...NO_DEFLATE, headers: { 'X-One': '1', 'X-Multi': ['a', 'b'], 'x-lower': 'v' } });
});

compat(constructing, 'headers: an overridden Host is the only Host line', async (lib, t) => {
  const { head, server } = await capture(t, at, { headers: { Host: 'front.example' } });
  t.note(
    'host lines',
    head.headers.filter(([name]) => name.toLowerCase() === 'host').map(([, value]) => value.replace(String(server.port), '<port>')),
  );
});

compat(constructing, 'headers: an overridden host in lowercase is the only Host line', async (lib, t) => {
  const { head, server } = await capture(t, at, { headers: { host: 'front.example:8443' } });
  t.note(
    'host lines',
    head.headers.filter(([name]) => name.toLowerCase() === 'host').map(([, value]) => value.replace(String(server.port), '<port>')),
  );
});

compat(constructing, 'credentials in the URL become Authorization: Basic', async (lib, t) => {
  const { head } = await capture(t, (port) => `ws://us%40er:p%3Ass@127.0.0.1:${port}/`);
  t.note('authorization', headerValue(head, 'authorization'));
});

compat(constructing, 'auth (an http.request option) becomes Authorization: Basic', async (lib, t) => {
  const { head } = await capture(t, at, { auth: 'user:secret' });
  t.note('authorization', headerValue(head, 'authorization'));
});

compat(constructing, 'perMessageDeflate: false offers no extension', async (lib, t) => {
  const { head } = await capture(t, at, { perMessageDeflate: false });
  t.note('extensions', headerValue(head, 'sec-websocket-extensions') ?? 'none');
});

compat(constructing, 'lookup (an http.request option) resolves the host name', async (lib, t) => {
  const lookup = (hostname: string, options: Loose, callback: Loose) => {
    t.note('lookup', hostname);
    if (options?.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
  };
  const { head, server } = await capture(t, (port) => `ws://compat.invalid:${port}/`, { lookup });
  t.note('host', headerValue(head, 'host')?.replace(String(server.port), '<port>'));
});

compat(constructing, 'localAddress (an http.request option) is the source address', async (lib, t) => {
  const { raw } = await capture(t, at, { localAddress: '127.0.0.1' });
  t.note('remote address seen by the server', raw.socket.remoteAddress);
});

// ---------------------------------------------------------------------------
const handshake = suite('compat: WebSocket client handshake and its events');

compat(handshake, "'upgrade' gets the 101 response shaped like http.IncomingMessage", async (lib, t) => {
  const { client, raw, head } = await capture(t, at);
  client.on('upgrade', (...args: Loose[]) => {
    const [res] = args;
    t.note('upgrade', args.length, {
      statusCode: res.statusCode,
      statusMessage: res.statusMessage,
      httpVersion: res.httpVersion,
      headers: { ...res.headers, 'sec-websocket-accept': '<accept>' },
      rawHeaders: res.rawHeaders.map((value: string, i: number) => (res.rawHeaders[i - 1] === 'Sec-WebSocket-Accept' ? '<accept>' : value)),
      incomingMessage: res instanceof http.IncomingMessage,
    });
  });
  client.on('open', () => t.note('open', client.readyState));
  raw.write(switchingProtocols(head, ['Set-Cookie: a=1', 'Set-Cookie: b=2', 'X-Custom: yes']));
  await t.wait(client, 'open');
});

/**
 * Answers the client's request with `response` (a function of the request
 * head) and notes the client's events. Error messages are compared only
 * where code commonly parses them ("Unexpected server response: 401"); ws
 * gives handshake errors no code, so elsewhere only the class is compared.
 */
async function answerWith(t: Run, response: (head: HttpHead) => string | Buffer, withMessage: boolean, ...rest: unknown[]): Promise<Loose> {
  const server = await t.rawServer();
  const client = t.client(at(server.port), ...rest);
  t.record(client, 'client', ['open', 'close']);
  client.on('error', (error: Error) => t.note('client', 'error', errorShape(error, withMessage)));
  const raw = await server.connection();
  const head = await raw.readHead();
  raw.write(response(head));
  return client;
}

compat(handshake, "'unexpected-response' without a listener: error, then close 1006", async (lib, t) => {
  const client = await answerWith(t, () => 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope', false);
  await t.wait(client, 'close');
  t.note('readyState', client.readyState);
});

compat(handshake, "'unexpected-response' without a listener: the error message", async (lib, t) => {
  const client = await answerWith(t, () => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n', true);
  await t.wait(client, 'close');
});

compat(handshake, "'unexpected-response' with a listener: (request, response), the body is readable, no error", async (lib, t) => {
  const server = await t.rawServer();
  const client = t.client(at(server.port));
  t.record(client, 'client', ['open', 'error', 'close']);
  const body = new Promise<string>((resolve) => {
    client.on('unexpected-response', (...args: Loose[]) => {
      const [req, res] = args;
      t.note('unexpected-response', args.length, req instanceof http.ClientRequest, res.statusCode, res.statusMessage, {
        ...res.headers,
      });
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
    });
  });
  const raw = await server.connection();
  await raw.readHead();
  raw.write('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 11\r\n\r\nlogin first');
  t.note('body', await body);
  t.note('readyState after', client.readyState);
  client.terminate();
  await t.wait(client, 'close');
});

/** A client answered 401 (keep-alive) whose 'unexpected-response' listener reads the body; resolves with the raw server side once it did. */
async function unauthorized(t: Run, ...rest: unknown[]): Promise<{ client: Loose; raw: Loose }> {
  const server = await t.rawServer();
  const client = t.client(at(server.port), ...rest);
  t.record(client, 'client', ['open', 'error', 'close']);
  const read = new Promise<void>((resolve) => {
    client.on('unexpected-response', (req: Loose, res: Loose) => {
      res.resume();
      res.on('end', () => resolve());
    });
  });
  const raw = await server.connection();
  await raw.readHead();
  raw.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 11\r\n\r\nlogin first');
  await read;
  return { client, raw };
}

compat(handshake, "'unexpected-response' read by a listener, then close(): the TCP connection is closed too", async (lib, t) => {
  const { client, raw } = await unauthorized(t);
  await t.sleep(20);
  t.note('readyState before close()', client.readyState);
  const closed = t.wait(client, 'close');
  client.close();
  await raw.until(() => raw.closed || raw.ended, 1000, 'the client to close the connection');
  t.note('the server saw the connection end');
  await closed;
});

compat(handshake, "'unexpected-response' answered: the handshake timer does not fire afterwards", async (lib, t) => {
  const { client } = await unauthorized(t, { handshakeTimeout: 100 });
  await t.sleep(300);
  t.note('readyState 200 ms after the timeout', client.readyState);
  const closed = t.wait(client, 'close');
  client.terminate();
  await closed;
});

for (const [title, response] of [
  ['a garbage status line fails at once', () => 'foo\r\n'],
  ['HTTP/1.1 101 without the accept header', () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
  [
    'a wrong Sec-WebSocket-Accept',
    () =>
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
  ],
  ['Upgrade: other', (head: HttpHead) => switchingProtocols(head).replace('Upgrade: websocket', 'Upgrade: other')],
  ['a subprotocol that was not requested', (head: HttpHead) => switchingProtocols(head, ['Sec-WebSocket-Protocol: chat'])],
  ['an extension that was not offered', (head: HttpHead) => switchingProtocols(head, ['Sec-WebSocket-Extensions: x-unknown'])],
  ['a 200 response', () => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
] as Array<[string, (head: HttpHead) => string]>) {
  compat(handshake, `a bad response: ${title}`, async (lib, t) => {
    const client = await answerWith(t, response, title === 'a 200 response', { handshakeTimeout: 5000 });
    await t.wait(client, 'close', 1500);
  });
}

compat(handshake, 'the server sends no subprotocol although one was requested', async (lib, t) => {
  const client = await answerWith(t, (head) => switchingProtocols(head), false, ['chat']);
  await t.wait(client, 'close');
});

compat(handshake, 'the server picks one of the requested subprotocols: ws.protocol', async (lib, t) => {
  const client = await answerWith(t, (head) => switchingProtocols(head, ['Sec-WebSocket-Protocol: b']), false, ['a', 'b']);
  await t.wait(client, 'open');
  t.note('protocol', client.protocol);
});

compat(handshake, 'connection refused: error ECONNREFUSED, close 1006, readyState', async (lib, t) => {
  const server = await t.rawServer();
  const port = server.port;
  await server.close();
  const client = t.client(at(port));
  t.record(client, 'client', ['open', 'error', 'close']);
  t.note('readyState at once', client.readyState);
  await t.wait(client, 'close');
  t.note('readyState after', client.readyState);
});

compat(handshake, 'handshakeTimeout: error and close when the server does not answer', async (lib, t) => {
  const server = await t.rawServer();
  const client = t.client(at(server.port), { handshakeTimeout: 100 });
  const start = Date.now();
  client.on('error', (error: Error) => t.note('error', errorShape(error, true)));
  client.on('close', (code: number) =>
    t.note('close', code, 'after about handshakeTimeout', Date.now() - start >= 80 && Date.now() - start < 1000),
  );
  await t.wait(client, 'close');
});

compat(handshake, 'handshakeTimeout: undefined means no timeout (not an instant one)', async (lib, t) => {
  const server = await t.rawServer();
  const client = t.client(at(server.port), { handshakeTimeout: undefined });
  client.on('error', (error: Error) => t.note('error', errorShape(error, true)));
  await server.connection();
  await t.sleep(50);
  t.note('readyState after 50 ms', client.readyState);
});

compat(handshake, 'close() while connecting: error, then close 1006', async (lib, t) => {
  const server = await t.rawServer();
  const client = t.client(at(server.port));
  t.record(client, 'client', ['open', 'close']);
  client.on('error', (error: Error) => t.note('error', errorShape(error, true)));
  client.close();
  t.note('readyState after close()', client.readyState);
  await t.wait(client, 'close');
});

compat(handshake, 'terminate() while connecting: error, then close 1006', async (lib, t) => {
  const server = await t.rawServer();
  const client = t.client(at(server.port));
  t.record(client, 'client', ['open', 'close']);
  client.on('error', (error: Error) => t.note('error', errorShape(error, true)));
  client.terminate();
  t.note('readyState after terminate()', client.readyState);
  await t.wait(client, 'close');
});

compat(handshake, "close() from an 'upgrade' listener: no open", async (lib, t) => {
  const server = await t.rawServer();
  const client = t.client(at(server.port));
  t.record(client, 'client', ['open', 'close']);
  client.on('error', (error: Error) => t.note('error', errorShape(error, true)));
  client.on('upgrade', () => client.close());
  const raw = await server.connection();
  raw.write(switchingProtocols(await raw.readHead()));
  await t.wait(client, 'close');
});

compat(handshake, 'finishRequest(request, websocket): headers set late are sent', async (lib, t) => {
  const server = await t.rawServer();
  const client = t.client(at(server.port), {
    finishRequest: (...args: Loose[]) => {
      const [request, websocket] = args;
      t.note('finishRequest', args.length, request instanceof http.ClientRequest, websocket instanceof lib.WebSocket);
      request.setHeader('X-Late', 'set in finishRequest');
      request.end();
    },
  });
  client.on('error', () => {});
  const raw = await server.connection();
  const head = await raw.readHead();
  t.note('x-late', headerValue(head, 'x-late'));
});

// ---------------------------------------------------------------------------
const redirects = suite('compat: WebSocket client redirects');

/**
 * A node:http server answering upgrades with a redirect to `location(port)`
 * (or accepting them with a ws reference server when `location` is null),
 * noting the headers each request had.
 */
async function hop(
  t: Run,
  name: string,
  location: ((self: number) => string) | null,
  status = 302,
): Promise<http.Server & { port: number }> {
  const server = await t.httpServer();
  const wss = new Ref.WebSocketServer({ noServer: true });
  t.trackServer(wss);
  server.on('upgrade', (req, socket, head) => {
    const seen = (header: string): string | string[] | undefined => {
      const value = req.headers[header];
      return typeof value === 'string' ? value.replace(/:\d+$/, ':<port>') : value;
    };
    t.note(name, req.url, {
      authorization: seen('authorization'),
      cookie: seen('cookie'),
      host: seen('host'),
      'x-custom': seen('x-custom'),
    });
    if (location === null) {
      wss.handleUpgrade(req, socket, head, (ws: Loose) => t.track(ws));
    } else {
      socket.end(`HTTP/1.1 ${status} Moved\r\nLocation: ${location(server.port)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    }
  });
  return server;
}

const credentials = { headers: { Authorization: 'Bearer secret', Cookie: 'session=1', 'X-Custom': 'kept' } };

compat(redirects, 'followRedirects: a redirect to the same origin keeps Authorization and Cookie', async (lib, t) => {
  const server = await t.httpServer();
  const wss = new Ref.WebSocketServer({ noServer: true });
  t.trackServer(wss);
  server.on('upgrade', (req, socket, head) => {
    t.note('request', req.url, req.headers.authorization, req.headers.cookie, req.headers['x-custom']);
    if (req.url === '/first') socket.end('HTTP/1.1 302 Found\r\nLocation: /second\r\nContent-Length: 0\r\n\r\n');
    else wss.handleUpgrade(req, socket, head, (ws: Loose) => t.track(ws));
  });
  const client = t.client(`ws://127.0.0.1:${server.port}/first`, { followRedirects: true, ...credentials });
  t.record(client, 'client', ['open', 'error', 'close']);
  await t.wait(client, 'open');
  t.note('url', client.url.replace(String(server.port), '<port>'));
});

compat(redirects, 'followRedirects: a redirect to another origin drops Authorization, Cookie and Host', async (lib, t) => {
  const target = await hop(t, 'target', null);
  const origin = await hop(t, 'origin', () => `ws://localhost:${target.port}/landed`);
  const client = t.client(`ws://127.0.0.1:${origin.port}/start`, {
    followRedirects: true,
    headers: { ...credentials.headers, Host: 'custom.example' },
  });
  t.record(client, 'client', ['open', 'error', 'close']);
  await t.wait(client, 'open');
  t.note('url', client.url.replace(String(target.port), '<port>'));
});

compat(redirects, 'followRedirects: credentials from the URL are not sent to another origin', async (lib, t) => {
  const target = await hop(t, 'target', null);
  const origin = await hop(t, 'origin', () => `ws://localhost:${target.port}/`);
  const client = t.client(`ws://user:pass@127.0.0.1:${origin.port}/`, { followRedirects: true });
  t.record(client, 'client', ['open', 'error']);
  await t.wait(client, 'open');
});

compat(redirects, "'redirect' event (url, request): with a listener, no header is removed", async (lib, t) => {
  const target = await hop(t, 'target', null);
  const origin = await hop(t, 'origin', () => `ws://localhost:${target.port}/x`);
  const client = t.client(`ws://127.0.0.1:${origin.port}/`, { followRedirects: true, ...credentials });
  client.on('redirect', (...args: Loose[]) => {
    const [url, request] = args;
    t.note(
      'redirect',
      args.length,
      url.replace(String(target.port), '<port>'),
      request instanceof http.ClientRequest,
      request.getHeader('authorization'),
    );
    request.removeHeader('cookie');
  });
  t.record(client, 'client', ['open', 'error']);
  await t.wait(client, 'open');
});

compat(redirects, 'maxRedirects: one redirect too many fails', async (lib, t) => {
  const second = await hop(t, 'second', (self) => `ws://127.0.0.1:${self}/again`);
  const first = await hop(t, 'first', () => `ws://127.0.0.1:${second.port}/`);
  const client = t.client(`ws://127.0.0.1:${first.port}/`, { followRedirects: true, maxRedirects: 1 });
  client.on('error', (error: Error) => t.note('error', errorShape(error, true)));
  t.record(client, 'client', ['open', 'close']);
  await t.wait(client, 'close');
});

compat(redirects, 'without followRedirects a 302 is an unexpected response', async (lib, t) => {
  const target = await hop(t, 'target', null);
  const origin = await hop(t, 'origin', () => `ws://127.0.0.1:${target.port}/`);
  const client = t.client(`ws://127.0.0.1:${origin.port}/`);
  client.on('error', (error: Error) => t.note('error', errorShape(error, true)));
  t.record(client, 'client', ['open', 'close']);
  await t.wait(client, 'close');
});

compat(redirects, 'followRedirects: a redirect to an invalid URL fails with an error event', async (lib, t) => {
  const origin = await hop(t, 'origin', () => 'ftp://127.0.0.1/');
  const client = t.client(`ws://127.0.0.1:${origin.port}/`, { followRedirects: true });
  client.on('error', (error: Error) => t.note('error', errorShape(error, true)));
  t.record(client, 'client', ['open', 'close']);
  await t.wait(client, 'close');
});

// ---------------------------------------------------------------------------
const transports = suite('compat: WebSocket client transports (TLS, agents, IPC, createConnection)');

async function httpsServer(t: Run): Promise<https.Server & { port: number }> {
  const server = https.createServer({ cert, key });
  const wss = new Ref.WebSocketServer({ server });
  t.trackServer(wss);
  wss.on('connection', (ws: Loose, req: Loose) => ws.send(`secure ${req.socket.encrypted === true}`));
  const sockets = new Set<{ destroy(): void }>();
  server.on('connection', (socket) => sockets.add(socket));
  t.defer(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(server, { port: (server.address() as net.AddressInfo).port });
}

async function openAndFirstMessage(t: Run, client: Loose): Promise<void> {
  client.on('error', (error: Error) => t.note('error', errorShape(error)));
  client.on('message', (data: Buffer) => t.note('message', String(data)));
  await Promise.race([t.wait(client, 'message'), t.wait(client, 'close')]);
}

compat(transports, 'wss: with ca (TLS options are passed on)', async (lib, t) => {
  const server = await httpsServer(t);
  await openAndFirstMessage(t, t.client(`wss://127.0.0.1:${server.port}`, { ca: cert }));
});

compat(transports, 'wss: a self-signed certificate is refused by default', async (lib, t) => {
  const server = await httpsServer(t);
  await openAndFirstMessage(t, t.client(`wss://127.0.0.1:${server.port}`));
});

compat(transports, 'wss: rejectUnauthorized: false', async (lib, t) => {
  const server = await httpsServer(t);
  await openAndFirstMessage(t, t.client(`wss://localhost:${server.port}`, { rejectUnauthorized: false }));
});

compat(transports, 'wss: servername and checkServerIdentity are passed on', async (lib, t) => {
  const server = await httpsServer(t);
  const client = t.client(`wss://127.0.0.1:${server.port}`, {
    ca: cert,
    servername: 'localhost',
    checkServerIdentity: (host: string) => {
      t.note('checkServerIdentity', host);
      return undefined;
    },
  });
  await openAndFirstMessage(t, client);
});

compat(transports, 'agent: an https.Agent carries the TLS options', async (lib, t) => {
  const server = await httpsServer(t);
  const agent = new https.Agent({ ca: cert });
  t.defer(() => agent.destroy());
  await openAndFirstMessage(t, t.client(`wss://127.0.0.1:${server.port}`, { agent }));
});

/** An http.Agent that opens each connection through an HTTP CONNECT proxy. */
class TunnelAgent extends http.Agent {
  constructor(private readonly proxyPort: number) {
    super({ keepAlive: false });
  }

  override createConnection(options: Loose, callback: Loose): undefined {
    const request = http.request({
      host: '127.0.0.1',
      port: this.proxyPort,
      method: 'CONNECT',
      path: `${options.host}:${options.port}`,
      agent: false,
    });
    request.on('connect', (_response, socket) => callback(null, socket));
    request.on('error', callback);
    request.end();
    return undefined;
  }
}

compat(transports, 'agent: an HTTP CONNECT proxy (a tunnelling http.Agent)', async (lib, t) => {
  const target = await t.refServer();
  target.on('connection', (ws: Loose) => ws.send('through the tunnel'));
  const proxy = await t.httpServer();
  proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    t.note('proxy CONNECT', req.url?.replace(String(target.address().port), '<port>'));
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
  });
  const agent = new TunnelAgent(proxy.port);
  await openAndFirstMessage(t, t.client(`ws://127.0.0.1:${target.address().port}/`, { agent }));
});

compat(transports, "createConnection: ws's signature (the http.request options) and its socket", async (lib, t) => {
  const server = await t.refServer();
  server.on('connection', (ws: Loose) => ws.send('via createConnection'));
  const port = server.address().port;
  const client = t.client(`ws://127.0.0.1:${port}/p?q`, {
    createConnection: (...args: Loose[]) => {
      const [options] = args;
      t.note('createConnection', typeof options, {
        host: options.host,
        port: String(options.port).replace(String(port), '<port>'),
        path: options.path,
        method: options.method,
        headers: typeof options.headers,
      });
      return net.connect(Number(options.port), options.host);
    },
  });
  await openAndFirstMessage(t, client);
});

compat(transports, 'ws+unix: URLs connect to a UNIX domain socket', async (lib, t) => {
  const socketPath = path.join(os.tmpdir(), `netws-compat-${process.pid}-${lib.name}.sock`);
  const server = http.createServer();
  const wss = new Ref.WebSocketServer({ server });
  t.trackServer(wss);
  wss.on('connection', (ws: Loose, req: Loose) => ws.send(`url ${req.url} host ${req.headers.host}`));
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => sockets.add(socket));
  t.defer(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const client = t.client(`ws+unix:${socketPath}:/chat?room=1`);
  t.note('url', client.url.replace(socketPath, '<path>'));
  await openAndFirstMessage(t, client);
});

// ---------------------------------------------------------------------------
const options = suite('compat: WebSocket client connection options');

/** A client of the library under test connected to a raw server, past the handshake. */
async function rawPeer(t: Run, clientOptions: Record<string, unknown> = {}): Promise<{ client: Loose; raw: RawSocket }> {
  const server = await t.rawServer();
  const client = t.client(at(server.port), clientOptions);
  const raw = await server.connection();
  raw.socket.setNoDelay(true);
  raw.write(switchingProtocols(await raw.readHead()));
  await t.wait(client, 'open');
  return { client, raw };
}

compat(options, 'generateMask: the masking key on the wire is the one it writes', async (lib, t) => {
  let calls = 0;
  const { client, raw } = await rawPeer(t, {
    generateMask: (mask: Buffer) => {
      calls++;
      mask[0] = 1;
      mask[1] = 2;
      mask[2] = 3;
      mask[3] = calls;
    },
  });
  client.send('hello');
  client.send(Buffer.from([1, 2, 3]));
  client.ping('p');
  const frames = await raw.readFrames(3);
  t.note(
    'frames',
    frames.map((frame) => frame.raw.toString('hex')),
  );
  t.note('calls', calls);
});

compat(options, 'generateMask that throws: send() throws it, nothing goes out for that message, the next one is whole', async (lib, t) => {
  let calls = 0;
  const { client, raw } = await rawPeer(t, {
    generateMask: (mask: Buffer) => {
      if (++calls === 2) throw new Error('no key');
      mask.fill(calls);
    },
  });
  client.send('first');
  try {
    client.send('second');
    t.note('second', 'sent');
  } catch (error) {
    t.note('second threw', (error as Error).message);
  }
  client.send('third');
  const frames = await raw.readFrames(2);
  t.note(
    'frames',
    frames.map((frame) => frame.raw.toString('hex')),
  );
});

compat(options, 'generateMask filling zeros: the payload goes unmasked under a zero key', async (lib, t) => {
  const { client, raw } = await rawPeer(t, { generateMask: (mask: Buffer) => mask.fill(0) });
  client.send('plain');
  const [frame] = await raw.readFrames(1);
  t.note('frame', frame.raw.toString('hex'));
});

compat(options, 'maxPayload: a larger message from the server fails with 1009', async (lib, t) => {
  const { client, raw } = await rawPeer(t, { maxPayload: 4 });
  t.record(client, 'client', ['message', 'error']);
  raw.write(encodeFrame({ opcode: OP.text, payload: '1234', mask: null }));
  raw.write(encodeFrame({ opcode: OP.text, payload: '12345', mask: null }));
  const [frame] = await raw.readFrames(1);
  t.note('client sent', describeFrame(frame));
});

compat(options, 'maxPayload: 0 means no limit', async (lib, t) => {
  const { client, raw } = await rawPeer(t, { maxPayload: 0 });
  t.record(client, 'client', ['message', 'error']);
  raw.write(encodeFrame({ opcode: OP.binary, payload: Buffer.alloc(100_000), mask: null }));
  await t.wait(client, 'message');
});

compat(options, 'skipUTF8Validation: invalid UTF-8 from the server is delivered', async (lib, t) => {
  const { client, raw } = await rawPeer(t, { skipUTF8Validation: true });
  t.record(client, 'client', ['message', 'error']);
  raw.write(encodeFrame({ opcode: OP.text, payload: Buffer.from([0xc3]), mask: null }));
  await Promise.race([t.wait(client, 'message'), t.wait(client, 'error')]);
});

compat(options, 'autoPong: false: the client does not answer pings', async (lib, t) => {
  const { client, raw } = await rawPeer(t, { autoPong: false });
  t.record(client, 'client', ['ping']);
  client.on('message', () => client.send('reply'));
  raw.write(
    Buffer.concat([
      encodeFrame({ opcode: OP.ping, payload: 'p', mask: null }),
      encodeFrame({ opcode: OP.text, payload: 'go', mask: null }),
    ]),
  );
  const [frame] = await raw.readFrames(1);
  t.note('first frame from the client', describeFrame(frame));
});

compat(options, 'allowSynchronousEvents: false on the client', async (lib, t) => {
  const { client, raw } = await rawPeer(t, { allowSynchronousEvents: false });
  client.on('message', (data: Buffer) => {
    t.note('message', String(data));
    queueMicrotask(() => t.note('microtask after', String(data)));
  });
  raw.write(
    Buffer.concat([encodeFrame({ opcode: OP.text, payload: '1', mask: null }), encodeFrame({ opcode: OP.text, payload: '2', mask: null })]),
  );
  await t.until(() => t.log.length >= 4, 1000, 'two messages and their microtasks');
});

compat(options, 'closeTimeout: the client destroys the socket when the server does not answer close()', async (lib, t) => {
  const { client, raw } = await rawPeer(t, { closeTimeout: 100 });
  const start = Date.now();
  client.close(1000);
  const [code] = await t.wait(client, 'close', 1500);
  t.note('close', code, 'after about closeTimeout', Date.now() - start >= 80 && Date.now() - start < 1000);
  t.note(
    'frames',
    raw.takeFrames().map((frame) => describeFrame(frame)),
  );
});

compat(options, 'maxFragments on the client', async (lib, t) => {
  const { client, raw } = await rawPeer(t, { maxFragments: 1 });
  t.record(client, 'client', ['message', 'error']);
  raw.write(
    Buffer.concat([
      encodeFrame({ opcode: OP.text, payload: 'a', fin: false, mask: null }),
      encodeFrame({ opcode: OP.cont, payload: 'b', mask: null }),
    ]),
  );
  const [frame] = await raw.readFrames(1);
  t.note('client sent', describeFrame(frame));
});

compat(options, 'a masked frame from the server fails the connection', async (lib, t) => {
  const { client, raw } = await rawPeer(t);
  t.record(client, 'client', ['message', 'error']);
  raw.write(textFrame('masked'));
  const [frame] = await raw.readFrames(1);
  t.note('client sent', describeFrame(frame));
});

for (const s of [constructing, handshake, redirects, transports, options]) s.run();
