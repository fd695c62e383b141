/** A connection's ready states, and the one error for work a connection in the wrong state cannot do. */

import { WebSocketError } from '../protocol/errors.ts';
import type { WriteCallback } from '../protocol/protocol.ts';

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

/** One of the four, as @types/ws types `readyState`. */
export type ReadyState = typeof CONNECTING | typeof OPEN | typeof CLOSING | typeof CLOSED;

const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];

export function notOpenError(state: number): WebSocketError {
  return new WebSocketError('WS_ERR_NOT_OPEN', `WebSocket is not open: readyState ${state} (${STATE_NAMES[state]})`);
}

/**
 * A write that failed, as its sender hears of it. Once our side closes or
 * terminate()s, only that the connection is not open: the runtime's words
 * for it (ERR_STREAM_DESTROYED on Node, ERR_SOCKET_CLOSED on Bun, ECANCELED
 * on Deno) become the one code users switch on. While the connection is
 * still open, something closed its transport beneath it, and `error` (the
 * transport's own) says what.
 */
export function writeFailure(state: number, error: Error): Error {
  return state === OPEN ? error : notOpenError(state);
}

export function closedBeforeConnect(): WebSocketError {
  return new WebSocketError('WS_ERR_CLOSED_BEFORE_CONNECT', 'WebSocket was closed before the connection was established');
}

/** A connection that closed without a closing handshake, as an iterator reports it when nothing else went wrong. */
export function closedAbnormally(code: number): WebSocketError {
  return new WebSocketError('WS_ERR_CLOSED_ABNORMALLY', `The connection closed without a closing handshake (${code})`, { closeCode: code });
}

/** A send that will not happen: its callback (if any) gets `error`, or the not-open error, on a later tick. */
export function refuseSend(callback: WriteCallback | undefined, state: number, error?: Error): void {
  if (callback) process.nextTick(callback, error ?? notOpenError(state));
}

/** Puts the ready-state constants on a class and its prototype (enumerable, read-only, as ws has them) and makes `accessors` enumerable. */
export function defineReadyStates(cls: { prototype: object }, accessors: readonly string[]): void {
  for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
    Object.defineProperty(cls, name, { value, enumerable: true });
    Object.defineProperty(cls.prototype, name, { value, enumerable: true });
  }
  for (const name of accessors) Object.defineProperty(cls.prototype, name, { enumerable: true });
}

/** The prototype of listenerTable()'s objects: none of Object.prototype's members to trip over. */
function ListenerTable(): void {}
ListenerTable.prototype = Object.create(null);

/**
 * A WebSocket's `_events`, EventEmitter's table of listeners. EventEmitter
 * makes a dictionary-mode object; this is a plain object over a
 * null-prototype one: the same lookups, about 200 bytes less per connection.
 */
export function listenerTable(): object {
  return new (ListenerTable as unknown as new () => object)();
}
