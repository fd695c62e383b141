/**
 * One WebSocket connection over any Duplex stream (net.Socket, tls.TLSSocket
 * or a test stream): the same class serves the server side (created by
 * WebSocketServer) and the client side (`new WebSocket(url)`).
 *
 * The protocol decisions live in the sans-I/O `Protocol`; this file moves
 * bytes between it and the stream, keeps the ready state and the timers, and
 * turns protocol callbacks into events. What must keep its order on the way
 * out waits in an OutgoingQueue, what must on the way in in an IncomingQueue;
 * both exist only while something asynchronous is in the way.
 */

import { EventEmitter } from 'node:events';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { BrowserApi, binaryMessageData, checkCloseArguments, installBrowserApi, releaseSignals, type BinaryType } from './browser-api.ts';
import { startClientHandshake, type ClientHandshake, type HandshakeResult, type UpgradeResponse } from './client.ts';
import { MessageCompressor, type DeflateSettings } from './compression.ts';
import { Heartbeat } from './heartbeat.ts';
import { IncomingQueue, type IncomingTarget } from './incoming.ts';
import {
  DEFAULT_HIGH_WATER_MARK,
  numberOption,
  resolveConnectionOptions,
  type ClientOptions,
  type ResolvedConnectionOptions,
} from './options.ts';
import { OutgoingQueue, type OutgoingTarget } from './outgoing.ts';
import { CloseCode } from './protocol/close.ts';
import { ProtocolError, WebSocketError } from './protocol/errors.ts';
import { Opcode } from './protocol/frame.ts';
import type { PreparedMessage } from './protocol/prepared.ts';
import { Protocol, type ProtocolHandler, type WriteCallback } from './protocol/protocol.ts';
import { isValidUtf8 } from './protocol/utf8.ts';
import { MessageReader, type ReaderOwner, type ReceivedMessage } from './streams/reader.ts';
import { chunkSource, type MessageSource } from './streams/source.ts';
import { MessageStream, type MessageStreamOwner } from './streams/message-stream.ts';

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

/** A received message's data, as 'message' listeners get it (the shape depends on binaryType). */
export type RawData = Buffer | ArrayBuffer | Buffer[] | Blob;

/**
 * Anything send() takes: strings, bytes in any form Buffer.from takes
 * (array-likes of numbers included), Blobs, numbers (sent as their text),
 * and a list of Buffers ('fragments' data), sent as one message.
 */
export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView | Blob | readonly number[] | readonly Uint8Array[];

export interface SendOptions {
  /** Send as a binary message; the default is text for strings and numbers, binary otherwise. */
  binary?: boolean;
  /** False to leave the message open; the next sends are its continuation frames. */
  fin?: boolean;
  /**
   * False to send this message uncompressed when permessage-deflate is on.
   * Decided by a message's first fragment; default: compress when the
   * message reaches the `threshold`.
   */
  compress?: boolean;
  /**
   * Accepted for ws compatibility and ignored: RFC 6455 decides (clients
   * mask every frame, servers never do).
   */
  mask?: boolean;
}

/** What the transport layers hand over once the opening handshake succeeded. */
export interface AttachOptions {
  isServer: boolean;
  protocol: string;
  extensions: string;
  /** Set when permessage-deflate was negotiated. */
  deflate: DeflateSettings | null;
  /** Limits and behaviour, resolved once per server or client (shared, not copied). */
  options: ResolvedConnectionOptions;
  /**
   * End the transport as soon as both close frames passed; default: on the
   * server only (RFC 6455 7.1.1 leaves TCP's TIME_WAIT to it). An HTTP/2
   * stream has no TIME_WAIT, so the HTTP/2 client ends its side too.
   */
  endsFirst?: boolean;
}

// Internal entry points for server.ts, kept off the public surface.
export const kAttach = Symbol('netws.attach');
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

/** Shared by all connections: one Buffer less per idle connection. */
const NO_REASON = Buffer.alloc(0);
/** inflateNow(): the message failed the connection. */
const FAILED = Symbol('netws.failed');
const EMPTY = Buffer.alloc(0);

/** Options of `ws.sendStream()`. */
export interface SendStreamOptions {
  /** Send as a binary message; default true (false: text, whose UTF-8 the peer checks across the chunks). */
  binary?: boolean;
  /** False to send the message uncompressed when permessage-deflate is on. */
  compress?: boolean;
}

/** Options of `ws.messages()`. */
export interface MessagesOptions {
  /** Bytes of unpulled messages past which the socket is not read; default the connection's `highWaterMark`. */
  highWaterMark?: number;
  /**
   * Yield each message as it begins, its `data` a Readable of its bytes as
   * they arrive (never assembled): for messages bigger than memory. Limited
   * by `maxStreamPayload`, not `maxPayload`; 'message' events are not
   * emitted for them.
   */
  stream?: boolean;
}

/**
 * Flow-control state a connection needs only once it is used: made on the
 * first send() that returns false, drained() or iterator, so an idle
 * connection carries one null field for all of it.
 */
class FlowState {
  /** send() returned false: 'drain' is due once everything buffered was handed to the kernel. */
  needDrain = false;
  /** An empty write is in the socket: its callback runs once what was written before it left. */
  watchingDrain = false;
  drainWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  reader: MessageReader | null = null;
  /** The streamed message being received (messages({ stream: true })). */
  incomingStream: MessageStream | null = null;
  /** The error the connection failed with, for an iterator to throw. */
  error: Error | null = null;
  readonly onFlushed: () => void;

  constructor(ws: WebSocket) {
    this.onFlushed = () => ws.onFlushed();
  }
}

function notOpenError(state: number): WebSocketError {
  return new WebSocketError('WS_ERR_NOT_OPEN', `WebSocket is not open: readyState ${state} (${STATE_NAMES[state]})`);
}

