/**
 * The differential harness. A case body runs twice in this process, once
 * against ws and once against netws, one after the other. Each run writes a
 * transcript (what it observed, in order: events and their arguments, bytes
 * on the wire, thrown errors, return values); the two transcripts must be
 * equal. Where netws differs on purpose, the case declares both expected
 * transcripts (`differs`), so the difference is asserted, not ignored.
 *
 * Every run is fenced: a body that hangs fails at its timeout, an exception
 * that escapes a library's socket handler is caught and written into the
 * transcript (it would otherwise kill the test process), and anything left
 * open after the run's cleanup (a socket, a server, a ref'd timer) is
 * reported as a leak, then closed so the suite still exits.
 */

import type { EventEmitter } from 'node:events';
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import * as netwsModule from '../../src/index.ts';
// ws by its path, not its name: Bun answers the name with a shim of its own (see real-ws.ts).
import WS, { WebSocketServer as WSServer, createWebSocketStream as wsCreateWebSocketStream, wsNamespace as wsModule } from '../real-ws.ts';
import { except, type SkipReasons } from '../runtime.ts';
import { RawServer, RawSocket, bytes } from './wire.ts';

/** Both libraries are driven through one untyped surface: the point is to compare them, not to typecheck them. */
// biome-ignore lint/suspicious/noExplicitAny: both libraries through one untyped surface, on purpose
export type Loose = any;

export type LibName = 'ws' | 'netws';

export interface Lib {
  name: LibName;
  WebSocket: Loose;
  WebSocketServer: Loose;
  /** Undefined while netws does not export it. */
  createWebSocketStream: Loose;
  /** The module namespace, as `import * as m` gives it. */
  module: Record<string, unknown>;
}

const netwsExports = netwsModule as unknown as Record<string, unknown>;

export const wsLib: Lib = {
  name: 'ws',
  WebSocket: WS,
  WebSocketServer: WSServer,
  createWebSocketStream: wsCreateWebSocketStream,
  module: wsModule as unknown as Record<string, unknown>,
};

export const netwsLib: Lib = {
  name: 'netws',
  WebSocket: netwsModule.WebSocket,
  WebSocketServer: netwsModule.WebSocketServer,
  createWebSocketStream: netwsExports.createWebSocketStream,
  module: netwsExports,
};

/** The reference peer: ws, in both runs, so a difference comes from the library under test. */
export const Ref = { WebSocket: WS as Loose, WebSocketServer: WSServer as Loose };

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realSetInterval = globalThis.setInterval;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => realSetTimeout(resolve, ms));

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = realSetTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
    promise.then(
      (value) => {
        realClearTimeout(timer);
        resolve(value);
      },
      (error) => {
        realClearTimeout(timer);
        reject(error);
      },
    );
  });
}

const BUILTIN_ERRORS: Array<new (...args: never[]) => unknown> = [
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  AggregateError,
  DOMException,
  Error,
];

/** The nearest built-in class of an error: what `instanceof` checks in user code can tell apart. */
export function builtinClass(error: unknown): string {
  for (let proto = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    if (BUILTIN_ERRORS.includes(proto.constructor)) return proto.constructor.name;
  }
  return typeof error;
}

/** The error codes ws documents (doc/ws.md, "Error codes"): part of the contract. */
export const WS_ERROR_CODES = new Set([
  'WS_ERR_EXPECTED_FIN',
  'WS_ERR_EXPECTED_MASK',
  'WS_ERR_INVALID_CLOSE_CODE',
  'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
  'WS_ERR_INVALID_OPCODE',
  'WS_ERR_INVALID_UTF8',
  'WS_ERR_UNEXPECTED_MASK',
  'WS_ERR_UNEXPECTED_RSV_1',
  'WS_ERR_UNEXPECTED_RSV_2_3',
  'WS_ERR_TOO_MANY_BUFFERED_PARTS',
  'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
  'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
]);

