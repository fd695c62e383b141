/**
 * WebSocketStream, the WHATWG shape as Chromium ships it (since 124): the
 * connection as a ReadableStream of messages and a WritableStream of
 * messages, with backpressure through the streams instead of events.
 * `new WebSocketStream(url, { protocols, signal })` connects as a client;
 * `WebSocketStream.from(ws)` wraps a connection that is already there (a
 * server's accepted one). Either way it is the same WebSocket underneath:
 * the readable side is its message reader (the socket is not read past
 * `highWaterMark` bytes of unread messages), and a write resolves once
 * `bufferedAmount` is below `highWaterMark` again, so what waits to be sent
 * stays within the mark plus one message.
 *
 * Errors and their types follow Chromium 156 (spec/browser checks the same
 * script in both): text arrives as a string, binary as an ArrayBuffer; an
 * unclean close rejects `closed` and errors both sides with a
 * WebSocketError (closeCode 1006); writing after a clean close is an
 * InvalidStateError; an aborted `signal` before the handshake completes
 * rejects `opened` and `closed` with an AbortError.
 */

import type { ReceivedMessage } from '../connection/reader.ts';
import { CloseCode, closeReasonLength, isApplicationCloseCode, MAX_CLOSE_REASON } from '../protocol/close-code.ts';
import { WebSocketError as NetwsError } from '../protocol/errors.ts';
import { CLOSED, CLOSING, CONNECTING, OPEN, WebSocket, kStreamHooks, type ClientOptions, type RawData } from '../websocket.ts';

/** WHATWG's close code check for WebSocketStream: 1000 or 3000-4999, as Chromium enforces it. */
function checkStreamCloseCode(code: number): void {
  if (!isApplicationCloseCode(code)) {
    throw new DOMException(`The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`, 'InvalidAccessError');
  }
}

function checkStreamCloseReason(reason: string): void {
  if (closeReasonLength(reason) > MAX_CLOSE_REASON) {
    throw new DOMException(`The close reason must not be greater than ${MAX_CLOSE_REASON} UTF-8 bytes.`, 'SyntaxError');
  }
}

/** WebIDL [EnforceRange] unsigned short. */
function closeCodeOf(value: unknown): number {
  const number = Number(value);
  if (!Number.isFinite(number) || Math.trunc(number) < 0 || Math.trunc(number) > 0xffff) {
    throw new TypeError(`The close code ${String(value)} is outside the range of an unsigned short`);
  }
  return Math.trunc(number);
}

export interface WebSocketCloseInfo {
  closeCode?: number;
  reason?: string;
}

/**
 * The WHATWG `WebSocketError` (a DOMException named 'WebSocketError' with
 * `closeCode` and `reason`). netws exports it as WebSocketStreamError,
 * since its own WebSocketError (an Error with a `code`) came first.
 */
export class WebSocketStreamError extends DOMException {
  readonly closeCode: number | null;
  readonly reason: string;

  constructor(message = '', init: WebSocketCloseInfo = {}) {
    super(message, 'WebSocketError');
    let code = init.closeCode === undefined ? null : closeCodeOf(init.closeCode);
    const reason = init.reason === undefined ? '' : String(init.reason);
    if (code !== null) checkStreamCloseCode(code);
    checkStreamCloseReason(reason);
    // A reason alone means a normal closure, as the specification says.
    if (code === null && reason !== '') code = CloseCode.Normal;
    this.closeCode = code;
    this.reason = reason;
  }
}

export interface WebSocketStreamOptions extends ClientOptions {
  /** Subprotocols to offer. */
  protocols?: string | string[];
  /** Aborting it before the handshake completes cancels the connection. */
  signal?: AbortSignal;
}

export interface WebSocketOpenInfo {
  /** Messages: text as strings, binary as ArrayBuffers. */
  readable: ReadableStream<string | ArrayBuffer>;
  /** Takes strings (text) and BufferSources (binary); anything else is sent as its String() text. */
  writable: WritableStream<unknown>;
  extensions: string;
  protocol: string;
}

function ignore(): void {}

/** A promise whose rejection nobody has to handle (WHATWG marks these as handled). */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(ignore);
  return { promise, resolve, reject };
}