/** Data for a message or control frame, as bytes; strings are UTF-8 and numbers their decimal text. */
export function toBuffer(data: Exclude<SendData, Blob> | number | undefined | null): Buffer {
  if (data === undefined || data === null) return EMPTY;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (typeof data === 'number') return Buffer.from(String(data), 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const raw = data as unknown;
  if (raw instanceof ArrayBuffer || raw instanceof SharedArrayBuffer) return Buffer.from(raw);
  // A message received with binaryType 'fragments' can be sent back as it came.
  if (Array.isArray(raw) && raw.length > 0 && raw[0] instanceof Uint8Array) return Buffer.concat(raw as Uint8Array[]);
  // What Buffer.from takes (arrays of bytes, { type: 'Buffer', data }); it throws a TypeError for the rest.
  return Buffer.from(raw as readonly number[]);
}

/** The byte length of data given to send() after the connection closed (it still counts in bufferedAmount). */
function dataLength(data: SendData | number | undefined): number {
  if (data instanceof Blob) return data.size;
  try {
    return toBuffer(data).length;
  } catch {
    return 0;
  }
}

/** Events and their arguments, ws-compatible ('close' adds wasClean). */
export interface WebSocketEvents {
  open: [];
  /** `data` is a Buffer for text; for binary, shaped by binaryType (Buffer, ArrayBuffer, Buffer[] or Blob). */
  message: [data: RawData, isBinary: boolean];
  close: [code: number, reason: Buffer, wasClean: boolean];
  error: [error: Error];
  ping: [data: Buffer];
  pong: [data: Buffer];
  upgrade: [response: UpgradeResponse];
  redirect: [url: string, request: ClientRequest];
  'unexpected-response': [request: ClientRequest, response: IncomingMessage];
  /** The send queue has emptied after a send filled it past the socket's high-water mark. */
  drain: [];
}

/**
 * The Protocol's callbacks and both queues' targets as one small object per
 * connection whose methods live on a shared prototype: a closure per
 * callback would cost an idle connection about 400 bytes more (bench/: idle
 * connections).
 */
class ConnectionHandler implements ProtocolHandler, OutgoingTarget, IncomingTarget {
  constructor(private readonly ws: WebSocket) {}

  write(header: Buffer, payload: Buffer | null, callback?: WriteCallback): void {
    this.ws.writeToSocket(header, payload, callback);
  }

  onMessage(data: Buffer, isBinary: boolean, compressed: boolean, fragments: Buffer[] | null): void {
    this.ws.receive(data, isBinary, compressed, fragments);
  }

  onMessageStart(isBinary: boolean, compressed: boolean): void {
    this.ws.receiveStreamStart(isBinary, compressed);
  }

  onMessageData(piece: Buffer): void {
    this.ws.receiveStreamData(piece);
  }

  onMessageEnd(): void {
    this.ws.receiveStreamEnd();
  }

  onPing(data: Buffer): void {
    this.ws.receivePing(data);
  }

  onPong(data: Buffer): void {
    this.ws.receivePong(data);
  }

  canAnswerClose(): boolean {
    return this.ws.outgoingIsEmpty();
  }

  onCloseReceived(code: number, reason: Buffer): void {
    this.ws.onCloseReceived(code, reason);
  }

  onProtocolError(error: ProtocolError): void {
    this.ws.onProtocolError(error);
  }

  transmit(data: Buffer, isBinary: boolean, fin: boolean, compressed: boolean, callback: WriteCallback | undefined): void {
    this.ws.transmit(data, isBinary, fin, callback, compressed);
  }

  transmitFrame(frame: readonly Buffer[], callback: WriteCallback | undefined): void {
    this.ws.transmitFrame(frame, callback);
  }

  transmitControl(opcode: number, data: Buffer, callback: WriteCallback | undefined): void {
    this.ws.transmitControl(opcode, data, callback);
  }

  transmitClose(code: number | undefined, reason: string | Uint8Array | undefined): void {
    this.ws.sendClose(code, reason);
  }

  transmitCloseEcho(): void {
    this.ws.sendCloseEcho();
  }

  blobUnreadable(error: Error): void {
    this.ws.onBlobUnreadable(error);
  }

  rejectSend(callback: WriteCallback | undefined, error?: Error): void {
    this.ws.rejectSend(callback, error);
  }

  streamHasRoom(): boolean {
    return this.ws.streamHasRoom();
  }

  streamFailed(error: Error): void {
    this.ws.streamFailed(error);
  }

  deliver(data: Buffer, isBinary: boolean, fragments: Buffer[] | null): void {
    this.ws.emitMessage(data, isBinary, fragments);
  }

  deliverStream(stream: object, isBinary: boolean): void {
    this.ws.deliverStream(stream as MessageStream, isBinary);
  }

  deliverPing(data: Buffer): void {
    this.ws.emit('ping', data);
  }

  deliverPong(data: Buffer): void {
    this.ws.emit('pong', data);
  }

  inflate(data: Buffer, done: (error: Error | null, output?: Buffer) => void): void {
    this.ws.inflate(data, done);
  }

  incomingFailed(error: ProtocolError): void {
    this.ws.failConnection(error);
  }

  incomingIdle(): void {
    this.ws.onIncomingIdle();
  }
}

/** `_events` of a WebSocket (see its constructor): no prototype members to trip over, fast properties. */
function ListenerTable(): void {}
ListenerTable.prototype = Object.create(null);

/** The connection a socket carries, for the shared socket listeners below. */
const kConnection = Symbol('netws.connection');
type SocketWithConnection = Duplex & { [kConnection]: WebSocket };

function socketOnData(this: Duplex, chunk: Buffer): void {
  (this as SocketWithConnection)[kConnection].onSocketData(chunk);
}

function socketOnEnd(this: Duplex): void {
  (this as SocketWithConnection)[kConnection].onSocketEnd();
}

function socketOnClose(this: Duplex): void {
  (this as SocketWithConnection)[kConnection].onSocketClose();
}

function socketOnError(this: Duplex, error: Error): void {
  (this as SocketWithConnection)[kConnection].onSocketError(error);
}

function socketOnDrain(this: Duplex): void {
  (this as SocketWithConnection)[kConnection].onSocketDrain();
}

/** A broadcast or engine.io frame waiting for the user's open message to be finished. */
interface HeldMessage {
  prepared: PreparedMessage | null;
  /** A prepared message's compress option (publish() may ask for none). */
  compress: boolean;
  frame: readonly Buffer[] | null;
  callback: WriteCallback | undefined;
}

/**
 * engine.io (Socket.IO's engine) writes broadcast frames it framed once
 * through `websocket._sender.sendFrame(frames, callback)` when that exists.
 * netws offers the same entry point: the bytes go out as they are when
 * nothing would change them, else the message is sent as usual, in order.
 */
class FrameSender {
  constructor(private readonly ws: WebSocket) {}

  sendFrame(frame: readonly Buffer[], callback?: WriteCallback): void {
    // Nothing to write would never call back: a caller's mistake, thrown as ws's write(undefined) does.
    if (frame.length === 0) throw new TypeError('sendFrame() needs at least one Buffer');
    this.ws.sendFramed(frame, callback);
  }
}

export class WebSocket extends EventEmitter<WebSocketEvents> {
  declare static readonly CONNECTING: typeof CONNECTING;
  declare static readonly OPEN: typeof OPEN;
  declare static readonly CLOSING: typeof CLOSING;
  declare static readonly CLOSED: typeof CLOSED;
  declare readonly CONNECTING: typeof CONNECTING;
  declare readonly OPEN: typeof OPEN;
  declare readonly CLOSING: typeof CLOSING;
  declare readonly CLOSED: typeof CLOSED;

  private state = CONNECTING;
  private socket: Duplex | null = null;
  private connection: Protocol | null = null;
  private handlers: ConnectionHandler | null = null;
  declare private isServer: boolean;
  /** See AttachOptions.endsFirst. */
  declare private endsFirst: boolean;
  private options: ResolvedConnectionOptions | null = null;
  declare private address: string | undefined;
  declare private subprotocol: string;
  declare private extensionList: string;
  declare private binaryTypeValue: BinaryType;
  declare private handshake: ClientHandshake | null;
  declare private closeTimer: NodeJS.Timeout | null;
  declare private peerCloseCode: number;
  declare private peerCloseReason: Buffer;
  declare private failureCode: number;
  declare private closeEmitted: boolean;
  declare private errorEmitted: boolean;
  declare private pendingPongs: number;
  declare private heartbeat: Heartbeat | null;
  declare private userPaused: boolean;
  /** The socket closed while received messages were still being delivered: 'close' waits for them. */
  declare private closeDeferred: boolean;
  /** Bytes given to send()/ping()/pong() after the connection closed (WHATWG: bufferedAmount keeps growing). */
  declare private bufferedAfterClose: number;

  declare private compressor: MessageCompressor | null;
  /** Whether the message being sent in fragments is compressed; null between messages. */
  declare private fragmentsCompressed: boolean | null;
  declare private outgoing: OutgoingQueue | null;
  declare private incoming: IncomingQueue | null;
  declare private frameSender: FrameSender | null;
  /** The user's last send() had `fin: false`: a message of theirs is open. */
  declare private messageOpen: boolean;
  /**
   * Messages framed elsewhere (a broadcast, engine.io's frames) that came
   * while a message of the user's was open: frames of two messages cannot
   * interleave (RFC 6455 5.4), so they go once it is finished.
   */
  declare private heldForMessageEnd: HeldMessage[] | null;
  declare private heldBytes: number;
  declare private flow: FlowState | null;

  /**
   * Opens a client connection to `address` (ws:, wss:, http:, https: or
   * ws+unix:). Throws a SyntaxError DOMException for a bad URL or bad
   * subprotocols, a TypeError or RangeError for a bad option. `null` makes
   * an unconnected server-side object, as in ws (WebSocketServer does that).
   */
  constructor(address: string | URL | null, protocols?: string | string[] | ClientOptions, options?: ClientOptions) {
    super();
    // EventEmitter's table of listeners is a dictionary-mode object; this
    // one is a plain object over a null-prototype one: same lookups, about
    // 200 bytes less per connection.
    (this as unknown as { _events: object })._events = new (ListenerTable as unknown as new () => object)();
    if (address === null) return;
    this.isServer = false;
    if (protocols !== undefined && protocols !== null && typeof protocols === 'object' && !Array.isArray(protocols)) {
      options = protocols;
      protocols = undefined;
    }
    options ??= {};
    if (protocols === undefined && options.protocols !== undefined) protocols = options.protocols;
    this.options = resolveConnectionOptions(options);
    this.handshake = startClientHandshake(address, protocols ?? [], options, {
      websocket: this,
      upgrade: (response) => this.emit('upgrade', response),
      redirect: (url, request) => {
        this.address = url;
        this.emit('redirect', url, request);
      },
      unexpectedResponse: (request, response) => {
        if (this.listenerCount('unexpected-response') === 0) return false;
        this.emit('unexpected-response', request, response);
        return true;
      },
      isConnecting: () => this.state === CONNECTING,
      open: (result) => this.onHandshakeDone(result),
      fail: (error, socket) => this.abortHandshake(error, socket),
    });
    this.address = this.handshake.url;
  }

  get readyState(): number {
    return this.state;
  }

  /** The URL given to the client (after redirects, the last one); undefined on the server side, as in ws. */
  get url(): string | undefined {
    return this.address;
  }

  /** The subprotocol the server selected, '' for none. */
  get protocol(): string {
    return this.subprotocol;
  }

  /** The negotiated extensions as a header value, '' for none. */
  get extensions(): string {
    return this.extensionList;
  }

  /**
   * How binary messages are delivered: 'nodebuffer' (a Buffer, the
   * default), 'arraybuffer', 'fragments' (a Buffer per frame, uncopied) or
   * 'blob'. It shapes Node-style 'message' data and MessageEvent.data.
   */
  get binaryType(): BinaryType {
    return this.binaryTypeValue;
  }

  set binaryType(value: BinaryType) {
    // WebIDL: assigning a string outside the enumeration is ignored.
    if (value !== 'nodebuffer' && value !== 'arraybuffer' && value !== 'fragments' && value !== 'blob') return;
    this.binaryTypeValue = value;
    if (this.connection !== null) this.connection.keepFragments = value === 'fragments';
  }

  /**
   * Bytes of data passed to send(), ping() or pong() not yet handed to the
   * kernel: what the socket buffers (frame headers included, as in ws),
   * what waits for a Blob read or zlib, and what was sent after close.
   */
  get bufferedAmount(): number {
    return (this.socket?.writableLength ?? 0) + (this.outgoing?.bytes ?? 0) + this.heldBytes + this.bufferedAfterClose;
  }

  /**
   * bufferedAmount less what waits for the user's open fragmented message:
   * backpressure and 'drain' leave that out, since it goes only once the user
   * sends the next fragment, which a producer awaiting drained() never would.
   */
  private get unheldAmount(): number {
    return this.bufferedAmount - this.heldBytes;
  }

  /** True after pause() until resume(): only the user's pause counts. */
  get isPaused(): boolean {
    return this.userPaused;
  }

  /** The transport (compatibility surface: engine.io reads `_socket.remoteAddress`). */
  get _socket(): Duplex | null {
    return this.socket;
  }

  /** engine.io's pre-encoded frames entry point; see FrameSender. */
  get _sender(): FrameSender | null {
    if (this.socket === null) return null;
    return this.frameSender ?? (this.frameSender = new FrameSender(this));
  }

  /**
   * Sends a message. Throws while CONNECTING (as browsers and ws do); once
   * closing, nothing is sent and the callback gets an error. Returns false
   * when `bufferedAmount` has reached `highWaterMark` (or nothing was sent):
   * Node's write() convention; 'drain' follows once it is all handed to the
   * kernel. ws returns undefined, which no caller can have relied on.
   */
  send(data: SendData | number, options?: SendOptions | WriteCallback, callback?: WriteCallback): boolean {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (this.state === CONNECTING) throw notOpenError(this.state);
    if (this.state !== OPEN) {
      this.bufferedAfterClose += dataLength(data);
      this.rejectSend(callback);
      return false;
    }
    this.sendMessage(data, options, callback);
    return this.state === OPEN && this.hasRoom();
  }

  private sendMessage(data: SendData | number, options: SendOptions | undefined, callback: WriteCallback | undefined): void {
    const isBlob = data instanceof Blob;
    const payload = isBlob ? (data as Blob) : toBuffer(data as Exclude<SendData, Blob>);
    // Numbers are sent as their decimal text, as ws does.
    const binary = options?.binary ?? (typeof data !== 'string' && typeof data !== 'number');
    const fin = options?.fin ?? true;
    const released = fin && this.messageOpen;
    this.messageOpen = !fin;
    this.queueMessage(payload, isBlob, binary, fin, options?.compress !== false, callback);
    if (released && this.heldForMessageEnd !== null) this.releaseHeld();
  }

  /** send()'s path once the data is bytes (or a Blob): at once, or through the outgoing queue. */
  private queueMessage(
    payload: Buffer | Blob,
    isBlob: boolean,
    binary: boolean,
    fin: boolean,
    compressAllowed: boolean,
    callback: WriteCallback | undefined,
  ): void {
    if (this.compressor === null && !isBlob && this.outgoing === null) {
      this.transmit(payload as Buffer, binary, fin, callback, false);
      return;
    }
    const size = isBlob ? (payload as Blob).size : (payload as Buffer).length;
    if (this.refuseOverLimit(this.bufferedAmount + size, callback)) return;
    let compress = false;
    if (this.compressor !== null) {
      // The first fragment decides for the whole message (RSV1 marks the message, 7.2.3.1).
      compress = this.fragmentsCompressed ?? (compressAllowed && this.compressor.shouldCompress(size));
      this.fragmentsCompressed = fin ? null : compress;
    }
    const queue = this.outgoingQueue();
    if (!isBlob && queue.isEmpty) {
      if (!compress) {
        this.transmit(payload as Buffer, binary, fin, callback, false);
        return;
      }
      // A small whole message is deflated here, on the main thread (zlib-sync.ts).
      const deflated = fin ? this.compressor!.compressSync(payload as Buffer) : null;
      if (deflated !== null) {
        this.transmit(deflated, binary, true, callback, true);
        return;
      }
    }
    queue.pushMessage(payload, binary, fin, compress, callback);
  }

  /**
   * Sends one message read from `source` (a Node Readable, a web
   * ReadableStream, or an async or plain iterable of Buffers, typed arrays,
   * ArrayBuffers or strings) as fragments, each chunk one frame, read only
   * as fast as the socket drains: a chunk is read while the socket holds
   * less than `highWaterMark`, else once the previous one was handed to the
   * kernel, so a message bigger than memory never sits in it. The message
   * keeps its place among sends: later sends and close() wait for it. With
   * permessage-deflate the fragments are deflated in one context.
   * Resolves once the last frame was handed to the kernel. Rejects if the
   * connection is not open or closes first (the source is then destroyed or
   * cancelled), or with the source's error: before any of it was sent the
   * message is simply not sent; after, the connection is closed with 1011,
   * since the message cannot be finished.
   */
  sendStream(source: MessageSource, options?: SendStreamOptions): Promise<void> {
    let chunks;
    try {
      chunks = chunkSource(source);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.state !== OPEN) {
      void chunks.return().catch(() => {});
      return Promise.reject(notOpenError(this.state));
    }
    const binary = options?.binary ?? true;
    let deflate = false;
    if (this.compressor !== null) {
      // A message left open by send(..., { fin: false }) continues here, compressed as it began.
      deflate = this.fragmentsCompressed ?? options?.compress !== false;
      this.fragmentsCompressed = null;
    }
    const sent = new Promise<void>((resolve, reject) => {
      this.outgoingQueue().pushStream(chunks, binary, deflate, this.messageOpen, (error) => (error ? reject(error) : resolve()));
    });
    if (this.messageOpen) {
      // The stream finishes the open message: what waited for its end queues behind the stream, in order.
      this.messageOpen = false;
      if (this.heldForMessageEnd !== null) this.releaseHeld();
    }
    return sent;
  }

  /** @internal Whether a streamed message may read its next chunk: the socket holds less than highWaterMark. */
  streamHasRoom(): boolean {
    const socket = this.socket!;
    // A socket that can take no more (destroyed, ended) has no room: the fragment's failed write ends the message.
    return socket.writable && !this.connection!.closeSent && socket.writableLength < this.options!.highWaterMark;
  }

  /** @internal A streamed message failed midway: close with 1011 at once (nothing else can follow half a message). */
  streamFailed(_error: Error): void {
    if (this.state === CLOSED) return;
    if (this.state === OPEN) {
      this.state = CLOSING;
      this.armCloseTimer();
    }
    const connection = this.connection!;
    if (!connection.closeSent) connection.close(CloseCode.InternalError, 'Message source failed');
    if (connection.closeReceived) this.socket!.end();
  }

  /**
   * Resolves once there is room to send: at once while `bufferedAmount` is
   * below `highWaterMark`, else when 'drain' comes. Rejects if the
   * connection closes first (or is already closing), so a producer's loop
   * of `send()` and `await ws.drained()` ends with the connection.
   */
  drained(): Promise<void> {
    if (this.state === CLOSING || this.state === CLOSED) return Promise.reject(notOpenError(this.state));
    if (this.unheldAmount < this.highWaterMark) return Promise.resolve();
    const flow = this.flowState();
    flow.needDrain = true;
    this.watchDrain();
    return new Promise((resolve, reject) => flow.drainWaiters.push({ resolve, reject }));
  }

  /** The connection's `highWaterMark` (bytes). */
  get highWaterMark(): number {
    return this.options?.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  }

  /**
   * The received messages as an async iterator: `for await (const { data,
   * isBinary } of ws.messages())`, `data` shaped as 'message' events give
   * it ('message' listeners still get every message). Messages not pulled
   * yet stay within `highWaterMark` bytes: past it the socket is not read,
   * so TCP pushes back on the peer. The iteration ends after a clean close
   * and throws after an unclean one (the connection's error, or a
   * WS_ERR_CLOSED_ABNORMALLY WebSocketError); `break` leaves the connection
   * open. One reader at a time (an iterator or a WebSocketStream).
   */
  messages(options: MessagesOptions & { stream: true }): AsyncIterableIterator<ReceivedMessage<Readable>>;
  messages(options?: MessagesOptions): AsyncIterableIterator<ReceivedMessage<RawData>>;
  messages(options?: MessagesOptions): AsyncIterableIterator<ReceivedMessage<RawData | Readable>> {
    const streamMode = options?.stream === true;
    const highWaterMark =
      options?.highWaterMark === undefined
        ? this.highWaterMark
        : numberOption(options as Record<string, unknown>, 'highWaterMark', 0, { min: 0 });
    const flow = this.flowState();
    if (flow.reader !== null) {
      throw new WebSocketError('WS_ERR_ALREADY_READING', 'The connection already has a reader (an iterator or a WebSocketStream)');
    }
    const reader = new MessageReader(this as ReaderOwner, highWaterMark, streamMode);
    if (this.state === CLOSED) {
      const { wasClean, code } = this.closeOutcome();
      reader.end(wasClean ? null : this.closeError(code));
    } else {
      flow.reader = reader;
      if (streamMode) this.updateStreaming();
    }
    return reader as AsyncIterableIterator<ReceivedMessage<RawData | Readable>>;
  }

  /** Tells the parser whether messages that begin from now on are streamed (a stream-mode reader is there). */
  private updateStreaming(): void {
    const on = this.flow?.reader?.streamMode ?? false;
    this.connection?.streamMessages(on, on && (this.compressor?.canInflateStreams ?? false));
  }

  /** @internal A streamed message begins: its stream goes to the reader at once. */
  receiveStreamStart(isBinary: boolean, compressed: boolean): void {
    const flow = this.flow!;
    const stream = new MessageStream(this as MessageStreamOwner, {
      highWaterMark: flow.reader?.highWaterMark ?? this.highWaterMark,
      compressor: compressed ? this.compressor : null,
      maxStreamPayload: this.options!.maxStreamPayload,
      validateText: !isBinary && !this.options!.skipUTF8Validation,
    });
    flow.incomingStream = stream;
    // Behind messages still being inflated, it waits for its turn.
    if (this.incoming !== null) this.incoming.pushStream(stream, isBinary);
    else this.deliverStream(stream, isBinary);
  }

  /** @internal A streamed message's turn: to the reader, or dropped if the reader has let go. */
  deliverStream(stream: MessageStream, isBinary: boolean): void {
    const reader = this.flow!.reader;
    if (reader === null || !reader.streamMode) stream.destroy();
    else reader.push(stream, isBinary);
    this.updateReading();
  }

  /** @internal */
  receiveStreamData(piece: Buffer): void {
    const stream = this.flow!.incomingStream!;
    stream.receive(piece);
    if (stream.full) this.updateReading();
  }

  /** @internal */
  receiveStreamEnd(): void {
    const flow = this.flow!;
    flow.incomingStream!.receiveEnd();
    flow.incomingStream = null;
  }

  /** @internal A streamed message could not be inflated, or its text is not UTF-8. */
  messageStreamFailed(error: ProtocolError): void {
    if (this.state === OPEN || this.state === CLOSING) this.connection!.fail(error);
  }

  /** `for await (const { data, isBinary } of ws)`: see messages(). */
  [Symbol.asyncIterator](): AsyncIterableIterator<ReceivedMessage<RawData>> {
    return this.messages();
  }

  /** @internal A reader is done with the connection. */
  readerDetached(reader: MessageReader): void {
    if (this.flow?.reader !== reader) return;
    this.flow.reader = null;
    if (reader.streamMode) {
      this.updateStreaming();
      // A message half received goes nowhere now: its stream is dropped, the rest of it skipped.
      this.flow.incomingStream?.destroy();
    }
    this.updateReading();
  }

  private flowState(): FlowState {
    return this.flow ?? (this.flow = new FlowState(this));
  }

  /** Whether bufferedAmount is below highWaterMark; if not, 'drain' is due. */
  private hasRoom(): boolean {
    if (this.unheldAmount < this.options!.highWaterMark) return true;
    this.flowState().needDrain = true;
    this.watchDrain();
    return false;
  }

  /**
   * Learns when the socket has handed everything written so far to the
   * kernel: an empty write's callback runs then (writes complete in order).
   * The socket's own 'drain' would not do: it comes only past the socket's
   * high-water mark, which is not ours.
   */
  private watchDrain(): void {
    const flow = this.flow!;
    const socket = this.socket;
    if (flow.watchingDrain || socket === null || !socket.writable) return;
    flow.watchingDrain = true;
    socket.write(EMPTY, flow.onFlushed);
  }

  /** @internal The socket flushed what was written before the last watchDrain(). */
  onFlushed(): void {
    const flow = this.flow!;
    flow.watchingDrain = false;
    if (!flow.needDrain || this.state === CLOSED) return;
    if (this.unheldAmount === 0) {
      flow.needDrain = false;
      for (const waiter of flow.drainWaiters.splice(0)) waiter.resolve();
      this.emit('drain');
      return;
    }
    // What is left waits in the outgoing queue (zlib, a Blob): its next write watches again.
    if (this.socket!.writableLength > 0) this.watchDrain();
  }

  /** Sends a ping (payload at most 125 bytes). ws's `mask` argument is accepted and ignored; `ping(cb)` works. */
  ping(data?: SendData | number | WriteCallback, mask?: boolean | WriteCallback, callback?: WriteCallback): void {
    this.sendControl(Opcode.Ping, data, mask, callback);
  }

  /** Sends an unsolicited pong (a heartbeat that needs no answer). */
  pong(data?: SendData | number | WriteCallback, mask?: boolean | WriteCallback, callback?: WriteCallback): void {
    this.sendControl(Opcode.Pong, data, mask, callback);
  }

  /**
   * Starts the closing handshake. `code` must be valid on the wire (1000,
   * 1001-1003, 1007-1014, 3000-4999) and the reason at most 123 UTF-8 bytes,
   * else this throws. Messages sent before go out first. The socket is
   * destroyed if the peer does not complete the handshake within `closeTimeout`.
   */
  close(code?: number, reason?: string | Uint8Array): void {
    if (this.state === CLOSED) return;
    if (this.state === CONNECTING) {
      this.abortHandshake(
        new WebSocketError('WS_ERR_CLOSED_BEFORE_CONNECT', 'WebSocket was closed before the connection was established'),
      );
      return;
    }
    ({ code, reason } = checkCloseArguments(code, reason)); // validated before any state changes
    const connection = this.connection;
    if (connection === null) return; // a client handshake being aborted
    if (this.state === CLOSING) {
      // Both close frames are through: nothing is left but to close TCP.
      if (connection.closeSent && connection.closeReceived) this.socket!.end();
      return;
    }
    this.state = CLOSING;
    this.armCloseTimer();
    if (this.outgoing !== null && !this.outgoing.isEmpty) this.outgoing.pushClose(code, reason);
    else this.sendClose(code, reason);
  }

  /** Destroys the connection at once, without a closing handshake. */
  terminate(): void {
    if (this.state === CLOSED) return;
    if (this.state === CONNECTING) {
      this.abortHandshake(
        new WebSocketError('WS_ERR_CLOSED_BEFORE_CONNECT', 'WebSocket was closed before the connection was established'),
      );
      return;
    }
    // A client whose handshake failed has no socket (state CLOSING, 'close' on its way): nothing to end.
    const socket = this.socket;
    if (socket === null) return;
    this.state = CLOSING;
    this.dropIncoming();
    // Frames sent earlier in this tick still wait in the corked socket; hand
    // them to the kernel first, as they would have been without the batching.
    uncorkSocket(socket);
    socket.destroy();
  }

  /** Stops reading from the socket; messages wait in the kernel, and TCP pushes back. No-op unless open or closing. */
  pause(): void {
    if (this.state === CONNECTING || this.state === CLOSED) return;
    this.userPaused = true;
    this.updateReading();
  }

  resume(): void {
    if (this.state === CONNECTING || this.state === CLOSED) return;
    this.userPaused = false;
    this.updateReading();
  }

  /** Binds an upgraded socket; bytes in `head` arrived after the handshake. */
  [kAttach](socket: Duplex, head: Buffer, attach: AttachOptions): void {
    const options = attach.options;
    this.socket = socket;
    if (!attach.isServer) this.isServer = false;
    const endsFirst = attach.endsFirst ?? attach.isServer;
    if (!endsFirst) this.endsFirst = false;
    this.options = options;
    if (attach.protocol !== '') this.subprotocol = attach.protocol;
    if (attach.extensions !== '') this.extensionList = attach.extensions;
    if (attach.deflate !== null) this.compressor = new MessageCompressor(attach.deflate, options.maxPayload);
    const handlers = new ConnectionHandler(this);
    this.handlers = handlers;
    this.connection = new Protocol(
      {
        isServer: attach.isServer,
        maxPayload: options.maxPayload,
        perMessageDeflate: attach.deflate !== null,
        maxFragments: options.maxFragments,
        maxBufferedChunks: options.maxBufferedChunks,
        skipUTF8Validation: options.skipUTF8Validation,
        autoPong: options.autoPong,
        generateMask: options.generateMask,
        maxStreamPayload: options.maxStreamPayload,
      },
      handlers,
    );
    if (this.flow?.reader?.streamMode) this.updateStreaming();
    if (this.binaryTypeValue === 'fragments') this.connection.keepFragments = true;
    this.state = OPEN;
    if (options.heartbeat !== null) {
      this.heartbeat = new Heartbeat(options.heartbeat, this);
    }

    const anySocket = socket as Duplex & { setNoDelay?: (on: boolean) => void; setTimeout?: (ms: number) => void };
    anySocket.setNoDelay?.(true);
    anySocket.setTimeout?.(0);
    // Bytes that arrived with the handshake are put back into the paused
    // stream, so they flow (on a later tick, like all socket data) only after
    // the user's 'connection' or 'open' handler has attached its listeners.
    socket.pause();
    if (head.length > 0) socket.unshift(head);
    // Shared listeners that find the connection on the socket: five closures
    // (and their context) per connection would cost an idle one about 250 bytes.
    (socket as SocketWithConnection)[kConnection] = this;
    socket.on('data', socketOnData);
    socket.on('end', socketOnEnd);
    socket.on('close', socketOnClose);
    socket.on('error', socketOnError);
    socket.on('drain', socketOnDrain);
    socket.resume();
    if (!this.isServer) {
      this[kStreamHooks]?.opened();
      this.emit('open');
    }
  }

  /**
   * Sends a message framed once for many connections: its bytes as they
   * are when the connection allows it, else framed here like send(). False
   * (nothing sent) unless OPEN. `compress: false` sends it uncompressed on
   * a compressing connection (publish()'s option).
   */
  [kSendPrepared](message: PreparedMessage, compress = true): boolean {
    if (this.state !== OPEN) return false;
    const connection = this.connection!;
    if (this.messageOpen) {
      // Held whatever the way it goes later: a send() now would end the user's message.
      this.hold({ prepared: message, compress, frame: null, callback: undefined }, message.data.length);
    } else if (this.compressor !== null) {
      const frame = compress ? this.sharedCompressedFrame(message) : null;
      // A compression context of its own, or something queued: the usual way.
      if (frame === null) this.send(message.data, { binary: message.isBinary, compress });
      else if (this.refuseOverLimit(this.bufferedAmount + frame.length, undefined)) return false;
      else connection.sendPreparedFrame(frame);
    } else if (this.refuseOverLimit(this.bufferedAmount + message.frame.length, undefined)) {
      // A peer that does not read fails (1008) instead of growing our memory with every broadcast.
      return false;
    } else if (this.outgoing !== null && !this.outgoing.isEmpty) {
      this.outgoing.pushMessage(message.data, message.isBinary, true, false, undefined);
    } else if (connection.canSharePreparedFrame()) {
      connection.sendPreparedFrame(message.frame);
    } else {
      connection.sendMessage(message.data, message.isBinary, true);
    }
    // A send() above refused over maxBufferedAmount failed the connection: not sent.
    return this.state === OPEN;
  }

  /**
   * A broadcast's frame this compressing connection can write as it is: the
   * plain frame for a message under the threshold, or the message deflated
   * once for every connection with the same settings and no context
   * takeover. Null when it must go through send() (context takeover, a
   * message too large for the main thread, sends queued before it).
   */
  private sharedCompressedFrame(message: PreparedMessage): Buffer | null {
    const compressor = this.compressor!;
    if ((this.outgoing !== null && !this.outgoing.isEmpty) || !this.connection!.canSharePreparedFrame()) return null;
    if (!compressor.shouldCompress(message.data.length)) return message.frame;
    const key = compressor.sharedKey;
    if (key === null) return null;
    return message.compressedFrame(key, (data) => compressor.compressSync(data));
  }

  /** The client handshake succeeded: the connection opens. */
  private onHandshakeDone(result: HandshakeResult): void {
    this.handshake = null;
    this.address = result.url;
    this[kAttach](result.socket, result.head, {
      isServer: false,
      protocol: result.protocol,
      extensions: result.extensions,
      deflate: result.deflate,
      options: this.options!,
      endsFirst: result.endsFirst,
    });
  }

  /** The client's handshake failed or was cancelled: report it, then close. */
  private abortHandshake(error: Error, socket?: Duplex | null): void {
    if (this.state !== CONNECTING) return;
    this.state = CLOSING;
    const handshake = this.handshake;
    this.handshake = null;
    socket = handshake?.abort() ?? socket;
    // Reported on a later tick: close() from user code must not emit within the call.
    process.nextTick(() => {
      this.emitError(error);
      if (socket && !socket.destroyed) {
        socket.once('close', () => this.emitClose());
        socket.destroy();
      } else {
        this.emitClose();
      }
    });
  }

  /** Emits 'error' once per connection, and only to listeners: a hostile peer must not crash a process that forgot one. */
  private emitError(error: Error): void {
    if (this.errorEmitted) return;
    this.errorEmitted = true;
    if (this.flow !== null) this.flow.error = error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** @internal */
  onSocketData(chunk: Buffer): void {
    this.heartbeat?.alive();
    this.connection!.receiveData(chunk);
  }

  /** @internal Writes one frame (header, then payload if separate) to the socket. */
  writeToSocket(header: Buffer, payload: Buffer | null, callback?: WriteCallback): void {
    const socket = this.socket!;
    // Our side may already be ended (the peer closed TCP first): writing
    // then would only raise "write after end".
    if (!socket.writable) {
      this.rejectSend(callback);
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
    // A frame that waited in the outgoing queue while 'drain' is due: its flush is watched too.
    if (this.flow !== null && this.flow.needDrain) this.watchDrain();
  }

  /** @internal Frames and writes one message or fragment through the protocol. */
  transmit(data: Buffer, isBinary: boolean, fin: boolean, callback: WriteCallback | undefined, compressed: boolean): void {
    // Only while OPEN: data queued before our close frame goes out even when closing.
    if (this.state === OPEN && this.refuseOverLimit(this.bufferedAmount + data.length, callback)) return;
    if (!this.connection!.sendMessage(data, isBinary, fin, callback, compressed)) this.rejectSend(callback);
  }

  /** @internal Writes frame bytes made elsewhere (engine.io) as they are, or frames their message here. */
  transmitFrame(frame: readonly Buffer[], callback: WriteCallback | undefined): void {
    const connection = this.connection!;
    if (!connection.canSharePreparedFrame()) {
      // Inside a fragmented message of ours the bytes cannot go as they are.
      const message = unframe(frame);
      if (message === null) this.rejectSend(callback, new TypeError('sendFrame() needs one complete unmasked data frame'));
      else this.transmit(message.data, message.isBinary, true, callback, false);
      return;
    }
    for (let i = 0; i < frame.length; i++) {
      connection.sendPreparedFrame(frame[i], i === frame.length - 1 ? callback : undefined);
    }
  }

  /** @internal engine.io's sendFrame(): see FrameSender. */
  sendFramed(frame: readonly Buffer[], callback?: WriteCallback): void {
    if (this.state !== OPEN) {
      this.rejectSend(callback);
      return;
    }
    if (this.messageOpen) {
      let size = 0;
      for (const buffer of frame) size += buffer.length;
      this.hold({ prepared: null, compress: true, frame, callback }, size);
      return;
    }
    if (this.compressor !== null) {
      // A compressing connection must deflate the message itself: unframe it and send it as usual.
      const message = unframe(frame);
      if (message === null) this.rejectSend(callback, new TypeError('sendFrame() needs one complete unmasked data frame'));
      else this.send(message.data, { binary: message.isBinary }, callback);
      return;
    }
    let size = 0;
    for (const buffer of frame) size += buffer.length;
    if (this.refuseOverLimit(this.bufferedAmount + size, callback)) return;
    if (this.outgoing !== null && !this.outgoing.isEmpty) this.outgoing.pushFrame(frame, callback);
    else this.transmitFrame(frame, callback);
  }

  /** Keeps a message framed elsewhere until the user's open message is finished. */
  private hold(message: HeldMessage, size: number): void {
    if (this.refuseOverLimit(this.bufferedAmount + size, message.callback)) return;
    (this.heldForMessageEnd ??= []).push(message);
    this.heldBytes += size;
  }

  /** The user's message is finished: what waited for it goes now, in order. */
  private releaseHeld(): void {
    const held = this.heldForMessageEnd!;
    this.heldForMessageEnd = null;
    this.heldBytes = 0;
    for (const message of held) {
      if (message.prepared !== null) this[kSendPrepared](message.prepared, message.compress);
      else this.sendFramed(message.frame!, message.callback);
    }
  }

  /** @internal Our close frame, or TCP's end when both close frames are through. */
  sendClose(code: number | undefined, reason: string | Uint8Array | undefined): void {
    const connection = this.connection!;
    if (connection.closeSent) {
      if (connection.closeReceived) this.socket!.end();
      return;
    }
    connection.close(code, reason);
    if (connection.closeReceived) this.socket!.end();
  }

  /** @internal The answer to the peer's close frame, once what was queued before it went out. */
  sendCloseEcho(): void {
    this.connection!.sendCloseEcho();
    // The server closes TCP first (7.1.1); the client waits for it, within the timeout.
    if (this.endsFirst) this.socket!.end();
  }

  /** @internal */
  outgoingIsEmpty(): boolean {
    return this.outgoing === null || this.outgoing.isEmpty;
  }

  private outgoingQueue(): OutgoingQueue {
    return this.outgoing ?? (this.outgoing = new OutgoingQueue(this.handlers!, this.compressor));
  }

  /** @internal A send failed; its callback (if any) gets the error on a later tick. */
  rejectSend(callback: WriteCallback | undefined, error?: Error): void {
    if (callback) process.nextTick(callback, error ?? notOpenError(this.state));
  }

  /** @internal A Blob could not be read: as in ws, 'error' is emitted (after the sends' callbacks) and TCP is closed. */
  onBlobUnreadable(error: Error): void {
    if (this.state === CLOSED) return;
    if (this.state === OPEN) {
      this.state = CLOSING;
      this.armCloseTimer();
    }
    this.socket!.end();
    process.nextTick(() => this.emitError(error));
  }

  /** @internal A message from the protocol: now, or behind messages still being inflated. */
  receive(data: Buffer, isBinary: boolean, compressed: boolean, fragments: Buffer[] | null): void {
    if (this.incoming === null && this.options!.allowSynchronousEvents) {
      if (!compressed) {
        this.emitMessage(data, isBinary, fragments);
        return;
      }
      // A small compressed message is inflated here, on the main thread (zlib-sync.ts).
      const inflated = this.inflateNow(data, isBinary);
      if (inflated !== null) {
        if (inflated !== FAILED) this.emitMessage(inflated, isBinary, null);
        return;
      }
    }
    this.incomingQueue().pushMessage(data, isBinary, compressed, fragments);
  }

  /** Inflates on the main thread when the compressor takes it; FAILED once the connection was failed for it. */
  private inflateNow(data: Buffer, isBinary: boolean): Buffer | typeof FAILED | null {
    let inflated: Buffer | null;
    try {
      inflated = this.compressor!.decompressSync(data);
    } catch (error) {
      this.connection!.fail(error as ProtocolError);
      return FAILED;
    }
    if (inflated === null) return null;
    if (!isBinary && !this.options!.skipUTF8Validation && !isValidUtf8(inflated)) {
      this.connection!.fail(new ProtocolError('WS_ERR_INVALID_UTF8', 'Text message is not valid UTF-8', CloseCode.InvalidPayload));
      return FAILED;
    }
    return inflated;
  }

  /** @internal */
  receivePing(data: Buffer): void {
    // An automatic pong is queued; count it if the peer is not reading what we send.
    const limit = this.options!.maxPendingAutoPongs;
    if (this.options!.autoPong && this.socket!.writableNeedDrain && ++this.pendingPongs > limit) {
      this.failSlowReader(`More than ${limit} automatic pongs queued to a peer that does not read`);
    }
    if (this.incoming === null && this.options!.allowSynchronousEvents) this.emit('ping', data);
    else this.incomingQueue().pushPing(data);
  }

  /** @internal */
  receivePong(data: Buffer): void {
    if (this.incoming === null && this.options!.allowSynchronousEvents) this.emit('pong', data);
    else this.incomingQueue().pushPong(data);
  }

  private incomingQueue(): IncomingQueue {
    if (this.incoming === null) {
      this.incoming = new IncomingQueue(this.handlers!, !this.options!.allowSynchronousEvents, this.options!.skipUTF8Validation);
      // Read no further while messages wait: what the queue holds stays bounded.
      this.updateReading();
      this.connection!.holdClose();
    }
    return this.incoming;
  }

  /** @internal The incoming queue has delivered everything. */
  onIncomingIdle(): void {
    this.incoming = null;
    if (this.state === CLOSED) return;
    this.connection!.releaseClose();
    if (this.closeDeferred) this.emitClose();
    else this.updateReading();
  }

  /** @internal Emits one message with its data shaped by binaryType. */
  emitMessage(data: Buffer, isBinary: boolean, fragments: Buffer[] | null): void {
    const reader = this.flow?.reader;
    if (reader?.streamMode) {
      // Received whole (a compressed message with context takeover): a stream of one chunk, like the others.
      const whole = fragments === null ? data : Buffer.concat(fragments);
      reader.push(Readable.from([whole], { objectMode: false }), isBinary);
      if (reader.full) this.updateReading();
      return;
    }
    const shaped = isBinary ? binaryMessageData(data, fragments, this.binaryTypeValue) : data;
    if (reader) {
      // Before the listeners: one that throws must not cost the iterator its message.
      reader.push(shaped, isBinary);
      if (reader.full) this.updateReading();
    }
    this.emit('message', shaped, isBinary);
  }

  /** @internal Inflates a message for the incoming queue; text is checked once inflated. */
  inflate(data: Buffer, done: (error: Error | null, output?: Buffer) => void): void {
    this.compressor!.decompress(data, done);
  }

  /** @internal A received message could not be inflated (or was not UTF-8 text): fail the connection. */
  failConnection(error: ProtocolError): void {
    this.connection!.fail(error);
  }

  /**
   * @internal Whether the socket should flow: not while the user paused, nor
   * while received messages wait for zlib or their turn, nor while a reader
   * holds its high-water mark of unpulled messages. Only the first is
   * `isPaused`.
   */
  updateReading(): void {
    const socket = this.socket;
    if (socket === null) return;
    const flow = this.flow;
    if (this.userPaused || this.incoming !== null || (flow !== null && (flow.reader?.full || flow.incomingStream?.full))) {
      socket.pause();
      this.heartbeat?.suspend();
    } else {
      socket.resume();
      this.heartbeat?.resume();
    }
  }

  /** @internal */
  onSocketDrain(): void {
    this.pendingPongs = 0;
  }

  /** Past maxBufferedAmount the connection fails (1008) and this send is refused; true then. */
  private refuseOverLimit(buffered: number, callback: WriteCallback | undefined): boolean {
    const limit = this.options!.maxBufferedAmount;
    if (limit === 0 || buffered <= limit) return false;
    this.failSlowReader(`More than maxBufferedAmount (${limit} bytes) waiting to be sent`);
    this.rejectSend(callback);
    return true;
  }

  /**
   * The peer does not read what we send (a full send buffer, a ping flood):
   * fail with 1008 and destroy the socket at once. A close frame could only
   * queue behind the data the peer is not reading, so none is sent.
   */
  private failSlowReader(message: string): void {
    if (this.failureCode !== 0) return; // already failed (a pong write and its ping can both trip)
    this.failureCode = CloseCode.PolicyViolation;
    this.state = CLOSING;
    this.connection!.stopReceiving();
    // Cleanup first: an 'error' listener that throws must not leave the socket open.
    this.socket!.destroy();
    this.emitError(new WebSocketError('WS_ERR_SLOW_READER', message, { closeCode: CloseCode.PolicyViolation }));
  }

  /** @internal The heartbeat's ping. */
  sendHeartbeat(): void {
    if (this.state === OPEN) this.connection!.ping(EMPTY);
  }

  /** @internal No sign of life within the heartbeat's timeout. */
  heartbeatTimedOut(timeout: number): void {
    this.terminate();
    this.emitError(new WebSocketError('WS_ERR_HEARTBEAT_TIMEOUT', `Nothing received within ${timeout} ms of a ping`));
  }

  /** @internal */
  onCloseReceived(code: number, reason: Buffer): void {
    this.peerCloseCode = code;
    // A copy: the reason is a view into a receive buffer the connection would otherwise keep.
    this.peerCloseReason = reason.length === 0 ? NO_REASON : Buffer.from(reason);
    this.state = CLOSING;
    this.armCloseTimer();
    if (this.connection!.closeEchoPending) {
      // Messages sent before the peer's close frame arrived still go out, then
      // our answer; but a streamed message, begun or not, could take any time:
      // it fails with what waits behind it (a close frame may interrupt a
      // fragmented message, 5.4).
      this.outgoing!.cutAtStream(new WebSocketError('WS_ERR_PEER_CLOSED', 'The peer closed the connection during a streamed message'));
      this.outgoing!.pushCloseEcho();
    } else if (this.endsFirst) {
      // The server closes TCP first (7.1.1); the client waits for it, within the timeout.
      this.socket!.end();
    }
  }

  /** Received messages not yet delivered are dropped (terminate, a protocol failure). */
  private dropIncoming(): void {
    if (this.incoming === null) return;
    this.incoming.drop();
    this.incoming = null;
    this.updateReading();
  }

  /** @internal */
  onProtocolError(error: ProtocolError): void {
    this.failureCode = error.closeCode;
    this.dropIncoming();
    this.state = CLOSING;
    // Failing the connection (7.1.7): our close frame is written, now close
    // TCP; before the 'error' event, whose listener may throw.
    this.socket!.end();
    this.armCloseTimer();
    this.emitError(error);
  }

  /** @internal */
  onSocketEnd(): void {
    this.state = CLOSING;
    this.connection!.stopReceiving();
    this.socket!.end();
  }

  /** @internal */
  onSocketError(error: Error): void {
    // After a completed closing handshake a reset from the peer is no news.
    const connection = this.connection!;
    if (!(connection.closeSent && connection.closeReceived)) this.emitError(error);
    this.socket!.destroy();
  }

  /** @internal */
  onSocketClose(): void {
    const socket = this.socket!;
    // Data the user left paused in the socket arrived before the close: parse it (as ws does).
    if (!this.connection!.closeReceived && this.failureCode === 0 && socket.readableLength > 0) {
      const rest = socket.read() as Buffer | null;
      if (rest !== null) this.connection!.receiveData(rest);
    }
    this.connection!.stopReceiving();
    this.emitClose();
  }

  private emitClose(): void {
    if (this.closeEmitted) return;
    // Messages that arrived before the connection closed are delivered first.
    if (this.incoming !== null) {
      this.closeDeferred = true;
      return;
    }
    this.closeEmitted = true;
    this.state = CLOSED;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.outgoing?.drop();
    if (this.heldForMessageEnd !== null) {
      for (const message of this.heldForMessageEnd) this.rejectSend(message.callback);
      this.heldForMessageEnd = null;
      this.heldBytes = 0;
    }
    this.compressor?.close();
    this.heartbeat?.stop();
    const { wasClean, code } = this.closeOutcome();
    // Internal bookkeeping first, and not as a listener the user could remove.
    this[kOnClosed]?.(this);
    if (this.flow !== null) this.endFlow(wasClean, code);
    this[kStreamHooks]?.closed(code, this.peerCloseReason, wasClean);
    try {
      this.emit('close', code, this.peerCloseReason, wasClean);
    } finally {
      releaseSignals(this);
    }
  }

  /** How the connection ended: the 'close' event's code and wasClean. */
  private closeOutcome(): { wasClean: boolean; code: number } {
    const connection = this.connection;
    const wasClean = connection !== null && connection.closeSent && connection.closeReceived;
    const code = connection?.closeReceived ? this.peerCloseCode : this.failureCode || CloseCode.Abnormal;
    return { wasClean, code };
  }

  /** What an iterator throws after an unclean close: the connection's error, or one saying how it ended. */
  private closeError(code: number): Error {
    return (
      this.flow?.error ??
      new WebSocketError('WS_ERR_CLOSED_ABNORMALLY', `The connection closed without a closing handshake (${code})`, { closeCode: code })
    );
  }

  /** The connection closed: drain waiters fail, the reader ends (or throws) after what it holds. */
  private endFlow(wasClean: boolean, code: number): void {
    const flow = this.flow!;
    flow.needDrain = false;
    const waiters = flow.drainWaiters.splice(0);
    if (waiters.length > 0) {
      const error = notOpenError(CLOSED);
      for (const waiter of waiters) waiter.reject(error);
    }
    flow.incomingStream?.abortIncomplete();
    flow.incomingStream = null;
    flow.reader?.end(wasClean ? null : this.closeError(code));
  }

  /** Set by a server to learn that this connection closed (not a listener: removeAllListeners() cannot lose it). */
  declare [kOnClosed]: ((ws: WebSocket) => void) | undefined;
  /** Set by a WebSocketStream that wraps this connection. */
  declare [kStreamHooks]: StreamHooks | undefined;

  private armCloseTimer(): void {
    if (this.closeTimer !== null) return;
    const socket = this.socket!;
    this.closeTimer = setTimeout(() => socket.destroy(), this.options!.closeTimeout);
  }

  private sendControl(
    opcode: number,
    data: SendData | number | WriteCallback | undefined,
    mask: boolean | WriteCallback | undefined,
    callback: WriteCallback | undefined,
  ): void {
    if (typeof data === 'function') {
      callback = data;
      data = undefined;
    } else if (typeof mask === 'function') {
      callback = mask;
    }
    if (this.state === CONNECTING) throw notOpenError(this.state);
    const isBlob = data instanceof Blob;
    const payload = isBlob ? (data as Blob) : toBuffer(data as Exclude<SendData, Blob> | number | undefined);
    const size = isBlob ? (payload as Blob).size : (payload as Buffer).length;
    // Once closing the callback gets the error, whatever the size (as in ws).
    if (this.state !== OPEN) {
      this.bufferedAfterClose += size;
      this.rejectSend(callback);
      return;
    }
    if (size > 125) throw new RangeError('A control frame payload is at most 125 bytes');
    // The user's ping or pong goes in line with the sends before it, as ws's
    // does (a Blob is read first, a message deflated). Automatic pongs and
    // the heartbeat's pings go at once: they answer for the connection.
    if (isBlob || (this.outgoing !== null && !this.outgoing.isEmpty)) this.outgoingQueue().pushControl(opcode, payload, callback);
    else this.transmitControl(opcode, payload as Buffer, callback);
  }

  /** @internal */
  transmitControl(opcode: number, data: Buffer, callback: WriteCallback | undefined): void {
    const connection = this.connection!;
    const sent = opcode === Opcode.Ping ? connection.ping(data, callback) : connection.pong(data, callback);
    if (!sent) this.rejectSend(callback);
  }
}

/**
 * The message inside frame bytes given to sendFrame() (one complete,
 * unmasked text or binary frame), or null if they are not that.
 */
function unframe(frame: readonly Buffer[]): { data: Buffer; isBinary: boolean } | null {
  const bytes = frame.length === 1 ? frame[0] : Buffer.concat(frame as Buffer[]);
  if (bytes.length < 2) return null;
  const opcode = bytes[0] & 0x0f;
  if ((bytes[0] & 0xf0) !== 0x80 || (opcode !== Opcode.Text && opcode !== Opcode.Binary) || (bytes[1] & 0x80) !== 0) return null;
  let length = bytes[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return null;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return null;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if (bytes.length !== offset + length) return null;
  return { data: bytes.subarray(offset), isBinary: opcode === Opcode.Binary };
}

// The browser-style API (onmessage, addEventListener, ...) lives in browser-api.ts.
export interface WebSocket extends BrowserApi {}
installBrowserApi(WebSocket.prototype);

/**
 * Most of a connection's state starts at a default that many connections
 * never change: those defaults live on the prototype, and a connection gets
 * its own property only when it sets one. An idle connection then holds a
 * handful of fields instead of thirty (issue 15: heap per idle connection).
 */
Object.assign(WebSocket.prototype, {
  isServer: true,
  endsFirst: true,
  address: undefined,
  subprotocol: '',
  extensionList: '',
  binaryTypeValue: 'nodebuffer',
  handshake: null,
  closeTimer: null,
  peerCloseCode: CloseCode.Abnormal,
  peerCloseReason: NO_REASON,
  failureCode: 0,
  closeEmitted: false,
  errorEmitted: false,
  pendingPongs: 0,
  heartbeat: null,
  userPaused: false,
  closeDeferred: false,
  bufferedAfterClose: 0,
  compressor: null,
  fragmentsCompressed: null,
  outgoing: null,
  incoming: null,
  frameSender: null,
  messageOpen: false,
  heldForMessageEnd: null,
  heldBytes: 0,
  flow: null,
  [kOnClosed]: undefined,
  [kStreamHooks]: undefined,
});

// As in ws: the ready-state constants are enumerable, read-only values on the
// class and its prototype, and the state accessors are enumerable.
for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
  Object.defineProperty(WebSocket, name, { value, enumerable: true });
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
for (const name of ['binaryType', 'bufferedAmount', 'extensions', 'isPaused', 'protocol', 'readyState', 'url']) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}
