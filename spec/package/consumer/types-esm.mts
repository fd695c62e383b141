// Typechecked by spec/package/package.spec.ts against the installed tarball
// (moduleResolution nodenext, and again with bundler).
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer, WebSocket as WS, createWebSocketStream, CloseCode, type ServerOptions } from 'netws';

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
void [server, other, same, stream, code, typed];
