/**
 * A WebSocket's internal entry points, for the layers above it (server.ts,
 * topics.ts, WebSocketStream): symbol-keyed, so a subclass cannot collide
 * with them and they stay off the public types.
 */

import type { DeflateSettings } from '../compression/settings.ts';
import type { ResolvedConnectionOptions } from '../options/connection.ts';
import type { TransportTraits } from './transport.ts';

/** What the handshakes (server.ts, the client's) hand over once the connection is open. */
export interface AttachOptions {
  isServer: boolean;
  protocol: string;
  extensions: string;
  /** Set when permessage-deflate was negotiated. */
  deflate: DeflateSettings | null;
  /** Limits and behaviour, resolved once per server or client (shared, not copied). */
  options: ResolvedConnectionOptions;
  /** How the transport ends and aborts (an HTTP/2 stream's); default a TCP or TLS socket's. */
  traits?: TransportTraits | null;
}

/** Binds an upgraded socket or stream: the connection opens. */
export const kAttach = Symbol('netws.attach');
/** Sends a message framed once for many connections (broadcast, publish). */
export const kSendPrepared = Symbol('netws.sendPrepared');
/** Called once when a connection is closed, before its 'close' event (a server's client tracking). */
export const kOnClosed = Symbol('netws.onClosed');
/** A WebSocketStream's view of the connection it wraps: its 'open' and 'close' without listeners. */
export const kStreamHooks = Symbol('netws.streamHooks');

/** What a WebSocketStream learns from its connection (fields, so removeAllListeners() cannot take them). */
export interface StreamHooks {
  opened(): void;
  closed(code: number, reason: Buffer, wasClean: boolean): void;
}
