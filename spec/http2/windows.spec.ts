/**
 * HTTP/2 windows that fit WebSockets (src/http2/windows.ts): the sessions
 * netws opens and the server sessions it accepts WebSockets on get 1 MiB
 * stream windows and a 1 MiB connection window; the user's own settings
 * stand; with the wider windows a WebSocket that is not read still holds
 * only one stream window of its session, in either direction; and
 * WebSockets of one session sending at once both ways do not stall it.
 */

import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WEBSOCKET_SESSION_WINDOW, WEBSOCKET_STREAM_WINDOW } from '../../src/http2/windows.ts';
import { WebSocket, type RawData } from '../../src/index.ts';
import { sleep, waitFor } from '../helpers.ts';
import { except } from '../runtime.ts';
import { cert, h2Server, h2Session, type Http2Fixture } from './peer.ts';

const windows = suite('http2: flow-control windows for WebSockets');

/**
 * Bun 1.4.5's node:http2 keeps windows its own way (oven-sh/bun#40180, #41942): setLocalWindowSize() raises the
 * stream windows instead of the connection window, and session.state.localWindowSize reports the SETTINGS value.
 * The windows these tests read differ there, and a WebSocket that is not read was not held to one stream window
 * (seen on Bun 1.4.5; that this is the same cause is inferred, not isolated).
 */
const onNghttp2Windows = except(windows, {
  bun: "Bun 1.4.5's setLocalWindowSize() sizes stream windows, not the connection window, and session.state reports the SETTINGS value (oven-sh/bun#40180, oven-sh/bun#41942)",
});

/** Until `check` holds (a SETTINGS frame needs its round trip), within 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(5);
  }
}

/** A server that echoes, and floods on `flood N`; its WebSockets by the id in their URL. */
async function floodServer(serverOptions: http2.SecureServerOptions = {}): Promise<{
  fixture: Http2Fixture;
  servers: Map<string, WebSocket>;
  streams: Map<string, http2.ServerHttp2Stream>;
}> {
  const fixture = await h2Server({}, serverOptions);
  const servers = new Map<string, WebSocket>();
  const streams = new Map<string, http2.ServerHttp2Stream>();
  fixture.wss.on('connection', (ws, req) => {
    const id = new URL(req.url!, 'https://x').searchParams.get('id')!;
    servers.set(id, ws);
    // An HTTP/2 WebSocket's request is node's Http2ServerRequest: its stream is public.
    streams.set(id, (req as unknown as http2.Http2ServerRequest).stream);
    ws.on('message', (data, isBinary) => {
      const command = isBinary ? null : /^flood (\d+)$/.exec(data.toString());
      if (command === null) {
        ws.send(data, { binary: isBinary });
        return;
      }
      const chunk = Buffer.alloc(64 * 1024, 7);
      for (let sent = 0; sent < Number(command[1]); sent += chunk.length) ws.send(chunk);
    });
  });
  return { fixture, servers, streams };
}

async function echo(ws: WebSocket, text: string): Promise<string> {
  const reply = waitFor<[RawData]>(ws, 'message');
  ws.send(text);
  return String((await reply)[0]);
}

onNghttp2Windows('a session netws opens (http2: true) and the server session it accepts on both get the WebSocket windows', async () => {
  const { fixture } = await floodServer();
  const ws = new WebSocket(`wss://localhost:${fixture.port}/?id=a`, { http2: true, ca: cert });
  try {
    await waitFor(ws, 'open');
    const [session] = fixture.sessions;
    // The client's SETTINGS, as the server received them, and the server's own, once acknowledged.
    assert.is(session.remoteSettings.initialWindowSize, WEBSOCKET_STREAM_WINDOW);
    await until(() => session.localSettings.initialWindowSize === WEBSOCKET_STREAM_WINDOW, 'server SETTINGS applied');
    assert.ok(session.state.localWindowSize! > WEBSOCKET_SESSION_WINDOW - 64 * 1024, `server window ${session.state.localWindowSize}`);
    assert.is(session.state.remoteWindowSize! > 65_535, true, 'the client widened its connection window');
    assert.is(await echo(ws, 'hi'), 'hi');
  } finally {
    ws.terminate();
    await fixture.close();
  }
});

onNghttp2Windows("the user's own settings stand: a session the user hands over, a server with its own initialWindowSize", async () => {
  const { fixture } = await floodServer({ settings: { initialWindowSize: 100_000 } });
  const session = await h2Session(fixture.port);
  const ws = new WebSocket(`wss://localhost:${fixture.port}/?id=a`, { http2: session });
  try {
    await waitFor(ws, 'open');
    assert.is(await echo(ws, 'hi'), 'hi');
    assert.is(session.localSettings.initialWindowSize, 65_535);
    assert.ok(session.state.localWindowSize! <= 65_535, `client window ${session.state.localWindowSize}`);
    assert.is(fixture.sessions[0].localSettings.initialWindowSize, 100_000);
    assert.ok(fixture.sessions[0].state.localWindowSize! <= 65_535, `server window ${fixture.sessions[0].state.localWindowSize}`);
    assert.is(session.remoteSettings.initialWindowSize, 100_000);
  } finally {
    ws.terminate();
    session.close();
    await fixture.close();
  }
});