/**
 * Codes compared between the libraries: ws's documented ones and those of
 * Node (ECONNREFUSED, ERR_*, certificate errors). A WS_ERR_* code ws does
 * not document is netws's own addition on an error ws leaves without a
 * code, so it is left out rather than counted as a difference.
 */
function isComparableCode(code: unknown): boolean {
  if (code === undefined) return false;
  return typeof code !== 'string' || !code.startsWith('WS_ERR_') || WS_ERROR_CODES.has(code);
}

/**
 * An error as a transcript entry: its built-in class, its name and message
 * (code in the wild matches on them: logs, retries, tests), its `code` when
 * it is comparable (see isComparableCode), and the DOMException name.
 * `withMessage` is kept for the callers that asked for the message before
 * messages were always compared.
 */
export function errorShape(error: unknown, _withMessage = true): Record<string, unknown> {
  const e = error as { code?: unknown; name?: string; message?: string };
  const shape: Record<string, unknown> = { error: builtinClass(error) };
  if (error instanceof DOMException) shape.name = e.name;
  else {
    if (isComparableCode(e.code)) shape.code = e.code;
    if (typeof e.name === 'string') shape.name = e.name;
  }
  // Ports differ from run to run (ECONNREFUSED's message names one).
  if (typeof e.message === 'string') shape.message = e.message.replace(/(127\.0\.0\.1|localhost|::1):\d+/g, '$1:<port>');
  return shape;
}

export interface CaseOptions {
  /** Per run, in ms; default 2000. */
  timeout?: number;
  /** What ws's transcript must be (documents ws's behaviour); netws's must then equal it. */
  expect?: unknown;
  /** A deliberate difference: each library's own transcript, and why. Listed in DIFFERENCES.md. */
  differs?: { ws: unknown; netws: unknown; reason: string };
  /** The ws run may fail (time out, leak): used where ws itself misbehaves and the case says so. */
  wsMayFail?: boolean;
  /** Runtimes where the case is skipped, each with its reason (spec/runtime.ts prints them). */
  skipOn?: SkipReasons;
}

export type Body = (lib: Lib, t: Run) => Promise<unknown> | unknown;

type Transcript = unknown[];

/** One run of a case against one library: its transcript and the resources to free afterwards. */
export class Run {
  readonly lib: Lib;
  readonly log: Transcript = [];
  finished = false;
  private readonly cleanups: Array<() => unknown> = [];

  constructor(lib: Lib) {
    this.lib = lib;
  }

  get name(): LibName {
    return this.lib.name;
  }

  /** Appends one entry: a single value, or several as a list. Values are shaped to be comparable. */
  note(...entry: unknown[]): void {
    if (this.finished) return;
    this.log.push(entry.length === 1 ? this.shape(entry[0]) : entry.map((value) => this.shape(value)));
  }

