/**
 * The event classes of the WHATWG WebSocket API. Node 20 has `Event` and
 * `MessageEvent` as globals but neither `CloseEvent` nor `ErrorEvent`, so
 * those two are defined here on top of the global `Event`.
 */

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

/** What `onclose` receives: the close code, the reason as a string, and whether the closing handshake completed. */
export class CloseEvent extends Event {
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

export interface ErrorEventInit extends EventInit {
  message?: string;
  filename?: string;
  lineno?: number;
  colno?: number;
  error?: unknown;
}

/** What `onerror` receives; unlike a browser, netws also says what went wrong (`error`, `message`). */
export class ErrorEvent extends Event {
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

/** Node's own global (from undici), so `event instanceof MessageEvent` holds with or without this import. */
export const MessageEvent = globalThis.MessageEvent;
export type MessageEvent = globalThis.MessageEvent;
