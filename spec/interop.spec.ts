/** netws against ws 8 in both directions, over loopback. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer } from '../src/index.ts';
import { portOf, waitFor } from './helpers.ts';
import { WebSocket as WsWebSocket, WebSocketServer as WsServer } from './real-ws.ts';

const payloads: Array<[string, string | Buffer]> = [
  ['text', 'héllo wörld ✓ 😀'],
  ['binary', Buffer.from([0, 1, 2, 253, 254, 255])],
  ['empty text', ''],
  ['empty binary', Buffer.alloc(0)],
  ['16 MiB binary', Buffer.alloc(16 * 1024 * 1024, 0xab)],
];

const asServer = suite('interop: ws client → netws server');
let server: WebSocketServer;
asServer.before(async () => {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  server.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('ping', () => {});
  });
  await waitFor(server, 'listening');
});
asServer.after(async () => {
  for (const ws of server.clients) ws.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

for (const [name, payload] of payloads) {
  asServer(`${name} echoes back intact`, async () => {
    const ws = new WsWebSocket(`ws://127.0.0.1:${portOf(server)}`);
    await waitFor(ws, 'open');
    ws.send(payload);
    const [data, isBinary] = await waitFor<[Buffer, boolean]>(ws, 'message', 20_000);
    assert.is(isBinary, typeof payload !== 'string');
    assert.ok(Buffer.from(data).equals(Buffer.from(payload)));
    ws.close();
    await waitFor(ws, 'close');
  });
}

asServer('fragmented message from ws, ping/pong, close code and reason', async () => {
  const ws = new WsWebSocket(`ws://127.0.0.1:${portOf(server)}`);
  await waitFor(ws, 'open');
  ws.send('frag', { fin: false });
  ws.send('mented', { fin: true });
  const [data] = await waitFor<[Buffer]>(ws, 'message');
  assert.is(data.toString(), 'fragmented');
  const pong = waitFor<[Buffer]>(ws, 'pong');
  ws.ping('p');
  assert.is((await pong)[0].toString(), 'p');
  const closed = waitFor<[number, Buffer]>(ws, 'close');
  ws.close(4321, 'ws says bye');
  const [code, reason] = await closed;
  assert.equal([code, reason.toString()], [4321, 'ws says bye']);
});

asServer('netws server closes: ws sees the code and reason', async () => {
  const serverSide = waitFor<[WebSocket]>(server, 'connection');
  const ws = new WsWebSocket(`ws://127.0.0.1:${portOf(server)}`);
  await waitFor(ws, 'open');
  const [peer] = await serverSide;
  const closed = waitFor<[number, Buffer]>(ws, 'close');
  peer.close(1001, 'server going away');
  const [code, reason] = await closed;
  assert.equal([code, reason.toString()], [1001, 'server going away']);
});

asServer('ws terminate(): netws reports 1006', async () => {
  const serverSide = waitFor<[WebSocket]>(server, 'connection');
  const ws = new WsWebSocket(`ws://127.0.0.1:${portOf(server)}`);
  await waitFor(ws, 'open');
  const [peer] = await serverSide;
  const closed = waitFor<[number, Buffer, boolean]>(peer, 'close');
  ws.terminate();
  const [code, , wasClean] = await closed;
  assert.is(code, 1006);
  assert.not.ok(wasClean);
});

const asClient = suite('interop: netws client → ws server');
let wsServer: WsServer;
asClient.before(async () => {
  wsServer = new WsServer({ port: 0, host: '127.0.0.1', maxPayload: 64 * 1024 * 1024 });
  wsServer.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await waitFor(wsServer, 'listening');
});
asClient.after(async () => {
  for (const ws of wsServer.clients) ws.terminate();
  await new Promise<void>((resolve) => wsServer.close(() => resolve()));
});

for (const [name, payload] of payloads) {
  asClient(`${name} echoes back intact`, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${portOf(wsServer)}`);
    await waitFor(ws, 'open');
    ws.send(payload);
    const [data, isBinary] = await waitFor<[Buffer, boolean]>(ws, 'message', 20_000);
    assert.is(isBinary, typeof payload !== 'string');
    assert.ok(data.equals(Buffer.from(payload)));
    ws.close();
    await waitFor(ws, 'close');
  });
}

asClient('fragmented message to ws, ping/pong, close code and reason, subprotocol', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wsServer)}`, ['v2', 'v1']);
  await waitFor(ws, 'open');
  assert.is(ws.protocol, 'v2');
  ws.send(Buffer.from('frag'), { fin: false });
  ws.send(Buffer.from('mented'), { fin: true });
  const [data, isBinary] = await waitFor<[Buffer, boolean]>(ws, 'message');
  assert.is(data.toString(), 'fragmented');
  assert.ok(isBinary);
  const pong = waitFor<[Buffer]>(ws, 'pong');
  ws.ping('p');
  assert.is((await pong)[0].toString(), 'p');
  const closed = waitFor<[number, Buffer, boolean]>(ws, 'close');
  ws.close(4000, 'netws says bye');
  const [code, reason, wasClean] = await closed;
  assert.equal([code, reason.toString(), wasClean], [4000, 'netws says bye', true]);
});

asClient('ws server closes and terminates: netws sees 1000 clean, then 1006', async () => {
  const serverSide = waitFor<[WsWebSocket]>(wsServer, 'connection');
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wsServer)}`);
  await waitFor(ws, 'open');
  const [peer] = await serverSide;
  const closed = waitFor<[number, Buffer, boolean]>(ws, 'close');
  peer.close(1000, 'done');
  const [code, reason, wasClean] = await closed;
  assert.equal([code, reason.toString(), wasClean], [1000, 'done', true]);

  const nextSide = waitFor<[WsWebSocket]>(wsServer, 'connection');
  const other = new WebSocket(`ws://127.0.0.1:${portOf(wsServer)}`);
  await waitFor(other, 'open');
  const [otherPeer] = await nextSide;
  const dropped = waitFor<[number]>(other, 'close');
  otherPeer.terminate();
  assert.is((await dropped)[0], 1006);
});

// permessage-deflate both ways, at every window size both ends can be asked for.
const deflate = suite('interop: permessage-deflate with ws');

const deflatePayloads: Array<string | Buffer> = [
  '',
  'short',
  JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: i, name: `user${i % 13}`, online: i % 3 === 0 }))),
  Buffer.alloc(300_000, 'abcdefghij'),
];

async function echoAll(ws: {
  send(data: string | Buffer): void;
  once(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown;
}): Promise<void> {
  for (const payload of deflatePayloads) {
    const reply = new Promise<[Buffer, boolean]>((resolve) =>
      ws.once('message', (data, isBinary) => resolve([Buffer.from(data), isBinary])),
    );
    ws.send(payload);
    const [data, isBinary] = await reply;
    assert.is(isBinary, typeof payload !== 'string');
    assert.ok(data.equals(Buffer.from(payload)));
  }
}

for (let bits = 8; bits <= 15; bits++) {
  deflate(`netws client → ws server, ${bits}-bit windows both ways`, async () => {
    const wss = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    wss.on('connection', (peer) => peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary })));
    await waitFor(wss, 'listening');
    const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`, {
      perMessageDeflate: { serverMaxWindowBits: bits, clientMaxWindowBits: bits, threshold: 0 },
    });
    await waitFor(ws, 'open');
    assert.match(ws.extensions, `server_max_window_bits=${bits}`);
    assert.match(ws.extensions, `client_max_window_bits=${bits}`);
    await echoAll(ws);
    ws.close();
    await waitFor(ws, 'close');
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  deflate(`ws client → netws server, ${bits}-bit windows both ways`, async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    server.on('connection', (peer) => peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary })));
    await waitFor(server, 'listening');
    const ws = new WsWebSocket(`ws://127.0.0.1:${portOf(server)}`, {
      perMessageDeflate: { serverMaxWindowBits: bits, clientMaxWindowBits: bits, threshold: 0 },
    });
    const opened = waitFor(ws, 'open');
    const [response] = await waitFor<[{ headers: Record<string, string> }]>(ws, 'upgrade');
    assert.is(
      response.headers['sec-websocket-extensions'],
      `permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=${bits}; client_max_window_bits=${bits}`,
    );
    await opened;
    await echoAll(ws);
    ws.close();
    await waitFor(ws, 'close');
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

deflate('no context takeover both ways, each side asking', async () => {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { clientNoContextTakeover: true, threshold: 0 } });
  server.on('connection', (peer) => peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary })));
  await waitFor(server, 'listening');
  const ws = new WsWebSocket(`ws://127.0.0.1:${portOf(server)}`, { perMessageDeflate: { serverNoContextTakeover: true, threshold: 0 } });
  const opened = waitFor(ws, 'open');
  const [response] = await waitFor<[{ headers: Record<string, string> }]>(ws, 'upgrade');
  assert.is(response.headers['sec-websocket-extensions'], 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  await opened;
  await echoAll(ws);
  ws.close();
  await waitFor(ws, 'close');
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

asServer.run();
asClient.run();
deflate.run();