/** A message as the readable side gives it: text a string, binary an ArrayBuffer of its own. */
async function toWebMessage(message: ReceivedMessage<RawData>): Promise<string | ArrayBuffer> {
  const data = message.data;
  if (!message.isBinary) return (data as Buffer).toString('utf8');
  if (data instanceof ArrayBuffer) return data;
  if (data instanceof Blob) return data.arrayBuffer();
  const bytes = Array.isArray(data) ? Buffer.concat(data) : (data as Buffer);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** What a write sends: strings as text, BufferSources as binary (copied: the caller may reuse them), the rest as text. */
function toMessage(chunk: unknown): { data: string | Buffer; binary: boolean } {
  if (typeof chunk === 'string') return { data: chunk, binary: false };
  if (chunk instanceof ArrayBuffer) return { data: Buffer.from(chunk.slice(0)), binary: true };
  if (ArrayBuffer.isView(chunk))
    return { data: Buffer.from(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)), binary: true };
  return { data: String(chunk), binary: false };
}

/** The closeCode and reason a cancel or abort reason carries, if it is a WebSocketError. */
function closeInfoOf(reason: unknown): WebSocketCloseInfo {
  if (reason instanceof WebSocketStreamError && reason.closeCode !== null) return { closeCode: reason.closeCode, reason: reason.reason };
  return {};
}

/** The connection WebSocketStream.from() is wrapping, for the constructor it calls. */
let adopting: WebSocket | null = null;

function abortError(): DOMException {
  return new DOMException('WebSocket handshake was aborted', 'AbortError');
}

function closedWriteError(): DOMException {
  return new DOMException('Cannot write to a closed WebSocketStream.', 'InvalidStateError');
}

export class WebSocketStream {
  readonly url: string;
  readonly opened: Promise<WebSocketOpenInfo>;
  readonly closed: Promise<Required<WebSocketCloseInfo>>;
  private readonly ws: WebSocket;
  private readonly openedPromise = deferred<WebSocketOpenInfo>();
  private readonly closedPromise = deferred<Required<WebSocketCloseInfo>>();
  private writableController: WritableStreamDefaultController | null = null;
  private wasOpen = false;
  private aborted = false;

