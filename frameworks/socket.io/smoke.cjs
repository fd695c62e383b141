'use strict';
/**
 * Socket.IO as most apps start it: new Server(httpServer) with its defaults
 * (polling first, then the upgrade to websocket), the socket.io-client from
 * npm on the other end, both over the project's `ws` (netws under the
 * override). An echo with an acknowledgement, then a close from each side.
 */

const http = require('node:http');
const { Server } = require('socket.io');
const { io } = require('socket.io-client');
const { run } = require('./harness.cjs');

async function start(t) {
  const httpServer = http.createServer();
  const server = new Server(httpServer);
  server.on('connection', (socket) => {
    socket.on('echo', (value, ack) => ack(value));
    socket.on('leave me', () => socket.disconnect(true));
  });
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  t.defer(() => new Promise((resolve) => server.close(() => resolve())));
  return { server, url: `http://127.0.0.1:${httpServer.address().port}` };
}

async function connect(t, url) {
  const client = io(url, { reconnection: false, forceNew: true });
  t.defer(() => client.disconnect());
  await t.event(client, 'connect');
  if (client.io.engine.transport.name !== 'websocket') await t.event(client.io.engine, 'upgrade');
  t.note('client transport', client.io.engine.transport.name);
  return client;
}

run([
  {
    name: 'Socket.IO: echo of text and binary through an ack after the upgrade, then the client disconnects',
    body: async (t) => {
      const { server, url } = await start(t);
      const connected = t.event(server, 'connection');
      const client = await connect(t, url);
      const [socket] = await connected;
      t.note('echo', await client.emitWithAck('echo', 'hello'), await client.emitWithAck('echo', Buffer.from([0, 1, 2, 255])));
      const serverSide = t.event(socket, 'disconnect');
      client.disconnect();
      t.note('server disconnect reason', (await serverSide)[0]);
    },
  },
  {
    name: 'Socket.IO: the server disconnects the client',
    body: async (t) => {
      const { url } = await start(t);
      const client = await connect(t, url);
      const disconnected = t.event(client, 'disconnect');
      client.emit('leave me');
      t.note('client disconnect reason', (await disconnected)[0]);
    },
  },
]);
