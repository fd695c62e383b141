/** The module's shape as `import * as m` sees it: what `import WebSocket, { ... } from 'ws'` code needs. */

import { suite } from 'uvu';
import { compat, type Loose } from './harness.ts';

const test = suite('compat: module exports');

compat(test, 'named exports', (lib, t) => {
  for (const name of ['WebSocket', 'WebSocketServer', 'createWebSocketStream', 'default']) t.note(name, typeof lib.module[name]);
});

// ws's ESM entry (wrapper.mjs) exports the class from lib/websocket.js, so in
// ESM the default export does not carry the CJS statics (.Server, ...); the
// CJS shape is checked by spec/package/ on the packed tarball.
compat(test, 'the default export is the WebSocket class (in ESM without the statics the CJS entry adds)', (lib, t) => {
  const main = lib.module.default as Loose;
  t.note('default is WebSocket', main === lib.WebSocket);
  for (const name of ['Server', 'WebSocketServer', 'WebSocket', 'createWebSocketStream']) {
    t.note(name, typeof main?.[name], main?.[name] === ({ Server: lib.WebSocketServer, WebSocketServer: lib.WebSocketServer, WebSocket: lib.WebSocket } as Loose)[name] || name === 'createWebSocketStream');
  }
});

compat(test, 'the class names', (lib, t) => {
  t.note(lib.WebSocket.name, lib.WebSocketServer.name);
});

test.run();
