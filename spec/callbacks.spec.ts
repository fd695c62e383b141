/**
 * The adversarial checklist for user callbacks: each one of the opening
 * handshake throwing, answering late, or never answering. A remote request
 * must not be able to crash the process through any of them.
 */

import http from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer, type VerifyClientCallback } from '../src/index.ts';
import { portOf, rawConnect, sleep, upgradeRequest, waitFor } from './helpers.ts';
import { listen, shutdown } from './security/peer.ts';

const test = suite('user callbacks that throw, answer late, or never answer');

async function answerTo(port: number, request = upgradeRequest('/', ['Sec-WebSocket-Protocol: chat'])): Promise<string> {
  const conn = await rawConnect(port);
  conn.socket.write(request);
  await Promise.race([conn.closed, sleep(3000)]);
  conn.socket.destroy();
  return conn.received().toString('latin1');
}

const throwing = {
  verifyClient: {
    verifyClient: () => {
      throw new Error('verifyClient broke');
    },
  },
  'verifyClient (async form)': {
    verifyClient: (_info: unknown, _cb: VerifyClientCallback) => {
      throw new Error('verifyClient broke');
    },
  },
  handleProtocols: {
    handleProtocols: () => {
      throw new Error('handleProtocols broke');
    },
  },
};

for (const [name, options] of Object.entries(throwing)) {
  test(`${name} throws: the peer gets 500, the server's 'error' listener the error, the process lives`, async () => {
    const wss = await listen(options as never);
    const errors: string[] = [];
    wss.on('error', (error) => errors.push(error.message));
    assert.match(await answerTo(portOf(wss)), /^HTTP\/1\.1 500 /);
    assert.equal(errors, [`${name.split(' ')[0]} broke`]);
    await shutdown(wss);
  });
}

test("a 'headers' listener that throws: 500, and a wsClientError listener gets the error to answer itself", async () => {
  const wss = await listen();
  wss.on('headers', () => {
    throw new Error('headers broke');
  });
  const seen: Array<[string, number | undefined]> = [];
  wss.on('wsClientError', (error, socket) => {
    seen.push([error.message, error.statusCode]);
    socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
  });
  assert.match(await answerTo(portOf(wss)), /^HTTP\/1\.1 503 /);
  assert.equal(seen, [['headers broke', 500]]);
  assert.is(wss.clients.size, 0);
  await shutdown(wss);
});

test('a throwing callback with no error listener at all: still a 500, and no crash', async () => {
  const wss = await listen({
    verifyClient: () => {
      throw 'not even an Error';
    },
  } as never);
  assert.match(await answerTo(portOf(wss)), /^HTTP\/1\.1 500 /);
  await shutdown(wss);
});

test('verifyClient answering twice, or after the deadline, changes nothing', async () => {
  let late: VerifyClientCallback | undefined;
  const wss = await listen({
    handshakeTimeout: 100,
    verifyClient: (_info: unknown, callback: VerifyClientCallback) => {
      late = callback;
    },
  } as never);
  assert.match(await answerTo(portOf(wss)), /^HTTP\/1\.1 408 /);
  late!(true); // after the 408: ignored
  late!(false, 403);
  await sleep(20);
  assert.is(wss.clients.size, 0);
  await shutdown(wss);
});

test('verifyClient accepting after wss.close(): 503, no connection', async () => {
  let accept: (() => void) | undefined;
  const wss = new WebSocketServer({
    noServer: true,
    verifyClient: (_info: unknown, callback: VerifyClientCallback) => {
      accept = () => callback(true);
    },
  } as never);
  const httpServer = http.createServer();
  httpServer.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => assert.unreachable('upgraded')));
  httpServer.listen(0, '127.0.0.1');
  await waitFor(httpServer, 'listening');
  const conn = await rawConnect(portOf(httpServer));
  conn.socket.write(upgradeRequest('/'));
  while (accept === undefined) await sleep(5);
  wss.close();
  accept();
  await conn.closed;
  assert.match(conn.received().toString('latin1'), /^HTTP\/1\.1 503 /);
  httpServer.close();
});

test('verifyClient accepting after the peer left: the socket is dropped, no connection event', async () => {
  let accept: (() => void) | undefined;
  const wss = await listen({
    verifyClient: (_info: unknown, callback: VerifyClientCallback) => {
      accept = () => callback(true);
    },
  } as never);
  let connections = 0;
  wss.on('connection', () => connections++);
  const conn = await rawConnect(portOf(wss));
  conn.socket.write(upgradeRequest('/'));
  while (accept === undefined) await sleep(5);
  conn.socket.destroy();
  await sleep(20);
  accept();
  await sleep(20);
  assert.is(connections, 0);
  await shutdown(wss);
});

