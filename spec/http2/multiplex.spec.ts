/**
 * 100 WebSockets on one HTTP/2 session (netws client and server): each
 * echoes on its own, a reset stream leaves the others open, and a reader
 * that stops holds back only its own stream (per-stream flow control).
 */

import type http2 from 'node:http2';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, type RawData } from '../../src/index.ts';
import { sleep, waitFor } from '../helpers.ts';
import { h2Server, h2Session, type Http2Fixture } from './peer.ts';

const multiplex = suite('http2: 100 WebSockets on one session');

const COUNT = 100;

interface Setup {
  fixture: Http2Fixture;
  session: http2.ClientHttp2Session;
  clients: WebSocket[];
  /** Server side of each client, by the id in its URL. */
  servers: Map<string, WebSocket>;
}

async function setup(): Promise<Setup> {
  const fixture = await h2Server();
  const servers = new Map<string, WebSocket>();
  fixture.wss.on('connection', (ws, req) => {
    const id = new URL(req.url!, 'https://x').searchParams.get('id')!;
    servers.set(id, ws);
    ws.on('message', (data, isBinary) => {
      const command = isBinary ? null : /^flood (\d+)$/.exec(data.toString());
      if (command === null) {
        ws.send(isBinary ? data : `${id}:${data}`, { binary: isBinary });
        return;
      }
      const chunk = Buffer.alloc(64 * 1024, 7);
      for (let sent = 0; sent < Number(command[1]); sent += chunk.length) ws.send(chunk);
    });
  });
  const session = await h2Session(fixture.port);
  const clients = Array.from({ length: COUNT }, (_, i) => new WebSocket(`wss://localhost:${fixture.port}/?id=${i}`, { http2: session }));
  await Promise.all(clients.map((ws) => waitFor(ws, 'open')));
  return { fixture, session, clients, servers };
}

async function teardown({ fixture, session, clients }: Setup): Promise<void> {
  for (const ws of clients) ws.terminate();
  session.close();
  await fixture.close();
}

/** Each client sends `rounds` text messages and gets its own back, in order, tagged with its id. */
async function echoRounds(clients: Array<[number, WebSocket]>, rounds: number): Promise<void> {
  await Promise.all(
    clients.map(async ([id, ws]) => {
      const received: string[] = [];
      const done = new Promise<void>((resolve) => {
        const onMessage = (data: RawData): void => {
          received.push(String(data));
          if (received.length === rounds) {
            ws.removeListener('message', onMessage);
            resolve();
          }
        };
        ws.on('message', onMessage);
      });
      for (let round = 0; round < rounds; round++) ws.send(`m${round}`);
      await done;
      assert.equal(
        received,
        Array.from({ length: rounds }, (_, round) => `${id}:m${round}`),
      );
    }),
  );
}

multiplex('one session carries them all; each echoes its own messages (text and binary), in order', async () => {
  const state = await setup();
  assert.is(state.fixture.sessions.length, 1);
  assert.is(state.servers.size, COUNT);
  await echoRounds(
    state.clients.map((ws, id) => [id, ws]),
    5,
  );
  // Binary, distinct per WebSocket.
  const echoed = await Promise.all(
    state.clients.map(async (ws, id) => {
      const payload = Buffer.alloc(1000 + id, id);
      const message = waitFor<[Buffer]>(ws, 'message');
      ws.send(payload);
      return (await message)[0].equals(payload);
    }),
  );
  assert.ok(echoed.every(Boolean));
  await teardown(state);
});

multiplex('a reset stream (either side) closes its WebSocket with 1006 and leaves the other 98 open', async () => {
  const state = await setup();
  const { clients, servers } = state;
  const serverOf42 = waitFor<[number]>(servers.get('42')!, 'close');
  clients[42].terminate(); // RST_STREAM(CANCEL) from the client
  assert.is((await serverOf42)[0], 1006);
  const client7 = waitFor<[number]>(clients[7], 'close');
  servers.get('7')!.terminate(); // and from the server
  assert.is((await client7)[0], 1006);
  const others = clients.map((ws, id) => [id, ws] as [number, WebSocket]).filter(([id]) => id !== 42 && id !== 7);
  assert.ok(others.every(([, ws]) => ws.readyState === WebSocket.OPEN));
  await echoRounds(others, 3);
  assert.is(state.session.closed, false);
  await teardown(state);
});

multiplex('a reader that stops holds back only its own stream: the others echo on while 4 MiB wait for it', async () => {
  const state = await setup();
  const { clients, servers } = state;
  const slow = clients[0];
  slow.pause();
  const flood = 4 * 1024 * 1024;
  slow.send(`flood ${flood}`);
  const serverSide = servers.get('0')!;
  while (serverSide.bufferedAmount === 0) await sleep(5);
  await echoRounds(
    clients.slice(1).map((ws, i) => [i + 1, ws]),
    10,
  );
  // The stream's window is all that moved: nearly everything still waits on the server.
  assert.ok(serverSide.bufferedAmount > flood - 512 * 1024, `bufferedAmount ${serverSide.bufferedAmount}`);
  let received = 0;
  slow.on('message', (data) => (received += (data as Buffer).length));
  slow.resume();
  const deadline = Date.now() + 10_000;
  while (received < flood && Date.now() < deadline) await sleep(10);
  assert.is(received, flood);
  await teardown(state);
});

multiplex.run();
