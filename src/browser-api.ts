/**
 * The WHATWG (browser) face of WebSocket: `onopen`/`onmessage`/`onclose`/
 * `onerror`, `addEventListener` and friends, `binaryType`, and the
 * DOMExceptions `close()` throws. Code written for the browser runs on Node
 * unchanged, while the Node-style `on('message', (data, isBinary))` events
 * keep working on the same object.
 *
 * A WebSocket is an EventEmitter, not an EventTarget: each WHATWG listener is
 * registered as an EventEmitter listener that turns the Node-style arguments
 * into an Event. One list of listeners keeps both styles in the order they
 * were added, and removeAllListeners() clears both.
 */

import type { EventEmitter } from 'node:events';
import { isValidCloseCode, MAX_CLOSE_REASON } from './protocol/close.ts';
import { CloseEvent, ErrorEvent, kTarget, MessageEvent, WebSocketEvent } from './events.ts';
import type { SendData, SendOptions, WebSocket } from './websocket.ts';
import type { WriteCallback } from './protocol/protocol.ts';

/** How binary messages reach MessageEvent.data; 'nodebuffer' (a Buffer) is the default, as in ws. */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'blob';
const BINARY_TYPES: readonly string[] = ['nodebuffer', 'arraybuffer', 'blob'];

export interface WebSocketEventMap {
  open: Event;
  message: MessageEvent;
  close: CloseEvent;
  error: ErrorEvent;
}

export type EventHandler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;
export type WebSocketEventListener<E extends Event = Event> =
  | ((this: WebSocket, event: E) => unknown)
  | { handleEvent(event: E): unknown };

export interface AddEventListenerOptions {
  once?: boolean;
  signal?: AbortSignal;
  /** Accepted and ignored: a WebSocket has no capture phase, and listeners are never passive. */
  capture?: boolean;
  passive?: boolean;
}

interface ListenerRecord {
  callback: WebSocketEventListener<never>;
  once: boolean;
  /** Registered by an `on<type>` attribute: replaced in place, invisible to removeEventListener. */
  attribute: boolean;
}

type Wrapper = ((first?: unknown, second?: unknown, third?: unknown) => void) & { [kRecord]: ListenerRecord };

const kRecord = Symbol('netws.listenerRecord');
const kBinaryType = Symbol('netws.binaryType');

interface BrowserState {
  [kBinaryType]?: BinaryType;
}

/** The EventEmitter underneath, without the typed event map. */
function emitterOf(ws: object): EventEmitter {
  return ws as EventEmitter;
}

/** A dispatched Event reports the WebSocket as its target, as an EventTarget's would. */
function setTarget(event: Event, target: object): void {
  if (kTarget in event) {
    (event as WebSocketEvent)[kTarget] = target;
  } else {
    // A foreign Event (Node's own class) has no slot of ours: shadow its getters.
    const descriptor = { value: target, configurable: true };
    Object.defineProperties(event, { target: descriptor, currentTarget: descriptor, srcElement: descriptor });
  }
}

function binaryData(data: Buffer, binaryType: BinaryType): Buffer | ArrayBuffer | Blob {
  if (binaryType === 'nodebuffer') return data;
  if (binaryType === 'blob') return new Blob([data]);
  const buffer = data.buffer as ArrayBuffer;
  // A Buffer may be a view into a larger (pooled) ArrayBuffer: hand out only its bytes.
  if (data.byteOffset === 0 && data.byteLength === buffer.byteLength) return buffer;
  return buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
}

/** Builds the WHATWG event for one Node-style emit, or passes a dispatched Event through. */
function toEvent(ws: WebSocket, type: string, first: unknown, second: unknown, third: unknown): Event {
  if (first instanceof Event && second === undefined) return first;
  let event: WebSocketEvent | MessageEvent | CloseEvent | ErrorEvent;
  if (type === 'message') {
    const data = first as Buffer;
    event = new MessageEvent('message', { data: second ? binaryData(data, ws.binaryType) : data.toString() });
  } else if (type === 'close') {
    event = new CloseEvent('close', { code: first as number, reason: String(second), wasClean: third as boolean });
  } else if (type === 'error') {
    event = new ErrorEvent('error', { error: first, message: (first as Error).message });
  } else {
    event = new WebSocketEvent(type);
  }
  event[kTarget] = ws;
  return event;
}

