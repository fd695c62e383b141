/**
 * The HTTP/2 connections a client opens for `http2: true`, one per origin
 * and connection options, shared by the WebSockets to that origin as a
 * browser shares one: opened with ALPN offering h2 and http/1.1, closed
 * when the last WebSocket on it is gone. A server that picks http/1.1 gets
 * its upgrade on the very TLS connection ALPN ran on.
 */

import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { Target } from '../client/address.ts';
import { WebSocketError } from '../protocol/errors.ts';
import { websocketSessionSettings, widenSessionWindow } from './windows.ts';

/**
 * What a WebSocket gets: a session to open its stream on, or word that the
 * server speaks http/1.1, with the TLS socket ALPN ran on (only the first
 * WebSocket waiting gets it; null: connect anew).
 */
export type Connection = { session: http2.ClientHttp2Session } | { http1Socket: tls.TLSSocket | null };

/**
 * Options of one WebSocket that do not change the connection: two
 * WebSockets differing only in these share a session. Any other option
 * (the TLS ones, lookup, family, localAddress...) must be identical.
 */
const PER_WEBSOCKET = new Set([
  'headers',
  'protocols',
  'origin',
  'protocolVersion',
  'handshakeTimeout',
  'maxHeaderSize',
  'followRedirects',
  'maxRedirects',
  'perMessageDeflate',
  'finishRequest',
  'http2',
  'auth',
  'maxPayload',
  'closeTimeout',
  'maxFragments',
  'maxBufferedChunks',
  'maxBufferedAmount',
  'maxPendingAutoPongs',
  'heartbeat',
  'autoPong',
  'allowSynchronousEvents',
  'skipUTF8Validation',
  'generateMask',
]);

type Options = Record<string, unknown>;

function sameConnectionOptions(a: Options, b: Options): boolean {
  const keys = (options: Options): string[] => Object.keys(options).filter((key) => !PER_WEBSOCKET.has(key) && options[key] !== undefined);
  const aKeys = keys(a);
  const bKeys = keys(b);
  return aKeys.length === bKeys.length && aKeys.every((key) => Object.is(a[key], b[key]));
}

/** A WebSocket waiting for a connection; moved to another entry if the server's limit leaves it out. */
interface Waiter {
  deliver: (connection: Connection | Error) => void;
  entry: PooledSession;
}

interface PooledSession {
  readonly origin: string;
  readonly options: Options;
  /** Set once the server's SETTINGS arrived: until then nobody knows its stream limit. */
  session: http2.ClientHttp2Session | null;
  /** WebSockets waiting for the connection, while it is being made. */
  waiting: Waiter[] | null;
  /** WebSockets holding the session (their handshake runs, or their stream is open). */
  users: number;
  /** Drops the connection being made (everyone waiting gave up). */
  abandon: () => void;
}

const pool = new Map<string, PooledSession[]>();
/** Which pooled entry a session belongs to, for releaseSession. */
const entryOf = new WeakMap<http2.ClientHttp2Session, PooledSession>();

function remove(entry: PooledSession): void {
  const entries = pool.get(entry.origin);
  if (entries === undefined) return;
  const index = entries.indexOf(entry);
  if (index !== -1) entries.splice(index, 1);
  if (entries.length === 0) pool.delete(entry.origin);
}

/**
 * A session whose server allows no more concurrent streams: nghttp2 would
 * hold a further CONNECT until a stream ends, which for WebSockets may be
 * never, so the next WebSocket gets a connection of its own (as a browser
 * does). One still connecting takes everyone waiting, and hands out no
 * more places than its server's SETTINGS allow (connect()).
 */
function full(entry: PooledSession): boolean {
  return entry.session !== null && entry.users >= streamLimit(entry.session);
}

function streamLimit(session: http2.ClientHttp2Session): number {
  return session.remoteSettings.maxConcurrentStreams ?? Infinity;
}

/** A session is reusable until it closes, fails or is told to go away. */
function usable(session: http2.ClientHttp2Session): boolean {
  return !session.closed && !session.destroyed;
}

/**
 * A connection to `target` for one WebSocket: a shared session (with one
 * more user, to give back with `release`), or an http/1.1 TLS socket of its
 * own. `callback` gets an Error if the connection failed. Returns a
 * function that gives up waiting.
 */
export function acquireConnection(target: Target, options: Options, callback: (connection: Connection | Error) => void): () => void {
  const origin = target.url.origin;
  let entry = pool.get(origin)?.find((candidate) => sameConnectionOptions(candidate.options, options) && !full(candidate));
  if (entry?.session != null && usable(entry.session)) {
    entry.users++;
    const session = entry.session;
    let cancelled = false;
    process.nextTick(() => {
      if (!cancelled) callback({ session });
    });
    return () => {
      cancelled = true;
      releaseSession(session);
    };
  }
  if (entry === undefined || entry.waiting === null) entry = newEntry(origin, options, target);
  const waiter: Waiter = { deliver: callback, entry };
  entry.waiting!.push(waiter);
  // Called only before the connection is delivered (the handshake forgets it then).
  return () => {
    const waiting = waiter.entry.waiting!;
    waiting.splice(waiting.indexOf(waiter), 1);
    if (waiting.length === 0) waiter.entry.abandon();
  };
}

