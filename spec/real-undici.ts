/**
 * The real undici package, loaded by its path (as spec/real-ws.ts loads ws): Bun answers `import 'undici'` with
 * a module of its own, so the interop test would meet Bun's client instead of undici's RFC 8441 one (on Bun 1.4.5
 * that test ended with no test passed and nothing reported).
 */

import { createRequire } from 'node:module';

type Undici = typeof import('undici');

const undici = createRequire(import.meta.url)('../node_modules/undici/index.js') as Undici;

export const { Agent, WebSocket } = undici;
