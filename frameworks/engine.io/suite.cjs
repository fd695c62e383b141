'use strict';
/**
 * engine.io and Socket.IO over the `ws` this project resolves: the real ws in
 * one run, netws (npm `overrides`) in the other, on both ends (engine.io's
 * server creates `new (require('ws').Server)(...)`, engine.io-client in node
 * opens `new (require('ws'))(...)`). Under the options deployments use:
 * maxHttpBufferSize 1e6, 1e8 and 1e10 (passed through as ws's maxPayload),
 * permessage-deflate, websocket-only transports and the polling→websocket
 * upgrade, rooms, acknowledgements and binary payloads. The runner compares
 * each case's notes between the two runs.
 *
 * engine.io's npm tarball does not ship its test suite, so this is a focused
 * differential suite instead.
 */

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const engine = require('engine.io');
const { Socket: EngineClient } = require('engine.io-client');
const { Server: IoServer } = require('socket.io');
const { io: ioClient } = require('socket.io-client');
const { run } = require('./harness.cjs');

/** 'ws' or 'netws': the package that wsEngine is taken from explicitly in one case. */
const lib = process.env.NETWS_FRAMEWORKS_LIB ?? 'ws';

/** Bytes with a pattern (compressible, and a mismatch shows in the hash). */
function pattern(size, seed = 7) {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * seed + (i >> 8)) & 0xff;
  return bytes;
}

function deflateNegotiated(websocket) {
  // ws reports the extension names, netws the negotiated header value (a declared difference).
  return /permessage-deflate/.test(String(websocket?.extensions ?? ''));
}

async function httpServer(t) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.defer(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { server, url: `http://127.0.0.1:${server.address().port}`, wsUrl: `ws://127.0.0.1:${server.address().port}` };
}

async function engineServer(t, options) {
  const { server, wsUrl } = await httpServer(t);
  const eio = engine.attach(server, options);
  t.defer(() => eio.close());
  return { eio, wsUrl };
}

function engineClient(t, url, options) {
  const client = new EngineClient(url, options);
  t.defer(() => client.close());
  return client;
}

/** The next message of an engine.io socket (server or client). */
function nextMessage(t, socket) {
  return t.event(socket, 'message').then(([data]) => data);
}

function echoOnConnection(eio) {
  eio.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
}

function engineEchoCase(maxHttpBufferSize, bigMessage) {
  return {
    name: `engine.io, websocket only, maxHttpBufferSize ${maxHttpBufferSize}, perMessageDeflate: text, binary, a ${bigMessage} byte message echoed, then closed`,
    body: async (t) => {
      const { eio, wsUrl } = await engineServer(t, {
        transports: ['websocket'],
        maxHttpBufferSize,
        perMessageDeflate: { threshold: 0 },
      });
      echoOnConnection(eio);
      const connected = t.event(eio, 'connection');
      const client = engineClient(t, wsUrl, { transports: ['websocket'], perMessageDeflate: { threshold: 0 } });
      await t.event(client, 'open');
      const [socket] = await connected;
      t.note('transports', client.transport.name, socket.transport.name);
      t.note('permessage-deflate negotiated', deflateNegotiated(client.transport.ws), deflateNegotiated(socket.transport.socket));
      for (const message of ['hello', 'h\u00e9llo w\u00f6rld \u{1f600}', pattern(1000), 'x'.repeat(200_000), pattern(bigMessage)]) {
        const echoed = nextMessage(t, client);
        client.send(message);
        t.note('echo', await echoed);
      }
      // engine.io passes `compress` through to ws.send.
      const uncompressed = nextMessage(t, client);
      client.send('not compressed', { compress: false });
      t.note('echo without compression', await uncompressed);
      const closed = t.event(socket, 'close');
      client.close();
      t.note('server sees close', (await closed)[0]);
    },
  };
}

function tooLargeCase(maxHttpBufferSize, size) {
  return {
    name: `engine.io, maxHttpBufferSize ${maxHttpBufferSize}: a ${size} byte message ends the connection on both ends`,
    body: async (t) => {
      const { eio, wsUrl } = await engineServer(t, { transports: ['websocket'], maxHttpBufferSize, perMessageDeflate: { threshold: 0 } });
      const connected = t.event(eio, 'connection');
      const client = engineClient(t, wsUrl, { transports: ['websocket'], perMessageDeflate: { threshold: 0 } });
      await t.event(client, 'open');
      const [socket] = await connected;
      let received = 0;
      socket.on('message', () => received++);
      const serverClosed = t.event(socket, 'close');
      const clientClosed = t.event(client, 'close');
      client.send(pattern(size));
      t.note('server close reason', (await serverClosed)[0]);
      t.note('client close reason', (await clientClosed)[0]);
      t.note('messages the server received', received);
    },
  };
}

