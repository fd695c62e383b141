// What `require('netws')` loads (the "require" condition in package.json): the
// WebSocket class, as ws's index.js exports it. Not a second build: Node's
// require() of the ES module (20.19+, 22.12+) and bundlers' require() both
// return index.ts's namespace, so import and require share one copy of the
// code, and classes (instanceof) and module state do not split in two.
import netws = require('./index.ts');
import WebSocket = netws.WebSocket;
export = WebSocket;
