/**
 * One server process of the cluster tests (spec/cluster/): a WebSocketServer
 * on the Redis adapter, with clients of the library in NETWS_REDIS_LIBRARY.
 * Connections to /subscribe?topics=a,b are subscribed to those topics;
 * whatever a connection to /publish?topic=t sends is published to t. The
 * parent asks for the adapter's counters over IPC.
 */

import { RedisAdapter } from '../../src/adapters/redis.ts';
import { WebSocketServer, type WebSocket } from '../../src/index.ts';
import { redisClients, type ClientLibrary } from '../redis-clients.ts';

export interface NodeReport {
  type: 'stats';
  stats: RedisAdapter['stats'];
  errors: string[];
  connections: number;
}

const library = process.env.NETWS_REDIS_LIBRARY as ClientLibrary;
const clients = await redisClients(library, process.env.NETWS_REDIS_URL!);
const adapter = new RedisAdapter({
  publisher: clients.publisher,
  subscriber: clients.subscriber,
  sharded: process.env.NETWS_REDIS_SHARDED === '1',
});
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', adapter });
const errors: string[] = [];
wss.on('error', (error) => errors.push(`${(error as { code?: string }).code}: ${error.message}`));
wss.on('connection', (ws: WebSocket, req) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/subscribe') {
    for (const topic of (url.searchParams.get('topics') ?? '').split(',').filter(Boolean)) ws.subscribe(topic);
    ws.send('subscribed');
  } else if (url.pathname === '/publish') {
    const topic = url.searchParams.get('topic') ?? 'default';
    ws.on('message', (data, isBinary) => ws.publish(topic, data as Buffer, { binary: isBinary }));
  }
});
wss.on('listening', () => process.send!({ type: 'listening', port: (wss.address() as { port: number }).port }));

process.on('message', (message: { type: string }) => {
  if (message.type === 'stats') {
    const report: NodeReport = { type: 'stats', stats: { ...adapter.stats }, errors: errors.slice(0, 20), connections: wss.clients.size };
    process.send!(report);
  } else if (message.type === 'exit') {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    clients.close();
    process.disconnect();
  }
});
