/**
 * WebSocketServer: accepts upgrades either on its own node:net listener
 * (`port`), reading request heads with our HTTP parser, or from a node:http
 * server's 'upgrade' event (`server`, or `noServer` + `handleUpgrade`), the
 * way frameworks embed ws.
 */

import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HeadError, HeadReader, parseRequestHead, type RequestHead } from './http/head.ts';
import { deflateSettings, resolveDeflateOption, type DeflateSettings } from './compression.ts';
import { WebSocketError } from './protocol/errors.ts';
import { acceptDeflateOffer, type PerMessageDeflateOptions } from './protocol/permessage-deflate.ts';
import {
  acceptResponseLines,
  buildRejectResponse,
  checkUpgradeRequest,
  isRejection,
  type AcceptedRequest,
  type HeaderRecord,
} from './protocol/handshake.ts';
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HEADER_COUNT, DEFAULT_MAX_HEADER_SIZE } from './client.ts';
import { PreparedMessage } from './protocol/prepared.ts';
import {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_MAX_PAYLOAD,
  WebSocket,
  kAttach,
  kSendPrepared,
  kServerSide,
  toBuffer,
  type SendData,
} from './websocket.ts';
import { checkHeartbeatOptions, type HeartbeatOptions } from './heartbeat.ts';

/** What a server needs of a request: node:http's IncomingMessage fits, so does our own. */
export interface UpgradeRequest {
  method?: string;
  url?: string;
  httpVersion?: string;
  headers: HeaderRecord;
  rawHeaders?: string[];
  socket?: Duplex;
}

export interface VerifyClientInfo {
  origin: string | undefined;
  secure: boolean;
  req: UpgradeRequest;
}

export type VerifyClientCallback = (
  result: boolean,
  code?: number,
  message?: string,
  headers?: Record<string, string>,
) => void;

export interface ServerOptions {
  /** Listen on this port with netws' own node:net server. */
  port?: number;
  host?: string;
  backlog?: number;
  /** Take upgrades from this node:http or node:https server. */
  server?: EventEmitter;
  /** Take upgrades only through handleUpgrade(). */
  noServer?: boolean;
  /** Accept only this request path (the query string is ignored); others get 404. */
  path?: string;
  /** Largest message accepted, in bytes; default 64 MiB. */
  maxPayload?: number;
  /** Picks the subprotocol; default: the client's first. Return false for none. */
  handleProtocols?: (protocols: Set<string>, req: UpgradeRequest) => string | false;
  /** Accepts or rejects a handshake, synchronously (return) or with the callback. */
  verifyClient?:
    | ((info: VerifyClientInfo) => boolean)
    | ((info: VerifyClientInfo, callback: VerifyClientCallback) => void);
  /** Standalone only: milliseconds to receive a complete request head; default 10 s. */
  handshakeTimeout?: number;
  /** Standalone only: largest request head in bytes; default 16 KiB. */
  maxHeaderSize?: number;
  /** Standalone only: most header lines; default 100. */
  maxHeaderCount?: number;
  /** Milliseconds to wait for the closing handshake; default 30 s. */
  closeTimeout?: number;
  /** Keep connected clients in `clients`; default true. */
  clientTracking?: boolean;
  /**
   * Accept permessage-deflate (RFC 7692) when a client offers it: `true`
   * for the defaults, or the settings. Default false: compression costs
   * memory and CPU per connection, so it is opt-in.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Most frames in one received message; default 131,072. More → close 1009. */
  maxFragments?: number;
  /** Bytes that may wait in a connection's send buffer; default 64 MiB. More → close 1008. */
  maxBufferedAmount?: number;
  /** Ping every `interval` ms, destroy connections silent for `timeout` ms; default off. */
  heartbeat?: HeartbeatOptions;
}

/**
 * Frames a message once for wss.broadcast(), e.g. to send the same message to
 * several servers' clients or on every tick of a game loop. Strings are text
 * unless `binary` is set, anything else binary, as with send().
 */
export function prepareMessage(data: SendData, options?: { binary?: boolean }): PreparedMessage {
  const binary = options?.binary ?? typeof data !== 'string';
  return new PreparedMessage(toBuffer(data), binary);
}

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

const kUpgraded = Symbol('netws.upgraded');

/** Ends a socket after an HTTP answer; destroys it once the answer is flushed. */
function rejectHandshake(
  socket: Duplex,
  status: number,
  message: string,
  headers?: Record<string, string>,
): void {
  socket.removeAllListeners('data');
  if (socket.writable) {
    socket.once('finish', () => socket.destroy());
    socket.end(buildRejectResponse(status, message, headers));
  } else {
    socket.destroy();
  }
}

