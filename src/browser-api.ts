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
import { closeReasonLength, isValidCloseCode, MAX_CLOSE_REASON } from './protocol/close-code.ts';
import { CloseEvent, ErrorEvent, kStopImmediate, kTarget, markStopImmediate, MessageEvent, WebSocketEvent } from './events.ts';

/** The object the API is installed on (the WebSocket class, which this file does not import): an EventEmitter with a URL. */
type ApiHost = EventEmitter & { readonly url: string | undefined };

/** The event types of the WHATWG API: addEventListener() ignores any other, as ws does. */
const EVENT_TYPES: readonly string[] = ['open', 'message', 'close', 'error'];

export interface WebSocketEventMap {
  open: Event;
  message: MessageEvent;
  close: CloseEvent;
  error: ErrorEvent;
}

/** An `on<type>` handler; `This` is the WebSocket (websocket.ts exports EventHandler<E> with it). */
export type EventHandlerOf<E extends Event, This> = ((this: This, event: E) => unknown) | null;
/** A listener for addEventListener(); `This` as for EventHandlerOf. */
export type EventListenerOf<E extends Event, This> = ((this: This, event: E) => unknown) | { handleEvent(event: E): unknown };

export interface AddEventListenerOptions {
  once?: boolean;
  signal?: AbortSignal;
  /** Accepted and ignored: a WebSocket has no capture phase, and listeners are never passive. */
  capture?: boolean;
  passive?: boolean;
}

/** Any listener, as a record keeps it (called with the event its type gets). */
type AnyListener = ((this: never, event: never) => unknown) | { handleEvent(event: never): unknown };

