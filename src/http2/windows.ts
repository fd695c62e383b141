/**
 * HTTP/2 flow-control windows that fit WebSockets (RFC 9113 section 5.2).
 *
 * node:http2 keeps the protocol's initial 65,535-byte windows, sized for
 * request/response traffic. A WebSocket stream is long-lived and may carry
 * bulk data: with 64 KiB in flight per stream the sender waits for a
 * WINDOW_UPDATE every 64 KiB, a round trip each time, and 64 KiB-1 MiB
 * messages echoed at about 0.7x the speed of the same WebSocket on
 * HTTP/1.1 (bench/http2.ts).
 *
 * So the sessions netws controls get wider windows: the client sessions it
 * opens for `http2: true`, and the sessions of a node:http2 server on which
 * it accepts a WebSocket (unless the server's owner chose a window: then
 * theirs stands). Sessions the user created and handed over (`http2:
 * session`) keep the user's settings.
 *
 * The memory this lets a peer hold: node consumes the connection's window as
 * data arrives and a stream's window as its reader takes the data, so a
 * WebSocket that is not read (pause(), or a full message queue) holds at
 * most one stream window of unread data, and the other streams of its
 * session flow on (spec/http2/windows.spec.ts). 1 MiB per stream is what a
 * TCP connection's receive buffer commonly grows to, so a paused WebSocket
 * holds about what it holds on HTTP/1.1; browsers go further (Chromium: 6 MB
 * per stream, 15 MB per session).
 *
 * The session window bounds the data in flight on the whole connection,
 * each way, and it is no wider than one stream's: node:http2 stops reading
 * its socket while a write of its own waits for room in it. When both ends
 * have more in flight than the TCP buffers between them hold, both writes
 * wait and neither end reads again: every stream of the session stalls for
 * good. With 16 MiB, 8 WebSockets of one session sending 1 MiB each way at
 * once stalled on loopback, and plain node:http2 stalled with those windows
 * from 6 MiB per session (spec/http2/windows.spec.ts, 2026-12-05). 1 MiB
 * keeps a single WebSocket at full speed (bench/http2.ts) with room to
 * spare below that point.
 */

import type { Http2Session, Settings } from 'node:http2';

/** SETTINGS_INITIAL_WINDOW_SIZE for sessions that carry WebSockets: at most this much unread data per stream. */
export const WEBSOCKET_STREAM_WINDOW = 1024 * 1024;
/** The connection-level receive window of those sessions (WINDOW_UPDATE on stream 0): see above for why not wider. */
export const WEBSOCKET_SESSION_WINDOW = 1024 * 1024;
/** RFC 9113's initial window, which node:http2 keeps unless told otherwise. */
const PROTOCOL_DEFAULT_WINDOW = 65_535;

/** The SETTINGS of a client session netws opens for WebSockets. */
export const websocketSessionSettings: Readonly<Settings> = Object.freeze({ initialWindowSize: WEBSOCKET_STREAM_WINDOW });

/** Sessions already given their windows (a session carries many WebSockets). */
const fitted = new WeakSet<Http2Session>();

/** Widens the connection-level receive window of a session netws opened (its streams' window came with its SETTINGS). */
export function widenSessionWindow(session: Http2Session): void {
  // (Runtimes other than Node may lack it: their own defaults then stand.)
  if (typeof session.setLocalWindowSize === 'function') session.setLocalWindowSize(WEBSOCKET_SESSION_WINDOW);
}

/**
 * Gives a server session on which a WebSocket was accepted the WebSocket
 * windows, once, where its server's owner left node's defaults: an
 * `initialWindowSize` in the server's settings, or one set on the session
 * since, says the owner chose the windows, and then both stay theirs.
 */
export function fitServerSession(session: Http2Session | undefined, ownSettings: Settings | undefined): void {
  if (session === undefined || session.destroyed || fitted.has(session)) return;
  fitted.add(session);
  if (ownSettings?.initialWindowSize !== undefined || session.localSettings?.initialWindowSize !== PROTOCOL_DEFAULT_WINDOW) return;
  session.settings({ initialWindowSize: WEBSOCKET_STREAM_WINDOW });
  if ((session.state?.localWindowSize ?? Infinity) <= PROTOCOL_DEFAULT_WINDOW) widenSessionWindow(session);
}
