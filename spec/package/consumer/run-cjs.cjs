// A CommonJS consumer of the installed tarball, written as ws users write it,
// run with plain node by spec/package/package.spec.ts. Exits non-zero on the
// first failed check.
const assert = require('node:assert/strict');
const { randomBytes } = require('node:crypto');
const { once } = require('node:events');
const WebSocket = require('netws');

async function main() {
  // require() returns the class itself, with ws's static properties.
  assert.equal(typeof WebSocket, 'function');
  assert.equal(WebSocket.name, 'WebSocket');
  assert.equal(WebSocket.WebSocket, WebSocket);
  assert.equal(WebSocket.WebSocketServer, WebSocket.Server);
  assert.equal(typeof WebSocket.Server, 'function');
  assert.equal(typeof WebSocket.createWebSocketStream, 'function');
  // ws's index.js attaches its parts too.
  assert.equal(typeof WebSocket.Receiver, 'function');
  assert.equal(typeof WebSocket.Sender, 'function');

  // Every named export is reachable from require, and import() gets the same objects.
  const netws = await import('netws');
  assert.equal(netws.default, WebSocket);
  // Deno 2.9 resolves an import() made in CommonJS with the "require" condition: it gets the CommonJS build, whose
  // namespace holds its exports as `default` and 'module.exports' (a name of the runtime's, no export of netws).
  for (const [name, value] of Object.entries(netws)) {
    if (name !== 'default' && name !== 'module.exports') assert.equal(WebSocket[name], value, `require('netws').${name}`);
  }

  // A round trip over loopback, ws-style.
  const wss = new WebSocket.Server({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (ws) => ws.on('message', (message, isBinary) => ws.send(message, { binary: isBinary })));
  const ws = new WebSocket(`ws://127.0.0.1:${wss.address().port}`);
  await once(ws, 'open');
  const big = randomBytes(256 * 1024);
  const replies = [];
  ws.on('message', (message, isBinary) => replies.push([message, isBinary]));
  ws.send('hello from CommonJS');
  ws.send(big);
  while (replies.length < 2) await once(ws, 'message');
  assert.equal(replies[0][0].toString(), 'hello from CommonJS');
  assert.deepEqual(replies[1][0], big);
  assert.equal(replies[1][1], true);

  // netws/redis from CommonJS: the same class as import() gets.
  const { RedisAdapter } = require('netws/redis');
  assert.equal(typeof RedisAdapter, 'function');
  const redis = await import('netws/redis');
  assert.equal(('module.exports' in redis ? redis.default : redis).RedisAdapter, RedisAdapter);

  ws.close(1000);
  await once(ws, 'close');
  await new Promise((resolve) => wss.close(resolve));
  console.log('cjs ok');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
