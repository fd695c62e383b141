// Typechecked by spec/package/package.spec.ts against the installed tarball
// (moduleResolution nodenext, a CommonJS file: TypeScript 5.8+, whose
// require() may load ES modules, as dist/commonjs.d.cts does).
import type { Duplex } from 'node:stream';
import WebSocket = require('netws');
import { WebSocketServer, CloseCode, OPEN, type ServerOptions, type SendData } from 'netws';
import redis = require('netws/redis');

const options: ServerOptions = { noServer: true };
const server: WebSocket.Server = new WebSocket.Server(options);
const other: WebSocketServer = new WebSocket.WebSocketServer({ noServer: true });
const client: WebSocket = new WebSocket('ws://127.0.0.1:1');
const same: WebSocket.WebSocket = new WebSocket.WebSocket('ws://127.0.0.1:1');
const stream: Duplex = WebSocket.createWebSocketStream(client);
const code: number = CloseCode.Normal + WebSocket.CloseCode.Normal + WebSocket.OPEN + OPEN;
const data: SendData & WebSocket.SendData = 'text';
if (client instanceof WebSocket) client.send(data);
// @ts-expect-error: require('netws') is typed, not any
WebSocket.NoSuchProperty;
const adapter: WebSocket.TopicAdapter = new redis.RedisAdapter({ publisher: {}, subscriber: {} });
server.adapter = adapter;
const count: number = server.publish('topic', 'data');
void [server, other, same, stream, code, count];