/**
 * netws gives a failing socket's error (ECONNRESET) to the WebSocket's 'error' listeners before 'close'
 * (spec/compat/DIFFERENCES.md, "the socket failing"); engine.io listens, so the close reason is
 * 'transport error' where ws gives 'transport close' (spec/compat/frameworks.spec.ts shows it alone).
 */
const RESET_DIFFERS =
  "netws emits the socket's ECONNRESET as 'error' (DIFFERENCES.md, the socket failing): engine.io's reason is 'transport error'";

/** maxHttpBufferSize is ws's maxPayload: a binary message (sent as is, no packet type prefix) of exactly the limit passes, one byte more does not; compressed, so the inflated size counts. */
function limitCase(exceed) {
  return {
    name: `engine.io, maxHttpBufferSize 100000, perMessageDeflate: a binary message of ${exceed ? 'the limit plus one byte' : 'exactly the limit'}`,
    body: async (t) => {
      const { eio, wsUrl } = await engineServer(t, {
        transports: ['websocket'],
        maxHttpBufferSize: 100_000,
        perMessageDeflate: { threshold: 0 },
      });
      const connected = t.event(eio, 'connection');
      const client = engineClient(t, wsUrl, { transports: ['websocket'], perMessageDeflate: { threshold: 0 } });
      await t.event(client, 'open');
      const [socket] = await connected;
      const received = [];
      socket.on('message', (data) => received.push(data));
      const serverClosed = t.event(socket, 'close');
      client.send(pattern(exceed ? 100_001 : 100_000));
      client.send('after');
      if (exceed) {
        t.note('server close reason', (await serverClosed)[0]);
      } else {
        for (let i = 0; i < 250 && received.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      t.note('received', received);
    },
  };
}

const cases = [
  engineEchoCase(1e6, 900_000),
  engineEchoCase(1e8, 3_000_000),
  engineEchoCase(1e10, 3_000_000),
  tooLargeCase(1e6, 1_500_000),
  limitCase(false),
  limitCase(true),
  {
    name: 'engine.io, websocket only: 2,000 messages sent in one burst each way arrive whole and in order',
    body: async (t) => {
      const { eio, wsUrl } = await engineServer(t, { transports: ['websocket'], perMessageDeflate: { threshold: 0 } });
      const connected = t.event(eio, 'connection');
      const client = engineClient(t, wsUrl, { transports: ['websocket'], perMessageDeflate: { threshold: 0 } });
      await t.event(client, 'open');
      const [socket] = await connected;
      const burst = (sender, receiver) =>
        new Promise((resolve) => {
          const got = [];
          receiver.on('message', (data) => {
            got.push(typeof data === 'string' ? data : `bytes:${data.length ?? data.byteLength}`);
            if (got.length === 2000) resolve(got);
          });
          for (let i = 0; i < 2000; i++) sender.send(i % 3 === 0 ? pattern(100 + i, 3) : `message ${i} ${'y'.repeat(i % 500)}`);
        });
      const summary = (got) => ({
        count: got.length,
        inOrder: got.every((value, i) => (i % 3 === 0 ? value === `bytes:${100 + i}` : value.startsWith(`message ${i} `))),
      });
      t.note('server to client', summary(await burst(socket, client)));
      t.note('client to server', summary(await burst(client, socket)));
    },
  },
  {
    name: 'engine.io, websocket only, pingInterval 50 ms: three heartbeats, still open',
    body: async (t) => {
      const { eio, wsUrl } = await engineServer(t, { transports: ['websocket'], pingInterval: 50, pingTimeout: 5000 });
      const connected = t.event(eio, 'connection');
      const client = engineClient(t, wsUrl, { transports: ['websocket'] });
      await t.event(client, 'open');
      const [socket] = await connected;
      let heartbeats = 0;
      await new Promise((resolve) => socket.on('heartbeat', () => ++heartbeats === 3 && resolve()));
      t.note('after three heartbeats', client.readyState, socket.readyState);
    },
  },
  {
    name: 'engine.io, websocket only: the client connection is reset (TCP RST) mid-session',
    differs: RESET_DIFFERS,
    body: async (t) => {
      const { eio, wsUrl } = await engineServer(t, { transports: ['websocket'] });
      const connected = t.event(eio, 'connection');
      const client = engineClient(t, wsUrl, { transports: ['websocket'] });
      await t.event(client, 'open');
      const [socket] = await connected;
      const serverClosed = t.event(socket, 'close');
      const clientClosed = t.event(client, 'close');
      client.transport.ws._socket.resetAndDestroy();
      const [reason, description] = await serverClosed;
      t.note('server close reason', reason, description?.message);
      t.note('client close reason', (await clientClosed)[0]);
    },
  },
  {
    name: 'engine.io, polling then websocket (the default upgrade), perMessageDeflate: messages before, during and after the upgrade',
    body: async (t) => {
      const { eio, wsUrl } = await engineServer(t, { maxHttpBufferSize: 1e8, perMessageDeflate: { threshold: 0 } });
      echoOnConnection(eio);
      const connected = t.event(eio, 'connection');
      const client = engineClient(t, wsUrl.replace('ws:', 'http:'), { perMessageDeflate: { threshold: 0 } });
      const upgraded = t.event(client, 'upgrade');
      await t.event(client, 'open');
      const [socket] = await connected;
      const serverUpgraded = t.event(socket, 'upgrade');
      t.note('first transport', client.transport.name);
      const early = nextMessage(t, client);
      client.send('sent while polling');
      t.note('echo', await early);
      await upgraded;
      await serverUpgraded;
      t.note('after the upgrade', client.transport.name, socket.transport.name);
      t.note('permessage-deflate negotiated', deflateNegotiated(client.transport.ws), deflateNegotiated(socket.transport.socket));
      for (const message of ['after', pattern(70_000)]) {
        const echoed = nextMessage(t, client);
        client.send(message);
        t.note('echo', await echoed);
      }
    },
  },
  {
    // The same name in both runs: the runner pairs cases by name.
    name: "engine.io, wsEngine given explicitly: require('ws').WebSocketServer, then require('netws').WebSocketServer",
    body: async (t) => {
      const { WebSocketServer } = require(lib);
      const { eio, wsUrl } = await engineServer(t, { wsEngine: WebSocketServer, transports: ['websocket'], maxHttpBufferSize: 1e10 });
      t.note('engine.ws is an instance of it', eio.ws instanceof WebSocketServer);
      echoOnConnection(eio);
      const client = engineClient(t, wsUrl, { transports: ['websocket'] });
      await t.event(client, 'open');
      const echoed = nextMessage(t, client);
      client.send(pattern(100));
      t.note('echo', await echoed);
    },
  },
  {
    name: "engine.io, websocket only: a header added in 'initial_headers' reaches the 101 (the server's 'headers' event, the client's 'upgrade' event)",
    body: async (t) => {
      const WebSocket = require('ws');
      const { eio, wsUrl } = await engineServer(t, { transports: ['websocket'] });
      eio.on('initial_headers', (headers) => {
        headers['x-initial'] = 'yes';
      });
      const client = new WebSocket(`${wsUrl}/engine.io/?EIO=4&transport=websocket`);
      t.defer(() => client.terminate());
      // The open packet may come in the same read as the 101.
      const upgrade = t.event(client, 'upgrade');
      const message = t.event(client, 'message');
      const [response] = await upgrade;
      const [open] = await message;
      const sid = JSON.parse(String(open).slice(1)).sid;
      t.note('101', response.statusCode, response.headers['x-initial']);
      t.note('open packet', String(open)[0], typeof sid);
    },
  },
  {
    name: 'engine.io, server.close(): every client sees its transport close',
    body: async (t) => {
      const { eio, wsUrl } = await engineServer(t, { transports: ['websocket'] });
      const clients = [engineClient(t, wsUrl, { transports: ['websocket'] }), engineClient(t, wsUrl, { transports: ['websocket'] })];
      await Promise.all(clients.map((client) => t.event(client, 'open')));
      t.note('clients connected', eio.clientsCount);
      const closed = clients.map((client) => t.event(client, 'close'));
      eio.close();
      for (const reason of await Promise.all(closed)) t.note('client close reason', reason[0]);
    },
  },
  ...socketIoCases(),
];

async function ioServer(t, options) {
  const { server, url } = await httpServer(t);
  const io = new IoServer(server, options);
  t.defer(() => new Promise((resolve) => io.close(() => resolve())));
  io.on('connection', (socket) => {
    socket.on('join', (room, ack) => {
      socket.join(room);
      ack(`joined ${room}`);
    });
    socket.on('sum', (a, b, ack) => ack(a + b));
    socket.on('echo', (...args) => {
      const ack = args.pop();
      ack(...args);
    });
    socket.on('shout', (room, payload) => io.to(room).emit('news', payload));
  });
  return { io, url };
}

function ioConnect(t, url, options) {
  const client = ioClient(url, { reconnection: false, forceNew: true, ...options });
  t.defer(() => client.disconnect());
  return client;
}

/** Records every event a client receives, in order. */
function recordEvents(client) {
  const seen = [];
  client.onAny((event, ...args) => seen.push([event, ...args]));
  return seen;
}

/** Rooms, broadcasts with binary, acknowledgements both ways: the same checks over any transport setup. */
async function roomsAndAcks(t, io, url, clientOptions) {
  const [a, b, c] = [ioConnect(t, url, clientOptions), ioConnect(t, url, clientOptions), ioConnect(t, url, clientOptions)];
  await Promise.all([a, b, c].map((client) => (client.connected ? null : t.event(client, 'connect'))));
  const logs = [a, b, c].map(recordEvents);
  if (clientOptions.transports === undefined) {
    await Promise.all(
      [a, b, c].map((client) => (client.io.engine.transport.name === 'websocket' ? null : t.event(client.io.engine, 'upgrade'))),
    );
  }
  t.note('client transports', ...[a, b, c].map((client) => client.io.engine.transport.name));
  const serverSockets = await io.fetchSockets();
  await Promise.all(serverSockets.map((socket) => (socket.conn.transport.name === 'websocket' ? null : t.event(socket.conn, 'upgrade'))));
  t.note('server transports', ...serverSockets.map((socket) => socket.conn.transport.name));
  t.note('joined', await a.emitWithAck('join', 'room'), await b.emitWithAck('join', 'room'));

  const news = [t.event(a, 'news'), t.event(b, 'news')];
  a.emit('shout', 'room', { text: 'to the room', bytes: pattern(64), nested: [pattern(3, 5), 'x'] });
  for (const [payload] of await Promise.all(news)) t.note('room broadcast received', payload);
  const everyone = [a, b, c].map((client) => t.event(client, 'everyone'));
  io.emit('everyone', pattern(5000));
  await Promise.all(everyone);
  t.note('what each client saw, in order', ...logs);

  t.note('ack from the server', await a.emitWithAck('sum', 2, 3));
  const binary = await a.timeout(10_000).emitWithAck('echo', { head: pattern(10), list: [pattern(2_000_000, 3), 'text'] }, pattern(1, 9));
  t.note('binary echoed through an ack', binary);
  b.on('ask', (question, ack) => ack(`${question}?`, pattern(16)));
  const serverSideB = serverSockets.find((socket) => socket.id === b.id);
  t.note('ack from a client', await serverSideB.timeout(10_000).emitWithAck('ask', 'why'));
  const volatileMessages = [];
  c.on('v', (value) => volatileMessages.push(value));
  const last = t.event(c, 'after-volatile');
  io.volatile.emit('v', 1);
  io.emit('after-volatile');
  await last;
  t.note('volatile emit on an open, idle connection', volatileMessages);
}

function socketIoCases() {
  return [
    {
      name: "Socket.IO, transports ['websocket'], maxHttpBufferSize 1e8, perMessageDeflate: rooms, acks, binary",
      body: async (t) => {
        const { io, url } = await ioServer(t, { transports: ['websocket'], maxHttpBufferSize: 1e8, perMessageDeflate: { threshold: 0 } });
        await roomsAndAcks(t, io, url, { transports: ['websocket'] });
      },
    },
    {
      name: 'Socket.IO, polling then websocket, maxHttpBufferSize 1e10, perMessageDeflate: rooms, acks, binary',
      body: async (t) => {
        const { io, url } = await ioServer(t, { maxHttpBufferSize: 1e10, perMessageDeflate: { threshold: 0 } });
        await roomsAndAcks(t, io, url, {});
      },
    },
    {
      name: 'Socket.IO, maxHttpBufferSize 1e6: a 1.5 MB payload disconnects the client',
      body: async (t) => {
        const { io, url } = await ioServer(t, { transports: ['websocket'], maxHttpBufferSize: 1e6 });
        const connected = t.event(io, 'connection');
        const client = ioConnect(t, url, { transports: ['websocket'] });
        await t.event(client, 'connect');
        const [socket] = await connected;
        const serverSide = t.event(socket, 'disconnect');
        const clientSide = t.event(client, 'disconnect');
        client.emit('echo', pattern(1_500_000), () => t.note('unexpected ack'));
        t.note('server disconnect reason', (await serverSide)[0]);
        t.note('client disconnect reason', (await clientSide)[0]);
      },
    },
    {
      name: 'Socket.IO, websocket only: extraHeaders, query and auth reach the handshake; allowRequest refuses another client',
      body: async (t) => {
        const { io, url } = await ioServer(t, {
          transports: ['websocket'],
          allowRequest: (request, callback) => callback(null, request.headers['x-token'] !== 'refused'),
        });
        const connected = t.event(io, 'connection');
        const client = ioConnect(t, url, {
          transports: ['websocket'],
          extraHeaders: { 'x-token': 'accepted' },
          query: { room: 'a' },
          auth: { user: 'u1' },
        });
        await t.event(client, 'connect');
        const [socket] = await connected;
        t.note(
          'handshake',
          socket.handshake.headers['x-token'],
          socket.handshake.query.room,
          socket.handshake.auth,
          socket.handshake.address,
        );
        const refused = ioConnect(t, url, { transports: ['websocket'], extraHeaders: { 'x-token': 'refused' } });
        const [error] = await t.event(refused, 'connect_error');
        t.note('refused client', error.message, error.type, error.description?.message);
      },
    },
    {
      name: 'Socket.IO over HTTPS, websocket only: a client trusting the certificate (ca), one that does not check it, one that refuses it',
      body: async (t) => {
        const fixtures = process.env.NETWS_FRAMEWORKS_FIXTURES;
        const cert = fs.readFileSync(`${fixtures}/cert.pem`);
        const key = fs.readFileSync(`${fixtures}/key.pem`);
        const server = https.createServer({ cert, key });
        await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
        t.defer(
          () =>
            new Promise((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        );
        const io = new IoServer(server, { transports: ['websocket'], perMessageDeflate: { threshold: 0 } });
        t.defer(() => new Promise((resolve) => io.close(() => resolve())));
        io.on('connection', (socket) => socket.on('echo', (value, ack) => ack(value, socket.handshake.secure)));
        const url = `https://127.0.0.1:${server.address().port}`;
        for (const [label, options] of [
          ['ca', { ca: cert }],
          ['rejectUnauthorized: false', { rejectUnauthorized: false }],
        ]) {
          const client = ioConnect(t, url, { transports: ['websocket'], ...options });
          await t.event(client, 'connect');
          t.note(label, await client.emitWithAck('echo', pattern(3000)));
        }
        const refusing = ioConnect(t, url, { transports: ['websocket'] });
        const [error] = await t.event(refusing, 'connect_error');
        t.note('default options', error.message, error.type, error.description?.message, error.description?.error?.code);
      },
    },
    {
      name: 'Socket.IO, websocket only: the client reconnects after the server restarts on the same port',
      body: async (t) => {
        const first = await ioServer(t, { transports: ['websocket'] });
        const port = new URL(first.url).port;
        const client = ioClient(first.url, { transports: ['websocket'], forceNew: true, reconnectionDelay: 20, reconnectionDelayMax: 50 });
        t.defer(() => client.disconnect());
        await t.event(client, 'connect');
        const errors = [];
        client.on('connect_error', (error) =>
          errors.push([error.message, error.type, String(error.description?.message).replace(/:\d+$/, ':PORT')]),
        );
        const disconnected = t.event(client, 'disconnect');
        first.io.close();
        t.note('disconnect reason', (await disconnected)[0]);
        await new Promise((resolve) => (errors.length > 0 ? resolve() : client.once('connect_error', resolve)));
        const httpServer = http.createServer();
        const second = new IoServer(httpServer, { transports: ['websocket'] });
        t.defer(() => new Promise((resolve) => second.close(() => resolve())));
        await new Promise((resolve) => httpServer.listen(Number(port), '127.0.0.1', resolve));
        await t.event(client, 'connect');
        t.note('first connect_error while the server was away', errors[0]);
        t.note('reconnected', client.connected, client.io.engine.transport.name);
      },
    },
    {
      name: 'Socket.IO, websocket only: the client connection is reset (TCP RST): the server-side disconnect reason',
      differs: RESET_DIFFERS,
      body: async (t) => {
        const { io, url } = await ioServer(t, { transports: ['websocket'] });
        const connected = t.event(io, 'connection');
        const client = ioConnect(t, url, { transports: ['websocket'] });
        await t.event(client, 'connect');
        const [socket] = await connected;
        const disconnected = t.event(socket, 'disconnect');
        client.io.engine.transport.ws._socket.resetAndDestroy();
        const [reason, description] = await disconnected;
        t.note('server disconnect reason', reason, description?.message);
      },
    },
    {
      name: 'Socket.IO, io.close(): clients are told, then disconnected',
      body: async (t) => {
        const { io, url } = await ioServer(t, { transports: ['websocket'] });
        const client = ioConnect(t, url, { transports: ['websocket'] });
        await t.event(client, 'connect');
        const disconnected = t.event(client, 'disconnect');
        io.close();
        t.note('client disconnect reason', (await disconnected)[0]);
      },
    },
  ];
}

run(cases);
