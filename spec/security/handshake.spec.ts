/**
 * Attacks on the opening handshake, each reproduced against a real server:
 * header floods (CVE-2024-37890 class), ReDoS-shaped header values
 * (CVE-2021-32640 class), prototype names, slowloris, pipelined bytes.
 */

import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from '../../src/index.ts';
import { checkUpgradeRequest } from '../../src/protocol/handshake.ts';
import { SAMPLE_KEY, frame, portOf, rawConnect, sleep, text, upgradeRequest, waitFor } from '../helpers.ts';
import { listen, medianTime, shutdown } from './peer.ts';

/** Sends `request` and returns everything the server answered before closing. */
async function exchange(port: number, request: string | Buffer): Promise<string> {
  const conn = await rawConnect(port);
  conn.socket.write(request);
  await conn.closed;
  return conn.received().toString('latin1');
}

/** The server still completes a normal handshake (nothing broke for others). */
async function stillServes(port: number): Promise<void> {
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  await waitFor(client, 'open');
  client.terminate();
}

const test = suite('security: handshake attacks');

test('5,000 header lines → 431, and the server keeps serving (CVE-2024-37890 class)', async () => {
  const wss = await listen();
  const lines = Array.from({ length: 5000 }, (_, i) => `X-Flood-${i}: v`);
  assert.match(await exchange(portOf(wss), upgradeRequest('/', lines)), /^HTTP\/1\.1 431 /);
  await stillServes(portOf(wss));
  await shutdown(wss);
});

test('one 1 MiB header → 431 once 16 KiB have arrived; the rest is never buffered', async () => {
  const wss = await listen();
  const conn = await rawConnect(portOf(wss));
  conn.socket.write('GET / HTTP/1.1\r\nX-Huge: ');
  const chunk = 'a'.repeat(64 * 1024);
  let written = 0;
  // Bounded: stop at 1 MiB or as soon as the server answered.
  while (written < 1024 * 1024 && conn.received().length === 0) {
    conn.socket.write(chunk);
    written += chunk.length;
    await sleep(1);
  }
  await conn.closed;
  assert.match(conn.received().toString('latin1'), /^HTTP\/1\.1 431 /);
  await stillServes(portOf(wss));
  await shutdown(wss);
});

