// Typechecked by spec/package/package.spec.ts against the installed tarball
// (moduleResolution nodenext, and again with bundler).
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer, WebSocket as WS, createWebSocketStream, CloseCode, InProcessBus, type ServerOptions, type TopicAdapter } from 'netws';
import { RedisAdapter, type RedisAdapterOptions } from 'netws/redis';

const options: ServerOptions = { noServer: true };
const server: WebSocket.Server = new WebSocket.Server(options);
const other: WebSocketServer = new WebSocket.WebSocketServer({ noServer: true });
const client: WebSocket = new WS('ws://127.0.0.1:1');
const same: WS = new WebSocket.WebSocket('ws://127.0.0.1:1');
const stream: Duplex = createWebSocketStream(client);
const code: number = CloseCode.Normal + WebSocket.CloseCode.Normal + WebSocket.OPEN;
const typed: WebSocket.ServerOptions = { port: 0, perMessageDeflate: { threshold: 1024 } };
// @ts-expect-error: the default export is typed, not any
WebSocket.NoSuchProperty;
// Topics on server-side connections, the adapters.
server.on('connection', (ws: WebSocket) => {
  const subscribed: boolean = ws.subscribe('room') && ws.isSubscribed('room') && !ws.unsubscribe('other');
  const topics: readonly string[] = ws.topics;
  const sent: number = ws.publish('room', 'hi', { compress: false }) + server.publish('room', Buffer.from('x'), { binary: true, except: ws });
  void [subscribed, topics, sent];
});
const adapter: TopicAdapter = new InProcessBus().createAdapter();
server.adapter = adapter;
const redisOptions: RedisAdapterOptions = { publisher: {}, subscriber: {}, sharded: true };
const redisAdapter: TopicAdapter = new RedisAdapter(redisOptions);
const published: number = new RedisAdapter(redisOptions).stats.published;
void [server, other, same, stream, code, typed, redisAdapter, published];
