/**
 * The server side of RFC 8441 on node:http2: taking the WebSocket streams of
 * an http2 server (`{ server }`), the request object user code gets, and
 * answering a stream (its channel: see http/channel.ts). The handshake
 * itself runs in WebSocketServer, as for HTTP/1.1; the checks are
 * src/protocol/extended-connect.ts's.
 */

import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { CheckedRequest, HandshakeChannel } from '../http/channel.ts';
import type { HandshakeRejection, HeaderValue } from '../protocol/handshake.ts';
import {
  checkConnectRequest,
  connectResponseHeaders,
  isWebSocketConnect,
  linesToHeaders,
  refusalBody,
  refusalHeaders,
  hasUnsendableField,
  responseLines,
  type Http2HeaderRecord,
} from '../protocol/extended-connect.ts';
import { HTTP2_STREAM } from './stream.ts';
import { fitServerSession } from './windows.ts';

export type ServerStream = http2.ServerHttp2Stream;
export type StreamHeaders = http2.IncomingHttpHeaders;

/** node:http2's servers are the ones with updateSettings() (duck-typed: no instanceof across realms). */
export function isHttp2Server(server: EventEmitter): boolean {
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
}

/** A WebSocketServer in `{ server }` mode, as takeWebSocketStreams sees it. */
export interface StreamTaker {
  /** Whether the request is this server's (its `path`). */
  handles(req: IncomingMessage): boolean;
  take(stream: ServerStream, headers: StreamHeaders, req: IncomingMessage): void;
}

/** The netws servers taking the WebSocket streams of one node:http2 server: one set of listeners for all. */
interface Hub {
  readonly takers: StreamTaker[];
  /** netws turned SETTINGS_ENABLE_CONNECT_PROTOCOL on (the server's owner had not). */
  advertising: boolean;
  /** Sessions that were told of extended CONNECT: they may send one after the last taker closed. */
  readonly told: Set<http2.ServerHttp2Session>;
  uninstall(): void;
}

const hubs = new WeakMap<EventEmitter, Hub>();

/** Streams given to a WebSocketServer (handleStream() or a hub): a second hand-over is refused. */
const claimed = new WeakSet<ServerStream>();

/** Claims `stream` for one handshake; false if it was claimed before. */
export function claimStream(stream: ServerStream): boolean {
  if (claimed.has(stream)) return false;
  claimed.add(stream);
  return true;
}

type Http2SettingsServer = EventEmitter & { updateSettings(settings: http2.Settings): void };

/**
 * The SETTINGS the server's owner gave it, read where node:http2 keeps the
 * server's options (a symbol described 'options'; undefined if node ever
 * keeps them elsewhere), so that netws never overrides a setting the
 * server's owner chose.
 */
function ownSettings(server: EventEmitter | undefined): http2.Settings | undefined {
  if (server === undefined) return undefined;
  const key = Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === 'options');
  const options = key === undefined ? undefined : (server as unknown as Record<symbol, { settings?: http2.Settings } | undefined>)[key];
  return options?.settings;
}

function ownConnectSetting(server: EventEmitter): boolean | undefined {
  return ownSettings(server)?.enableConnectProtocol;
}

/**
 * Takes the WebSocket streams of a node:http2 server for `taker`, and
 * advertises SETTINGS_ENABLE_CONNECT_PROTOCOL to its new sessions while a
 * taker is there (advertising it without handling the CONNECTs breaks
 * clients that trust it). Other streams, CONNECTs with another `:protocol`
 * included, are left to the server's other listeners. Returns the undo.
 */
export function takeWebSocketStreams(server: EventEmitter, taker: StreamTaker): () => void {
  const hub = hubs.get(server) ?? installHub(server as Http2SettingsServer);
  hub.takers.push(taker);
  if (!hub.advertising && ownConnectSetting(server) !== true) {
    (server as Http2SettingsServer).updateSettings({ enableConnectProtocol: true });
    hub.advertising = true;
  }
  return () => {
    hub.takers.splice(hub.takers.indexOf(taker), 1);
    if (hub.takers.length > 0) return;
    if (hub.advertising) {
      // New sessions no longer hear of it; open ones keep what they were told (RFC 8441 section 3 forbids taking it back).
      (server as Http2SettingsServer).updateSettings({ enableConnectProtocol: false });
      hub.advertising = false;
    }
    hub.uninstall();
  };
}