test('node:http truncating headers (maxHeadersCount) leaves no undefined key to crash on: 400 (CVE-2024-37890)', async () => {
  const server = http.createServer();
  server.maxHeadersCount = 5;
  const wss = new (await import('../../src/index.ts')).WebSocketServer({ server });
  try {
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    const flood = Array.from({ length: 10 }, (_, i) => `X-Before-${i}: v`);
    const request = [
      'GET / HTTP/1.1',
      'Host: x',
      ...flood,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${SAMPLE_KEY}`,
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n');
    const answer = await exchange(portOf(server), request);
    // Node 20's node:http still emits 'upgrade' but drops the headers past the
    // fifth, so Upgrade and Sec-WebSocket-Key are missing: netws refuses (400,
    // 426). Node 22 and later refuse the request themselves (431). A refusal, never a crash.
    assert.match(answer, /^HTTP\/1\.1 (400|426|431) /, answer);
  } finally {
    wss.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** Values shaped to make a backtracking regular expression explode. */
const HOSTILE_VALUES: Array<[string, (n: number) => string, string]> = [
  ['sec-websocket-protocol', (n) => 'a,'.repeat(n / 2), 'many empty-separated tokens'],
  ['sec-websocket-protocol', (n) => `${'a'.repeat(n)} !`, 'a long token then a bad character'],
  ['sec-websocket-protocol', (n) => `${' \t'.repeat(n / 2)}x y`, 'whitespace runs'],
  ['sec-websocket-extensions', (n) => `x${';a'.repeat(n / 2)}`, 'many parameters'],
  ['sec-websocket-extensions', (n) => `x; a="${'\\a'.repeat(n / 2)}`, 'an unterminated quoted string of escapes'],
  ['sec-websocket-extensions', (n) => `x${' ; b = c'.repeat(n / 9)} =`, 'spaced parameters then a stray "="'],
  ['sec-websocket-extensions', (n) => `${`${'a'.repeat(500)}, `.repeat(n / 502)};`, 'long offers then a bad ";"'],
  ['sec-websocket-extensions', (n) => `${'a, '.repeat(n / 3)};`, 'thousands of offers (refused past 256)'],
];

function request(name: string, value: string): { method: string; httpVersion: string; headers: Record<string, string> } {
  return {
    method: 'GET',
    httpVersion: '1.1',
    headers: {
      host: 'x',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': SAMPLE_KEY,
      'sec-websocket-version': '13',
      [name]: value,
    },
  };
}

for (const [name, build, shape] of HOSTILE_VALUES) {
  test(`ReDoS: a 64 KiB ${name} (${shape}) parses in linear time (CVE-2021-32640 class)`, () => {
    const small = request(name, build(4 * 1024));
    const large = request(name, build(64 * 1024));
    for (let i = 0; i < 20; i++) checkUpgradeRequest(small); // warm up the JIT
    // 16 small parses hold the same number of bytes as one large one: a linear
    // parser takes about as long for both, a quadratic one 16 times longer.
    const smallTime = medianTime(() => {
      for (let i = 0; i < 16; i++) checkUpgradeRequest(small);
    });
    const largeTime = medianTime(() => checkUpgradeRequest(large));
    assert.ok(largeTime < smallTime * 4, `64 KiB: ${largeTime} ns; 16 × 4 KiB: ${smallTime} ns`);
  });
}

test('ReDoS: a 64 KiB hostile Sec-WebSocket-Extensions through a real server is answered at once', async () => {
  const wss = await listen({ maxHeaderSize: 256 * 1024 });
  const started = Date.now();
  const answer = await exchange(portOf(wss), upgradeRequest('/', [`Sec-WebSocket-Extensions: x; a="${'\\a'.repeat(32 * 1024)}`]));
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.ok(Date.now() - started < 2000);
  await shutdown(wss);
});

test('extension and header names constructor, __proto__, hasOwnProperty are plain names: 101, nothing polluted', async () => {
  const wss = await listen();
  const before = Object.getOwnPropertyNames(Object.prototype).length;
  const connected = waitFor<[WebSocket, { headers: Record<string, string> }]>(wss, 'connection');
  const answer = rawConnect(portOf(wss));
  const conn = await answer;
  conn.socket.write(
    upgradeRequest('/', [
      'Sec-WebSocket-Extensions: constructor, __proto__; __proto__=1; constructor, hasOwnProperty; hasOwnProperty=x',
      'Sec-WebSocket-Protocol: __proto__, constructor',
      '__proto__: polluted',
      'constructor: polluted',
      'hasOwnProperty: polluted',
    ]),
  );
  const [ws, req] = await connected;
  assert.is(ws.protocol, '__proto__');
  assert.is(ws.extensions, '');
  // node's own IncomingMessage (as ws hands out) drops a header named __proto__; the others are plain names.
  assert.is(req.headers['constructor'], 'polluted');
  assert.is(req.headers['hasownproperty'], 'polluted');
  assert.is(Object.getOwnPropertyNames(Object.prototype).length, before);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
  await sleep(20);
  const head = conn.received().toString('latin1');
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.not.match(head, /Sec-WebSocket-Extensions/i);
  conn.socket.destroy();
  await shutdown(wss);
});

test('a client offered an extension named __proto__ by the server fails cleanly, no crash', async () => {
  const server = net.createServer((socket) => {
    socket.once('data', (data) => {
      const key = /Sec-WebSocket-Key: (\S+)/i.exec(data.toString('latin1'))![1];
      const accept = createHash('sha1')
        .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
        .digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: __proto__; constructor=1\r\n\r\n`,
      );
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
  const [error] = await waitFor<[{ code: string }]>(client, 'error');
  assert.is(error.code, 'WS_ERR_INVALID_EXTENSION');
  const [code] = await waitFor<[number]>(client, 'close');
  assert.is(code, 1006);
  server.close();
});

test('slowloris: one byte every 40 ms is still cut at the handshake timeout, which no byte extends', async () => {
  const wss = await listen({ handshakeTimeout: 300 });
  const conn = await rawConnect(portOf(wss));
  const started = Date.now();
  const bytes = Buffer.from(upgradeRequest('/'));
  let index = 0;
  const drip = setInterval(() => {
    if (index < bytes.length && !conn.socket.destroyed) conn.socket.write(bytes.subarray(index, ++index));
  }, 40);
  await conn.closed;
  clearInterval(drip);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 280 && elapsed < 2000, `closed after ${elapsed} ms`);
  assert.ok(index < bytes.length, 'the whole head got through');
  assert.match(conn.received().toString('latin1'), /^HTTP\/1\.1 408 /);
  await shutdown(wss);
});

test('server: frames pipelined in the same write as the request head, cut at odd points, are all delivered in order', async () => {
  const wss = await listen();
  const got: string[] = [];
  const done = new Promise<number>((resolve) =>
    wss.on('connection', (ws) => {
      ws.on('message', (data) => got.push(String(data)));
      ws.on('close', (code) => resolve(code));
    }),
  );
  const conn = await rawConnect(portOf(wss));
  const bytes = Buffer.concat([
    Buffer.from(upgradeRequest('/')),
    text('one'),
    text('tw', { fin: false }),
    frame({ opcode: 0, payload: 'o' }),
    frame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) }),
  ]);
  const head = upgradeRequest('/').length;
  conn.socket.write(bytes.subarray(0, head + 3)); // the head and half a frame header
  await sleep(10);
  conn.socket.write(bytes.subarray(head + 3));
  assert.is(await done, 1000);
  assert.equal(got, ['one', 'two']);
  await shutdown(wss);
});

test('client: frames the server pipelines right behind its 101 are delivered, not lost nor misparsed', async () => {
  const server = net.createServer((socket) => {
    socket.once('data', (data) => {
      const key = /Sec-WebSocket-Key: (\S+)/i.exec(data.toString('latin1'))![1];
      const accept = createHash('sha1')
        .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
        .digest('base64');
      socket.write(
        Buffer.concat([
          Buffer.from(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
          ),
          text('first', { mask: false }),
          text('second', { mask: false }),
        ]),
      );
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
  const got: string[] = [];
  client.on('message', (data) => got.push(String(data)));
  await waitFor(client, 'open');
  await sleep(30);
  assert.equal(got, ['first', 'second']);
  client.terminate();
  server.close();
});

test.run();
