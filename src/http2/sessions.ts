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
  'headers', 'protocols', 'origin', 'protocolVersion', 'handshakeTimeout', 'maxHeaderSize', 'followRedirects',
  'maxRedirects', 'perMessageDeflate', 'finishRequest', 'http2', 'auth', 'maxPayload', 'closeTimeout',
  'maxFragments', 'maxBufferedChunks', 'maxBufferedAmount', 'maxPendingAutoPongs', 'heartbeat', 'autoPong',
  'allowSynchronousEvents', 'skipUTF8Validation', 'generateMask',
]);

type Options = Record<string, unknown>;

function sameConnectionOptions(a: Options, b: Options): boolean {
  const keys = (options: Options): string[] => Object.keys(options).filter((key) => !PER_WEBSOCKET.has(key) && options[key] !== undefined);
  const aKeys = keys(a);
  const bKeys = keys(b);
  return aKeys.length === bKeys.length && aKeys.every((key) => Object.is(a[key], b[key]));
}

interface PooledSession {
  readonly origin: string;
  readonly options: Options;
  session: http2.ClientHttp2Session | null;
  /** WebSockets waiting for the connection, while it is being made. */
  waiting: Array<(connection: Connection | Error) => void> | null;
  /** WebSockets holding the session (their handshake runs, or their stream is open). */
  users: number;
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
 * does). One still connecting takes everyone waiting.
 */
function full(entry: PooledSession): boolean {
  // (A limit the server did not send is undefined, and `>=` undefined is false: not full.)
  return entry.session !== null && entry.users >= entry.session.remoteSettings.maxConcurrentStreams!;
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
  if (entry === undefined || entry.waiting === null) {
    entry = { origin, options, session: null, waiting: [], users: 0 };
    const entries = pool.get(origin) ?? [];
    entries.push(entry);
    pool.set(origin, entries);
    connect(entry, target);
  }
  const waiting = entry.waiting!;
  waiting.push(callback);
  // Called only before the connection is delivered (the handshake forgets it then).
  return () => {
    waiting.splice(waiting.indexOf(callback), 1);
  };
}

/** One WebSocket is done with a shared session: the last one closes it (GOAWAY, then the TLS connection ends). */
export function releaseSession(session: http2.ClientHttp2Session): void {
  const entry = entryOf.get(session);
  if (entry === undefined || --entry.users > 0) return;
  remove(entry);
  if (usable(session)) session.close();
}

function connect(entry: PooledSession, target: Target): void {
  const host = target.host;
  const servername = (entry.options.servername as string | undefined) ?? (net.isIP(host) === 0 ? host : '');
  const socket = tls.connect({
    ...(entry.options as tls.ConnectionOptions),
    host,
    port: Number(target.port) || 443,
    servername,
    ALPNProtocols: ['h2', 'http/1.1'],
  });
  const fail = (error: Error): void => {
    const waiting = entry.waiting!;
    entry.waiting = null;
    remove(entry);
    socket.destroy();
    for (const deliver of waiting) deliver(error);
  };
  socket.once('error', fail);
  socket.once('secureConnect', () => {
    socket.removeListener('error', fail);
    const waiting = entry.waiting!;
    entry.waiting = null;
    if (socket.alpnProtocol !== 'h2') {
      // An HTTP/1.1 server: the first WebSocket upgrades on this socket, the others connect on their own.
      remove(entry);
      if (waiting.length === 0) socket.destroy();
      waiting.forEach((deliver, index) => deliver({ http1Socket: index === 0 ? socket : null }));
      return;
    }
    const session = http2.connect(entry.origin.replace(/^wss:/, 'https:'), { createConnection: () => socket });
    entry.session = session;
    entryOf.set(session, entry);
    // Errors reach the streams (and so the WebSockets); the session's own are not ours to throw.
    session.on('error', () => {});
    session.once('close', () => remove(entry));
    session.once('goaway', () => remove(entry));
    entry.users += waiting.length;
    for (const deliver of waiting) deliver({ session });
    if (entry.users === 0) {
      remove(entry);
      session.close();
    }
  });
}