function installHub(server: Http2SettingsServer): Hub {
  const onStream = (stream: ServerStream, headers: StreamHeaders, _flags: number, rawHeaders?: string[]): void => {
    if (!isWebSocketConnect(headers as Http2HeaderRecord)) return;
    // Answered by a listener before this one, or handed to handleStream(): not ours to answer.
    if (stream.headersSent || stream.destroyed || claimed.has(stream)) return;
    if (hub.takers.length === 0) {
      // Every taker closed, and a session told of extended CONNECT before still sends one: 503, as
      // HTTP/1.1 upgrades get, once the listeners after this one had their turn.
      process.nextTick(() => {
        if (!stream.headersSent && !stream.destroyed && claimStream(stream)) refuseStream(stream, 503);
      });
      return;
    }
    const req = toHttp2Request(stream, headers, rawHeaders);
    // Several servers with their own `path`: the one whose path it is takes
    // it; no one's, and the first answers (400), so the stream gets one answer.
    const taker = hub.takers.find((candidate) => candidate.handles(req)) ?? hub.takers[0];
    taker.take(stream, headers, req);
  };
  // With node's compatibility API in use (a 'request' listener), every
  // CONNECT also comes as a 'connect' event, answered 405 when nobody
  // listens (nodejs/node#36977): the WebSocket ones are taken on 'stream'
  // above, so this listener only stands aside for them, and gives the rest
  // node's own answer when nobody else listens. An HTTP/1.1 CONNECT (with
  // allowHTTP1) comes here too, with a socket: node closes it then.
  const onConnect = (
    req: { headers: StreamHeaders; httpVersionMajor?: number },
    res: { statusCode: number; end(): void } | Duplex,
  ): void => {
    if (req.httpVersionMajor === 2 && isWebSocketConnect(req.headers as Http2HeaderRecord)) return;
    if (server.listenerCount('connect') > 1) return;
    if (req.httpVersionMajor === 2) {
      const response = res as { statusCode: number; end(): void };
      response.statusCode = 405;
      response.end();
    } else {
      (res as Duplex).destroy();
    }
  };
  const onSession = (session: http2.ServerHttp2Session): void => {
    if (!hub.advertising) return;
    hub.told.add(session);
    session.once('close', () => {
      hub.told.delete(session);
      hub.uninstall();
    });
  };
  const hub: Hub = {
    takers: [],
    advertising: false,
    told: new Set(),
    // Once no taker is left and no session may still send a WebSocket CONNECT
    // (an owner's own setting keeps telling new ones: then the 503s go on).
    uninstall: () => {
      if (hub.takers.length > 0 || hub.told.size > 0 || ownConnectSetting(server) === true) return;
      hubs.delete(server);
      server.removeListener('stream', onStream);
      server.removeListener('connect', onConnect);
      server.removeListener('session', onSession);
    },
  };
  hubs.set(server, hub);
  server.on('stream', onStream);
  server.on('connect', onConnect);
  server.on('session', onSession);
  return hub;
}

/**
 * The request handed to verifyClient, handleProtocols and 'connection' for
 * an HTTP/2 WebSocket: node's own Http2ServerRequest, as its compatibility
 * API would make it, so code reading `req.url`, `req.headers`,
 * `req.socket.remoteAddress` or `req.httpVersion` ('2.0') works as it does
 * for an HTTP/2 request. Nothing reads its body: the stream is the WebSocket's.
 *
 * Typed as node:http's IncomingMessage, as ws types every request, so that
 * handlers written for ws (`(ws, req: IncomingMessage) => ...`) compile for
 * both transports: an Http2ServerRequest lacks only `headersDistinct` and
 * `trailersDistinct` of it, added here. `req.httpVersionMajor === 2` tells
 * the two apart.
 */
export function toHttp2Request(stream: ServerStream, headers: StreamHeaders, rawHeaders: string[] | undefined): IncomingMessage {
  const raw = rawHeaders ?? flattenHeaders(headers);
  const req = new http2.Http2ServerRequest(stream, headers, {}, raw);
  Object.defineProperties(req, {
    headersDistinct: { get: () => distinctHeaders(raw), configurable: true },
    trailersDistinct: { value: {}, configurable: true },
  });
  return req as unknown as IncomingMessage;
}

