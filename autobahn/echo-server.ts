/**
 * Echo server for the Autobahn|Testsuite fuzzing client: every message goes
 * back with its type. Limits are raised to what the suite sends (9.x sends
 * 16 MiB messages and up to 65,536 fragments per message).
 *
 *   npx tsx autobahn/echo-server.ts --port 9001 [--host 127.0.0.1]
 */

import { parseArgs } from 'node:util';
import { WebSocketServer } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const wss = new WebSocketServer(
  {
    port: Number(values.port),
    host: values.host,
    maxPayload: 64 * 1024 * 1024,
    // Context takeover unless the peer asks otherwise: the harder path, zlib
    // state kept across messages (netws' default resets it per message).
    perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false },
  },
  () => {
    const address = wss.address();
    console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : values.port}`);
  },
);

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => process.exit(0));
}