function addWrapper(ws: WebSocket, type: string, record: ListenerRecord): Wrapper {
  const wrapper = ((first?: unknown, second?: unknown, third?: unknown) => {
    if (record.once) emitterOf(ws).removeListener(type, wrapper);
    const event = toEvent(ws, type, first, second, third);
    const callback = record.callback as WebSocketEventListener;
    if (typeof callback === 'function') callback.call(ws, event);
    else callback.handleEvent(event);
  }) as Wrapper;
  wrapper[kRecord] = record;
  emitterOf(ws).on(type, wrapper);
  return wrapper;
}

function findWrapper(ws: WebSocket, type: string, match: (record: ListenerRecord) => boolean): Wrapper | undefined {
  for (const listener of emitterOf(ws).listeners(type)) {
    const record = (listener as Partial<Wrapper>)[kRecord];
    if (record !== undefined && match(record)) return listener as Wrapper;
  }
  return undefined;
}

function getHandler<E extends Event>(ws: WebSocket, type: string): EventHandler<E> {
  return (findWrapper(ws, type, (record) => record.attribute)?.[kRecord].callback as EventHandler<E>) ?? null;
}

/** Setting a handler again keeps its place among the listeners, as in browsers. */
function setHandler(ws: WebSocket, type: string, handler: unknown): void {
  const existing = findWrapper(ws, type, (record) => record.attribute);
  if (typeof handler !== 'function') {
    if (existing !== undefined) emitterOf(ws).removeListener(type, existing);
  } else if (existing !== undefined) {
    existing[kRecord].callback = handler as WebSocketEventListener;
  } else {
    addWrapper(ws, type, { callback: handler as WebSocketEventListener, once: false, attribute: true });
  }
}

function asWebSocket(api: BrowserApi): WebSocket {
  return api as unknown as WebSocket;
}

/**
 * The members WebSocket gains from this file. Written as a class so the
 * types and the code are one thing; installBrowserApi copies them onto
 * WebSocket.prototype.
 */
export class BrowserApi {
  /** How binary messages arrive in MessageEvent.data; Node-style 'message' listeners always get a Buffer. */
  get binaryType(): BinaryType {
    return (this as BrowserState)[kBinaryType] ?? 'nodebuffer';
  }

  set binaryType(value: BinaryType) {
    // WebIDL: assigning a string outside the enumeration is ignored.
    if (BINARY_TYPES.includes(value)) (this as BrowserState)[kBinaryType] = value;
  }

  get onopen(): EventHandler<Event> {
    return getHandler(asWebSocket(this), 'open');
  }

  set onopen(handler: EventHandler<Event>) {
    setHandler(asWebSocket(this), 'open', handler);
  }

  get onmessage(): EventHandler<MessageEvent> {
    return getHandler(asWebSocket(this), 'message');
  }

  set onmessage(handler: EventHandler<MessageEvent>) {
    setHandler(asWebSocket(this), 'message', handler);
  }

  get onclose(): EventHandler<CloseEvent> {
    return getHandler(asWebSocket(this), 'close');
  }

  set onclose(handler: EventHandler<CloseEvent>) {
    setHandler(asWebSocket(this), 'close', handler);
  }

  get onerror(): EventHandler<ErrorEvent> {
    return getHandler(asWebSocket(this), 'error');
  }

  set onerror(handler: EventHandler<ErrorEvent>) {
    setHandler(asWebSocket(this), 'error', handler);
  }

