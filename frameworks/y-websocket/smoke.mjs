/**
 * Yjs over y-websocket: the server is @y/websocket-server's
 * setupWSConnection on a WebSocketServer from the project's `ws`, the
 * clients are y-websocket's WebsocketProvider with that `ws` as its
 * WebSocket (node has none of its own on Node 20). Two documents sync a text
 * both ways and share awareness, then the providers disconnect.
 */

import { docs, setupWSConnection } from '@y/websocket-server/utils';
import WebSocket, { WebSocketServer } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import harness from './harness.cjs';

async function start(t) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  const serverCloses = [];
  server.on('connection', (ws, request) => {
    ws.on('close', (code) => serverCloses.push(code));
    setupWSConnection(ws, request);
  });
  t.defer(
    () =>
      new Promise((resolve) => {
        // Without persistence the server keeps each room's document (and its awareness timer) for ever.
        for (const doc of docs.values()) doc.destroy();
        docs.clear();
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  );
  await t.event(server, 'listening');
  return { server, url: `ws://127.0.0.1:${server.address().port}`, serverCloses };
}

function provider(t, url, room) {
  const doc = new Y.Doc();
  const connection = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true });
  t.defer(() => {
    connection.destroy();
    doc.destroy();
  });
  return { doc, connection };
}

function synced(t, connection) {
  return connection.synced ? Promise.resolve() : t.event(connection, 'sync');
}

function textChange(t, doc) {
  const text = doc.getText('shared');
  return new Promise((resolve) => {
    const observer = () => {
      text.unobserve(observer);
      resolve(text.toString());
    };
    text.observe(observer);
  });
}

harness.run([
  {
    name: 'y-websocket: two documents sync a text both ways and see each other in awareness, then disconnect',
    body: async (t) => {
      const { url, server, serverCloses } = await start(t);
      const one = provider(t, url, 'room');
      const two = provider(t, url, 'room');
      await Promise.all([synced(t, one.connection), synced(t, two.connection)]);
      t.note('server connections', server.clients.size);

      const reachedTwo = textChange(t, two.doc);
      one.doc.getText('shared').insert(0, 'hello');
      t.note('two sees', await reachedTwo);
      const reachedOne = textChange(t, one.doc);
      two.doc.getText('shared').insert(5, ' world');
      t.note('one sees', await reachedOne);

      const seen = new Promise((resolve) => {
        const listener = () => {
          const states = [...two.connection.awareness.getStates().values()].map((state) => state.user?.name).filter(Boolean);
          if (states.includes('one')) {
            two.connection.awareness.off('change', listener);
            resolve(states);
          }
        };
        two.connection.awareness.on('change', listener);
      });
      one.connection.awareness.setLocalStateField('user', { name: 'one' });
      t.note('awareness on two', await seen);

      one.connection.disconnect();
      two.connection.disconnect();
      for (let i = 0; i < 100 && serverCloses.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      t.note('server close codes', serverCloses.sort());
    },
  },
]);