function ignoreSocketError(this: Duplex): void {
  this.destroy();
}

export interface WebSocketServerEvents {
  listening: [];
  connection: [ws: WebSocket, req: UpgradeRequest];
  headers: [lines: string[], req: UpgradeRequest];
  wsClientError: [error: WebSocketError, socket: Duplex, req: UpgradeRequest];
  error: [error: Error];
  close: [];
}

export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  readonly clients = new Set<WebSocket>();
  readonly options: Readonly<ServerOptions>;
  private readonly ownServer: net.Server | null = null;
  private readonly externalServer: EventEmitter | null = null;
  private readonly detach: (() => void) | null = null;
  private state = RUNNING;
  private readonly deflateOptions: PerMessageDeflateOptions | null;

  constructor(options: ServerOptions, onListening?: () => void) {
    super();
    const modes = Number(options.port !== undefined) + Number(options.server !== undefined) + Number(!!options.noServer);
    if (modes !== 1) {
      throw new TypeError('Exactly one of the "port", "server" and "noServer" options must be given');
    }
    checkHeartbeatOptions(options.heartbeat);
    this.options = {
      maxPayload: DEFAULT_MAX_PAYLOAD,
      handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT,
      maxHeaderSize: DEFAULT_MAX_HEADER_SIZE,
      maxHeaderCount: DEFAULT_MAX_HEADER_COUNT,
      closeTimeout: DEFAULT_CLOSE_TIMEOUT,
      clientTracking: true,
      ...options,
    };
    this.deflateOptions = resolveDeflateOption(options.perMessageDeflate, false);

    if (options.port !== undefined) {
      const server = net.createServer((socket) => this.acceptSocket(socket));
      this.ownServer = server;
      this.detach = this.forward(server);
      server.listen(options.port, options.host, options.backlog);
    } else if (options.server !== undefined) {
      this.externalServer = options.server;
      this.detach = this.forward(options.server);
    }
    if (onListening) this.once('listening', onListening);
  }

  /** The bound address of the listener (own or external); null with noServer. */
  address(): net.AddressInfo | string | null {
    const server = this.ownServer ?? (this.externalServer as net.Server | null);
    if (server === null) return null;
    return server.address();
  }

  /**
   * Stops taking new connections. Open connections are left alone (close or
   * terminate them yourself); 'close' is emitted once the listener is closed
   * and, with clientTracking, the last client is gone.
   */
  close(callback?: (error?: Error) => void): void {
    if (callback) {
      if (this.state === CLOSED) {
        process.nextTick(callback, new WebSocketError('WS_ERR_SERVER_CLOSED', 'The server is not running'));
        return;
      }
      this.once('close', () => callback());
    }
    if (this.state !== RUNNING) return;
    this.state = CLOSING;
    this.detach?.();
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
  broadcast(data: SendData | PreparedMessage, options?: { binary?: boolean; to?: Iterable<WebSocket> }): number {
    const targets = options?.to ?? this.clients;
    if (options?.to === undefined && !this.options.clientTracking) {
      throw new WebSocketError('WS_ERR_NO_CLIENT_TRACKING', 'broadcast() needs the clientTracking option or `to`');
    }
    const message = data instanceof PreparedMessage ? data : prepareMessage(data, options);
    let sent = 0;
    for (const client of targets) if (client[kSendPrepared](message)) sent++;
    return sent;
  }

  /** Whether this server takes the request: true unless `path` is set and differs. */
  shouldHandle(req: UpgradeRequest): boolean {
    if (this.options.path === undefined) return true;
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
  handleUpgrade(
    req: UpgradeRequest | IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (ws: WebSocket, req: UpgradeRequest) => void,
  ): void {
    socket.on('error', ignoreSocketError);
    if (!this.shouldHandle(req)) {
      this.reject(req, socket, 404, 'Not Found');
      return;
    }
    const result = checkUpgradeRequest(req);
    if (isRejection(result)) {
      this.reject(req, socket, result.status, result.message, result.headers);
      return;
    }
    const verifyClient = this.options.verifyClient;
    if (verifyClient === undefined) {
      this.completeUpgrade(result, req, socket, head, callback);
      return;
    }
    const info: VerifyClientInfo = {
      origin: req.headers.origin as string | undefined,
      secure: (socket as { encrypted?: boolean }).encrypted === true,
      req,
    };
    const decide: VerifyClientCallback = (accepted, code = 401, message, headers) => {
      if (accepted) this.completeUpgrade(result, req, socket, head, callback);
      else this.reject(req, socket, code, message ?? 'Unauthorized', headers);
    };
    if (verifyClient.length === 2) {
      (verifyClient as (info: VerifyClientInfo, callback: VerifyClientCallback) => void)(info, decide);
    } else {
      decide((verifyClient as (info: VerifyClientInfo) => boolean)(info));
    }
  }

  private completeUpgrade(
    request: AcceptedRequest,
    req: UpgradeRequest,
    socket: Duplex,
    head: Buffer,
    callback: (ws: WebSocket, req: UpgradeRequest) => void,
  ): void {
    if (!socket.readable || !socket.writable) {
      socket.destroy();
      return;
    }
    const marked = socket as Duplex & { [kUpgraded]?: boolean };
    if (marked[kUpgraded]) {
      throw new Error('handleUpgrade() was called more than once with the same socket');
    }
    marked[kUpgraded] = true;

    let protocol: string | undefined;
    if (request.protocols.length > 0) {
      const chosen = this.options.handleProtocols
        ? this.options.handleProtocols(new Set(request.protocols), req)
        : request.protocols[0];
      if (chosen !== false) protocol = chosen;
    }
    let deflate: DeflateSettings | null = null;
    let extensions = '';
    const accepted = this.deflateOptions && acceptDeflateOffer(request.extensions, this.deflateOptions);
    if (accepted) {
      deflate = deflateSettings(accepted.params, this.deflateOptions!);
      extensions = accepted.header;
    }
    const lines = acceptResponseLines(request.key, protocol, extensions);
    this.emit('headers', lines, req);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    socket.removeListener('error', ignoreSocketError);

    const ws = new WebSocket(kServerSide as unknown as string);
    ws[kAttach](socket, head, {
      isServer: true,
      protocol: protocol ?? '',
      extensions,
      deflate,
      maxPayload: this.options.maxPayload!,
      closeTimeout: this.options.closeTimeout!,
      maxFragments: this.options.maxFragments,
      maxBufferedAmount: this.options.maxBufferedAmount,
      heartbeat: this.options.heartbeat,
    });
    if (this.options.clientTracking) {
      this.clients.add(ws);
      ws.on('close', () => {
        this.clients.delete(ws);
        if (this.state === CLOSING) this.emitCloseWhenIdle();
      });
    }
    callback(ws, req);
  }

  /** Answers a refused handshake, or lets a 'wsClientError' listener do it. */
  private reject(
    req: UpgradeRequest,
    socket: Duplex,
    status: number,
    message: string,
    headers?: Record<string, string>,
  ): void {
    if (this.listenerCount('wsClientError') > 0) {
      const error = new WebSocketError('WS_ERR_HANDSHAKE_REJECTED', message, { statusCode: status });
      this.emit('wsClientError', error, socket, req);
      return;
    }
    rejectHandshake(socket, status, message, headers);
  }

  /** Reads the request head off a raw connection of our own listener. */
  private acceptSocket(socket: net.Socket): void {
    const limits = { maxHeaderSize: this.options.maxHeaderSize!, maxHeaderCount: this.options.maxHeaderCount! };
    const reader = new HeadReader(limits);
    socket.on('error', ignoreSocketError);
    // A peer that is slow or silent (slowloris) is cut off at the deadline.
    const timer = setTimeout(() => {
      socket.removeListener('data', onData);
      rejectHandshake(socket, 408, 'Opening handshake timed out');
    }, this.options.handshakeTimeout);
    const onData = (chunk: Buffer): void => {
      let request: RequestHead;
      let rest: Buffer;
      try {
        const received = reader.push(chunk);
        if (received === null) return;
        rest = received.rest;
        request = parseRequestHead(received.head, limits);
      } catch (error) {
        clearTimeout(timer);
        const status = error instanceof HeadError ? error.status : 400;
        rejectHandshake(socket, status, (error as Error).message);
        return;
      }
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', ignoreSocketError);
      // Left attached, this listener would keep the head reader, the timer and
      // this closure alive for the whole life of every connection.
      socket.removeListener('close', onClose);
      socket.pause();
      const req: UpgradeRequest = { ...request, socket };
      this.handleUpgrade(req, socket, rest, (ws) => this.emit('connection', ws, req));
    };
    const onClose = (): void => clearTimeout(timer);
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
    return () => {
      server.removeListener('listening', onListening);
      server.removeListener('error', onError);
      server.removeListener('upgrade', onUpgrade);
    };
  }

  private emitCloseWhenIdle(): void {
    if (this.state !== CLOSING) return;
    if (this.ownServer !== null && this.ownServer.listening) return;
    if (this.options.clientTracking && this.clients.size > 0) return;
    this.state = CLOSED;
    this.emit('close');
  }
}