  /** Adds a listener once (a second add of the same function is ignored); supports `once` and `signal`. */
  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: WebSocketEventListener<WebSocketEventMap[K]> | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: WebSocketEventListener | null, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: WebSocketEventListener | null, options?: boolean | AddEventListenerOptions): void {
    if (listener === null || listener === undefined) return;
    const { once = false, signal } = typeof options === 'object' && options !== null ? options : {};
    if (signal?.aborted) return;
    const ws = asWebSocket(this);
    if (findWrapper(ws, type, (record) => !record.attribute && record.callback === listener)) return;
    const wrapper = addWrapper(ws, type, { callback: listener, once, attribute: false });
    signal?.addEventListener('abort', () => emitterOf(ws).removeListener(type, wrapper), { once: true });
  }

  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: WebSocketEventListener<WebSocketEventMap[K]> | null,
    options?: boolean | { capture?: boolean },
  ): void;
  removeEventListener(type: string, listener: WebSocketEventListener | null, options?: boolean | { capture?: boolean }): void;
  removeEventListener(type: string, listener: WebSocketEventListener | null): void {
    const wrapper = findWrapper(asWebSocket(this), type, (record) => !record.attribute && record.callback === listener);
    if (wrapper !== undefined) emitterOf(asWebSocket(this)).removeListener(type, wrapper);
  }

  /** Calls the WHATWG listeners of `event.type` (Node-style listeners are not called) with the WebSocket as target. */
  dispatchEvent(event: Event): boolean {
    if (!(event instanceof Event)) throw new TypeError('dispatchEvent() needs an Event');
    setTarget(event, this);
    for (const listener of emitterOf(this).listeners(event.type)) {
      if ((listener as Partial<Wrapper>)[kRecord] !== undefined) listener(event);
    }
    return !event.defaultPrevented;
  }
}

/** Gives WebSocket.prototype the members of BrowserApi. */
export function installBrowserApi(prototype: object): void {
  for (const name of Object.getOwnPropertyNames(BrowserApi.prototype)) {
    if (name === 'constructor') continue;
    Object.defineProperty(prototype, name, Object.getOwnPropertyDescriptor(BrowserApi.prototype, name)!);
  }
}

/**
 * close()'s argument checks with the browser's exceptions: an InvalidAccessError
 * for a code that may not be sent (or a reason without a code, as Chromium
 * does), a SyntaxError for a reason over 123 bytes. netws also accepts the
 * codes 1001-1003 and 1007-1014 that browsers refuse.
 */
export function checkCloseArguments(code?: number, reason?: string | Uint8Array): void {
  if (code !== undefined && (!Number.isInteger(code) || !isValidCloseCode(code))) {
    throw new DOMException(`Invalid close code: ${code}`, 'InvalidAccessError');
  }
  const reasonLength = typeof reason === 'string' ? Buffer.byteLength(reason) : (reason?.byteLength ?? 0);
  if (reasonLength > MAX_CLOSE_REASON) {
    throw new DOMException(`Close reason is ${reasonLength} bytes; at most ${MAX_CLOSE_REASON} fit`, 'SyntaxError');
  }
  if (code === undefined && reasonLength > 0) {
    throw new DOMException('A close reason needs a close code', 'InvalidAccessError');
  }
}

const kSendQueue = Symbol('netws.sendQueue');

type QueuedSend = [data: SendData | number, options: SendOptions | undefined, callback: WriteCallback | undefined];

interface SendQueueState {
  [kSendQueue]?: QueuedSend[];
}

/** Must this send wait? A Blob is read asynchronously, and later messages may not overtake it. */
export function isSendQueued(ws: WebSocket, data: unknown): boolean {
  return data instanceof Blob || (ws as SendQueueState)[kSendQueue] !== undefined;
}

/** Queues a send behind the Blobs being read; the queue drains in order. */
export function queueSend(ws: WebSocket, data: SendData | number, options: SendOptions | undefined, callback?: WriteCallback): void {
  const state = ws as SendQueueState;
  const queue = state[kSendQueue];
  if (queue !== undefined) {
    queue.push([data, options, callback]);
    return;
  }
  state[kSendQueue] = [[data, options, callback]];
  void drainSendQueue(ws, state);
}

async function drainSendQueue(ws: WebSocket, state: SendQueueState): Promise<void> {
  const queue = state[kSendQueue]!;
  while (queue.length > 0) {
    const [data, options, callback] = queue[0];
    let bytes = data as Exclude<SendData, Blob> | number;
    if (data instanceof Blob) {
      try {
        bytes = new Uint8Array(await data.arrayBuffer());
      } catch (error) {
        queue.shift();
        if (callback) callback(error as Error);
        continue;
      }
    }
    queue.shift();
    // Lift the queue for this one call so send() goes straight through.
    state[kSendQueue] = undefined;
    try {
      ws.send(bytes, options ?? {}, callback);
    } catch (error) {
      // Too late to throw to the caller (a later send with data of a wrong type).
      if (callback) callback(error as Error);
    } finally {
      state[kSendQueue] = queue;
    }
  }
  state[kSendQueue] = undefined;
}
