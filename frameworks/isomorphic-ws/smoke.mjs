/**
 * isomorphic-ws as node code imports it: an ES module whose default import
 * is ws's WebSocket class (isomorphic-ws re-exports require('ws')), the
 * server taken from the same export, and the CommonJS require of it.
 */

import { createRequire } from 'node:module';
import WebSocket from 'isomorphic-ws';
import harness from './harness.cjs';
import common from './smoke-common.cjs';

const require = createRequire(import.meta.url);

async function start(t, WebSocketServer) {
  const closes = [];
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.defer(
    () =>
      new Promise((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  );
  await t.event(server, 'listening');
  server.on('connection', (ws, request) => {
    if (request.url === '/bye') return ws.close(4001, 'server says bye');
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code, reason) => closes.push([code, String(reason)]));
  });
  return { url: `ws://127.0.0.1:${server.address().port}`, closes };
}

harness.run([
  {
    name: 'isomorphic-ws: the ESM default import and require() give one class, with Server and WebSocketServer on it',
    body: async (t) => {
      t.note('same class', require('isomorphic-ws') === WebSocket, require('ws') === WebSocket);
      t.note('statics', typeof WebSocket.Server, typeof WebSocket.WebSocketServer, WebSocket.Server === WebSocket.WebSocketServer);
      t.note('readyState constants', WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED);
    },
  },
  {
    name: 'isomorphic-ws: echo of text and binary, then the client closes with 1000 and a reason',
    body: async (t) => {
      const { url, closes } = await start(t, WebSocket.Server);
      await common.echoAndClose(t, WebSocket, `${url}/echo`, () => closes);
    },
  },
  {
    name: "isomorphic-ws: the browser-style API (onopen, onmessage with binaryType 'arraybuffer', onclose)",
    body: async (t) => {
      const { url } = await start(t, WebSocket.Server);
      const client = new WebSocket(`${url}/echo`);
      t.defer(() => client.terminate());
      client.binaryType = 'arraybuffer';
      await new Promise((resolve) => (client.onopen = resolve));
      const message = new Promise((resolve) => (client.onmessage = (event) => resolve(event.data)));
      client.send(new Uint8Array([1, 2, 3]));
      const data = await message;
      t.note('echo as', data instanceof ArrayBuffer ? 'ArrayBuffer' : typeof data, data);
      const closed = new Promise((resolve) => (client.onclose = (event) => resolve([event.code, event.reason, event.wasClean])));
      client.close(4000, 'browser style');
      t.note('close event', ...(await closed));
    },
  },
  {
    name: 'isomorphic-ws: the server closes with 4001 and a reason',
    body: async (t) => {
      const { url } = await start(t, WebSocket.Server);
      await common.serverCloses(t, WebSocket, `${url}/bye`);
    },
  },
]);