  /**
   * Connects as a client. A bad URL or bad subprotocols throw a SyntaxError
   * DOMException, as in the browser. netws's client options (headers,
   * perMessageDeflate, highWaterMark, ...) may be given next to `protocols`
   * and `signal`.
   */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    this.opened = this.openedPromise.promise;
    this.closed = this.closedPromise.promise;
    if (adopting !== null) {
      this.ws = adopting;
      adopting = null;
      this.url = this.ws.url ?? '';
      this.attach(this.ws);
      return;
    }
    const { protocols, signal, ...clientOptions } = options;
    // The URL and subprotocols are checked (and may throw) even when the signal is already aborted.
    const ws = new WebSocket(url, protocols ?? [], clientOptions);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.url = String(ws.url);
    this.attach(ws);
    if (signal !== undefined && signal !== null) {
      const onAbort = (): void => {
        if (ws.readyState !== CONNECTING) return;
        this.aborted = true;
        ws.terminate();
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        ws.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  /**
   * A WebSocketStream over a connection that exists already: a server's
   * accepted connection, or a client made with `new WebSocket()`. It takes
   * the connection's reader (no iterator may be running) and its messages
   * (they still reach 'message' listeners too).
   */
  static from(ws: WebSocket): WebSocketStream {
    if (!(ws instanceof WebSocket)) throw new TypeError('WebSocketStream.from() takes a netws WebSocket');
    if (ws.readyState === CLOSING || ws.readyState === CLOSED) {
      throw new NetwsError('WS_ERR_NOT_OPEN', 'WebSocketStream.from() needs a connecting or open WebSocket');
    }
    // Taken before the constructor runs: a second reader throws here, leaving nothing half made.
    const reader = ws.messages();
    void reader.return!();
    adopting = ws;
    try {
      return new WebSocketStream('');
    } finally {
      adopting = null;
    }
  }

  /**
   * Starts the closing handshake: `closeCode` 1000 or 3000-4999 (an
   * InvalidAccessError otherwise), a reason of at most 123 bytes (a
   * SyntaxError otherwise); a reason alone closes with 1000. Before the
   * handshake completes, the connection is cancelled.
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    const code = closeInfo.closeCode === undefined ? undefined : closeCodeOf(closeInfo.closeCode);
    const reason = closeInfo.reason === undefined ? undefined : String(closeInfo.reason);
    if (code !== undefined) checkStreamCloseCode(code);
    if (reason !== undefined) checkStreamCloseReason(reason);
    this.closeWith(code ?? (reason ? CloseCode.Normal : undefined), reason);
  }

  get [Symbol.toStringTag](): string {
    return 'WebSocketStream';
  }

  private closeWith(code: number | undefined, reason: string | undefined): void {
    const ws = this.ws;
    if (ws.readyState === CLOSED) return;
    if (code === undefined) ws.close();
    else ws.close(code, reason ?? '');
  }

  private attach(ws: WebSocket): void {
    // The reader is taken now, so that no message between now and the first read is missed.
    const reader = ws.messages();
    ws.on('error', ignore);
    const open = (): void => {
      this.wasOpen = true;
      this.openedPromise.resolve({
        readable: this.makeReadable(reader),
        writable: this.makeWritable(ws),
        extensions: ws.extensions,
        protocol: ws.protocol,
      });
    };
    // Hooks, not listeners: the user's removeAllListeners() on a connection
    // given to from() must not leave `opened` or `closed` pending forever.
    ws[kStreamHooks] = {
      opened: open,
      closed: (code, reason, wasClean) => this.onClose(code, reason.toString(), wasClean),
    };
    if (ws.readyState === OPEN) open();
  }

  private onClose(code: number, reason: string, wasClean: boolean): void {
    if (this.aborted) {
      this.openedPromise.reject(abortError());
      this.closedPromise.reject(abortError());
      return;
    }
    if (!this.wasOpen) this.openedPromise.reject(new WebSocketStreamError('WebSocket closed before handshake complete.'));
    if (wasClean) {
      this.writableController?.error(closedWriteError());
      this.closedPromise.resolve({ closeCode: code, reason });
      return;
    }
    const error = new WebSocketStreamError('WebSocket was not cleanly closed.', { closeCode: undefined });
    // Browsers report 1006 for any connection that did not close cleanly; netws's own code stays in `cause`.
    Object.defineProperty(error, 'closeCode', { value: CloseCode.Abnormal });
    Object.defineProperty(error, 'cause', { value: { code, reason }, configurable: true, writable: true });
    this.writableController?.error(error);
    this.closedPromise.reject(error);
  }

  private makeReadable(reader: AsyncIterableIterator<ReceivedMessage<RawData>>): ReadableStream<string | ArrayBuffer> {
    return new ReadableStream<string | ArrayBuffer>(
      {
        pull: async (controller) => {
          let result: IteratorResult<ReceivedMessage<RawData>>;
          try {
            result = await reader.next();
          } catch {
            // The connection closed uncleanly: the same error as `closed`.
            controller.error(await this.closed.catch((error: unknown) => error));
            return;
          }
          if (result.done) controller.close();
          else controller.enqueue(await toWebMessage(result.value));
        },
        cancel: (reason) => {
          void reader.return?.();
          const info = closeInfoOf(reason);
          this.closeWith(info.closeCode, info.reason);
        },
      },
      // Pulled only when read: the reader's high-water mark is the only buffer.
      { highWaterMark: 0 },
    );
  }

  private makeWritable(ws: WebSocket): WritableStream<unknown> {
    return new WritableStream<unknown>({
      start: (controller) => {
        this.writableController = controller;
      },
      write: async (chunk) => {
        if (ws.readyState !== ws.OPEN) throw closedWriteError();
        const { data, binary } = toMessage(chunk);
        if (ws.send(data, { binary })) return;
        // Closed while waiting: the writable fails as `closed` says (an InvalidStateError after a clean close).
        await ws
          .drained()
          .catch(() => this.closed.then(closedWriteError, (error: unknown) => error).then((error) => Promise.reject(error)));
      },
      close: () => this.closeWith(undefined, undefined),
      abort: (reason) => {
        const info = closeInfoOf(reason);
        this.closeWith(info.closeCode, info.reason);
      },
    });
  }
}