  /**
   * A value in a comparable form: bytes as text or hex, errors by class and
   * code, library objects by kind, plain objects and arrays recursively.
   */
  shape(value: unknown, depth = 0): unknown {
    if (value === null || value === undefined) return value;
    switch (typeof value) {
      case 'boolean':
      case 'number':
      case 'string':
        return value;
      case 'bigint':
        return `${value}n`;
      case 'function':
        return 'function';
      case 'symbol':
        return value.toString();
    }
    if (depth > 6) return '…';
    if (Buffer.isBuffer(value)) return `Buffer ${bytes(value)}`;
    if (value instanceof ArrayBuffer) return `ArrayBuffer ${bytes(new Uint8Array(value))}`;
    if (ArrayBuffer.isView(value))
      return `${value.constructor.name} ${bytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))}`;
    if (value instanceof Blob) return `Blob size=${value.size} type=${JSON.stringify(value.type)}`;
    if (value instanceof Error || value instanceof DOMException) return errorShape(value);
    if (value instanceof WS || value instanceof netwsModule.WebSocket) return '<WebSocket>';
    if (value instanceof http.IncomingMessage) return '<IncomingMessage>';
    if (value instanceof http.ClientRequest) return '<ClientRequest>';
    if (value instanceof net.Socket) return '<Socket>';
    if (value instanceof Set) return { Set: [...value].map((item) => this.shape(item, depth + 1)) };
    if (value instanceof Map) return { Map: [...value].map((item) => this.shape(item, depth + 1)) };
    if (Array.isArray(value)) return value.map((item) => this.shape(item, depth + 1));
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value as object)) out[key] = this.shape(item, depth + 1);
      return out;
    }
    return `<${(value as object).constructor?.name ?? 'object'}>`;
  }

  /**
   * Runs `fn` after the body (in reverse order of registration), even when
   * it failed. A body still running after its timeout that opens something
   * more gets it closed at once.
   */
  defer(fn: () => unknown): void {
    if (this.finished) {
      Promise.resolve()
        .then(fn)
        .catch(() => {});
      return;
    }
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    this.finished = true;
    while (this.cleanups.length > 0) {
      const fn = this.cleanups.pop()!;
      try {
        await withTimeout(Promise.resolve().then(fn), 1000, 'in cleanup');
      } catch {
        // The leak check below reports what a failed cleanup left behind.
      }
    }
  }

  /** The arguments of the next `event`; rejects after `ms` (an 'error' event resolves like any other). */
  wait<T extends unknown[] = Loose[]>(emitter: EventEmitter, event: string, ms = 1000): Promise<T> {
    const waiting = new Promise<T>((resolve, reject) => {
      const timer = realSetTimeout(() => {
        emitter.removeListener(event, listener);
        reject(new Error(`timed out after ${ms} ms waiting for '${event}'`));
      }, ms);
      function listener(...args: unknown[]): void {
        realClearTimeout(timer);
        resolve(args as T);
      }
      emitter.once(event, listener);
    });
    // A wait set up in advance and abandoned when the body fails is no unhandled rejection.
    waiting.catch(() => {});
    return waiting;
  }

  /** Whether `event` comes within `ms` (for "nothing happens" checks; keep `ms` small). */
  async happens(emitter: EventEmitter, event: string, ms: number): Promise<boolean> {
    try {
      await this.wait(emitter, event, ms);
      return true;
    } catch {
      return false;
    }
  }

  /** Resolves once `check()` is true, polled every few ms; rejects after `ms`. */
  async until(check: () => boolean, ms = 2000, what = 'a condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await sleep(2);
    }
  }

  sleep(ms: number): Promise<void> {
    return sleep(ms);
  }

  /** Notes every emission of `events` as [label, event, ...args]; 'close' keeps ws's two documented arguments. */
  record(emitter: EventEmitter, label: string, events: string[], arity: Record<string, number> = { close: 2 }): void {
    for (const event of events) {
      emitter.on(event, (...args: unknown[]) => {
        const kept = arity[event] === undefined ? args : args.slice(0, arity[event]);
        this.note(label, event, ...kept);
      });
    }
  }

  /** A WebSocketServer of `lib` (default: the one under test), on 127.0.0.1 and a free port unless `server`/`noServer` is given. */
  async server(options: Record<string, unknown> = {}, lib: { WebSocketServer: Loose } = this.lib): Promise<Loose> {
    const standalone = options.server === undefined && !options.noServer;
    const wss = new lib.WebSocketServer(standalone ? { port: 0, host: '127.0.0.1', ...options } : options);
    this.trackServer(wss);
    if (standalone) await this.wait(wss, 'listening');
    return wss;
  }

  /** A ws server as the reference peer. */
  refServer(options: Record<string, unknown> = {}): Promise<Loose> {
    return this.server(options, Ref);
  }

  /** Closes `wss` after the run, terminating its connections first. */
  trackServer(wss: Loose): void {
    const connections = new Set<Loose>();
    wss.on('connection', (ws: Loose) => connections.add(ws));
    this.defer(async () => {
      for (const ws of connections) ws.terminate();
      if (wss.clients instanceof Set) for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    });
  }

  /** A client of the library under test, created with exactly these arguments; terminated after the run. */
  client(...args: unknown[]): Loose {
    return this.track(new this.lib.WebSocket(...args));
  }

  /** A ws client as the reference peer. */
  refClient(...args: unknown[]): Loose {
    return this.track(new Ref.WebSocket(...args));
  }

  track<T extends { terminate(): void }>(ws: T): T {
    this.defer(() => ws.terminate());
    return ws;
  }

  /**
   * An open connection with the library under test on `end` and a ws
   * reference peer on the other: `local` is the tested library's
   * WebSocket, `peer` the ws one.
   */
  async pair(
    end: 'server' | 'client',
    serverOptions: Record<string, unknown> = {},
    clientOptions: Record<string, unknown> = {},
  ): Promise<{ local: Loose; peer: Loose; wss: Loose; url: string }> {
    const wss = end === 'server' ? await this.server(serverOptions) : await this.refServer(serverOptions);
    const url = `ws://127.0.0.1:${wss.address().port}`;
    const connection = this.wait<[Loose]>(wss, 'connection');
    const client = end === 'server' ? this.refClient(url, clientOptions) : this.client(url, clientOptions);
    await this.wait(client, 'open');
    const [serverSide] = await connection;
    return end === 'server' ? { local: serverSide, peer: client, wss, url } : { local: client, peer: serverSide, wss, url };
  }

  /** A node:http server on 127.0.0.1 and a free port; closed (with its connections) after the run. */
  async httpServer(handler?: http.RequestListener): Promise<http.Server & { port: number }> {
    const server = http.createServer(handler);
    const sockets = new Set<Duplex>();
    server.on('connection', (socket) => sockets.add(socket));
    server.on('upgrade', (_req, socket) => sockets.add(socket));
    this.defer(async () => {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return Object.assign(server, { port: (server.address() as net.AddressInfo).port });
  }

  /** A raw TCP connection to `port`; destroyed after the run. */
  async raw(port: number): Promise<RawSocket> {
    const raw = await RawSocket.connect(port);
    this.defer(() => raw.destroy());
    return raw;
  }

  /** A raw TCP server; closed after the run. */
  async rawServer(): Promise<RawServer> {
    const server = await RawServer.listen();
    this.defer(() => server.close());
    return server;
  }

  /** Calls `fn` and notes what it returned or threw: ['returned', value] or ['threw', error shape]. */
  attempt(label: string, fn: () => unknown, withMessage = false): void {
    try {
      this.note(label, 'returned', fn());
    } catch (error) {
      this.note(label, 'threw', errorShape(error, withMessage));
    }
  }
}

// process._getActiveHandles() is not typed; it is what keeps the event loop (and uvu) alive.
function activeHandles(): object[] {
  return (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles();
}

interface TimerInternals {
  _destroyed?: boolean;
  _idleTimeout?: number;
  _repeat?: number | null;
  hasRef(): boolean;
}

function handleName(handle: object): string {
  if (handle instanceof net.Socket) return handle.destroyed ? 'Socket (destroyed)' : 'Socket';
  if (handle instanceof http.Server) return 'http.Server';
  if (handle instanceof net.Server) return 'net.Server';
  return handle.constructor?.name ?? 'handle';
}

function forceClose(handle: object): void {
  if (handle instanceof net.Socket) handle.destroy();
  else if (handle instanceof http.Server) {
    handle.closeAllConnections();
    handle.close();
  } else if (handle instanceof net.Server) handle.close();
  (handle as { unref?: () => void }).unref?.();
}

/**
 * What a run left open once its cleanup is done: handles that did not exist
 * before it and ref'd timers it created (library timers go through the
 * patched global setTimeout). Polled for a short while, since closing is
 * asynchronous; whatever remains is reported and force-closed.
 */
async function collectLeaks(baseline: Set<object>, timers: TimerInternals[]): Promise<string[]> {
  let handles: object[] = [];
  let live: TimerInternals[] = [];
  const deadline = Date.now() + 400;
  for (;;) {
    handles = activeHandles().filter((handle) => !baseline.has(handle));
    live = timers.filter((timer) => !timer._destroyed && timer.hasRef());
    if (handles.length === 0 && live.length === 0) return [];
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const leaks = [
    ...handles.map(handleName),
    ...live.map((timer) => `${timer._repeat ? 'interval' : 'timer'} ${timer._idleTimeout} ms`),
  ].sort();
  for (const handle of handles) forceClose(handle);
  for (const timer of live) realClearTimeout(timer as unknown as NodeJS.Timeout);
  return leaks;
}

interface Outcome {
  transcript: Transcript;
  /** Set when the run itself failed (threw, timed out, leaked), as opposed to observing a behaviour. */
  failure: string | null;
}

async function execute(lib: Lib, body: Body, timeout: number): Promise<Outcome> {
  const run = new Run(lib);
  const baseline = new Set(activeHandles());
  const timers: TimerInternals[] = [];
  const trackedSetTimeout = (...args: Parameters<typeof setTimeout>) => {
    const timer = realSetTimeout(...args);
    timers.push(timer as unknown as TimerInternals);
    return timer;
  };
  const trackedSetInterval = (...args: Parameters<typeof setInterval>) => {
    const timer = realSetInterval(...args);
    timers.push(timer as unknown as TimerInternals);
    return timer;
  };
  globalThis.setTimeout = trackedSetTimeout as typeof setTimeout;
  globalThis.setInterval = trackedSetInterval as typeof setInterval;
  // An exception escaping a socket handler would end the test process: it
  // becomes a transcript entry instead.
  const onUncaught = (error: unknown): void => run.note('uncaught', errorShape(error, true));
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  let failure: string | null = null;
  try {
    const pending = Promise.resolve().then(() => body(lib, run));
    pending.catch(() => {}); // reported below, or after a timeout nowhere
    const result = await withTimeout(pending, timeout, 'for the case body');
    if (result !== undefined) run.note('result', result);
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
    run.log.push(['threw', failure]);
  }
  await run.cleanup();
  const leaks = await collectLeaks(baseline, timers);
  if (leaks.length > 0) {
    run.log.push(['leaked', ...leaks]);
    failure ??= `leaked ${leaks.join(', ')}`;
  }
  globalThis.setTimeout = realSetTimeout;
  globalThis.setInterval = realSetInterval;
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  return { transcript: run.log, failure };
}

function show(value: unknown): string {
  return JSON.stringify(value, null, 1);
}

/**
 * `actual` as a written expectation compares it: an error an expectation
 * describes by some of its fields (its class, say, from before names and
 * messages were compared) is compared on those fields only. Everything else
 * must be equal. Where the two libraries' transcripts are compared with each
 * other (no expectation written), every field counts.
 */
function asExpected(actual: unknown, expected: unknown): unknown {
  if (Array.isArray(actual) && Array.isArray(expected)) return actual.map((value, i) => asExpected(value, expected[i]));
  if (actual === null || expected === null || typeof actual !== 'object' || typeof expected !== 'object') return actual;
  const out: Record<string, unknown> = {};
  const isError = 'error' in (expected as object) && 'error' in (actual as object);
  for (const [key, value] of Object.entries(actual as Record<string, unknown>)) {
    if (isError && !(key in (expected as object))) continue;
    out[key] = asExpected(value, (expected as Record<string, unknown>)[key]);
  }
  return out;
}

/**
 * Registers a differential case on `test`: `body` runs against ws, then
 * against netws; the transcripts must be equal (and equal to
 * `options.expect`, if given), or each equal to its side of `options.differs`.
 */
/**
 * Cases skipped on one runtime, each with its reason: where the reference (ws on that runtime) or the runtime
 * itself differs for a reason outside netws. Printed by spec/runtime.ts and listed by scripts/test-runtime.ts.
 */
const RUNTIME_SKIPS: Record<string, SkipReasons> = {
  'port: the callback and the listening event, in order': {
    bun: "ws's port mode runs on Bun's node:http Server, which is not Node's: it listens without net.Server.prototype.listen, re-emits 'listening' with arguments, words EADDRINUSE otherwise; the reference changes, not netws (Bun 1.4.5)",
  },
  'address(): port mode, before and after listening; host is honoured': {
    bun: "ws's port mode runs on Bun's node:http Server, which is not Node's: it listens without net.Server.prototype.listen, re-emits 'listening' with arguments, words EADDRINUSE otherwise; the reference changes, not netws (Bun 1.4.5)",
  },
  'backlog and host are passed to listen()': {
    bun: "ws's port mode runs on Bun's node:http Server, which is not Node's: it listens without net.Server.prototype.listen, re-emits 'listening' with arguments, words EADDRINUSE otherwise; the reference changes, not netws (Bun 1.4.5)",
  },
  "server mode: 'listening' and 'error' of the http server are re-emitted": {
    bun: "ws's port mode runs on Bun's node:http Server, which is not Node's: it listens without net.Server.prototype.listen, re-emits 'listening' with arguments, words EADDRINUSE otherwise; the reference changes, not netws (Bun 1.4.5)",
  },
  "port already in use: 'error' with EADDRINUSE": {
    bun: "ws's port mode runs on Bun's node:http Server, which is not Node's: it listens without net.Server.prototype.listen, re-emits 'listening' with arguments, words EADDRINUSE otherwise; the reference changes, not netws (Bun 1.4.5)",
  },
  "'connection' in port mode: the request fields framework code reads": {
    bun: "ws's port mode runs on Bun's node:http Server, which is not Node's: it listens without net.Server.prototype.listen, re-emits 'listening' with arguments, words EADDRINUSE otherwise; the reference changes, not netws (Bun 1.4.5)",
  },
  "'listening' and 'close' have no arguments": {
    bun: "ws's port mode runs on Bun's node:http Server, which is not Node's: it listens without net.Server.prototype.listen, re-emits 'listening' with arguments, words EADDRINUSE otherwise; the reference changes, not netws (Bun 1.4.5)",
  },
  'port mode: open connections are left open, close comes after the last one ends': {
    bun: "ws's port mode runs on Bun's node:http Server, which is not Node's: it listens without net.Server.prototype.listen, re-emits 'listening' with arguments, words EADDRINUSE otherwise; the reference changes, not netws (Bun 1.4.5)",
    deno: "ws's order differs by runtime here: on Node its server's 'close' comes before the last connection's, on Deno 2.9.6 after it (Deno's http server calls its close callback after the sockets' 'close'); netws keeps the order ws has on Node",
  },
  'zlibDeflateOptions and zlibInflateOptions reach zlib [client]': {
    deno: "Deno 2.9.6's node:zlib exports cannot be redefined, so the case cannot watch the options reach createDeflateRaw",
  },
  'zlibDeflateOptions and zlibInflateOptions reach zlib [server]': {
    deno: "Deno 2.9.6's node:zlib exports cannot be redefined, so the case cannot watch the options reach createDeflateRaw",
  },
  'receiving: data that does not inflate fails the connection [client]': {
    deno: "ws on Deno 2.9.6 takes data that does not inflate as an empty message, then fails with ERR_MULTIPLE_CALLBACK (Deno's zlib reports the error after the flush); netws closes 1007 there as ws does on Node",
  },
  'receiving: data that does not inflate fails the connection [server]': {
    deno: "ws on Deno 2.9.6 takes data that does not inflate as an empty message, then fails with ERR_MULTIPLE_CALLBACK (Deno's zlib reports the error after the flush); netws closes 1007 there as ws does on Node",
  },
  'close event although the user removed all listeners of a connection': {
    deno: "ws on Deno 2.9.6 does not emit the server's 'close' within the case's 200 ms (the case documents ws on Node)",
  },
  'end(): the WebSocket closes (1005), then finish, end and close on the stream [client]': {
    deno: "ws's createWebSocketStream on Deno 2.9.6 does not give the events the case documents (ws on Node)",
  },
  'write() and end() while CONNECTING wait for open': {
    deno: "ws's createWebSocketStream on Deno 2.9.6 does not give the events the case documents (ws on Node)",
  },
};

export function compat(test: Test, title: string, body: Body, options: CaseOptions = {}): void {
  const file = /compat\/(\w+\.spec\.ts)/.exec(new Error().stack ?? '')?.[1] ?? '';
  except(test, options.skipOn ?? RUNTIME_SKIPS[title] ?? {})(title, async () => {
    const started = Date.now();
    const timeout = options.timeout ?? 2000;
    const ws = await execute(wsLib, body, timeout);
    const wsTime = Date.now() - started;
    if (ws.failure !== null && !options.wsMayFail) {
      throw new Error(`the case fails against ws itself (a test bug?): ${ws.failure}\n${show(ws.transcript)}`);
    }
    // netws gets ten times what ws took (at least 1 s, as a loaded CI
    // machine can stall a process for hundreds of milliseconds): a case
    // netws cannot complete fails well before the case's own timeout.
    const netws = await execute(netwsLib, body, Math.min(timeout, Math.max(1000, wsTime * 10)));
    // COMPAT_TIMING=1 prints the time of each run, to find slow cases.
    if (process.env.COMPAT_TIMING) console.error(`${wsTime} ms ws, ${Date.now() - started - wsTime} ms netws: ${title}`);
    let passed = false;
    try {
      if (options.differs) {
        assert.equal(asExpected(ws.transcript, options.differs.ws), options.differs.ws, 'ws does not behave as this case documents');
        assert.equal(
          asExpected(netws.transcript, options.differs.netws),
          options.differs.netws,
          `netws does not show the declared difference (${options.differs.reason})`,
        );
      } else {
        if (options.expect !== undefined) {
          assert.equal(asExpected(ws.transcript, options.expect), options.expect, 'ws does not behave as this case documents');
        }
        assert.equal(netws.transcript, ws.transcript, 'netws differs from ws');
      }
      passed = true;
    } finally {
      // COMPAT_DUMP=file appends every case's transcripts to that file (JSON
      // lines) for report.ts, which writes STATUS.md from them.
      if (process.env.COMPAT_DUMP) {
        const expected = options.differs ? options.differs.netws : ws.transcript;
        appendFileSync(
          process.env.COMPAT_DUMP,
          JSON.stringify({
            file,
            title,
            passed,
            declared: options.differs?.reason ?? null,
            ws: ws.transcript,
            netws: netws.transcript,
            expected,
          }) + '\n',
        );
      }
    }
  });
}

/** A predicate-friendly description of a property descriptor (values shaped, accessors as presence). */
export function describeProperty(target: object, name: string): Record<string, unknown> | undefined {
  const descriptor = Object.getOwnPropertyDescriptor(target, name);
  if (descriptor === undefined) return undefined;
  const out: Record<string, unknown> = { enumerable: descriptor.enumerable, configurable: descriptor.configurable };
  if ('value' in descriptor) {
    out.value = typeof descriptor.value === 'function' ? 'function' : descriptor.value;
    out.writable = descriptor.writable;
  } else {
    out.get = typeof descriptor.get;
    out.set = typeof descriptor.set;
  }
  return out;
}
