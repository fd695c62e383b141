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
import { BrowserApi, checkCloseArguments, installBrowserApi, isSendQueued, queueSend } from './browser-api.ts';
import { connectClient, type ClientOptions } from './client.ts';
import { MessageCompressor, type DeflateSettings } from './compression.ts';
import type { ResponseHead } from './http/head.ts';
import { CloseCode } from './protocol/close.ts';
import { ProtocolError, WebSocketError } from './protocol/errors.ts';
import type { PreparedMessage } from './protocol/prepared.ts';
import { Heartbeat, type HeartbeatOptions } from './heartbeat.ts';
import { Protocol, type ProtocolHandler, type WriteCallback } from './protocol/protocol.ts';
import { isValidUtf8 } from './protocol/utf8.ts';

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
/** Bytes queued in user space (beyond what the kernel took) before a connection is failed with 1008. */
export const DEFAULT_MAX_BUFFERED_AMOUNT = 64 * 1024 * 1024;
/**
 * Automatic pongs queued while the socket is not draining: a peer that pings
 * without reading our answers would otherwise grow our send buffer for free.
 */
export const MAX_PENDING_PONGS = 128;

export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView | Blob;

export interface SendOptions {
  /** Send as a binary message; the default is text for strings, binary otherwise. */
  binary?: boolean;
  /** False to leave the message open; the next sends are its continuation frames. */
  fin?: boolean;
  /**
   * False to send this message uncompressed when permessage-deflate is on.
   * Decided by a message's first fragment; default: compress when the
   * message reaches the `threshold`.
   */
  compress?: boolean;
}


/** What the transport layers hand over once the opening handshake succeeded. */
export interface AttachOptions {
  isServer: boolean;
  protocol: string;
  extensions: string;
  /** Set when permessage-deflate was negotiated. */
  deflate: DeflateSettings | null;
  maxPayload: number;
  closeTimeout: number;
  /** Resource limits; see the README's limits table. */
  maxFragments?: number;
  maxBufferedAmount?: number;
  heartbeat?: HeartbeatOptions;
}

/** A message waiting for its turn on a compressing connection, or a queued close. */
interface OutgoingItem {
  data: Buffer;
  isBinary: boolean;
  fin: boolean;
  compress: boolean;
  callback: WriteCallback | undefined;
  close?: { code?: number; reason?: string | Uint8Array };
}

interface IncomingItem {
  data: Buffer;
  isBinary: boolean;
  compressed: boolean;
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
  /** The send queue has emptied after a send filled it past the socket's high-water mark. */
  drain: [];
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
  private maxBufferedAmount = DEFAULT_MAX_BUFFERED_AMOUNT;
  private pendingPongs = 0;
  private heartbeat: Heartbeat | null = null;

  // permessage-deflate: messages go through zlib in order, so later ones wait in these queues.
  private compressor: MessageCompressor | null = null;
  private compressThreshold = 0;
  private outgoing: OutgoingItem[] = [];
  private outgoingBytes = 0;
  /** Whether the message being sent in fragments is compressed. */
  private fragmentsCompressed: boolean | null = null;
  private incoming: IncomingItem[] = [];
  /** The socket closed while messages were still being inflated. */
  private closeDeferred = false;
  private userPaused = false;

  /**
   * Opens a client connection to `address` (ws:, wss:, or http:/https: which
   * map to them). Throws a SyntaxError DOMException for a bad URL or bad subprotocols.
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
    return this.state === CONNECTING ? 0 : (this.socket?.writableLength ?? 0) + this.outgoingBytes;
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
    if (isSendQueued(this, data)) return queueSend(this, data, options, callback);
    const payload = toBuffer(data);
    // Numbers are sent as their decimal text, as ws does.
    const binary = options?.binary ?? (typeof data !== 'string' && typeof data !== 'number');
    const fin = options?.fin ?? true;
    if (this.state !== OPEN) {
      this.rejectSend(callback);
    } else if (this.compressor !== null) {
      this.sendCompressible(payload, binary, fin, options?.compress !== false, callback);
    } else {
      this.transmit(payload, binary, fin, callback, false);
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
    checkCloseArguments(code, reason); // validate before changing any state
    if (this.connection === null) return; // a handshake being aborted
    this.state = CLOSING;
    this.armCloseTimer();
    // Messages sent before close() still go first.
    if (this.outgoing.length > 0) {
      this.outgoing.push({ data: EMPTY, isBinary: false, fin: true, compress: false, callback: undefined, close: { code, reason } });
    } else {
      this.sendClose(code, reason);
    }
  }

  private sendClose(code: number | undefined, reason: string | Uint8Array | undefined): void {
    const connection = this.connection!;
    if (connection.closeSent) {
      if (connection.closeReceived) this.socket!.end();
      return;
    }
    connection.close(code, reason);
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
    this.incoming = [];
    // Frames sent earlier in this tick still wait in the corked socket; hand
    // them to the kernel first, as they would have been without the batching.
    if (this.socket !== null) uncorkSocket(this.socket);
    this.socket?.destroy();
  }

  /** Stops reading from the socket; messages wait in the kernel, and TCP pushes back. */
  pause(): void {
    this.userPaused = true;
    this.socket?.pause();
  }

