/**
 * The WebSocket: ws's API and the browser's on one object, for either end
 * of a connection. This file is the facade: the public methods and getters,
 * the ready state, the close lifecycle, the rules for emitting 'error' and
 * 'close', and the client-handshake glue. The work is done by the parts in
 * connection/ (see the README's Design): Transport (the Duplex underneath),
 * Protocol (the sans-I/O core), Receiver (frames in, messages out) and
 * Sender (frames out; made on the first send). The parts never import this
 * file: each reports through a small owner interface whose methods are
 * symbol-keyed here, so they neither collide with a subclass's names nor
 * show in the public types.
 */

import { EventEmitter } from 'node:events';
import type { Duplex, Readable } from 'node:stream';
import type { BrowserApi, EventHandlerOf, EventListenerOf } from './browser-api.ts';
import { checkCloseArguments, installBrowserApi, releaseSignals } from './browser-api.ts';
import { startClientHandshake, type ClientHandshake, type HandshakeResult } from './client/handshake.ts';
import { MessageCompressor } from './compression/compressor.ts';
import { dataLength, isBinaryData, toBuffer, type BinaryType, type RawData, type SendData } from './connection/data.ts';
import { Heartbeat, kHeartbeatPing, kHeartbeatTimedOut } from './connection/heartbeat.ts';
import type { ReceivedMessage } from './connection/reader.ts';
import type { MessagesOptions } from './connection/streamed.ts';
import { kCanAnswerClose, kCloseReceived, kPongQueued, kProtocolFailed, kReceiverIdle, Receiver } from './connection/receiver.ts';
import { kBlobUnreadable, kFailSlowReader, kStreamBroken, Sender, type SendOptions, type SendStreamOptions } from './connection/sender.ts';
import { kAttach, kOnClosed, kSendPrepared, kStreamHooks, type AttachOptions, type StreamHooks } from './connection/entry.ts';
import { chunkSource, type MessageSource } from './connection/source.ts';
import { CLOSED, CLOSING, CONNECTING, OPEN, type ReadyState } from './connection/state.ts';
import { closedAbnormally, closedBeforeConnect, defineReadyStates, listenerTable, notOpenError, refuseSend } from './connection/state.ts';
import {
  CLIENT_SOCKET,
  kPeerEnded,
  kTransportClosed,
  kTransportData,
  kTransportDrained,
  kTransportFailed,
  SERVER_SOCKET,
  Transport,
} from './connection/transport.ts';
import type { ClientOptions as ClientOptionsOf } from './options/client.ts';
import type { ConnectionOptions, ResolvedConnectionOptions } from './options/connection.ts';
import { DEFAULT_HIGH_WATER_MARK, highWaterMarkOption, resolveConnectionOptions } from './options/connection.ts';
import type { WebSocketEvents } from './events.ts';
import { CloseCode } from './protocol/close-code.ts';
import { type ProtocolError, WebSocketError } from './protocol/errors.ts';
import { CONTROL_TOO_BIG, MAX_CONTROL_PAYLOAD, Opcode } from './protocol/frame.ts';
import type { PreparedMessage } from './protocol/prepared.ts';
import { Protocol, type WriteCallback } from './protocol/protocol.ts';

export { CONNECTING, OPEN, CLOSING, CLOSED } from './connection/state.ts';
export type { BinaryType, RawData, SendData } from './connection/data.ts';
export type { SendOptions, SendStreamOptions } from './connection/sender.ts';
export type { MessagesOptions } from './connection/streamed.ts';
export type { WebSocketEvents } from './events.ts';
export { kAttach, kOnClosed, kSendPrepared, kStreamHooks, type AttachOptions, type StreamHooks } from './connection/entry.ts';

/** The client's options; finishRequest gets the WebSocket. */
export interface ClientOptions extends ClientOptionsOf<WebSocket> {}
/** An `on<type>` handler (`onmessage`, ...), called with the WebSocket as `this`. */
export type EventHandler<E extends Event> = EventHandlerOf<E, WebSocket>;
/** A listener for addEventListener(): a function called with the WebSocket as `this`, or an object with handleEvent(). */
export type WebSocketEventListener<E extends Event = Event> = EventListenerOf<E, WebSocket>;