onNghttp2Windows('a client WebSocket that is not read holds one stream window; its session-mates echo on', async () => {
  const { fixture, servers } = await floodServer();
  const slow = new WebSocket(`wss://localhost:${fixture.port}/?id=slow`, { http2: true, ca: cert });
  const other = new WebSocket(`wss://localhost:${fixture.port}/?id=other`, { http2: true, ca: cert });
  try {
    await Promise.all([waitFor(slow, 'open'), waitFor(other, 'open')]);
    assert.is(fixture.sessions.length, 1, 'one shared session');
    slow.pause();
    const flood = 8 * 1024 * 1024;
    slow.send(`flood ${flood}`);
    const sender = servers.get('slow')!;
    await until(() => sender.bufferedAmount > 0, 'the flood started');
    for (let i = 0; i < 20; i++) assert.is(await echo(other, `m${i}`), `m${i}`);
    // All but one stream window (and what is in flight on the wire) still waits on the server.
    assert.ok(sender.bufferedAmount >= flood - 2 * WEBSOCKET_STREAM_WINDOW, `server still holds ${sender.bufferedAmount}`);
    let received = 0;
    slow.on('message', (data) => (received += (data as Buffer).length));
    slow.resume();
    await until(() => received === flood, 'the flood arrived whole');
  } finally {
    slow.terminate();
    other.terminate();
    await fixture.close();
  }
});

onNghttp2Windows('a server WebSocket that is not read holds one stream window; the other streams of its session flow on', async () => {
  const { fixture, servers, streams } = await floodServer();
  const slow = new WebSocket(`wss://localhost:${fixture.port}/?id=slow`, { http2: true, ca: cert });
  const other = new WebSocket(`wss://localhost:${fixture.port}/?id=other`, { http2: true, ca: cert });
  try {
    await Promise.all([waitFor(slow, 'open'), waitFor(other, 'open')]);
    const paused = servers.get('slow')!;
    paused.pause();
    await until(() => fixture.sessions[0].localSettings.initialWindowSize === WEBSOCKET_STREAM_WINDOW, 'server SETTINGS applied');
    const flood = 8 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 3);
    for (let sent = 0; sent < flood; sent += chunk.length) slow.send(chunk);
    const stream = streams.get('slow')!;
    // The client used up the stream's window, and stopped there.
    await until(() => stream.state.localWindowSize === 0, 'the stream window is used up');
    for (let i = 0; i < 20; i++) assert.is(await echo(other, `m${i}`), `m${i}`);
    assert.is(stream.state.localWindowSize, 0);
    // What the server holds unread for it: one stream window.
    assert.ok(stream.readableLength <= WEBSOCKET_STREAM_WINDOW, `server holds ${stream.readableLength}`);
    assert.ok(slow.bufferedAmount >= flood - WEBSOCKET_STREAM_WINDOW, `client still holds ${slow.bufferedAmount}`);
    let received = 0;
    paused.on('message', (data) => (received += (data as Buffer).length));
    paused.resume();
    await until(() => received === flood, 'the flood arrived whole');
  } finally {
    slow.terminate();
    other.terminate();
    await fixture.close();
  }
});

windows('WebSockets of one session sending 1 MiB each way at once all arrive: the session does not stall', async () => {
  // node:http2 stops reading while its own write waits: with more in flight each way than the TCP buffers hold, both
  // ends wait on each other for good. With a 16 MiB session window this stalled after a few messages each way.
  const fixture = await h2Server();
  const sockets: Socket[] = [];
  fixture.server.on('secureConnection', (socket: Socket) => sockets.push(socket));
  const count = 8;
  const message = Buffer.alloc(128 * 1024, 5);
  const servers: WebSocket[] = [];
  let toServers = 0;
  let toClients = 0;
  fixture.wss.on('connection', (ws) => {
    servers.push(ws);
    ws.on('message', () => toServers++);
  });
  const clients = Array.from({ length: count }, () => new WebSocket(`wss://localhost:${fixture.port}/`, { http2: true, ca: cert }));
  try {
    await Promise.all(clients.map((ws) => waitFor(ws, 'open')));
    await until(() => servers.length === count, 'every server side open');
    assert.is(fixture.sessions.length, 1, 'one shared session');
    for (const ws of clients) ws.on('message', () => toClients++);
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < count; k++) {
        clients[k].send(message);
        servers[k].send(message);
      }
    }
    const want = count * count;
    const deadline = Date.now() + 15_000;
    while ((toServers < want || toClients < want) && Date.now() < deadline) await sleep(20);
    assert.equal({ toServers, toClients }, { toServers: want, toClients: want });
  } finally {
    // A stalled session reads nothing more, not even a close, and its writes never end: its sockets are destroyed here.
    const session = (clients[0]._socket as http2.ClientHttp2Stream | null)?.session;
    for (const ws of clients) ws.terminate();
    session?.destroy();
    for (const socket of sockets) socket.destroy();
    await fixture.close();
  }
});

windows.run();
