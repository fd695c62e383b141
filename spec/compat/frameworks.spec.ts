/**
 * What `npm run test:frameworks` (frameworks/) found, cut down to one case
 * each: a real framework over the library, the peer always the real ws.
 *
 * - A client whose TCP connection is reset: netws gives the socket's
 *   ECONNRESET to the WebSocket's 'error' listeners (DIFFERENCES.md, "the
 *   socket failing"); engine.io listens, so the engine.io socket closes with
 *   'transport error' (a Socket.IO disconnect reason) where ws gives
 *   'transport close' — the reason Socket.IO documents for a lost connection.
 */

import { Server as EngineServer } from 'engine.io';
import { Socket as EngineClient } from 'engine.io-client';
import { suite } from 'uvu';
import { compat, type Loose } from './harness.ts';

const test = suite('compat: frameworks over the library (from npm run test:frameworks)');

compat(
  test,
  "engine.io: a client whose TCP connection is reset closes the server's socket with the reason Socket.IO reports",
  async (lib, t) => {
    const httpServer = await t.httpServer();
    const server = new EngineServer({ wsEngine: lib.WebSocketServer, transports: ['websocket'] });
    server.attach(httpServer);
    t.defer(() => server.close());
    const connected = t.wait<[Loose]>(server as unknown as Loose, 'connection');
    const client = new EngineClient(`ws://127.0.0.1:${httpServer.port}`, { transports: ['websocket'] }) as Loose;
    t.defer(() => client.close());
    const [socket] = await connected;
    await t.wait(client, 'open');
    const closed = t.wait<[string, Loose]>(socket, 'close');
    client.transport.ws._socket.resetAndDestroy();
    const [reason, description] = await closed;
    t.note('reason', reason, 'description', description?.message ?? null);
  },
  {
    skipOn: { bun: "Bun 1.4.5's net.Socket has no resetAndDestroy(), the case's way to reset a TCP connection" },
    differs: {
      reason:
        "netws emits the socket's ECONNRESET as 'error' (DIFFERENCES.md, the socket failing), which engine.io reads as a transport error",
      ws: [['reason', 'transport close', 'description', null]],
      netws: [['reason', 'transport error', 'description', 'Error: read ECONNRESET']],
    },
  },
);

test.run();