/** IncomingMessage.headersDistinct: every field's values, in order, under its lower-case name. */
function distinctHeaders(raw: string[]): Record<string, string[]> {
  const distinct: Record<string, string[]> = Object.create(null);
  for (let i = 0; i + 1 < raw.length; i += 2) (distinct[raw[i].toLowerCase()] ??= []).push(raw[i + 1]);
  return distinct;
}

/** rawHeaders for a stream handed to handleStream() without them. */
function flattenHeaders(headers: StreamHeaders): string[] {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) raw.push(name, String(one));
  }
  return raw;
}

/** Whether the connection under a stream is TLS (verifyClient's `secure`). */
export function isSecureStream(stream: ServerStream): boolean {
  return stream.session?.encrypted === true;
}

/**
 * Refuses a handshake with an HTTP/2 response (`status`, a text body). The
 * client's side of the stream is then reset with NO_ERROR, which asks it to
 * stop sending without calling it an error (RFC 9113 section 8.1). Never
 * throws: it runs inside verifyClient's callback.
 */
export function refuseStream(stream: ServerStream, status: number, message?: string, headers?: Record<string, HeaderValue>): void {
  if (stream.destroyed || stream.closed || stream.headersSent) {
    stream.destroy();
    return;
  }
  // A 2xx would open the WebSocket (RFC 8441), and node:http2 sends no 1xx
  // nor a status outside 100-599 (a close code such as 4001 by mistake).
  if (!(Number.isInteger(status) && status >= 300 && status <= 599)) status = 500;
  // 304 has no body (node:http2 ends the stream at the headers).
  const body = status === 304 ? Buffer.alloc(0) : Buffer.from(refusalBody(status, message), 'utf8');
  const fields = refusalHeaders(status, body.length, headers);
  // verifyClient's fields held one node:http2 will not send (a name with a
  // space, say): only they can make it throw, so 500 without them cannot.
  // Found before respond(), which on Bun breaks the session when it throws.
  if (hasUnsendableField(fields)) {
    refuseStream(stream, 500);
    return;
  }
  try {
    stream.respond(fields, { endStream: body.length === 0 });
  } catch {
    // Another refusal of node:http2 (a field HTTP/2 allows once, given twice): 500 without the fields.
    refuseStream(stream, 500);
    return;
  }
  // Without a body: a turn later, as Node 22.23 drops the HEADERS of a 304
  // that a close() follows at once (the client never gets its answer).
  if (body.length === 0) setImmediate(closeStream, stream);
  else stream.end(body, () => stream.close());
}

function closeStream(stream: ServerStream): void {
  if (!stream.closed) stream.close();
}

const NO_HEAD = Buffer.alloc(0);

/** The HTTP/2 channel of a server handshake: an extended CONNECT (RFC 8441) answered on its stream. */
export class StreamChannel implements HandshakeChannel {
  readonly head = NO_HEAD;
  readonly traits = HTTP2_STREAM;
  readonly reportsClientErrors = false;
  readonly secure: boolean;

  constructor(
    readonly duplex: ServerStream,
    private readonly headers: StreamHeaders,
  ) {
    this.secure = isSecureStream(duplex);
  }

  check(): CheckedRequest | HandshakeRejection {
    return checkConnectRequest(this.headers as Http2HeaderRecord);
  }

  refuse(status: number, message?: string, headers?: Record<string, HeaderValue>): void {
    refuseStream(this.duplex, status, message, headers);
  }

  /** Reset by the client while verifyClient decided. */
  gone(): boolean {
    return this.duplex.destroyed || this.duplex.closed;
  }

  /** Claimed when it was handed to the server (claimStream). */
  claim(): void {}

  responseLines(request: CheckedRequest, protocol: string | undefined, extensions: string): string[] {
    return responseLines(connectResponseHeaders(request.key, protocol, extensions));
  }

  answer(lines: string[]): void {
    // node:http2 checks the fields before sending anything: a bad line from a 'headers' listener throws here.
    this.duplex.respond(linesToHeaders(200, lines));
    const session = this.duplex.session;
    fitServerSession(session, ownSettings((session as { server?: EventEmitter } | undefined)?.server));
  }
}