/** What ping() and pong() take: data as send() takes it (at most 125 bytes), or the callback in its place. */
type ControlData = SendData | number | WriteCallback | undefined;

/** Shared by all connections: one Buffer less per idle connection. */
const NO_REASON = Buffer.alloc(0);
const EMPTY = Buffer.alloc(0);

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: a mixin: installBrowserApi() puts BrowserApi's members on the prototype (the end of this file)
export class WebSocket extends EventEmitter<WebSocketEvents> {
  declare static readonly CONNECTING: typeof CONNECTING;
  declare static readonly OPEN: typeof OPEN;
  declare static readonly CLOSING: typeof CLOSING;
  declare static readonly CLOSED: typeof CLOSED;
  declare readonly CONNECTING: typeof CONNECTING;
  declare readonly OPEN: typeof OPEN;
  declare readonly CLOSING: typeof CLOSING;
  declare readonly CLOSED: typeof CLOSED;

  private state: ReadyState = CONNECTING;
  private transport: Transport | null = null;
  /** The protocol's handler; it holds the sans-I/O protocol too (`protocol` is the subprotocol's name, as in ws). */
  private receiver: Receiver | null = null;
  private options: ResolvedConnectionOptions | null = null;
  // The rest starts at a default on the prototype (the end of this file): an
  // idle connection holds a handful of fields instead of twenty.
  declare private sender: Sender | null;
  declare private isServer: boolean;
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
  /** The error emitted (at most one per connection), for an iterator to throw. */
  declare private error: Error | null;
  /** The transport closed while received messages were still being delivered: 'close' waits for them. */
  declare private closeDeferred: boolean;
  /** Bytes given to send()/ping()/pong() after the connection closed (WHATWG: bufferedAmount keeps growing). */
  declare private bufferedAfterClose: number;
  /** @internal Set by a server to learn that this connection closed (not a listener: removeAllListeners() cannot lose it). */
  declare [kOnClosed]: ((ws: WebSocket) => void) | undefined;
  /** @internal Set by a WebSocketStream that wraps this connection. */
  declare [kStreamHooks]: StreamHooks | undefined;