interface ListenerRecord {
  callback: AnyListener;
  once: boolean;
  /** Registered by an `on<type>` attribute: replaced in place, invisible to removeEventListener. */
  attribute: boolean;
  /** The dispatch that last called it (see `current`), so that it shares that dispatch's event at most once. */
  dispatch: number;
  /** Removed by us: an emit already under way (listeners copied) must skip it, as an EventTarget does. */
  removed: boolean;
  /** The `signal` option and our 'abort' listener on it, while both are bound. */
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * The records bound to a signal, per connection: their 'abort' listeners
 * hold the connection, so they are removed with the listener or at close
 * (a long-lived signal would otherwise keep every connection alive).
 */
const signalBound = new WeakMap<object, Set<ListenerRecord>>();

function unbindSignal(ws: object, record: ListenerRecord): void {
  if (record.signal === undefined) return;
  record.signal.removeEventListener('abort', record.onAbort!);
  record.signal = undefined;
  record.onAbort = undefined;
  signalBound.get(ws)!.delete(record);
}

/** The connection closed: no listener of it can run again, so none needs its signal. */
export function releaseSignals(ws: object): void {
  const records = signalBound.get(ws);
  if (records === undefined) return;
  for (const record of records) unbindSignal(ws, record);
  signalBound.delete(ws);
}

type Wrapper = ((first?: unknown, second?: unknown, third?: unknown) => void) & { [kRecord]: ListenerRecord };

const kRecord = Symbol('netws.listenerRecord');

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

/**
 * The Node-style emits under way, each with the one Event its WHATWG
 * listeners share (an EventTarget gives one Event per dispatch:
 * stopImmediatePropagation() and properties set by one listener reach the
 * next). An emit is recognised by its connection, type and arguments, and a
 * listener that already had an emit's event starts a new one (the same
 * arguments emitted again). Emits nest: a listener may emit another event
 * (an 'error' from a send, a broadcast failing another connection), whose
 * listeners all run before the outer emit goes on, so the outer one's
 * dispatch must still be found after it. Each dispatch counts the
 * listeners still to get its event and is dropped after the last (so it
 * keeps no message alive); whatever a listener removed mid-emit leaves is
 * dropped after the emit's synchronous run.
 */
interface Dispatch {
  serial: number;
  ws: object;
  type: string;
  first: unknown;
  second: unknown;
  third: unknown;
  event: Event;
  /** WHATWG listeners of the emit that have not had the event yet. */
  pending: number;
}

const dispatches: Dispatch[] = [];
let serial = 0;

function clearDispatches(): void {
  dispatches.length = 0;
}

/** How many WHATWG listeners an emit of `type` on `ws` calls. */
function wrapperCount(ws: ApiHost, type: string): number {
  let count = 0;
  for (const listener of emitterOf(ws).listeners(type)) if ((listener as Partial<Wrapper>)[kRecord] !== undefined) count++;
  return count;
}

/** The event for `record`'s call in an emit: the emit's shared one, or a new one. */
function eventFor(ws: ApiHost, record: ListenerRecord, type: string, first: unknown, second: unknown, third: unknown): Event {
  if (first instanceof Event && second === undefined) return first;
  for (let i = dispatches.length - 1; i >= 0; i--) {
    const dispatch = dispatches[i];
    if (
      dispatch.ws === ws &&
      dispatch.type === type &&
      dispatch.first === first &&
      dispatch.second === second &&
      dispatch.third === third &&
      record.dispatch !== dispatch.serial
    ) {
      record.dispatch = dispatch.serial;
      // Back in an outer emit, the ones nested above it have finished; after its last listener, so has it.
      dispatches.length = --dispatch.pending > 0 ? i + 1 : i;
      return dispatch.event;
    }
  }
  const event = toEvent(ws, type, first, second, third);
  record.dispatch = ++serial;
  const pending = wrapperCount(ws, type) - 1;
  if (pending > 0) {
    if (dispatches.length === 0) queueMicrotask(clearDispatches);
    dispatches.push({ serial, ws, type, first, second, third, event, pending });
  }
  return event;
}

/** The connection's URL origin for MessageEvent.origin, as browsers give it ('' on the server side). */
const origins = new WeakMap<object, string>();

function originOf(ws: ApiHost): string {
  let origin = origins.get(ws);
  if (origin === undefined) {
    const url = ws.url;
    origin = url === undefined ? '' : new URL(url).origin;
    origins.set(ws, origin);
  }
  return origin;
}

/** Builds the WHATWG event for one Node-style emit. */
function toEvent(ws: ApiHost, type: string, first: unknown, second: unknown, third: unknown): Event {
  let event: WebSocketEvent | MessageEvent | CloseEvent | ErrorEvent;
  if (type === 'message') {
    // Binary data arrives already shaped by binaryType; text as a Buffer.
    event = new MessageEvent('message', { data: second ? first : String(first), origin: originOf(ws) });
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

function addWrapper(ws: ApiHost, type: string, record: ListenerRecord): Wrapper {
  const wrapper = ((first?: unknown, second?: unknown, third?: unknown) => {
    if (record.removed) return;
    const event = eventFor(ws, record, type, first, second, third);
    if ((event as { [kStopImmediate]?: boolean })[kStopImmediate]) return;
    if (record.once) removeWrapper(ws, type, wrapper);
    const callback = record.callback as EventListenerOf<Event, unknown>;
    if (typeof callback === 'function') callback.call(ws, event);
    else callback.handleEvent(event);
  }) as Wrapper;
  wrapper[kRecord] = record;
  emitterOf(ws).on(type, wrapper);
  return wrapper;
}

function removeWrapper(ws: object, type: string, wrapper: Wrapper): void {
  wrapper[kRecord].removed = true;
  emitterOf(ws).removeListener(type, wrapper);
  unbindSignal(ws, wrapper[kRecord]);
}

function findWrapper(ws: ApiHost, type: string, match: (record: ListenerRecord) => boolean): Wrapper | undefined {
  for (const listener of emitterOf(ws).listeners(type)) {
    const record = (listener as Partial<Wrapper>)[kRecord];
    if (record !== undefined && match(record)) return listener as Wrapper;
  }
  return undefined;
}

function getHandler<H>(ws: ApiHost, type: string): H {
  return (findWrapper(ws, type, (record) => record.attribute)?.[kRecord].callback as H) ?? (null as H);
}

/** Setting a handler again keeps its place among the listeners, as in browsers. */
function setHandler(ws: ApiHost, type: string, handler: unknown): void {
  const existing = findWrapper(ws, type, (record) => record.attribute);
  if (typeof handler !== 'function') {
    if (existing !== undefined) removeWrapper(ws, type, existing);
  } else if (existing !== undefined) {
    existing[kRecord].callback = handler as AnyListener;
  } else {
    addWrapper(ws, type, { callback: handler as AnyListener, once: false, attribute: true, dispatch: 0, removed: false });
  }
}

function asSource(api: BrowserApi): ApiHost {
  return api as unknown as ApiHost;
}

/**
 * The members WebSocket gains from this file. Written as a class so the
 * types and the code are one thing; installBrowserApi copies them onto
 * WebSocket.prototype.
 */
export class BrowserApi {
  get onopen(): EventHandlerOf<Event, this> {
    return getHandler(asSource(this), 'open');
  }

  set onopen(handler: EventHandlerOf<Event, this>) {
    setHandler(asSource(this), 'open', handler);
  }

  get onmessage(): EventHandlerOf<MessageEvent, this> {
    return getHandler(asSource(this), 'message');
  }

  set onmessage(handler: EventHandlerOf<MessageEvent, this>) {
    setHandler(asSource(this), 'message', handler);
  }

  get onclose(): EventHandlerOf<CloseEvent, this> {
    return getHandler(asSource(this), 'close');
  }

  set onclose(handler: EventHandlerOf<CloseEvent, this>) {
    setHandler(asSource(this), 'close', handler);
  }

  get onerror(): EventHandlerOf<ErrorEvent, this> {
    return getHandler(asSource(this), 'error');
  }

  set onerror(handler: EventHandlerOf<ErrorEvent, this>) {
    setHandler(asSource(this), 'error', handler);
  }

  /** Adds a listener once (a second add of the same function is ignored); supports `once` and `signal`. */
  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: EventListenerOf<WebSocketEventMap[K], this> | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOf<Event, this> | null, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOf<Event, this> | null, options?: boolean | AddEventListenerOptions): void {
    if (listener === null || listener === undefined || !EVENT_TYPES.includes(type)) return;
    const { once = false, signal } = typeof options === 'object' && options !== null ? options : {};
    if (signal?.aborted) return;
    const ws = asSource(this);
    if (findWrapper(ws, type, (record) => !record.attribute && record.callback === listener)) return;
    const record: ListenerRecord = { callback: listener, once, attribute: false, dispatch: 0, removed: false };
    const wrapper = addWrapper(ws, type, record);
    if (signal === undefined) return;
    record.signal = signal;
    record.onAbort = () => removeWrapper(ws, type, wrapper);
    signal.addEventListener('abort', record.onAbort, { once: true });
    let records = signalBound.get(ws);
    if (records === undefined) signalBound.set(ws, (records = new Set()));
    records.add(record);
  }

  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: EventListenerOf<WebSocketEventMap[K], this> | null,
    options?: boolean | { capture?: boolean },
  ): void;
  removeEventListener(type: string, listener: EventListenerOf<Event, this> | null, options?: boolean | { capture?: boolean }): void;
  removeEventListener(type: string, listener: EventListenerOf<Event, this> | null): void {
    const wrapper = findWrapper(asSource(this), type, (record) => !record.attribute && record.callback === listener);
    if (wrapper !== undefined) removeWrapper(this, type, wrapper);
  }

  /** Calls the WHATWG listeners of `event.type` (Node-style listeners are not called) with the WebSocket as target. */
  dispatchEvent(event: Event): boolean {
    if (!(event instanceof Event)) throw new TypeError('dispatchEvent() needs an Event');
    setTarget(event, this);
    if (!(kTarget in event)) markStopImmediate(event);
    for (const listener of emitterOf(this).listeners(event.type)) {
      if ((listener as Partial<Wrapper>)[kRecord] !== undefined) listener(event);
    }
    return !event.defaultPrevented;
  }
}

/** Gives WebSocket.prototype the members of BrowserApi, enumerable as ws's are. */
export function installBrowserApi(prototype: object): void {
  for (const name of Object.getOwnPropertyNames(BrowserApi.prototype)) {
    if (name === 'constructor') continue;
    Object.defineProperty(prototype, name, { ...Object.getOwnPropertyDescriptor(BrowserApi.prototype, name)!, enumerable: true });
  }
}

/**
 * close()'s arguments as the WHATWG API converts and checks them: the code
 * is a WebIDL `[Clamp] unsigned short` (1000.5 is 1000, '4000' is 4000),
 * the reason a string (anything else is converted) or, beyond the browser
 * API, a Uint8Array. An InvalidAccessError for a code that may not be sent
 * (or a reason without a code, as Chromium does), a SyntaxError for a reason
 * over 123 bytes. netws also accepts the codes 1001-1003 and 1007-1014 that
 * browsers refuse.
 */
export function checkCloseArguments(
  rawCode?: unknown,
  rawReason?: unknown,
): { code: number | undefined; reason: string | Uint8Array | undefined } {
  const code = rawCode === undefined ? undefined : clampUnsignedShort(rawCode);
  if (code !== undefined && !isValidCloseCode(code)) {
    throw new DOMException('First argument must be a valid error code number', 'InvalidAccessError');
  }
  const reason = rawReason === undefined || rawReason instanceof Uint8Array ? rawReason : String(rawReason);
  const reasonLength = closeReasonLength(reason);
  if (reasonLength > MAX_CLOSE_REASON) {
    throw new DOMException(`The message must not be greater than ${MAX_CLOSE_REASON} bytes`, 'SyntaxError');
  }
  if (code === undefined && reasonLength > 0) {
    throw new DOMException('A close reason needs a close code', 'InvalidAccessError');
  }
  return { code, reason };
}

/** WebIDL's [Clamp] conversion to unsigned short: NaN is 0, halves round to even. */
function clampUnsignedShort(value: unknown): number {
  const number = Number(value);
  if (Number.isNaN(number)) return 0;
  const clamped = Math.min(Math.max(number, 0), 0xffff);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1)) return floor + 1;
  return floor;
}
