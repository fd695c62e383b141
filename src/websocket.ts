/**
 * One WebSocket connection over any Duplex stream (net.Socket, tls.TLSSocket
 * or a test stream): the same class serves the server side (created by
 * WebSocketServer) and the client side (`new WebSocket(url)`).
 *
 * The protocol decisions live in the sans-I/O `Protocol`; this file only moves
 * bytes between it and the stream, keeps the ready state and the timers, and
 * turns protocol callbacks into events.
 */

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { connectClient, type ClientOptions } from './client.ts';
import type { ResponseHead } from './http/head.ts';
import { CloseCode, encodeClosePayload } from './protocol/close.ts';
import { WebSocketError, type ProtocolError } from './protocol/errors.ts';
import type { PreparedMessage } from './protocol/prepared.ts';
import { Protocol, type ProtocolHandler, type WriteCallback } from './protocol/protocol.ts';

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];

/**
 * Small frames written in one tick (the echoes of one received chunk, a burst
 * of sends) leave in one writev: the socket is corked at the first frame and
 * uncorked on the next tick. Measured on loopback echo of 16 B messages, one
 * syscall per batch instead of one per frame is the biggest single win (about
 * 3x); large frames gain nothing from waiting and are written at once.
 */
function uncorkSocket(socket: Duplex): void {
  if (socket.writableCorked > 0) socket.uncork();
}

/** Default limits, shared by client and server; see the README's limits table. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
export const DEFAULT_CLOSE_TIMEOUT = 30_000;

export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView;

export interface SendOptions {
  /** Send as a binary message; the default is text for strings, binary otherwise. */
  binary?: boolean;
  /** False to leave the message open; the next sends are its continuation frames. */
  fin?: boolean;
}

/** What the transport layers hand over once the opening handshake succeeded. */
export interface AttachOptions {
  isServer: boolean;
  protocol: string;
  extensions: string;
  maxPayload: number;
  closeTimeout: number;
}

// Internal entry points for server.ts and client.ts, kept off the public surface.
export const kAttach = Symbol('netws.attach');
export const kAbortHandshake = Symbol('netws.abortHandshake');
export const kServerSide = Symbol('netws.serverSide');
export const kSendPrepared = Symbol('netws.sendPrepared');

/** Shared by all connections: one Buffer less per idle connection. */
const NO_REASON = Buffer.alloc(0);

function notOpenError(state: number): WebSocketError {
  return new WebSocketError('WS_ERR_NOT_OPEN', `WebSocket is not open: readyState ${state} (${STATE_NAMES[state]})`);
}

