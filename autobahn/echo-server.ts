/**
 * Echo server for the Autobahn|Testsuite fuzzing client: every message goes
 * back with its type. Limits are raised to what the suite sends (9.x sends
 * 16 MiB messages and up to 65,536 fragments per message).
 *
 *   npx tsx autobahn/echo-server.ts --port 9001 [--host 127.0.0.1] [--http2]
 *
 * --http2: the WebSocketServer takes the extended CONNECT streams (RFC 8441)
 * of a node:http2 TLS server (spec/fixtures' certificate) that speaks
 * HTTP/2 only, so every WebSocket here is a stream; wstest reaches it through
 * autobahn/h2-bridge.ts. node:http2's defaults otherwise (64 KiB windows),
 * as a user gets them.
 */

import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { WebSocketServer, type ServerOptions } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    host: { type: 'string', default: '127.0.0.1' },
    http2: { type: 'boolean', default: false },
  },
});

const options: ServerOptions = {
  maxPayload: 64 * 1024 * 1024,
  // Context takeover unless the peer asks otherwise: the harder path, zlib
  // state kept across messages (netws' default resets it per message).
  perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false },
};

function listening(port: number): void {
  console.log(`listening on ${port}`);
}

let wss: WebSocketServer;
if (values.http2) {
  const fixtures = new URL('../spec/fixtures/', import.meta.url);
  const server = http2.createSecureServer({
    cert: readFileSync(new URL('cert.pem', fixtures)),
    key: readFileSync(new URL('key.pem', fixtures)),
  });
  // node:http2 leaves Nagle's algorithm on; netws sets TCP_NODELAY on its own HTTP/1.1 sockets, so the same here.
  server.on('secureConnection', (socket: TLSSocket) => socket.setNoDelay(true));
  wss = new WebSocketServer({ ...options, server });
  server.listen(Number(values.port), values.host, () => listening((server.address() as AddressInfo).port));
} else {
  wss = new WebSocketServer({ ...options, port: Number(values.port), host: values.host }, () => {
    const address = wss.address();
    listening(typeof address === 'object' && address !== null ? address.port : Number(values.port));
  });
}

wss.on('connection', (ws, req) => {
  if (values.http2 && req.httpVersion !== '2.0') {
    // Cannot happen (the server speaks HTTP/2 only); if it did, the run would not be testing HTTP/2.
    console.log(`[echo] a WebSocket over HTTP/${req.httpVersion}: terminated`);
    ws.terminate();
    return;
  }
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => process.exit(0));
}
