// An ES module consumer of the installed tarball, run with plain node by
// spec/package/package.spec.ts. Exits non-zero on the first failed check.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import WebSocket, { WebSocketServer, WebSocket as WS, createWebSocketStream } from 'netws';
import * as netws from 'netws';

// The default export is the class, carrying ws's static properties.
assert.equal(typeof WebSocket, 'function');
assert.equal(WebSocket, WS);
assert.equal(WebSocket.Server, WebSocketServer);
assert.equal(WebSocket.WebSocketServer, WebSocketServer);
assert.equal(WebSocket.WebSocket, WebSocket);
assert.equal(typeof createWebSocketStream, 'function');
assert.equal(WebSocket.createWebSocketStream, createWebSocketStream);
for (const [name, value] of Object.entries(netws)) {
  if (name !== 'default') assert.equal(WebSocket[name], value, `WebSocket.${name}`);
}

// One copy of the code: require() from this process gets the same class.
const require = createRequire(import.meta.url);
assert.equal(require('netws'), WebSocket);

// The embedded WebAssembly mask module instantiates under plain node.
const simd = await import(new URL('./node_modules/netws/dist/protocol/mask-simd.js', import.meta.url));
const mask = simd.createSimdMask();
assert.notEqual(mask, null, 'the WebAssembly SIMD mask module did not load');
const data = randomBytes(1000);
const key = Buffer.from([1, 2, 3, 4]);
const expected = data.map((byte, i) => byte ^ key[i & 3]);
mask(data, key, 0);
assert.deepEqual(data, expected);

// A round trip over loopback: a text and a binary message large enough for the SIMD path.
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
await once(wss, 'listening');
wss.on('connection', (ws) => ws.on('message', (message, isBinary) => ws.send(message, { binary: isBinary })));
const ws = new WebSocket(`ws://127.0.0.1:${wss.address().port}`);
await once(ws, 'open');
const big = randomBytes(256 * 1024);
const replies = [];
ws.on('message', (message, isBinary) => replies.push([message, isBinary]));
ws.send('hello from ESM');
ws.send(big);
while (replies.length < 2) await once(ws, 'message');
assert.equal(replies[0][0].toString(), 'hello from ESM');
assert.equal(replies[0][1], false);
assert.deepEqual(replies[1][0], big);
assert.equal(replies[1][1], true);

// Topics: a subscriber gets a publish; netws/redis loads from ESM and require() alike.
wss.on('connection', (peer) => peer.subscribe('news'));
const subscriber = new WebSocket(`ws://127.0.0.1:${wss.address().port}`);
await once(subscriber, 'open');
for (let i = 0; i < 400 && wss.subscriberCount('news') < 1; i++) await new Promise((resolve) => setTimeout(resolve, 5));
assert.equal(wss.publish('news', 'extra'), 1);
assert.equal((await once(subscriber, 'message'))[0].toString(), 'extra');
subscriber.close();
const { RedisAdapter } = await import('netws/redis');
assert.equal(typeof RedisAdapter, 'function');
assert.equal(require('netws/redis').RedisAdapter, RedisAdapter);
assert.throws(() => new RedisAdapter({ publisher: {}, subscriber: {} }), TypeError);

ws.close(1000);
await once(ws, 'close');
await new Promise((resolve) => wss.close(resolve));
console.log('esm ok');