  resume(): void {
    this.userPaused = false;
    // Still paused while earlier messages are being inflated.
    if (this.incoming.length === 0) this.socket?.resume();
  }

  /** Binds an upgraded socket; bytes in `head` arrived after the handshake. */
  [kAttach](socket: Duplex, head: Buffer, options: AttachOptions): void {
    this.socket = socket;
    this.isServer = options.isServer;
    this.protocol = options.protocol;
    this.extensions = options.extensions;
    this.closeTimeout = options.closeTimeout;
    const deflate = options.deflate;
    if (deflate !== null) {
      this.compressor = new MessageCompressor({ ...deflate, maxPayload: options.maxPayload });
      this.compressThreshold = deflate.threshold;
    }
    this.connection = new Protocol(
      { isServer: options.isServer, maxPayload: options.maxPayload, perMessageDeflate: deflate !== null, maxFragments: options.maxFragments },
      this.handler(),
    );
    this.state = OPEN;
    this.maxBufferedAmount = options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED_AMOUNT;
    if (options.heartbeat) this.startHeartbeat(options.heartbeat);

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
    socket.on('drain', () => this.onSocketDrain());
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
    // Shared bytes would skip the compression context and jump any queued send: go the usual way.
    if (this.compressor !== null || isSendQueued(this, message.data)) {
      this.send(message.data, { binary: message.isBinary });
      return true;
    }
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
      // Only while OPEN: the single close frame of a closing connection is never refused.
      if (this.ws.state === OPEN && this.ws.refuseOverLimit(socket.writableLength, callback)) return;
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

    onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
      this.ws.receive(data, isBinary, compressed);
    }

    onPing(data: Buffer): void {
      this.ws.onPing(data);
    }

