// Typechecked by spec/package/package.spec.ts against the installed tarball
// (moduleResolution nodenext, a CommonJS file: TypeScript 5.9+ types
// require(esm) by the module's 'module.exports' export).
import WebSocket = require('netws');
import { WebSocketServer, CloseCode, type ServerOptions } from 'netws';

const options: ServerOptions = { noServer: true };
const server: WebSocket.Server = new WebSocket.Server(options);
const other: WebSocketServer = new WebSocket.WebSocketServer({ noServer: true });
const client: WebSocket = new WebSocket('ws://127.0.0.1:1');
const same: WebSocket.WebSocket = new WebSocket.WebSocket('ws://127.0.0.1:1');
const code: number = CloseCode.Normal + WebSocket.CloseCode.Normal + WebSocket.OPEN;
// @ts-expect-error: require('netws') is typed, not any
WebSocket.NoSuchProperty;
void [server, other, client, same, code];
