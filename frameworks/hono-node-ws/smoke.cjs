'use strict';
/**
 * @hono/node-ws on @hono/node-server: a route made with upgradeWebSocket(),
 * hono's WSContext on the server side (its send and close), a client from the
 * project's `ws` (netws under the override).
 */

const { Hono } = require('hono');
const { serve } = require('@hono/node-server');
const { createNodeWebSocket } = require('@hono/node-ws');
const WebSocket = require('ws');
const { run } = require('./harness.cjs');
const { echoAndClose, serverCloses } = require('./smoke-common.cjs');

async function start(t) {
  const app = new Hono();
  const { injectWebSocket, upgradeWebSocket } = createNodeWebSocket({ app });
  const closes = [];
  app.get(
    '/echo',
    upgradeWebSocket(() => ({
      onMessage(event, ws) {
        ws.send(event.data);
      },
      onClose(event) {
        closes.push([event.code, event.reason]);
      },
    })),
  );
  app.get(
    '/bye',
    upgradeWebSocket(() => ({
      onOpen(_event, ws) {
        ws.close(4001, 'server says bye');
      },
    })),
  );
  app.get(
    '/protocol',
    upgradeWebSocket((c) => ({
      onOpen(_event, ws) {
        ws.send(JSON.stringify({ protocol: ws.protocol, header: c.req.header('sec-websocket-protocol'), readyState: ws.readyState }));
      },
    })),
  );
  app.get('/plain', (c) => c.text('plain http'));
  const server = await new Promise((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(started));
  });
  injectWebSocket(server);
  t.defer(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  );
  return { url: `ws://127.0.0.1:${server.address().port}`, closes };
}

run([
  {
    name: '@hono/node-ws: echo of text and binary, then the client closes with 1000 and a reason',
    body: async (t) => {
      const { url, closes } = await start(t);
      await echoAndClose(t, WebSocket, `${url}/echo`, () => closes);
      const response = await fetch(`${url.replace('ws:', 'http:')}/plain`);
      t.note('a plain route still answers', response.status, await response.text());
    },
  },
  {
    name: '@hono/node-ws: a subprotocol offered by the client, as the WSContext and the client see it',
    body: async (t) => {
      const { url } = await start(t);
      const client = new WebSocket(`${url}/protocol`, ['chat', 'json']);
      t.defer(() => client.terminate());
      const message = t.event(client, 'message');
      await t.event(client, 'open');
      t.note('client protocol', client.protocol);
      t.note('server side', JSON.parse(String((await message)[0])));
    },
  },
  {
    name: '@hono/node-ws: the server closes with 4001 and a reason',
    body: async (t) => {
      const { url } = await start(t);
      await serverCloses(t, WebSocket, `${url}/bye`);
    },
  },
]);
