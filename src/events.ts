/**
 * A WebSocket's events: their Node-style arguments (WebSocketEvents), and
 * the event classes of the WHATWG WebSocket API. Node 20 has `Event` and
 * `MessageEvent` as globals but neither `CloseEvent` nor `ErrorEvent`, so
 * those two are defined here on top of the global `Event`; `MessageEvent`
 * extends Node's own, so `instanceof MessageEvent` holds with either.
 */

import type { ClientRequest, IncomingMessage } from 'node:http';
import type { RawData } from './connection/data.ts';

/** Events and their arguments, ws-compatible ('close' adds wasClean). */
export interface WebSocketEvents {
  open: [];
  /** `data` is a Buffer for text; for binary, shaped by binaryType (Buffer, ArrayBuffer, Buffer[] or Blob). */
  message: [data: RawData, isBinary: boolean];
  close: [code: number, reason: Buffer, wasClean: boolean];
  error: [error: Error];
  ping: [data: Buffer];
  pong: [data: Buffer];
  upgrade: [response: IncomingMessage];
  redirect: [url: string, request: ClientRequest];
  'unexpected-response': [request: ClientRequest, response: IncomingMessage];
  /** The send queue has emptied after a send filled it past the socket's high-water mark. */
  drain: [];
}

/** The Event constructor's options (not a global type in @types/node). */
export interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

export interface CloseEventInit extends EventInit {
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

export interface ErrorEventInit extends EventInit {
  message?: string;
  filename?: string;
  lineno?: number;
  colno?: number;
  error?: unknown;
}

/** Where a WebSocket puts itself as the target of the events it fires. */
export const kTarget = Symbol('netws.eventTarget');
/** Set by stopImmediatePropagation(): Node's own flag is internal, and the listeners after it must not run. */
export const kStopImmediate = Symbol('netws.stopImmediate');

/** Node's Event, typed with names a declaration file may use. */
export const NodeEvent = Event as unknown as new (type: string, init?: EventInit) => Event;

export interface MessageEventInit extends EventInit {
  data?: unknown;
  origin?: string;
  lastEventId?: string;
}

/** The members of Node's global MessageEvent that a WebSocket uses (`data` is `any`, as in the DOM types). */
export interface NodeMessageEvent extends Event {
  // biome-ignore lint/suspicious/noExplicitAny: the DOM types have `any` here, and user code written for them expects it
  readonly data: any;
  readonly origin: string;
  readonly lastEventId: string;
}

/** Node's MessageEvent (from undici), typed likewise. */
export const NodeMessageEvent = globalThis.MessageEvent as unknown as new (type: string, init?: MessageEventInit) => NodeMessageEvent;

/** What `onopen` receives (and listeners of events with no class of their own). */
export class WebSocketEvent extends NodeEvent {
  [kTarget]: object | null = null;
}

/** What `onmessage` receives: `data` is a string, or a Buffer, ArrayBuffer or Blob per `binaryType`. */
export class MessageEvent extends NodeMessageEvent {
  [kTarget]: object | null = null;
}

/** What `onclose` receives: the close code, the reason as a string, and whether the closing handshake completed. */
export class CloseEvent extends WebSocketEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;

  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

/** What `onerror` receives; unlike a browser, netws also says what went wrong (`error`, `message`). */
export class ErrorEvent extends WebSocketEvent {
  readonly message: string;
  readonly filename: string;
  readonly lineno: number;
  readonly colno: number;
  readonly error: unknown;

  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.message = init.message ?? '';
    this.filename = init.filename ?? '';
    this.lineno = init.lineno ?? 0;
    this.colno = init.colno ?? 0;
    this.error = init.error;
  }
}

/**
 * Node's Event only gets a target when an EventTarget dispatches it; a
 * WebSocket is an EventEmitter, so its events carry their target in a field.
 * (Defining `target` on each instance instead cost about 1 µs a message.)
 */
const inheritedStop = Event.prototype.stopImmediatePropagation;

/** Makes stopImmediatePropagation() visible to our dispatch, for our events or (per instance) a foreign one. */
export function markStopImmediate(target: object): void {
  Object.defineProperty(target, 'stopImmediatePropagation', {
    value: function stopImmediatePropagation(this: Event & { [kStopImmediate]?: boolean }) {
      this[kStopImmediate] = true;
      inheritedStop.call(this);
    },
    configurable: true,
    writable: true,
  });
}

for (const prototype of [WebSocketEvent.prototype, MessageEvent.prototype]) {
  markStopImmediate(prototype);
  for (const name of ['target', 'currentTarget', 'srcElement']) {
    const inherited = Object.getOwnPropertyDescriptor(Event.prototype, name)!.get!;
    Object.defineProperty(prototype, name, {
      get(this: WebSocketEvent) {
        return this[kTarget] ?? inherited.call(this);
      },
      configurable: true,
      enumerable: true,
    });
  }
}
