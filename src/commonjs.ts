// What `require('netws')` loads (the "require" condition in package.json).
// Node's require() of an ES module returns its export named 'module.exports'
// when there is one (Node 20.19+ and 22.12+), so CommonJS code gets the
// WebSocket class itself, as from ws, not a namespace object. This module only
// re-exports index.ts: import and require share one copy of the code, so
// classes (instanceof) and module state are the same on both paths. The
// named re-exports are for TypeScript; Node hands out 'module.exports' alone.
// Kept out of index.ts so that index.d.ts still parses on TypeScript < 5.6.
export * from './index.ts';
export { default as 'module.exports' } from './index.ts';
