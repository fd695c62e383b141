/**
 * One server process of `npm run bench:cluster`, compiled with tsc like the
 * other benchmark servers (see servers.ts for why not tsx):
 *
 *   netws     netws with netws/redis's RedisAdapter (ioredis clients)
 *   single    netws alone, no adapter: the one-process ceiling
 *   socketio  Socket.IO 4.8 with @socket.io/redis-adapter (ioredis clients),
 *             WebSocket transport only
 *
 * Both do the same work: a connection that names a room (`?room=r7`) is
 * put in it (ws.subscribe / socket.join); a publisher connection's message
 * names a room and a payload, and the server sends the payload to the room
 * (wss.publish / io.to(room).emit). Both use the same Redis client library,
 * so the Redis bytes of each process (its client sockets' counters) compare.
 *
 * IPC: { type: 'bytes' } → { type: 'bytes', read, written, cpuMicros }.
 */

import http from 'node:http';
import type net from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server as SocketIOServer } from 'socket.io';
import { RedisAdapter } from '../src/adapters/redis.ts';
import { WebSocketServer } from '../src/index.ts';

export type ClusterImpl = 'netws' | 'single' | 'socketio';

export type ClusterNodeMessage =
  | { type: 'ready'; port: number }
  | { type: 'bytes'; read: number; written: number; cpuMicros: number; heapUsed: number };

const impl = process.argv[2] as ClusterImpl;
const redisUrl = process.argv[3];

async function redisPair(): Promise<Redis[]> {
  const publisher = new Redis(redisUrl, { lazyConnect: true });
  const subscriber = publisher.duplicate();
  await Promise.all([publisher.connect(), subscriber.connect()]);
  return [publisher, subscriber];
}

function roomOf(url: string | undefined): string | null {
  const query = (url ?? '').indexOf('room=');
  return query === -1 ? null : (url ?? '').slice(query + 5);
}

const clients: Redis[] = impl === 'single' ? [] : await redisPair();
let port: number;

if (impl === 'socketio') {
  const server = http.createServer();
  const io = new SocketIOServer(server, { transports: ['websocket'], serveClient: false });
  io.adapter(createAdapter(clients[0], clients[1]));
  io.on('connection', (socket) => {
    const room = socket.handshake.query.room;
    if (typeof room === 'string') void socket.join(room);
    socket.on('pub', (target: string, payload: string) => {
      io.to(target).emit('m', payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
} else {
  const adapter = impl === 'netws' ? new RedisAdapter({ publisher: clients[0], subscriber: clients[1] }) : null;
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', adapter });
  wss.on('error', () => {});
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    const room = roomOf(req.url);
    if (room !== null) {
      ws.subscribe(room);
      return;
    }
    // A publisher: "room|payload".
    ws.on('message', (data) => {
      const text = (data as Buffer).toString();
      const bar = text.indexOf('|');
      wss.publish(text.slice(0, bar), text.slice(bar + 1));
    });
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  port = (wss.address() as net.AddressInfo).port;
}

process.on('message', (message: { type: string }) => {
  if (message.type !== 'bytes') return;
  let read = 0;
  let written = 0;
  for (const client of clients) {
    const stream = (client as unknown as { stream?: net.Socket }).stream;
    read += stream?.bytesRead ?? 0;
    written += stream?.bytesWritten ?? 0;
  }
  const usage = process.cpuUsage();
  const reply: ClusterNodeMessage = {
    type: 'bytes',
    read,
    written,
    cpuMicros: usage.user + usage.system,
    heapUsed: process.memoryUsage().heapUsed,
  };
  process.send!(reply);
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready', port } satisfies ClusterNodeMessage);