  /**
   * Opens a client connection to `address` (ws:, wss:, http:, https: or
   * ws+unix:). Throws a SyntaxError DOMException for a bad URL or bad
   * subprotocols, a TypeError or RangeError for a bad option. `null` makes
   * an unconnected server-side object, as in ws (WebSocketServer does that).
   */
  constructor(address: string | URL | null, protocols?: string | string[] | ClientOptions, options?: ClientOptions) {
    super();
    (this as unknown as { _events: object })._events = listenerTable();
    if (address === null) return;
    this.isServer = false;
    if (protocols !== undefined && protocols !== null && typeof protocols === 'object' && !Array.isArray(protocols)) {
      options = protocols;
      protocols = undefined;
    }
    options ??= {};
    if (protocols === undefined && options.protocols !== undefined) protocols = options.protocols;
    this.options = resolveConnectionOptions(options);
    // Only a missing argument means none: ws takes null as one subprotocol (and refuses it).
    this.handshake = startClientHandshake(address, protocols === undefined ? [] : protocols, options, {
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

  get readyState(): ReadyState {
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
    const core = this.receiver?.protocol;
    if (core) core.keepFragments = value === 'fragments';
  }

  /**
   * Bytes of data passed to send(), ping() or pong() not yet handed to the
   * kernel: what the transport buffers (frame headers included, as in ws),
   * what waits for a Blob read or zlib or an open message, and what was
   * sent after close.
   */
  get bufferedAmount(): number {
    const sender = this.sender;
    const waiting = sender === null ? 0 : sender.queuedBytes + sender.heldBytes;
    return (this.transport?.bufferedBytes ?? 0) + waiting + this.bufferedAfterClose;
  }

  /** True after pause() until resume(): only the user's pause counts. */
  get isPaused(): boolean {
    return this.receiver?.paused ?? false;
  }

  /** The transport (compatibility surface: engine.io reads `_socket.remoteAddress`). */
  get _socket(): Duplex | null {
    return this.transport?.duplex ?? null;
  }

  /** engine.io's pre-encoded frames entry point (`_sender.sendFrame(frames, callback)`, as ws has it). */
  get _sender(): { sendFrame(frame: readonly Buffer[], callback?: WriteCallback): void } | null {
    return this.transport === null ? null : this.senderPart();
  }

  /** The connection's `highWaterMark` (bytes). */
  get highWaterMark(): number {
    return this.options?.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
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
    if (this.state !== OPEN) return this.refuseClosed(data, callback);
    const payload = data instanceof Blob ? data : toBuffer(data as Exclude<SendData, Blob>);
    const sender = this.senderPart();
    sender.send(payload, options?.binary ?? isBinaryData(data), options?.fin ?? true, options?.compress !== false, callback);
    return this.state === OPEN && sender.checkRoom();
  }

  /**
   * Sends one message read from `source` (a Node Readable, a web
   * ReadableStream, or an async or plain iterable of Buffers, typed arrays,
   * ArrayBuffers or strings) as fragments, each chunk one frame, read only
   * as fast as the socket drains: a chunk is read while `bufferedAmount` is
   * below `highWaterMark`, else once the previous one was handed to the
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
    let chunks: ReturnType<typeof chunkSource>;
    try {
      chunks = chunkSource(source);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.state !== OPEN) {
      void chunks.return().catch(() => {});
      return Promise.reject(notOpenError(this.state));
    }
    const sender = this.senderPart();
    return new Promise<void>((resolve, reject) => {
      sender.sendStream(chunks, options?.binary ?? true, options?.compress !== false, (error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Resolves once there is room to send: at once while `bufferedAmount` is
   * below `highWaterMark`, else when 'drain' comes. Rejects if the
   * connection closes first (or is already closing), so a producer's loop
   * of `send()` and `await ws.drained()` ends with the connection.
   */
  drained(): Promise<void> {
    if (this.state === CLOSING || this.state === CLOSED) return Promise.reject(notOpenError(this.state));
    if (this.transport === null) return Promise.resolve();
    return this.senderPart().flow.drained();
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
    const settings = {
      highWaterMark:
        options === undefined ? this.highWaterMark : highWaterMarkOption(options as Record<string, unknown>, this.highWaterMark),
      stream: options?.stream === true,
    };
    const receiver = (this.receiver ??= new Receiver(this));
    if (this.state !== CLOSED) return receiver.openReader(settings) as AsyncIterableIterator<ReceivedMessage<RawData | Readable>>;
    const { wasClean, code } = this.closeOutcome();
    return receiver.openReader(settings, wasClean ? null : this.closeError(code)) as AsyncIterableIterator<ReceivedMessage<RawData>>;
  }

  /** `for await (const { data, isBinary } of ws)`: see messages(). */
  [Symbol.asyncIterator](): AsyncIterableIterator<ReceivedMessage<RawData>> {
    return this.messages();
  }

  /** Sends a ping (payload at most 125 bytes). ws's `mask` argument is accepted and ignored; `ping(cb)` works. */
  ping(data?: ControlData, mask?: boolean | WriteCallback, callback?: WriteCallback): void {
    this.sendControl(Opcode.Ping, data, mask, callback);
  }

  /** Sends an unsolicited pong (a heartbeat that needs no answer). */
  pong(data?: ControlData, mask?: boolean | WriteCallback, callback?: WriteCallback): void {
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
      this.abortHandshake(closedBeforeConnect());
      return;
    }
    ({ code, reason } = checkCloseArguments(code, reason)); // validated before any state changes
    const core = this.receiver?.protocol;
    if (!core) return; // a client handshake being aborted
    if (this.state === CLOSING) {
      // Both close frames are through: nothing is left but to close TCP.
      if (core.closeSent && core.closeReceived) this.transport!.end();
      return;
    }
    this.state = CLOSING;
    this.armCloseTimer();
    this.senderPart().close(code, reason);
  }

  /** Destroys the connection at once, without a closing handshake. */
  terminate(): void {
    if (this.state === CLOSED) return;
    if (this.state === CONNECTING) {
      this.abortHandshake(closedBeforeConnect());
      return;
    }
    // A client whose handshake failed has no transport (state CLOSING, 'close' on its way): nothing to end.
    const transport = this.transport;
    if (transport === null) return;
    this.state = CLOSING;
    this.receiver!.dropIncoming();
    transport.abort();
  }

  /** Stops reading from the socket; messages wait in the kernel, and TCP pushes back. No-op unless open or closing. */
  pause(): void {
    if (this.state === OPEN || this.state === CLOSING) (this.receiver ??= new Receiver(this)).pause();
  }

  resume(): void {
    if (this.state === OPEN || this.state === CLOSING) (this.receiver ??= new Receiver(this)).resume();
  }

  /** ws's `_isServer`: which end this is; settable until the connection opens (fastify's injectWS makes a client end). */
  get _isServer(): boolean {
    return this.isServer;
  }

  set _isServer(value: boolean) {
    if (this.state === CONNECTING && this.transport === null) this.isServer = Boolean(value);
  }

  /**
   * ws's setSocket(): opens a WebSocket made with `new WebSocket(null)` on a
   * socket or stream whose opening handshake was done elsewhere (a test
   * harness's, as fastify's injectWS); `head`: bytes that followed it. No
   * subprotocol or extension is in use; `options` are the connection
   * options (maxPayload, ...), checked as everywhere. Emits 'open', as ws does.
   */
  setSocket(socket: Duplex, head?: Buffer, options?: ConnectionOptions): void {
    if (this.state !== CONNECTING || this.transport !== null || this.handshake !== null) {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'setSocket() is for a WebSocket made with new WebSocket(null), once');
    }
    const resolved = resolveConnectionOptions(options ?? {});
    const isServer = this.isServer;
    this[kAttach](socket, head ?? EMPTY, { isServer, protocol: '', extensions: '', deflate: null, options: resolved });
    if (isServer) this.emit('open');
  }

  /** @internal Binds an upgraded socket or stream; bytes in `head` arrived after the handshake. */
  [kAttach](duplex: Duplex, head: Buffer, attach: AttachOptions): void {
    const options = attach.options;
    if (!attach.isServer) this.isServer = false;
    this.options = options;
    if (attach.protocol !== '') this.subprotocol = attach.protocol;
    if (attach.extensions !== '') this.extensionList = attach.extensions;
    const compressor = attach.deflate === null ? null : new MessageCompressor(attach.deflate, options.maxPayload);
    const receiver = (this.receiver ??= new Receiver(this));
    const core = new Protocol({ ...options, isServer: attach.isServer, perMessageDeflate: compressor !== null }, receiver);
    const transport = new Transport(duplex, this, attach.traits ?? (attach.isServer ? SERVER_SOCKET : CLIENT_SOCKET));
    this.transport = transport;
    receiver.bind(transport, core, options, compressor);
    this.state = OPEN;
    if (options.heartbeat !== null) transport.heartbeat = new Heartbeat(options.heartbeat, this);
    transport.bind(head);
    if (!this.isServer) {
      this[kStreamHooks]?.opened();
      this.emit('open');
    }
  }

  /** @internal A message framed once for many connections (broadcast, publish): see Sender.sendPrepared. */
  [kSendPrepared](message: PreparedMessage, compress = true): boolean {
    return this.state === OPEN && this.senderPart().sendPrepared(message, compress);
  }

  /** The sans-I/O protocol, once the connection opened (the receiver holds it). */
  private get core(): Protocol {
    return this.receiver!.protocol!;
  }

  /** The sender, made on the first send: a connection that never sends carries none. */
  private senderPart(): Sender {
    return (this.sender ??= new Sender(this, this.core, this.transport!, this.options!, this.receiver!.compressor));
  }

  /** send() after the connection closed: nothing is sent; the bytes still count in bufferedAmount (WHATWG). */
  private refuseClosed(data: SendData | number | undefined, callback: WriteCallback | undefined): false {
    if (this.state === CONNECTING) throw notOpenError(this.state);
    this.bufferedAfterClose += dataLength(data);
    refuseSend(callback, this.state);
    return false;
  }

  private sendControl(opcode: number, data: ControlData, mask: boolean | WriteCallback | undefined, callback?: WriteCallback): void {
    if (typeof data === 'function') {
      callback = data;
      data = undefined;
    } else if (typeof mask === 'function') {
      callback = mask;
    }
    if (this.state === CONNECTING) throw notOpenError(this.state);
    const payload = data instanceof Blob ? data : toBuffer(data as Exclude<SendData, Blob> | number | undefined);
    const size = payload instanceof Blob ? payload.size : payload.length;
    // Once closing the callback gets the error, whatever the size (as in ws).
    if (this.state !== OPEN) {
      this.bufferedAfterClose += size;
      refuseSend(callback, this.state);
      return;
    }
    if (size > MAX_CONTROL_PAYLOAD) throw new RangeError(CONTROL_TOO_BIG);
    // The user's ping or pong goes in line with the sends before it; automatic
    // pongs and the heartbeat's pings go at once: they answer for the connection.
    this.senderPart().sendControl(opcode, payload, callback);
  }

  /** The client handshake succeeded: the connection opens. */
  private onHandshakeDone(result: HandshakeResult): void {
    this.handshake = null;
    this.address = result.url;
    const { socket, head, protocol, extensions, deflate, traits } = result;
    this[kAttach](socket, head, { isServer: false, protocol, extensions, deflate, options: this.options!, traits });
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
    if (this.error !== null) return;
    this.error = error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private emitClose(): void {
    if (this.closeEmitted) return;
    // Messages that arrived before the connection closed are delivered first.
    if (this.receiver?.delivering) {
      this.closeDeferred = true;
      return;
    }
    this.closeEmitted = true;
    // As ws: sends cut in a Blob read or a zlib job fail before the connection reads as closed.
    this.sender?.interrupted();
    this.state = CLOSED;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.sender?.closed(CLOSED);
    this.receiver?.compressor?.close();
    this.transport?.heartbeat?.stop();
    const { wasClean, code } = this.closeOutcome();
    // Internal bookkeeping first, and not as a listener the user could remove.
    this[kOnClosed]?.(this);
    this.receiver?.closed(() => (wasClean ? null : this.closeError(code)));
    this[kStreamHooks]?.closed(code, this.peerCloseReason, wasClean);
    try {
      this.emit('close', code, this.peerCloseReason, wasClean);
    } finally {
      releaseSignals(this);
    }
  }

  /** How the connection ended: the 'close' event's code and wasClean. */
  private closeOutcome(): { wasClean: boolean; code: number } {
    const core = this.receiver?.protocol;
    const wasClean = core?.closeSent === true && core.closeReceived;
    const code = core?.closeReceived ? this.peerCloseCode : this.failureCode || CloseCode.Abnormal;
    return { wasClean, code };
  }

  /** What an iterator throws after an unclean close: the connection's error, or one saying how it ended. */
  private closeError(code: number): Error {
    return this.error ?? closedAbnormally(code);
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== null) return;
    const transport = this.transport!;
    this.closeTimer = setTimeout(() => transport.abort(), this.options!.closeTimeout);
  }

  /** Closing from our side: CLOSING now, within closeTimeout. */
  private startClosing(): void {
    if (this.state === OPEN) {
      this.state = CLOSING;
      this.armCloseTimer();
    }
  }

  // ---- what the parts report (owner interfaces) ------------------------------

  /** @internal Transport: bytes arrived. */
  [kTransportData](chunk: Buffer): void {
    this.core.receiveData(chunk);
  }

  /** @internal Transport: the peer ended its side. */
  [kPeerEnded](): void {
    this.state = CLOSING;
    this.core.stopReceiving();
    this.transport!.end();
  }

  /** @internal Transport: it is gone. */
  [kTransportClosed](): void {
    const core = this.core;
    // Data the user left paused in the transport arrived before the close: parse it (as ws does).
    if (!core.closeReceived && this.failureCode === 0) {
      const rest = this.transport!.readRest();
      if (rest !== null) core.receiveData(rest);
    }
    core.stopReceiving();
    this.emitClose();
  }

  /** @internal Transport: it failed. */
  [kTransportFailed](error: Error): void {
    // After a completed closing handshake a reset from the peer is no news.
    const core = this.core;
    if (!(core.closeSent && core.closeReceived)) this.emitError(error);
    this.transport!.duplex.destroy();
  }

  /** @internal Transport: everything it buffered has left. */
  [kTransportDrained](): void {
    this.sender?.flow.transportDrained();
  }

  /** @internal Receiver: the peer's close frame. */
  [kCloseReceived](code: number, reason: Buffer): void {
    this.peerCloseCode = code;
    // A copy: the reason is a view into a receive buffer the connection would otherwise keep.
    this.peerCloseReason = reason.length === 0 ? NO_REASON : Buffer.from(reason);
    this.state = CLOSING;
    this.armCloseTimer();
    if (this.core.closeEchoPending) this.sender!.answerCloseWhenSent();
    // The server closes TCP first (7.1.1); the client waits for it, within the timeout.
    else if (this.transport!.endsFirst) this.transport!.end();
  }

  /** @internal Receiver: failing the connection (7.1.7); our close frame is written, now close TCP, before the 'error' event, whose listener may throw. */
  [kProtocolFailed](error: ProtocolError): void {
    this.failureCode = error.closeCode;
    this.state = CLOSING;
    this.transport!.end();
    this.armCloseTimer();
    this.emitError(error);
  }

  /** @internal Receiver: everything received was delivered. */
  [kReceiverIdle](): void {
    if (this.closeDeferred) this.emitClose();
    else this.receiver!.updateReading();
  }

  /** @internal Receiver: may our answer to the peer's close go now (nothing queued before it)? */
  [kCanAnswerClose](): boolean {
    return this.sender === null || this.sender.isIdle;
  }

  /** @internal Receiver: an automatic pong went to a congested transport. */
  [kPongQueued](): void {
    this.senderPart().flow.pongQueued();
  }

  /** @internal Sender: the peer does not read (a full send buffer, a ping flood): 1008, and no close frame (it would queue behind the rest). */
  [kFailSlowReader](message: string): void {
    if (this.failureCode !== 0) return; // already failed (a pong write and its ping can both trip)
    this.failureCode = CloseCode.PolicyViolation;
    this.state = CLOSING;
    this.core.stopReceiving();
    // Cleanup first: an 'error' listener that throws must not leave the socket open.
    this.transport!.abort();
    this.emitError(new WebSocketError('WS_ERR_SLOW_READER', message, { closeCode: CloseCode.PolicyViolation }));
  }

  /** @internal Sender: a Blob could not be read; as in ws, TCP is closed and 'error' follows the sends' callbacks. */
  [kBlobUnreadable](error: Error): void {
    if (this.state === CLOSED) return;
    this.startClosing();
    this.transport!.end();
    process.nextTick(() => this.emitError(error));
  }

  /** @internal Sender: a streamed message failed midway: close with 1011 at once (nothing else can follow half a message). */
  [kStreamBroken](): void {
    if (this.state === CLOSED) return;
    this.startClosing();
    const core = this.core;
    if (!core.closeSent) core.close(CloseCode.InternalError, 'Message source failed');
    if (core.closeReceived) this.transport!.end();
  }

  /** @internal Heartbeat: time to ping. */
  [kHeartbeatPing](): void {
    if (this.state === OPEN) this.core.ping(EMPTY);
  }

  /** @internal Heartbeat: nothing received within its timeout. */
  [kHeartbeatTimedOut](timeout: number): void {
    this.terminate();
    this.emitError(new WebSocketError('WS_ERR_HEARTBEAT_TIMEOUT', `Nothing received within ${timeout} ms of a ping`));
  }
}

// The browser-style API (onmessage, addEventListener, ...) lives in browser-api.ts.
export interface WebSocket extends BrowserApi {}
installBrowserApi(WebSocket.prototype);

// biome-ignore format: a table of defaults reads best as one
Object.assign(WebSocket.prototype, {
  sender: null, isServer: true, address: undefined, subprotocol: '', extensionList: '', binaryTypeValue: 'nodebuffer',
  handshake: null, closeTimer: null, peerCloseCode: CloseCode.Abnormal, peerCloseReason: NO_REASON, failureCode: 0,
  closeEmitted: false, error: null, closeDeferred: false, bufferedAfterClose: 0, [kOnClosed]: undefined, [kStreamHooks]: undefined,
});

// As in ws: the ready-state constants on the class and its prototype, and the state accessors enumerable.
defineReadyStates(WebSocket, ['binaryType', 'bufferedAmount', 'extensions', 'isPaused', 'protocol', 'readyState', 'url']);
