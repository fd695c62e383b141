'use strict';
/**
 * express-ws (express 4): routes added with app.ws(), the server and the
 * client both from the `ws` this project resolves (netws under the override).
 */

const express = require('express');
const expressWs = require('express-ws');
const WebSocket = require('ws');
const { run } = require('./harness.cjs');
const { echoAndClose, serverCloses } = require('./smoke-common.cjs');

async function start(t) {
  const app = express();
  const { getWss } = expressWs(app);
  const closes = [];
  app.ws('/echo', (ws, req) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code, reason) => closes.push([code, String(reason)]));
  });
  app.ws('/bye', (ws) => ws.close(4001, 'server says bye'));
  app.get('/plain', (req, res) => res.send('plain http'));
  const server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  t.defer(
    () =>
      new Promise((resolve) => {
        for (const client of getWss().clients) client.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `ws://127.0.0.1:${server.address().port}`, closes, getWss };
}

run([
  {
    name: 'express-ws: echo of text and binary, then the client closes with 1000 and a reason',
    body: async (t) => {
      const { url, closes } = await start(t);
      await echoAndClose(t, WebSocket, `${url}/echo`, () => closes);
      const response = await fetch(`${url.replace('ws:', 'http:')}/plain`);
      t.note('a plain route still answers', response.status, await response.text());
    },
  },
  {
    name: 'express-ws: a broadcast to every client of getWss().clients, with the request seen by the route',
    body: async (t) => {
      const { url, getWss } = await start(t);
      const clients = [new WebSocket(`${url}/echo?n=1`), new WebSocket(`${url}/echo?n=2`)];
      for (const client of clients) t.defer(() => client.terminate());
      await Promise.all(clients.map((client) => t.event(client, 'open')));
      const received = clients.map((client) => t.event(client, 'message'));
      for (const client of getWss().clients) client.send('to everyone');
      for (const [data, isBinary] of await Promise.all(received)) t.note('received', String(data), isBinary);
      t.note('server clients', getWss().clients.size);
    },
  },
  {
    name: 'express-ws: the server closes with 4001 and a reason',
    body: async (t) => {
      const { url } = await start(t);
      await serverCloses(t, WebSocket, `${url}/bye`);
    },
  },
]);
