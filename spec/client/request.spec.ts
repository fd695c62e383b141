/** The client's request (its header fields) and the transports it runs over: http.request's options passed through. */

import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Duplex } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer } from '../../src/index.ts';
import { portOf, sleep, waitFor } from '../helpers.ts';
import { headerValue, headerValues, rawPeer, type RequestHead } from './peer.ts';

const cert = readFileSync(new URL('../fixtures/cert.pem', import.meta.url));
const key = readFileSync(new URL('../fixtures/key.pem', import.meta.url));

const request = suite('client request');

/** The request head a client with these arguments sends. */
async function requestOf(url: (port: number) => string, ...rest: unknown[]): Promise<{ head: RequestHead; port: number }> {
  const peer = await rawPeer((_head, socket) => socket.destroy());
  const ws = new (WebSocket as unknown as new (...args: unknown[]) => WebSocket)(url(peer.port), ...rest);
  ws.on('error', () => {});
  await waitFor(ws, 'close');
  await peer.close();
  return { head: peer.heads[0], port: peer.port };
}

const at = (port: number): string => `ws://127.0.0.1:${port}`;

request('the request: path and query, Host, the upgrade fields, subprotocols joined with ",", Origin, custom headers', async () => {
  const { head, port } = await requestOf((p) => `${at(p)}/a/b?c=d`, ['chat', 'json'], {
    origin: 'https://app.example',
    headers: { 'X-Custom': 'yes', 'X-Number': 42 },
    perMessageDeflate: false,
  });
  assert.is(head.start, 'GET /a/b?c=d HTTP/1.1');
  assert.equal(headerValues(head, 'host'), [`127.0.0.1:${port}`]);
  assert.is(headerValue(head, 'upgrade'), 'websocket');
  assert.is(headerValue(head, 'connection'), 'Upgrade');
  assert.is(headerValue(head, 'sec-websocket-version'), '13');
  assert.match(head.key, /^[A-Za-z0-9+/]{22}==$/);
  assert.is(headerValue(head, 'sec-websocket-protocol'), 'chat,json');
  assert.is(headerValue(head, 'origin'), 'https://app.example');
  assert.is(headerValue(head, 'x-custom'), 'yes');
  assert.is(headerValue(head, 'x-number'), '42');
  assert.is(headerValue(head, 'sec-websocket-extensions'), undefined);
});

request('headers: an array value is sent as repeated lines', async () => {
  const { head } = await requestOf(at, { headers: { 'X-Multi': ['a', 'b'] } });
  assert.equal(headerValues(head, 'x-multi'), ['a', 'b']);
});

request('headers: Host (in any case) replaces the generated Host: never two Host lines', async () => {
  for (const name of ['Host', 'host', 'HOST']) {
    const { head } = await requestOf(at, { headers: { [name]: 'front.example:8443' } });
    assert.equal(headerValues(head, 'host'), ['front.example:8443'], name);
  }
});

request("headers: the handshake's own fields win over the user's (as in ws)", async () => {
  const { head } = await requestOf(at, {
    headers: { 'sec-websocket-key': 'x', 'Sec-WebSocket-Version': '99', upgrade: 'h2c', Connection: 'close' },
  });
  assert.equal(headerValues(head, 'sec-websocket-version'), ['13']);
  assert.equal(headerValues(head, 'upgrade'), ['websocket']);
  assert.equal(headerValues(head, 'connection'), ['Upgrade']);
  assert.equal(headerValues(head, 'sec-websocket-key').length, 1);
  assert.is.not(head.key, 'x');
});

request('origin: empty means none (as in ws)', async () => {
  const { head } = await requestOf(at, { origin: '' });
  assert.is(headerValue(head, 'origin'), undefined);
});