test('a subclass given as the WebSocket option is what connection listeners get', async () => {
  class Tagged extends WebSocket {
    readonly tag = 'mine';
  }
  const wss = await listen({ WebSocket: Tagged });
  const connected = waitFor<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
  const [server] = await connected;
  assert.instance(server, Tagged);
  assert.is((server as Tagged).tag, 'mine');
  client.terminate();
  await shutdown(wss);
});

/** Runs `body` with uncaught exceptions collected instead of failing the run (as a server with such a handler lives on). */
async function catchingUncaught(body: (seen: string[]) => Promise<void>): Promise<void> {
  const seen: string[] = [];
  const onUncaught = (error: Error): number => seen.push(error.message);
  const previous = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  try {
    await body(seen);
  } finally {
    process.removeListener('uncaughtException', onUncaught);
    for (const listener of previous) process.on('uncaughtException', listener);
  }
}

test("a 'connection' listener that throws is not swallowed by verifyClient's guard: it reaches the process, as without verifyClient (and as in ws)", async () => {
  await catchingUncaught(async (seen) => {
    for (const verifyClient of [undefined, () => true, (_info: unknown, cb: VerifyClientCallback) => cb(true)]) {
      const wss = await listen(verifyClient === undefined ? {} : ({ verifyClient } as never));
      wss.on('connection', () => {
        throw new Error('bug in a connection listener');
      });
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
      ws.on('error', () => {});
      const before = seen.length;
      const deadline = Date.now() + 2000;
      while (seen.length === before && Date.now() < deadline) await sleep(5);
      assert.equal(seen.slice(before), ['bug in a connection listener'], String(verifyClient));
      ws.terminate();
      await shutdown(wss);
    }
  });
});

test('a verifyClient refusal whose headers cannot be written (a line break in a value): 500 and the error reported, not a socket left open', async () => {
  for (const form of ['sync callback', 'async callback']) {
    const wss = await listen({
      verifyClient: (_info: unknown, cb: VerifyClientCallback) => {
        const refuse = () => cb(false, 401, 'No', { 'WWW-Authenticate': 'Basic\nrealm="x"' });
        if (form === 'sync callback') refuse();
        else setImmediate(() => refuse());
      },
    } as never);
    const errors: string[] = [];
    wss.on('error', (error) => errors.push(error.message));
    const answer = await answerTo(portOf(wss));
    assert.match(answer, /^HTTP\/1\.1 500 /, form);
    assert.is(errors.length, 1, form);
    await shutdown(wss);
  }
});

test("an 'error' listener that throws still lets the connection close: a protocol error, a heartbeat timeout", async () => {
  await catchingUncaught(async (seen) => {
    for (const cause of ['protocol error', 'heartbeat']) {
      const wss = await listen({
        closeTimeout: 200,
        ...(cause === 'heartbeat' ? { heartbeat: { interval: 50, timeout: 100 } } : {}),
      } as never);
      const accepted = waitFor<[WebSocket]>(wss, 'connection');
      const raw = await rawConnect(portOf(wss));
      raw.socket.write(upgradeRequest());
      const [ws] = await accepted;
      ws.on('error', () => {
        throw new Error(`listener threw on ${cause}`);
      });
      const closed = waitFor<[number]>(ws, 'close', 3000);
      // RSV2 set: a protocol error; or nothing at all, which the heartbeat cuts off.
      if (cause === 'protocol error') raw.socket.write(Buffer.from([0xa1, 0x80, 0, 0, 0, 0]));
      const [code] = await closed;
      assert.is(code, cause === 'protocol error' ? 1002 : 1006, cause);
      assert.is(wss.clients.size, 0, cause);
      assert.ok(seen.includes(`listener threw on ${cause}`), cause);
      raw.socket.destroy();
      await shutdown(wss);
    }
  });
});

test("allowSynchronousEvents: false and a 'message' listener that throws: the next messages and the close still come", async () => {
  await catchingUncaught(async (seen) => {
    const wss = await listen({ allowSynchronousEvents: false, closeTimeout: 500 } as never);
    const accepted = waitFor<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
    const [server] = await accepted;
    await waitFor(client, 'open');
    const got: string[] = [];
    server.on('message', (data) => {
      got.push(String(data));
      if (String(data) === 'a') throw new Error('listener threw on a');
    });
    const closed = waitFor<[number]>(server, 'close', 3000);
    client.send('a');
    client.send('b');
    client.close(1000);
    assert.is((await closed)[0], 1000);
    assert.equal(got, ['a', 'b']);
    assert.equal(seen, ['listener threw on a']);
    assert.is(wss.clients.size, 0);
    await shutdown(wss);
  });
});

test.run();