    onPong(data: Buffer): void {
      this.ws.heartbeat?.alive();
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

  private onPing(data: Buffer): void {
    // Our pong is queued; count it if the peer is not reading what we send.
    if (this.socket!.writableNeedDrain && ++this.pendingPongs > MAX_PENDING_PONGS) {
      this.failSlowReader(`More than ${MAX_PENDING_PONGS} pongs queued to a peer that does not read`);
    }
    this.emit('ping', data);
  }

  private onSocketDrain(): void {
    this.pendingPongs = 0;
    this.emit('drain');
  }

  /**
   * The peer does not read what we send (a full send buffer, a ping flood):
   * fail with 1008 and destroy the socket at once. A close frame could only
   * queue behind the data the peer is not reading, so none is sent.
   */
  /** Past maxBufferedAmount the connection fails (1008) and this send is refused; true then. */
  private refuseOverLimit(buffered: number, callback: WriteCallback | undefined): boolean {
    if (buffered <= this.maxBufferedAmount) return false;
    this.failSlowReader(`More than maxBufferedAmount (${this.maxBufferedAmount} bytes) waiting to be sent`);
    this.rejectSend(callback);
    return true;
  }

  private failSlowReader(message: string): void {
    if (this.failureCode !== 0) return; // already failed (a pong write and its ping can both trip)
    this.failureCode = CloseCode.PolicyViolation;
    this.state = CLOSING;
    this.connection!.stopReceiving();
    this.emitError(new WebSocketError('WS_ERR_SLOW_READER', message, { closeCode: CloseCode.PolicyViolation }));
    this.socket!.destroy();
  }

  private startHeartbeat(options: HeartbeatOptions): void {
    this.heartbeat = new Heartbeat(
      options,
      () => this.ping(),
      () => {
        this.emitError(new WebSocketError('WS_ERR_HEARTBEAT_TIMEOUT', `No pong within ${options.timeout} ms`));
        this.terminate();
      },
    );
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
    this.incoming = [];
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
    // Messages that arrived before the connection closed are delivered first.
    if (this.incoming.length > 0) {
      this.closeDeferred = true;
      return;
    }
    this.closeEmitted = true;
    this.state = CLOSED;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.dropOutgoing();
    this.heartbeat?.stop();
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

  private transmit(data: Buffer, isBinary: boolean, fin: boolean, callback: WriteCallback | undefined, compressed: boolean): void {
    if (!this.connection!.sendMessage(data, isBinary, fin, callback, compressed)) this.rejectSend(callback);
  }

  /** A send on a permessage-deflate connection: compressed or not, it keeps its place in line. */
  private sendCompressible(data: Buffer, isBinary: boolean, fin: boolean, allowed: boolean, callback: WriteCallback | undefined): void {
    // Bytes waiting for zlib count against the limit like bytes waiting in the socket.
    if (this.refuseOverLimit(this.bufferedAmount, callback)) return;
    // The first fragment decides for the whole message (RSV1 marks the message, 7.2.3.1).
    const compress = this.fragmentsCompressed ?? (allowed && data.length >= this.compressThreshold);
    this.fragmentsCompressed = fin ? null : compress;
    if (!compress && this.outgoing.length === 0) {
      this.transmit(data, isBinary, fin, callback, false);
      return;
    }
    this.outgoing.push({ data, isBinary, fin, compress, callback });
    this.outgoingBytes += data.length;
    if (this.outgoing.length === 1) this.flushOutgoing();
  }

  /** Sends queued items in order; returns while one is being compressed. */
  private flushOutgoing(): void {
    while (this.outgoing.length > 0) {
      const item = this.outgoing[0];
      if (item.compress) {
        this.compressor!.compress(item.data, item.fin, (error, output) => {
          if (this.outgoing[0] !== item) return; // dropped when the connection closed
          this.outgoing.shift();
          this.outgoingBytes -= item.data.length;
          if (error !== null) this.rejectSend(item.callback);
          else this.transmit(output!, item.isBinary, item.fin, item.callback, true);
          this.flushOutgoing();
        });
        return;
      }
      this.outgoing.shift();
      this.outgoingBytes -= item.data.length;
      if (item.close !== undefined) this.sendClose(item.close.code, item.close.reason);
      else this.transmit(item.data, item.isBinary, item.fin, item.callback, false);
    }
  }

  /** The connection is gone: queued sends fail through their callbacks, zlib memory is freed. */
  private dropOutgoing(): void {
    const dropped = this.outgoing;
    this.outgoing = [];
    this.outgoingBytes = 0;
    for (const item of dropped) this.rejectSend(item.callback);
    this.compressor?.close();
  }

  private receive(data: Buffer, isBinary: boolean, compressed: boolean): void {
    if (!compressed && this.incoming.length === 0) {
      this.emit('message', data, isBinary);
      return;
    }
    this.incoming.push({ data, isBinary, compressed });
    if (this.incoming.length === 1) {
      // Read no further while inflating: what waits in the queue stays bounded.
      this.socket!.pause();
      this.connection!.holdClose();
      this.deliverIncoming();
    }
  }

  /** Emits queued messages in order, inflating each compressed one on zlib's thread pool. */
  private deliverIncoming(): void {
    while (this.incoming.length > 0) {
      const item = this.incoming[0];
      if (item.compressed) {
        this.compressor!.decompress(item.data, (error, output) => {
          if (this.incoming[0] !== item) return; // dropped: the connection failed or was terminated
          this.incoming.shift();
          if (error !== null) {
            this.connection!.fail(error as ProtocolError);
          } else if (!item.isBinary && !isValidUtf8(output!)) {
            this.connection!.fail(
              new ProtocolError('WS_ERR_INVALID_UTF8', 'Text message is not valid UTF-8', CloseCode.InvalidPayload),
            );
          } else {
            this.emit('message', output!, item.isBinary);
          }
          this.deliverIncoming();
        });
        return;
      }
      this.incoming.shift();
      this.emit('message', item.data, item.isBinary);
    }
    this.connection!.releaseClose();
    if (this.closeDeferred) {
      this.emitClose();
    } else if (!this.userPaused && this.state !== CLOSED) {
      this.socket!.resume();
    }
  }
}

const EMPTY = Buffer.alloc(0);
// The browser-style API (onmessage, addEventListener, binaryType, ...) lives in browser-api.ts.
export interface WebSocket extends BrowserApi {}
installBrowserApi(WebSocket.prototype);

for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
