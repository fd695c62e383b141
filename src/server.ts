/**
 * WebSocketServer: accepts upgrades either on its own node:net listener
 * (`port`), reading request heads with our HTTP parser, or from a node:http
 * server's 'upgrade' event (`server`, or `noServer` + `handleUpgrade`), the
 * way frameworks embed ws; and RFC 8441 extended CONNECTs from a node:http2
 * server's streams (`server`, or `handleStream`).
 */

import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { resolveDeflateConfig, type DeflateConfig, type DeflateSettings } from './compression/settings.ts';
import { isBinaryData, toBuffer, type SendData } from './connection/data.ts';
import type { TransportTraits } from './connection/transport.ts';
import type { HandshakeChannel, CheckedRequest } from './http/channel.ts';
import { HeadError, HeadReader, parseRequestHead } from './http/head.ts';
import { toIncomingMessage } from './http/request.ts';
import { rejectHandshake, UpgradeChannel } from './http/upgrade.ts';
import {
  claimStream,
  isHttp2Server,
  StreamChannel,
  takeWebSocketStreams,
  toHttp2Request,
  type ServerStream,
  type StreamHeaders,
} from './http2/server.ts';
import {
  resolveServerOptions,
  type ResolvedServerOptions,
  type ServerOptions,
  type UpgradeRequest,
  type VerifyClientCallback,
  type VerifyClientInfo,
} from './options/server.ts';
import { WebSocketError } from './protocol/errors.ts';
import { isRejection, type HandshakeRejection, type HeaderValue, type OfferedFields } from './protocol/handshake.ts';
import { acceptDeflateOffer } from './protocol/permessage-deflate.ts';
import { PreparedMessage } from './protocol/prepared.ts';
import { TopicHub, type PublishData, type ServerPublishOptions, type TopicAdapter } from './topics.ts';
import { kAttach, kOnClosed, kSendPrepared, WebSocket } from './websocket.ts';

/**
 * Frames a message once for wss.broadcast(), e.g. to send the same message to
 * several servers' clients or on every tick of a game loop. Strings (and numbers) are text
 * unless `binary` is set, anything else binary, as with send().
 */
export function prepareMessage(data: Exclude<SendData, Blob>, options?: { binary?: boolean }): PreparedMessage {
  // Numbers are text, as send() sends them.
  return new PreparedMessage(toBuffer(data), options?.binary ?? isBinaryData(data));
}

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

type UpgradeCallback = (ws: WebSocket, req: IncomingMessage) => void;

function ignoreSocketError(this: Duplex): void {
  this.destroy();
}

export interface WebSocketServerEvents {
  listening: [];
  connection: [ws: WebSocket, req: IncomingMessage];
  headers: [lines: string[], req: IncomingMessage];
  wsClientError: [error: WebSocketError, socket: Duplex, req: IncomingMessage];
  error: [error: Error];
  close: [];
}

/** One opening handshake in progress: its deadline covers user callbacks too. */
interface PendingUpgrade {
  timer: NodeJS.Timeout | null;
  done: boolean;
}

/** What the handshake settled: the subprotocol, and permessage-deflate if accepted. */
interface Negotiated {
  protocol: string | undefined;
  /** The Sec-WebSocket-Extensions answer, '' for none. */
  extensions: string;
  deflate: DeflateSettings | null;
}