function newEntry(origin: string, options: Options, target: Target): PooledSession {
  const entry: PooledSession = { origin, options, session: null, waiting: [], users: 0, abandon: () => {} };
  const entries = pool.get(origin) ?? [];
  entries.push(entry);
  pool.set(origin, entries);
  connect(entry, target);
  return entry;
}

/** One WebSocket is done with a shared session: the last one closes it (GOAWAY, then the TLS connection ends). */
export function releaseSession(session: http2.ClientHttp2Session): void {
  const entry = entryOf.get(session);
  if (entry === undefined || --entry.users > 0) return;
  remove(entry);
  // A turn later: the last user may let go inside one of the session's own
  // callbacks (the answer to the PING of whenSettled, 'remoteSettings' when it
  // falls back to HTTP/1.1), and Deno 2.9 crashes (SIGSEGV) when a session is
  // closed there. The entry left the pool already: nobody new gets it.
  setImmediate(closeUnlessClosed, session);
}

function closeUnlessClosed(session: http2.ClientHttp2Session): void {
  if (usable(session)) session.close();
}

function connect(entry: PooledSession, target: Target): void {
  const host = target.host;
  // No SNI for an IP address (RFC 6066 section 3) is undefined, not '': Deno builds the
  // session's origin from the socket's servername, and from '' that is no URL ('https://:port').
  const servername = (entry.options.servername as string | undefined) ?? (net.isIP(host) === 0 ? host : undefined);
  const socket = tls.connect({
    ...(entry.options as tls.ConnectionOptions),
    host,
    port: Number(target.port) || 443,
    servername,
    ALPNProtocols: ['h2', 'http/1.1'],
  });
  // Everyone waiting gave up while the server's SETTINGS were awaited: a
  // server that never sends them must not keep the connection. (Before the
  // TLS handshake ends, a later WebSocket may still join: see secureConnect.)
  let session: http2.ClientHttp2Session | null = null;
  entry.abandon = () => {
    if (session === null) return;
    entry.waiting = null;
    remove(entry);
    session.destroy();
  };
  const fail = (error: Error): void => {
    const waiting = entry.waiting;
    if (waiting === null) return;
    entry.waiting = null;
    remove(entry);
    socket.destroy();
    for (const waiter of waiting) waiter.deliver(error);
  };
  socket.once('error', fail);
  socket.once('secureConnect', () => {
    socket.removeListener('error', fail);
    if (entry.waiting!.length === 0) {
      entry.waiting = null;
      remove(entry);
      socket.destroy();
      return;
    }
    if (socket.alpnProtocol !== 'h2') {
      // An HTTP/1.1 server: the first WebSocket upgrades on this socket, the others connect on their own.
      const waiting = entry.waiting!;
      entry.waiting = null;
      remove(entry);
      for (const [index, waiter] of waiting.entries()) waiter.deliver({ http1Socket: index === 0 ? socket : null });
      return;
    }
    const opened = http2.connect(entry.origin.replace(/^wss:/, 'https:'), {
      createConnection: () => socket,
      settings: websocketSessionSettings,
    });
    widenSessionWindow(opened);
    session = opened;
    entryOf.set(opened, entry);
    // Errors reach the streams (and so the WebSockets); the session's own are not ours to throw.
    opened.on('error', () => {});
    opened.once('close', () => {
      remove(entry);
      fail(new WebSocketError('WS_ERR_HTTP2_SESSION_CLOSED', 'The HTTP/2 session closed before the WebSocket opened'));
    });
    opened.once('goaway', () => remove(entry));
    // Handed out once the server said how many streams it allows: a burst
    // of WebSockets gets that many places here and another connection for
    // the rest, rather than CONNECTs nghttp2 would hold back.
    opened.once('remoteSettings', () => {
      const waiting = entry.waiting!;
      entry.waiting = null;
      entry.session = opened;
      // (At least one: a limit of 0 must not open connection after connection.)
      const served = waiting.slice(0, Math.max(1, streamLimit(opened)));
      const rest = waiting.slice(served.length);
      if (rest.length > 0) {
        const next = newEntry(entry.origin, entry.options, target);
        for (const waiter of rest) waiter.entry = next;
        next.waiting!.push(...rest);
      }
      entry.users += served.length;
      for (const waiter of served) waiter.deliver({ session: opened });
    });
  });
}
