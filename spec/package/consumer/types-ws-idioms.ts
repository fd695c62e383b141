// Typechecked by spec/package/package.spec.ts against the installed tarball,
// as an ES module (nodenext), as CommonJS (nodenext) and under
// moduleResolution node10 with esModuleInterop: code written against
// @types/ws, with only the package name changed, must compile. Each line is
// an idiom found in ws-based code (servers, framework glue, tests).
import type { ClientRequest, IncomingMessage } from 'node:http';
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer, createWebSocketStream, type RawData } from 'netws';

// A server on its own port, and one sharing a node:http server.
const standalone = new WebSocketServer({ port: 0, perMessageDeflate: false, maxPayload: 1e10 });
const http = createServer();
const shared: WebSocket.Server = new WebSocket.Server({ server: http, path: '/ws', clientTracking: true });
const options: WebSocket.ServerOptions = { noServer: true, skipUTF8Validation: false };
const manual = new WebSocket.WebSocketServer(options);

// The request is node's IncomingMessage: its socket is there, not optional.
standalone.on('connection', (ws: WebSocket, req: IncomingMessage) => {
  const ip: string | undefined = req.socket.remoteAddress;
  const forwarded = req.headers['x-forwarded-for'];
  const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
  ws.on('message', (data: RawData, isBinary: boolean) => {
    for (const client of standalone.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
  ws.on('close', (code: number, reason: Buffer) => void [code, reason.toString()]);
  ws.on('error', (error: Error) => void error.message);
  ws.on('ping', (data: Buffer) => ws.pong(data));
  ws.on('pong', (data: Buffer) => void data);
  ws.send(JSON.stringify({ ip, forwarded, path: url.pathname }), (error?: Error) => void error);
});
standalone.on('error', (error: Error) => void error);
standalone.on('headers', (headers: string[], req: IncomingMessage) => void headers.push(`X-Ip: ${req.socket.remoteAddress}`));
shared.on('wsClientError', (error: Error, socket: Duplex, req: IncomingMessage) => void [error, socket, req]);

// Upgrades routed by hand, as Express and Fastify glue does.
http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
  if (!manual.shouldHandle(request)) return void socket.destroy();
  manual.handleUpgrade(request, socket, head, (ws: WebSocket, req: IncomingMessage) => manual.emit('connection', ws, req));
});

// verifyClient and handleProtocols with ws's parameter types.
const verifyClient: WebSocket.VerifyClientCallbackAsync = (info, done) => {
  const origin: string = info.origin;
  const secure: boolean = info.secure;
  const req: IncomingMessage = info.req;
  done(origin !== 'https://evil.example' && (secure || req.socket.remoteAddress === '127.0.0.1'), 401, 'Unauthorized', {
    'X-Reason': 'origin',
  });
};
const verifySync: WebSocket.VerifyClientCallbackSync = (info: { origin: string; secure: boolean; req: IncomingMessage }) =>
  info.req.headers.authorization !== undefined;
const handleProtocols = (protocols: Set<string>, request: IncomingMessage): string | false =>
  protocols.has('chat') && request.headers.host !== undefined ? 'chat' : false;
new WebSocketServer({ noServer: true, verifyClient, handleProtocols });
new WebSocketServer({ noServer: true, verifyClient: verifySync });

// A heartbeat as ws's README writes it.
const alive = new WeakMap<WebSocket, boolean>();
const interval = setInterval(() => {
  standalone.clients.forEach((ws: WebSocket) => {
    if (alive.get(ws) === false) return ws.terminate();
    alive.set(ws, false);
    ws.ping();
  });
}, 30_000);
standalone.on('close', () => clearInterval(interval));

// A client with ws's options and events.
const client = new WebSocket('ws://127.0.0.1:1/path', ['chat'], {
  headers: { Authorization: 'Bearer x' },
  perMessageDeflate: { threshold: 1024 },
  handshakeTimeout: 5000,
  followRedirects: true,
});
client.on('open', () => client.send(Buffer.from('hi'), { binary: true, compress: false }));
client.on('upgrade', (response: IncomingMessage) => void response.headers['set-cookie']);
client.on('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
  response.resume();
  request.destroy();
});
client.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
  const text: string = isBinary ? '' : data.toString();
  void text;
});
client.onmessage = (event: WebSocket.MessageEvent) => void event.data;
client.onclose = (event: WebSocket.CloseEvent) => void [event.code, event.reason, event.wasClean];
client.binaryType = 'arraybuffer';
const stream: Duplex = createWebSocketStream(client, { encoding: 'utf8' });
const data: WebSocket.Data = 'text';
const state: 0 | 1 | 2 | 3 = client.readyState;
void [stream, data, state];
