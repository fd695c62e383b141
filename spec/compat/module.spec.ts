/** The module's shape as `import * as m` sees it: what `import WebSocket, { ... } from 'ws'` code needs. */

import { suite } from 'uvu';
import { compat } from './harness.ts';

const test = suite('compat: module exports');

compat(test, 'named exports', (lib, t) => {
  for (const name of ['WebSocket', 'WebSocketServer', 'createWebSocketStream', 'default']) t.note(name, typeof lib.module[name]);
});

// ws's ESM entry (wrapper.mjs) exports the class from lib/websocket.js, which
// carries the statics (.Server, ...) only once something has loaded ws's CJS
// entry (engine.io does, so the answer depends on which specs ran first).
// netws's default export always carries them: import and require share one
// class object. That shape is checked by spec/index.spec.ts and, for ESM and
// CJS on the packed tarball, by spec/package/.
compat(test, 'the default export is the WebSocket class', (lib, t) => {
  t.note('default is WebSocket', lib.module.default === lib.WebSocket);
});

compat(test, 'the class names', (lib, t) => {
  t.note(lib.WebSocket.name, lib.WebSocketServer.name);
});

test.run();