request('protocolVersion 8: Sec-WebSocket-Version 8 and Sec-WebSocket-Origin; a netws server accepts it', async () => {
  const { head } = await requestOf(at, { protocolVersion: 8, origin: 'https://app.example' });
  assert.is(headerValue(head, 'sec-websocket-version'), '8');
  assert.is(headerValue(head, 'sec-websocket-origin'), 'https://app.example');
  assert.is(headerValue(head, 'origin'), undefined);
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await waitFor(wss, 'listening');
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`, { protocolVersion: 8 });
  await waitFor(ws, 'open');
  ws.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

request(
  'credentials: from the URL (percent-decoded) or the auth option, as Authorization: Basic; an Authorization header wins',
  async () => {
    const fromUrl = await requestOf((p) => `ws://us%40er:p%3Ass@127.0.0.1:${p}/`);
    assert.is(headerValue(fromUrl.head, 'authorization'), `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
    const fromAuth = await requestOf(at, { auth: 'user:secret' });
    assert.is(headerValue(fromAuth.head, 'authorization'), `Basic ${Buffer.from('user:secret').toString('base64')}`);
    const header = await requestOf((p) => `ws://u:p@127.0.0.1:${p}/`, { headers: { authorization: 'Bearer t' }, auth: 'a:b' });
    assert.equal(headerValues(header.head, 'authorization'), ['Bearer t']);
    assert.is(new WebSocket('ws://u:p@127.0.0.1:1/').url, 'ws://u:p@127.0.0.1:1/');
  },
);

// ---------------------------------------------------------------- transports

const transport = suite('client transports');

/** A wss: server (node:https + netws) sending 'secure <encrypted>' to each client. */
async function secureServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = https.createServer({ cert, key });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => ws.send(`secure ${(req.socket as { encrypted?: boolean }).encrypted === true}`));
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  return {
    port: portOf(server),
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function firstMessage(ws: WebSocket): Promise<string> {
  const [data] = await waitFor<[Buffer]>(ws, 'message');
  ws.terminate();
  await waitFor(ws, 'close');
  return String(data);
}

transport('wss: TLS options (ca, servername) are passed on; an untrusted certificate fails', async () => {
  const server = await secureServer();
  assert.is(await firstMessage(new WebSocket(`wss://localhost:${server.port}`, { ca: cert })), 'secure true');
  assert.is(await firstMessage(new WebSocket(`wss://127.0.0.1:${server.port}`, { ca: cert, servername: 'localhost' })), 'secure true');
  const untrusted = new WebSocket(`wss://127.0.0.1:${server.port}`);
  const [error] = await waitFor<[NodeJS.ErrnoException]>(untrusted, 'error');
  assert.match(String(error.code), /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
  await server.close();
});

transport('agent: an https.Agent carries the TLS options', async () => {
  const server = await secureServer();
  const agent = new https.Agent({ ca: cert });
  assert.is(await firstMessage(new WebSocket(`wss://127.0.0.1:${server.port}`, { agent, servername: 'localhost' })), 'secure true');
  agent.destroy();
  await server.close();
});

/** An http.Agent that opens every connection through an HTTP CONNECT proxy. */
class TunnelAgent extends http.Agent {
  constructor(private readonly proxyPort: number) {
    super({ keepAlive: false });
  }

  override createConnection(options: http.ClientRequestArgs, callback: (error: Error | null, socket?: Duplex) => void): undefined {
    const connect = http.request({
      host: '127.0.0.1',
      port: this.proxyPort,
      method: 'CONNECT',
      path: `${options.host}:${options.port}`,
      agent: false,
    });
    connect.on('connect', (_response, socket) => callback(null, socket));
    connect.on('error', callback);
    connect.end();
    return undefined;
  }
}

transport('agent: through a real HTTP CONNECT proxy (node:http), with a tunnelling Agent', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await waitFor(wss, 'listening');
  wss.on('connection', (ws) => ws.send('through the tunnel'));
  const connects: string[] = [];
  const proxy = http.createServer();
  const tunnels = new Set<net.Socket>();
  proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    connects.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    tunnels.add(upstream).add(socket);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  proxy.listen(0, '127.0.0.1');
  await waitFor(proxy, 'listening');
  const agent = new TunnelAgent(portOf(proxy));
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}/`, { agent });
  assert.is(await firstMessage(ws), 'through the tunnel');
  assert.equal(connects, [`127.0.0.1:${portOf(wss)}`]);
  for (const socket of tunnels) socket.destroy();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
});

transport("createConnection: http.request's signature (the request options, a callback), any Duplex", async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await waitFor(wss, 'listening');
  wss.on('connection', (ws) => ws.send('via createConnection'));
  const seen: Array<Record<string, unknown>> = [];
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}/p?q`, {
    ca: cert,
    createConnection: (options, oncreate) => {
      seen.push({
        host: options.host,
        port: Number(options.port),
        method: options.method,
        ca: (options as { ca?: unknown }).ca === cert,
        oncreate: typeof oncreate,
      });
      return net.connect(Number(options.port), options.host!);
    },
  });
  assert.is(await firstMessage(ws), 'via createConnection');
  assert.equal(seen, [{ host: '127.0.0.1', port: portOf(wss), method: 'GET', ca: true, oncreate: 'function' }]);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

transport('createConnection: the client runs over an in-memory Duplex', async () => {
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
      wss.emit('connection', ws, { headers } as never),
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

transport('lookup, family and localAddress reach the connection (http.request options)', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await waitFor(wss, 'listening');
  const remote: string[] = [];
  wss.on('connection', (ws, req) => {
    remote.push(String((req.socket as net.Socket).remoteAddress));
    ws.send('ok');
  });
  const looked: Array<[string, unknown]> = [];
  const ws = new WebSocket(`ws://netws.invalid:${portOf(wss)}/`, {
    family: 4,
    localAddress: '127.0.0.1',
    lookup: ((hostname: string, options: { all?: boolean; family?: number }, callback: (...args: unknown[]) => void) => {
      looked.push([hostname, options.family]);
      if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    }) as unknown as net.LookupFunction,
  });
  assert.is(await firstMessage(ws), 'ok');
  assert.equal(looked, [['netws.invalid', 4]]);
  assert.equal(remote, ['127.0.0.1']);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

transport('ws+unix: a UNIX domain socket (ws+unix:/path/to/sock:/request/path) to netws behind node:http', async () => {
  const socketPath = path.join(os.tmpdir(), `netws-client-${process.pid}.sock`);
  rmSync(socketPath, { force: true });
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => ws.send(`${req.url} ${req.headers.host}`));
  server.listen(socketPath);
  await waitFor(server, 'listening');
  const ws = new WebSocket(`ws+unix:${socketPath}:/chat?room=1`);
  assert.is(ws.url, `ws+unix:${socketPath}:/chat?room=1`);
  assert.is(await firstMessage(ws), '/chat?room=1 localhost');
  // Without a request path, '/' (node:http's default).
  assert.is(await firstMessage(new WebSocket(`ws+unix:${socketPath}`)), '/ localhost');
  server.closeAllConnections();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

transport('any other http.request option is passed through: an AbortSignal (signal) aborts the handshake', async () => {
  const peer = await rawPeer();
  const controller = new AbortController();
  const ws = new WebSocket(`ws://127.0.0.1:${peer.port}`, { signal: controller.signal });
  const closed = waitFor<[number]>(ws, 'close');
  const error = waitFor<[Error]>(ws, 'error');
  for (let i = 0; i < 100 && peer.heads.length === 0; i++) await sleep(5); // the request is out
  assert.is(peer.heads.length, 1);
  controller.abort();
  assert.is((await error)[0].name, 'AbortError');
  assert.is((await closed)[0], 1006);
  await peer.close();
});

transport('node:http checks the options it owns: a bad agent throws a TypeError at construction', () => {
  assert.throws(
    () => new WebSocket('ws://127.0.0.1:1', { agent: 'pool' as unknown as http.Agent }),
    (error: unknown) => error instanceof TypeError && /agent/.test((error as Error).message),
  );
});

request.run();
transport.run();
