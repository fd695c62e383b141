/**
 * The contract engine.io (Socket.IO's engine) relies on, with a real
 * engine.io server whose `wsEngine` is ws, then netws's WebSocketServer:
 *
 * - Socket.IO frames a broadcast packet once (socket.io-adapter builds
 *   `wsPreEncodedFrame` with ws's `Sender.frame()`), and engine.io writes
 *   those bytes with `websocket._sender.sendFrame(frames, cb)` when that
 *   method exists; otherwise it encodes the packet again for every client.
 * - engine.io reads the peer address from `websocket._socket.remoteAddress`.
 *
 * The pre-encoded frame here carries other text than the packet's data, so
 * the client shows which of the two paths the bytes took.
 */

import { Server as EngineServer } from 'engine.io';
import { Socket as EngineClient } from 'engine.io-client';
import { suite } from 'uvu';
import { wsNamespace as ws } from '../real-ws.ts';
import { compat, type Loose, type Run } from './harness.ts';

/** What socket.io-adapter computes for a broadcast: the frame of the engine.io message packet ("4" + data), unmasked. */
function preEncodedFrame(data: string): Buffer[] {
  const Sender = (ws as unknown as { Sender: Loose }).Sender;
  return Sender.frame(Buffer.from(`4${data}`), { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true });
}

/** An engine.io server on node:http with the library's WebSocketServer as wsEngine, and a connected engine.io client. */
async function engine(t: Run, wsEngine: Loose): Promise<{ socket: Loose; client: EngineClient }> {
  const httpServer = await t.httpServer();
  const server = new EngineServer({ wsEngine, transports: ['websocket'], perMessageDeflate: false });
  server.attach(httpServer);
  t.defer(() => server.close());
  const connected = t.wait<[Loose]>(server as unknown as Loose, 'connection');
  const client = new EngineClient(`ws://127.0.0.1:${httpServer.port}`, { transports: ['websocket'] });
  t.defer(() => client.close());
  const [socket] = await connected;
  await t.wait(client as unknown as Loose, 'open');
  return { socket, client };
}

/** Spies on the WebSocket's `_sender.sendFrame`, if it has one. */
function spySendFrame(t: Run, socket: Loose): void {
  const websocket = socket.transport.socket;
  const sender = websocket._sender;
  t.note('websocket._sender.sendFrame is a function', typeof sender?.sendFrame === 'function');
  if (typeof sender?.sendFrame !== 'function') return;
  const sendFrame = sender.sendFrame;
  sender.sendFrame = function (this: unknown, frames: Buffer[], cb: unknown) {
    t.note('sendFrame called with', Buffer.concat(frames).subarray(2).toString());
    return sendFrame.call(this, frames, cb);
  };
}

const test = suite('compat: engine.io with wsEngine set to the library');

compat(test, 'a plain send reaches the client; the peer address is read from websocket._socket', async (lib, t) => {
  const { socket, client } = await engine(t, lib.WebSocketServer);
  t.note('remoteAddress', socket.remoteAddress, 'websocket._socket.remoteAddress', socket.transport.socket._socket?.remoteAddress);
  const message = t.wait(client as unknown as Loose, 'message');
  socket.send('hello');
  t.note('client got', ...(await message));
});

compat(test, 'a broadcast with a pre-encoded frame: written as is through _sender.sendFrame', async (lib, t) => {
  const { socket, client } = await engine(t, lib.WebSocketServer);
  spySendFrame(t, socket);
  const message = t.wait(client as unknown as Loose, 'message');
  let callbacks = 0;
  socket.send('encoded again', { wsPreEncodedFrame: preEncodedFrame('framed once') }, () => callbacks++);
  t.note('client got', ...(await message));
  await t.until(() => callbacks > 0, 1000, 'the send callback');
  t.note('send callbacks', callbacks);
});

compat(test, 'pre-encoded frames keep their order with plain sends', async (lib, t) => {
  const { socket, client } = await engine(t, lib.WebSocketServer);
  const messages: unknown[] = [];
  (client as unknown as Loose).on('message', (data: unknown) => messages.push(data));
  socket.send('one');
  socket.send('x', { wsPreEncodedFrame: preEncodedFrame('two') });
  socket.send('three');
  await t.until(() => messages.length === 3, 1000, 'three messages');
  t.note(messages);
});

test.run();