/** Data for a control frame or message, as bytes; strings are UTF-8. */
export function toBuffer(data: SendData | number | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (typeof data === 'number') return Buffer.from(String(data), 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const raw = data as unknown;
  if (raw instanceof ArrayBuffer || raw instanceof SharedArrayBuffer) return Buffer.from(raw);
  throw new TypeError('Data must be a string, Buffer, ArrayBuffer or ArrayBufferView');
}

/** Events and their arguments, ws-compatible ('close' adds wasClean). */
export interface WebSocketEvents {
  open: [];
  message: [data: Buffer, isBinary: boolean];
  close: [code: number, reason: Buffer, wasClean: boolean];
  error: [error: Error];
  ping: [data: Buffer];
  pong: [data: Buffer];
  upgrade: [response: ResponseHead];
}

export class WebSocket extends EventEmitter<WebSocketEvents> {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  declare readonly CONNECTING: typeof CONNECTING;
  declare readonly OPEN: typeof OPEN;
  declare readonly CLOSING: typeof CLOSING;
  declare readonly CLOSED: typeof CLOSED;

  /** The URL given to the client; '' on the server side. */
  readonly url: string = '';
  /** The subprotocol the server selected, '' for none. */
  protocol = '';
  /** The negotiated extensions as a header value, '' for none. */
  extensions = '';

  private state = CONNECTING;
  private socket: Duplex | null = null;
  private connection: Protocol | null = null;
  private isServer = false;
  private closeTimeout = DEFAULT_CLOSE_TIMEOUT;
  private closeTimer: NodeJS.Timeout | null = null;
  private peerCloseCode: number = CloseCode.Abnormal;
  private peerCloseReason: Buffer = NO_REASON;
  private failureCode = 0;
  private closeEmitted = false;

  /**
   * Opens a client connection to `address` (ws:, wss:, or http:/https: which
   * map to them). Throws a SyntaxError for a bad URL or bad subprotocols.
   */
  constructor(address: string | URL, protocols?: string | string[] | ClientOptions, options?: ClientOptions) {
    super();
    if ((address as unknown) === kServerSide) {
      this.isServer = true;
      return;
    }
    if (protocols !== undefined && typeof protocols === 'object' && !Array.isArray(protocols)) {
      options = protocols;
      protocols = undefined;
    }
    const { url, socket } = connectClient(this, address, protocols ?? [], options ?? {});
    this.url = url;
    this.socket = socket;
  }

  get readyState(): number {
    return this.state;
  }

  /** Bytes handed to the socket but not yet written to the kernel. */
  get bufferedAmount(): number {
    return this.state === CONNECTING ? 0 : (this.socket?.writableLength ?? 0);
  }

  /** Always "nodebuffer": messages are delivered as Buffers. */
  get binaryType(): 'nodebuffer' {
    return 'nodebuffer';
  }

  get isPaused(): boolean {
    return this.socket?.isPaused() ?? false;
  }

  /**
   * Sends a message. Throws while CONNECTING (as browsers do); once closing,
   * the callback gets an error instead and nothing is sent.
   */
  send(data: SendData | number, options?: SendOptions | WriteCallback, callback?: WriteCallback): void {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (this.state === CONNECTING) throw notOpenError(this.state);
    const payload = toBuffer(data);
    // Numbers are sent as their decimal text, as ws does.
    const binary = options?.binary ?? (typeof data !== 'string' && typeof data !== 'number');
    if (this.state !== OPEN || !this.connection!.sendMessage(payload, binary, options?.fin ?? true, callback)) {
      this.rejectSend(callback);
    }
  }

  /** Sends a ping (payload at most 125 bytes). The `mask` argument of ws is accepted and ignored. */
  ping(data?: SendData | number, mask?: boolean | WriteCallback, callback?: WriteCallback): void {
    this.sendControl(true, data, mask, callback);
  }

  /** Sends an unsolicited pong (a heartbeat that needs no answer). */
  pong(data?: SendData | number, mask?: boolean | WriteCallback, callback?: WriteCallback): void {
    this.sendControl(false, data, mask, callback);
  }

  /**
   * Starts the closing handshake. `code` must be valid on the wire (1000,
   * 1001-1003, 1007-1014, 3000-4999) and the reason at most 123 UTF-8 bytes,
   * else this throws. The socket is destroyed if the peer does not complete
   * the handshake within `closeTimeout`.
   */
  close(code?: number, reason?: string | Uint8Array): void {
    if (this.state === CLOSED) return;
    if (this.state === CONNECTING) {
      this[kAbortHandshake](
        new WebSocketError('WS_ERR_CLOSED_BEFORE_CONNECT', 'WebSocket was closed before the connection was established'),
      );
      return;
    }
    encodeClosePayload(code, reason); // validate before changing any state
    const connection = this.connection;
    if (connection === null) return; // a handshake being aborted
    this.state = CLOSING;
    if (connection.closeSent) {
      if (connection.closeReceived) this.socket!.end();
      return;
    }
    connection.close(code, reason);
    this.armCloseTimer();
  }

  /** Destroys the connection at once, without a closing handshake. */
  terminate(): void {
    if (this.state === CLOSED) return;
    if (this.state === CONNECTING) {
      this[kAbortHandshake](
        new WebSocketError('WS_ERR_CLOSED_BEFORE_CONNECT', 'WebSocket was closed before the connection was established'),
      );
      return;
    }
    this.state = CLOSING;
    // Frames sent earlier in this tick still wait in the corked socket; hand
    // them to the kernel first, as they would have been without the batching.
    if (this.socket !== null) uncorkSocket(this.socket);
    this.socket?.destroy();
  }

  /** Stops reading from the socket; messages wait in the kernel, and TCP pushes back. */
  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  /** Binds an upgraded socket; bytes in `head` arrived after the handshake. */
  [kAttach](socket: Duplex, head: Buffer, options: AttachOptions): void {
    this.socket = socket;
    this.isServer = options.isServer;
    this.protocol = options.protocol;
    this.extensions = options.extensions;
    this.closeTimeout = options.closeTimeout;
    this.connection = new Protocol({ isServer: options.isServer, maxPayload: options.maxPayload }, this.handler());
    this.state = OPEN;

    const anySocket = socket as Duplex & { setNoDelay?: (on: boolean) => void; setTimeout?: (ms: number) => void };
    anySocket.setNoDelay?.(true);
    anySocket.setTimeout?.(0);
    // Bytes that arrived with the handshake are put back into the paused
    // stream, so they flow (on a later tick, like all socket data) only after
    // the user's 'connection' or 'open' handler has attached its listeners.
    socket.pause();
    if (head.length > 0) socket.unshift(head);
    socket.on('data', (chunk: Buffer) => this.connection!.receiveData(chunk));
    socket.on('end', () => this.onSocketEnd());
    socket.on('close', () => this.onSocketClose());
    socket.on('error', (error: Error) => this.onSocketError(error));
    socket.resume();
    if (!this.isServer) this.emit('open');
  }

  /**
   * Sends a message framed once for many connections: its bytes as they
   * are when the connection allows it, else framed here like send(). False
   * (nothing sent) unless OPEN.
   */
  [kSendPrepared](message: PreparedMessage): boolean {
    if (this.state !== OPEN) return false;
    const connection = this.connection!;
    if (connection.canSharePreparedFrame()) connection.sendPreparedFrame(message.frame);
    else connection.sendMessage(message.data, message.isBinary, true);
    return true;
  }

  /** The client's handshake failed or was cancelled: report it, then close. */
  [kAbortHandshake](error: Error): void {
    if (this.state !== CONNECTING) return;
    this.state = CLOSING;
    // Reported on a later tick: close() from user code must not emit within the call.
    process.nextTick(() => {
      this.emitError(error);
      const socket = this.socket;
      if (socket && !socket.destroyed) {
        socket.once('close', () => this.emitClose());
        socket.destroy();
      } else {
        this.emitClose();
      }
    });
  }

  /** Emits 'error' only to listeners: a hostile peer must not crash a process that forgot one. */
  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /**
   * The Protocol's callbacks as one small object per connection whose
   * methods live on a shared prototype: a closure per callback would cost
   * an idle connection about 400 bytes more (bench/: idle connections).
   */
  private static readonly Handler = class ConnectionHandler implements ProtocolHandler {
    constructor(private readonly ws: WebSocket) {}

    write(header: Buffer, payload: Buffer | null, callback?: WriteCallback): void {
      const socket = this.ws.socket!;
      // Our side may already be ended (the peer closed TCP first): writing
      // then would only raise "write after end".
      if (!socket.writable) {
        this.ws.rejectSend(callback);
        return;
      }
      if (payload === null) {
        // A small frame (header and payload in one buffer): batched per tick.
        if (socket.writableCorked === 0) {
          socket.cork();
          process.nextTick(uncorkSocket, socket);
        }
        socket.write(header, callback);
      } else {
        // A large frame goes now, header and payload in one writev (or
        // after the frames already batched in this tick, if any).
        socket.cork();
        socket.write(header);
        socket.write(payload, callback);
        socket.uncork();
      }
    }

    onMessage(data: Buffer, isBinary: boolean): void {
      this.ws.emit('message', data, isBinary);
    }

    onPing(data: Buffer): void {
      this.ws.emit('ping', data);
    }

    onPong(data: Buffer): void {
      this.ws.emit('pong', data);
    }

    onCloseReceived(code: number, reason: Buffer): void {
      this.ws.onCloseReceived(code, reason);
    }

    onProtocolError(error: ProtocolError): void {
      this.ws.onProtocolError(error);
    }
  };

  private handler(): ProtocolHandler {
    return new WebSocket.Handler(this);
  }

  private onCloseReceived(code: number, reason: Buffer): void {
    this.peerCloseCode = code;
    this.peerCloseReason = reason;
    this.state = CLOSING;
    // The server closes TCP first (7.1.1); the client waits for it, within the timeout.
    if (this.isServer) this.socket!.end();
    this.armCloseTimer();
  }

  private onProtocolError(error: ProtocolError): void {
    this.failureCode = error.closeCode;
    this.state = CLOSING;
    this.emitError(error);
    // Failing the connection (7.1.7): our close frame is written, now close TCP.
    this.socket!.end();
    this.armCloseTimer();
  }

  private onSocketEnd(): void {
    this.state = CLOSING;
    this.connection!.stopReceiving();
    this.socket!.end();
  }

  private onSocketError(error: Error): void {
    // After a completed closing handshake a reset from the peer is no news.
    const connection = this.connection!;
    if (!(connection.closeSent && connection.closeReceived)) this.emitError(error);
    this.socket!.destroy();
  }

  private onSocketClose(): void {
    this.connection!.stopReceiving();
    this.emitClose();
  }

  private emitClose(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.state = CLOSED;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    const connection = this.connection;
    const wasClean = connection !== null && connection.closeSent && connection.closeReceived;
    const code = connection?.closeReceived ? this.peerCloseCode : this.failureCode || CloseCode.Abnormal;
    this.emit('close', code, this.peerCloseReason, wasClean);
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== null) return;
    this.closeTimer = setTimeout(() => this.socket!.destroy(), this.closeTimeout);
  }

  private sendControl(
    isPing: boolean,
    data: SendData | number | undefined,
    mask: boolean | WriteCallback | undefined,
    callback: WriteCallback | undefined,
  ): void {
    if (typeof mask === 'function') callback = mask;
    if (this.state === CONNECTING) throw notOpenError(this.state);
    const payload = toBuffer(data);
    if (payload.length > 125) throw new RangeError('A control frame payload is at most 125 bytes');
    const connection = this.connection;
    const sent = this.state === OPEN && (isPing ? connection!.ping(payload, callback) : connection!.pong(payload, callback));
    if (!sent) this.rejectSend(callback);
  }

  private rejectSend(callback: WriteCallback | undefined): void {
    if (callback) process.nextTick(callback, notOpenError(this.state));
  }
}

for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