export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  /** Open connections (only with clientTracking, as in ws). */
  declare readonly clients: Set<WebSocket>;
  readonly options: Readonly<ResolvedServerOptions>;
  private readonly ownServer: net.Server | null = null;
  private readonly externalServer: EventEmitter | null = null;
  private detach: (() => void) | null = null;
  private state = RUNNING;
  private readonly deflate: DeflateConfig | null;
  private readonly ConnectionClass: typeof WebSocket;
  /** Who is subscribed to which topic, and the adapter that shares topics with other servers. */
  private readonly topicHub: TopicHub;
  /** Called by each connection as it closes: leaves its topics, and client tracking forgets it. */
  private readonly onConnectionClosed: (ws: WebSocket) => void;
  /** Adapter errors reported while nobody listened for 'error' (one warning per server). */
  private warnedOfAdapterError = false;

  constructor(options: ServerOptions, onListening?: () => void) {
    super();
    const resolved = resolveServerOptions(options);
    this.options = resolved;
    // The option's one check (compression/settings.ts).
    this.deflate = resolveDeflateConfig(resolved.perMessageDeflate, true);
    const ConnectionClass = (options.WebSocket ?? WebSocket) as typeof WebSocket;
    if (ConnectionClass !== WebSocket && !(ConnectionClass.prototype instanceof WebSocket)) {
      throw new TypeError('The "WebSocket" option must be the WebSocket class or a class that extends it');
    }
    this.ConnectionClass = ConnectionClass;
    this.topicHub = new TopicHub((error) => this.adapterFailed(error));
    this.onConnectionClosed = this.topicHub.closeHook((ws) => {
      if (this.clients === undefined) return;
      this.clients.delete(ws);
      if (this.state === CLOSING) this.emitCloseWhenIdle();
    });
    if (resolved.clientTracking) (this as { clients: Set<WebSocket> }).clients = new Set();
    if (resolved.adapter !== null) this.topicHub.adapter = resolved.adapter;

    if (resolved.port !== undefined) {
      const server = net.createServer((socket) => this.acceptSocket(socket));
      this.ownServer = server;
      this.detach = this.forward(server);
      server.listen(resolved.port, resolved.host, resolved.backlog);
    } else if (resolved.server !== undefined) {
      this.externalServer = resolved.server;
      this.detach = this.forward(resolved.server);
    }
    if (onListening) this.once('listening', onListening);
  }

  /** The bound address of the listener (own or external). Throws in noServer mode, as ws does. */
  address(): net.AddressInfo | string | null {
    if (this.options.noServer) throw new Error('The server is operating in "noServer" mode');
    const server = this.ownServer ?? (this.externalServer as net.Server | null);
    // As ws: once closed, the server is no longer ours to report on.
    if (server === null || this.state !== RUNNING || typeof server.address !== 'function') return null;
    return server.address();
  }

  /**
   * Stops taking new connections: later upgrades are refused with 503.
   * Open connections are left alone (close or terminate them yourself);
   * 'close' is emitted once the listener is closed and, with clientTracking,
   * the last client is gone. The callback gets an error if the server was
   * already closed.
   */
  close(callback?: (error?: Error) => void): void {
    if (this.state === CLOSED) {
      // As ws: the callback gets an error, and 'close' comes once more.
      if (callback) this.once('close', () => callback(new WebSocketError('WS_ERR_SERVER_CLOSED', 'The server is not running')));
      process.nextTick(() => this.emit('close'));
      return;
    }
    if (callback) this.once('close', () => callback());
    if (this.state !== RUNNING) return;
    this.state = CLOSING;
    this.detach?.();
    this.detach = null;
    if (this.ownServer !== null) this.ownServer.close(() => this.emitCloseWhenIdle());
    else process.nextTick(() => this.emitCloseWhenIdle());
  }

  /**
   * Sends one message to every OPEN client in `clients` (or `options.to`, a
   * subset such as a chat room): framed once, the same bytes written to each
   * socket. A connection whose state changes the bytes (permessage-deflate,
   * a fragmented send in progress; see Protocol.canSharePreparedFrame) gets
   * the message through send(), in order. Returns how many clients it went
   * to. Without `to` it needs clientTracking.
   */
  broadcast(data: Exclude<SendData, Blob> | PreparedMessage, options?: { binary?: boolean; to?: Iterable<WebSocket> }): number {
    const targets = options?.to ?? this.clients;
    if (targets === undefined) {
      throw new WebSocketError('WS_ERR_NO_CLIENT_TRACKING', 'broadcast() needs the clientTracking option or `to`');
    }
    const message = data instanceof PreparedMessage ? data : prepareMessage(data, options);
    let sent = 0;
    let thrown: { error: unknown } | null = null;
    for (const client of targets) {
      try {
        if (client[kSendPrepared](message)) sent++;
      } catch (error) {
        // A failing client's 'error' listener threw: the others still get the message, then the caller gets the error.
        thrown ??= { error };
      }
    }
    if (thrown !== null) throw thrown.error;
    return sent;
  }

  /**
   * Sends one message to every subscriber of `topic` on this server (but
   * `except`), framed once: the same bytes are written to each connection,
   * and compressing connections send it through send() in order, as with
   * broadcast(). With an adapter the message also goes to the subscribers
   * on the other servers. Returns the number of local recipients.
   */
  publish(topic: string, data: PublishData, options?: ServerPublishOptions): number {
    return this.topicHub.publish(topic, data, options);
  }

  /** How many of this server's connections are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.topicHub.subscriberCount(topic);
  }

  /**
   * The adapter sharing topics with other servers (e.g. netws/redis's
   * RedisAdapter), or null. Setting it detaches the previous one and tells
   * the new one every topic that has subscribers here.
   */
  get adapter(): TopicAdapter | null {
    return this.topicHub.adapter;
  }

  set adapter(adapter: TopicAdapter | null) {
    this.topicHub.adapter = adapter;
  }

  /**
   * An adapter failed (its engine is down, a malformed message arrived):
   * the 'error' event when someone listens, since the failure is not the
   * server's and must not crash the process; else one process warning.
   */
  private adapterFailed(error: Error): void {
    if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', error);
      } catch (thrown) {
        // The listener's own exception, but not inside a Redis client's event handler or a connection's close.
        process.nextTick(() => {
          throw thrown;
        });
      }
    } else if (!this.warnedOfAdapterError) {
      this.warnedOfAdapterError = true;
      process.emitWarning(`${error.message} (further adapter errors are not shown: listen for 'error' on the WebSocketServer)`, {
        type: 'NetwsAdapterWarning',
        code: (error as { code?: string }).code,
      });
    }
  }

  /** Whether this server takes the request: true unless `path` is set and differs ('' is unset, as in ws). */
  shouldHandle(req: UpgradeRequest): boolean {
    if (!this.options.path) return true;
    const url = req.url ?? '';
    const query = url.indexOf('?');
    return (query === -1 ? url : url.slice(0, query)) === this.options.path;
  }

  /**
   * Completes the opening handshake on `socket` (from node:http's 'upgrade'
   * event or our own listener) and calls back with the open WebSocket. `head`
   * holds bytes that followed the request head; none of them are lost.
   * Invalid requests get an HTTP error answer and the socket is closed.
   */
  handleUpgrade(req: UpgradeRequest | IncomingMessage, socket: Duplex, head: Buffer, callback: UpgradeCallback): void {
    // Handed on as given, as ws does (typed as node's IncomingMessage, which a test harness's plain object stands in for).
    this.handshake(new UpgradeChannel(req, socket, head), req as IncomingMessage, callback, null);
  }

  /**
   * Completes an RFC 8441 handshake: `stream` carries an extended CONNECT
   * (`:protocol websocket`) that the user took from a node:http2 server's
   * 'stream' event. Calls back with the open WebSocket, or emits
   * 'connection' without a callback. The server must have been created with
   * `settings: { enableConnectProtocol: true }`. Refusals are HTTP/2
   * responses with the statuses HTTP/1.1 gets; 'wsClientError' is not
   * emitted for them (its listeners write HTTP/1.1 to a socket).
   */
  handleStream(stream: ServerStream, headers: StreamHeaders, callback?: UpgradeCallback): void {
    if (stream.headersSent) throw new Error('handleStream() was called with a stream already answered');
    this.acceptStream(
      stream,
      headers,
      toHttp2Request(stream, headers, undefined),
      callback ?? ((ws, req) => this.emit('connection', ws, req)),
    );
  }

  /** handleStream, with the request the `{ server }` path made from the 'stream' event. */
  private acceptStream(stream: ServerStream, headers: StreamHeaders, req: IncomingMessage, callback: UpgradeCallback): void {
    // Two handshakes on one stream would answer it twice, the second one killing the first's WebSocket.
    if (!claimStream(stream)) throw new Error('handleStream() was called more than once with the same stream');
    this.handshake(new StreamChannel(stream, headers), req, callback, null);
  }

  /**
   * The opening handshake, whatever the transport (the channel says how it
   * is checked, answered and refused), within the deadline: the standalone
   * listener's, started when the socket connected, or one of its own.
   */
  private handshake(channel: HandshakeChannel, req: IncomingMessage, callback: UpgradeCallback, pending: PendingUpgrade | null): void {
    channel.duplex.on('error', ignoreSocketError);
    const deadline = pending ?? this.startDeadline(() => channel.refuse(408, 'Opening handshake timed out'));
    const request = channel.check();
    if (isRejection(request)) {
      this.finish(deadline);
      this.refuseRequest(channel, req, request);
      return;
    }
    // As in ws: a path this server does not serve is a plain 400 (no wsClientError).
    if (!this.shouldHandle(req) || this.state !== RUNNING) {
      this.finish(deadline);
      channel.refuse(this.shouldHandle(req) ? 503 : 400);
      return;
    }
    // verifyClient's refusals are answered as given, never through wsClientError (as in ws).
    this.verify(
      req,
      channel.secure,
      deadline,
      () => this.complete(deadline, channel, request, req, callback),
      (code, message, headers) => channel.refuse(code, message, headers),
      (error) => this.callbackFailed(channel, error, req),
    );
  }

  /**
   * Runs verifyClient (synchronous or with its callback) within the
   * handshake's deadline: `accept` or `refuse` once it decided, `failed`
   * if it threw. An answer after the deadline, or a second one, is ignored.
   */
  private verify(
    req: IncomingMessage,
    secure: boolean,
    handshake: PendingUpgrade,
    accept: () => void,
    refuse: (code: number, message: string | undefined, headers: Record<string, HeaderValue> | undefined) => void,
    failed: (error: unknown) => void,
  ): void {
    const verifyClient = this.options.verifyClient;
    if (verifyClient === undefined) {
      accept();
      return;
    }
    const version = req.headers['sec-websocket-version'];
    const info: VerifyClientInfo = {
      // Read as ws reads it: undefined when absent (though typed string, as in @types/ws).
      origin: (Number(version) === 8 ? req.headers['sec-websocket-origin'] : req.headers.origin) as string,
      secure,
      req,
    };
    const decide: VerifyClientCallback = (accepted, code, message, headers) => {
      if (handshake.done) return; // the deadline passed, or a second call
      if (accepted) {
        accept();
        return;
      }
      this.finish(handshake);
      try {
        refuse(code || 401, message, headers);
      } catch (error) {
        // The refusal as given cannot be written (a header value with a line break, say): 500, and the error reported.
        failed(error);
      }
    };
    let decided = false;
    try {
      if (verifyClient.length >= 2) {
        (verifyClient as (info: VerifyClientInfo, callback: VerifyClientCallback) => void)(info, (...answer) => {
          decided = true;
          decide(...answer);
        });
      } else {
        const accepted = (verifyClient as (info: VerifyClientInfo) => boolean)(info);
        decided = true;
        decide(accepted);
      }
    } catch (error) {
      // Thrown after the decision: the user's 'connection' listener or callback, not verifyClient; it is theirs, as in ws.
      if (decided) throw error;
      if (handshake.done) return;
      this.finish(handshake);
      failed(error);
    }
  }

  /** Starts the handshake deadline: past it `onTimeout` answers 408 and closes. */
  private startDeadline(onTimeout: () => void): PendingUpgrade {
    const pending: PendingUpgrade = { timer: null, done: false };
    pending.timer = setTimeout(() => {
      pending.timer = null;
      if (pending.done) return;
      pending.done = true;
      onTimeout();
    }, this.options.handshakeTimeout);
    return pending;
  }

  private finish(pending: PendingUpgrade): void {
    pending.done = true;
    if (pending.timer !== null) clearTimeout(pending.timer);
    pending.timer = null;
  }

  /**
   * A user callback (verifyClient, handleProtocols, a 'headers' listener)
   * threw during a handshake: the peer gets 500, and the error goes to a
   * 'wsClientError' listener (HTTP/1.1) or else an 'error' listener of the
   * server. A remote request must not be able to crash the process through it.
   */
  private callbackFailed(channel: HandshakeChannel, error: unknown, req: IncomingMessage): void {
    const failure = error instanceof Error ? error : new Error(String(error));
    if (channel.reportsClientErrors && this.listenerCount('wsClientError') > 0) {
      const wrapped = new WebSocketError('WS_ERR_HANDSHAKE_CALLBACK', failure.message, { statusCode: 500 });
      wrapped.cause = failure;
      this.emit('wsClientError', wrapped, channel.duplex, req);
      return;
    }
    channel.refuse(500);
    if (this.listenerCount('error') > 0) this.emit('error', failure);
  }

  /** Answers a request the transport's rules refuse, or lets a 'wsClientError' listener do it (HTTP/1.1). */
  private refuseRequest(channel: HandshakeChannel, req: IncomingMessage, rejection: HandshakeRejection): void {
    if (channel.reportsClientErrors && this.listenerCount('wsClientError') > 0) {
      const error = new WebSocketError('WS_ERR_HANDSHAKE_REJECTED', rejection.message, { statusCode: rejection.status });
      this.emit('wsClientError', error, channel.duplex, req);
      return;
    }
    channel.refuse(rejection.status, rejection.message, rejection.headers);
  }

  /** verifyClient accepted: negotiate, answer (with what 'headers' listeners added), and open the WebSocket. */
  private complete(
    pending: PendingUpgrade,
    channel: HandshakeChannel,
    request: CheckedRequest,
    req: IncomingMessage,
    callback: UpgradeCallback,
  ): void {
    this.finish(pending);
    if (channel.gone()) return;
    channel.claim();
    // verifyClient may have answered after close().
    if (this.state !== RUNNING) {
      channel.refuse(503);
      return;
    }
    let negotiated: Negotiated;
    try {
      negotiated = this.negotiate(request, req);
      const lines = channel.responseLines(request, negotiated.protocol, negotiated.extensions);
      this.emit('headers', lines, req);
      channel.answer(lines);
    } catch (error) {
      this.callbackFailed(channel, error, req);
      return;
    }
    channel.duplex.removeListener('error', ignoreSocketError);
    this.adopt(channel.duplex, channel.head, channel.traits, negotiated, req, callback);
  }

  /** Picks the subprotocol (handleProtocols, which may throw) and accepts permessage-deflate if offered. */
  private negotiate(offer: OfferedFields, req: IncomingMessage): Negotiated {
    let protocol: string | undefined;
    if (offer.protocols.length > 0) {
      const chosen = this.options.handleProtocols ? this.options.handleProtocols(new Set(offer.protocols), req) : offer.protocols[0];
      if (typeof chosen === 'string' && chosen !== '') protocol = chosen;
    }
    const accepted = this.deflate && acceptDeflateOffer(offer.extensions, this.deflate.negotiation);
    if (!accepted) return { protocol, extensions: '', deflate: null };
    return { protocol, extensions: accepted.header, deflate: { params: accepted.params, config: this.deflate! } };
  }

  /** The handshake is answered: the connection opens on `duplex` (an upgraded socket or an HTTP/2 stream). */
  private adopt(
    duplex: Duplex,
    head: Buffer,
    traits: TransportTraits | null,
    negotiated: Negotiated,
    req: IncomingMessage,
    callback: UpgradeCallback,
  ): void {
    const ws = new this.ConnectionClass(null, undefined, this.options as ServerOptions);
    const { protocol, extensions, deflate } = negotiated;
    ws[kAttach](duplex, head, { isServer: true, protocol: protocol ?? '', extensions, deflate, options: this.options, traits });
    this.clients?.add(ws);
    ws[kOnClosed] = this.onConnectionClosed;
    callback(ws, req);
  }

  /** Reads the request head off a raw connection of our own listener. */
  private acceptSocket(socket: net.Socket): void {
    const limits = { maxHeaderSize: this.options.maxHeaderSize, maxHeaderCount: this.options.maxHeaderCount };
    const reader = new HeadReader(limits);
    socket.on('error', ignoreSocketError);
    // A peer that is slow or silent (slowloris), or a verifyClient that never answers, is cut off at the deadline.
    const pending = this.startDeadline(() => rejectHandshake(socket, 408, 'Opening handshake timed out'));
    const onData = (chunk: Buffer): void => {
      let received: ReturnType<HeadReader['push']>;
      let request: ReturnType<typeof parseRequestHead>;
      try {
        received = reader.push(chunk);
        if (received === null) return;
        request = parseRequestHead(received.head, limits);
      } catch (error) {
        this.finish(pending);
        const status = error instanceof HeadError ? error.status : 400;
        rejectHandshake(socket, status, (error as Error).message);
        return;
      }
      socket.removeListener('data', onData);
      socket.removeListener('error', ignoreSocketError);
      // Left attached, this listener would keep the head reader and this
      // closure alive for the whole life of every connection.
      socket.removeListener('close', onClose);
      socket.pause();
      const req = toIncomingMessage(request, socket);
      this.handshake(new UpgradeChannel(req, socket, received.rest, true), req, (ws) => this.emit('connection', ws, req), pending);
    };
    const onClose = (): void => this.finish(pending);
    socket.on('data', onData);
    socket.on('close', onClose);
  }

  /** Relays the listener's events and takes its upgrades; returns the undo. */
  private forward(server: EventEmitter): () => void {
    const onListening = (): void => {
      this.emit('listening');
    };
    const onError = (error: Error): void => {
      this.emit('error', error);
    };
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      this.handleUpgrade(req, socket, head, (ws) => this.emit('connection', ws, req));
    };
    server.on('listening', onListening);
    server.on('error', onError);
    if (server !== this.ownServer) server.on('upgrade', onUpgrade);
    // A node:http2 server: its WebSocket streams too (and HTTP/1.1 upgrades above, with allowHTTP1).
    const releaseStreams = isHttp2Server(server)
      ? takeWebSocketStreams(server, {
          handles: (req) => this.shouldHandle(req),
          take: (stream, headers, req) => this.acceptStream(stream, headers, req, (ws) => this.emit('connection', ws, req)),
        })
      : null;
    return () => {
      server.removeListener('listening', onListening);
      server.removeListener('error', onError);
      server.removeListener('upgrade', onUpgrade);
      releaseStreams?.();
    };
  }

  private emitCloseWhenIdle(): void {
    if (this.state !== CLOSING) return;
    if (this.ownServer?.listening) return;
    if (this.clients !== undefined && this.clients.size > 0) return;
    this.state = CLOSED;
    this.emit('close');
  }
}
