/**
 * The real ws package, loaded by its path. Bun answers `import 'ws'` (and
 * `require('ws')`) with a shim of its own built on Bun's WebSocket, so a
 * test comparing netws with ws under Bun would compare it with that shim.
 * A path is not a package name: every runtime loads the file npm installed.
 */

type WsModule = typeof import('ws');

const wrapper = new URL('../node_modules/ws/wrapper.mjs', import.meta.url);

/** ws's module namespace, as `import * as m from 'ws'` gives it on Node. */
export const wsNamespace = (await import(wrapper.href)) as WsModule & { default: WsModule['WebSocket'] };

export const { WebSocket, WebSocketServer, createWebSocketStream } = wsNamespace;
export default wsNamespace.default;
export type WebSocket = import('ws').WebSocket;
export type WebSocketServer = import('ws').WebSocketServer;
