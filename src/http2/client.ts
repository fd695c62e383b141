/**
 * The client side of RFC 8441: a WebSocket opened as an extended CONNECT
 * stream on an HTTP/2 session (the user's, or a shared one of ours for
 * `http2: true`), once the server's SETTINGS allowed it; otherwise the
 * handshake goes on over HTTP/1.1 (client.ts's). Reports through the same
 * hooks as the HTTP/1.1 handshake; the stream becomes the WebSocket's
 * transport.
 */

import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Target } from '../client/address.ts';
import type { HandshakeResult } from '../client/handshake-result.ts';
import { basicAuthorization, type HeaderFields } from '../client/request.ts';
import type { DeflateConfig } from '../compression/settings.ts';
import { WebSocketError } from '../protocol/errors.ts';
import { buildConnectHeaders, checkConnectResponse, type Http2HeaderRecord } from '../protocol/extended-connect.ts';
import { formatExtensions } from '../protocol/headers.ts';
import { PERMESSAGE_DEFLATE, acceptDeflateResponse, buildDeflateOffer, type DeflateParams } from '../protocol/permessage-deflate.ts';
import { cancelStream, HTTP2_STREAM } from './stream.ts';
import { acquireConnection, releaseSession, type Connection } from './sessions.ts';

const NO_HEAD = Buffer.alloc(0);

/** A handshake this one can hand over to: client.ts's HTTP/1.1 one. */
export interface FallbackHandshake {
  abort(): Duplex | null;
}

export interface Http2HandshakeSetup {
  target: Target;
  protocols: readonly string[];
  deflate: DeflateConfig | null;
  /** The user's session, or null for a shared one of ours. */
  session: ClientHttp2Session | null;
  /** The user's options: those that shape the connection decide which shared session fits. */
  options: Record<string, unknown>;
  /** The user's header fields, sent as they are (Host becomes :authority). */
  headers: HeaderFields;
  protocolVersion: number;
  origin: string | undefined;
  /** 0: none. */
  handshakeTimeout: number;
  open(result: HandshakeResult): void;
  fail(error: Error): void;
  /** Goes on over HTTP/1.1: on `socket` (the TLS connection ALPN chose http/1.1 on), or a new connection. */
  fallback(socket: TLSSocket | null): FallbackHandshake;
}

/** Sessions whose server's first SETTINGS frame has arrived, and the handshakes waiting for it on the others. */
const settled = new WeakSet<ClientHttp2Session>();
const settling = new WeakMap<ClientHttp2Session, Array<(error?: Error) => void>>();

function sessionClosed(): WebSocketError {
  return new WebSocketError('WS_ERR_HTTP2_SESSION_CLOSED', 'The HTTP/2 session closed before the WebSocket opened');
}

/**
 * Calls back once the server's first SETTINGS frame has arrived, which says
 * whether it takes extended CONNECTs. A session still connecting will get it
 * as its first frame; on an established one the answer to a PING proves it
 * came (the server's SETTINGS is the first frame it sends, RFC 9113 section
 * 3.4). One set of listeners per session, however many WebSockets wait.
 */
function whenSettled(session: ClientHttp2Session, callback: (error?: Error) => void): void {
  if (session.closed || session.destroyed) {
    process.nextTick(callback, sessionClosed());
    return;
  }
  if (settled.has(session) || session.remoteSettings?.enableConnectProtocol === true) {
    process.nextTick(callback);
    return;
  }
  const waiting = settling.get(session);
  if (waiting !== undefined) {
    waiting.push(callback);
    return;
  }
  const callbacks = [callback];
  settling.set(session, callbacks);
  const done = (error?: Error): void => {
    session.removeListener('remoteSettings', onSettings);
    session.removeListener('close', onClose);
    settling.delete(session);
    if (error === undefined) settled.add(session);
    for (const waiter of callbacks) waiter(error);
  };
  const onSettings = (): void => done();
  const onClose = (): void => done(sessionClosed());
  session.once('close', onClose);
  if (session.connecting) {
    session.once('remoteSettings', onSettings);
  } else {
    session.ping((error) => {
      if (settling.get(session) === callbacks) done(error ?? undefined);
    });
  }
}

export function startHttp2Handshake(setup: Http2HandshakeSetup): FallbackHandshake {
  const handshake = new Http2Handshake(setup);
  handshake.start();
  return handshake;
}

class Http2Handshake implements FallbackHandshake {
  private session: ClientHttp2Session | null = null;
  /** The session is a shared one of ours: given back when this WebSocket is done with it. */
  private pooled = false;
  private stream: ClientHttp2Stream | null = null;
  private cancelWait: (() => void) | null = null;
  private delegate: FallbackHandshake | null = null;
  private timer: NodeJS.Timeout | null = null;
  private finished = false;
  private readonly onStreamError = (error: Error): void => this.fail(error);
  private readonly onStreamResponse = (headers: IncomingHttpHeaders): void => this.onResponse(this.stream!, headers);

  constructor(private readonly setup: Http2HandshakeSetup) {}

  start(): void {
    const timeout = this.setup.handshakeTimeout;
    if (timeout > 0) {
      this.timer = setTimeout(() => this.fail(new WebSocketError('WS_ERR_HANDSHAKE_TIMEOUT', 'Opening handshake has timed out')), timeout);
    }
    if (this.setup.session !== null) {
      this.useSession(this.setup.session);
    } else {
      this.cancelWait = acquireConnection(this.setup.target, this.setup.options, (connection) => this.onConnection(connection));
    }
  }

  private onConnection(connection: Connection | Error): void {
    this.cancelWait = null;
    if (connection instanceof Error) {
      this.fail(connection);
    } else if ('session' in connection) {
      this.pooled = true;
      this.useSession(connection.session);
    } else {
      this.fallBack(connection.http1Socket);
    }
  }

  private useSession(session: ClientHttp2Session): void {
    this.session = session;
    whenSettled(session, (error) => {
      if (this.finished) return;
      if (error !== undefined) this.fail(error);
      else if (session.remoteSettings.enableConnectProtocol === true) this.request(session);
      // The server did not say it takes extended CONNECTs: HTTP/1.1 it is.
      else this.fallBack(null);
    });
  }

  private request(session: ClientHttp2Session): void {
    const { target, protocols, deflate } = this.setup;
    const fields: Array<[string, string | number | readonly string[]]> = [...this.setup.headers.values()];
    const origin = this.setup.origin;
    if (origin) fields.push([this.setup.protocolVersion === 8 ? 'sec-websocket-origin' : 'origin', origin]);
    const auth = this.setup.options.auth;
    const credentials = target.credentials ?? (typeof auth === 'string' ? auth : undefined);
    if (credentials !== undefined && !this.setup.headers.has('authorization'))
      fields.push(['authorization', basicAuthorization(credentials)]);
    let stream: ClientHttp2Stream;
    try {
      const headers = buildConnectHeaders({
        path: target.path,
        authority: target.url.host,
        scheme: session.encrypted === false ? 'http' : 'https',
        version: this.setup.protocolVersion,
        protocols,
        extensions: deflate === null ? undefined : buildDeflateOffer(deflate.negotiation),
        fields,
      });
      stream = session.request(headers, { endStream: false });
    } catch (error) {
      // A session going away, out of stream IDs, or a header node:http2 refuses.
      this.fail(error as Error);
      return;
    }
    this.stream = stream;
    stream.on('error', this.onStreamError);
    stream.once('response', this.onStreamResponse);
    stream.once('close', () => {
      if (this.pooled) releaseSession(session);
      if (!this.finished) {
        this.fail(new WebSocketError('WS_ERR_HTTP2_STREAM_RESET', `The stream was reset before a response (code ${stream.rstCode})`));
      }
    });
  }

  private onResponse(stream: ClientHttp2Stream, headers: IncomingHttpHeaders): void {
    const { protocols, deflate } = this.setup;
    let accepted: ReturnType<typeof checkConnectResponse>;
    let deflateParams: DeflateParams | null = null;
    try {
      accepted = checkConnectResponse(headers as Http2HeaderRecord, protocols, deflate ? [PERMESSAGE_DEFLATE] : []);
      if (protocols.length > 0 && accepted.protocol === '') {
        throw new WebSocketError('WS_ERR_INVALID_SUBPROTOCOL', 'Server sent no subprotocol', { statusCode: Number(headers[':status']) });
      }
      if (deflate) deflateParams = acceptDeflateResponse(accepted.extensions, deflate.negotiation);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    this.finished = true;
    this.clearTimer();
    stream.removeListener('error', this.onStreamError);
    this.setup.open({
      url: this.setup.target.url.href,
      socket: stream,
      head: NO_HEAD,
      protocol: accepted.protocol,
      extensions: formatExtensions(accepted.extensions),
      deflate: deflateParams && { params: deflateParams, config: deflate! },
      traits: HTTP2_STREAM,
    });
  }

  private fallBack(socket: TLSSocket | null): void {
    this.clearTimer();
    this.releaseUnusedSession();
    try {
      this.delegate = this.setup.fallback(socket);
    } catch (error) {
      // node:http's checks of the options, run only now.
      socket?.destroy();
      this.fail(error as Error);
    }
  }

  /** A shared session this WebSocket got but opened no stream on is given back (a stream gives it back as it closes). */
  private releaseUnusedSession(): void {
    // With a stream, `pooled` must stay set: its 'close' gives the session back.
    if (this.pooled && this.stream === null && this.session !== null) {
      releaseSession(this.session);
      this.pooled = false;
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Stops everything this handshake started; the stream, if any, is reset (CANCEL). */
  private stop(): void {
    this.finished = true;
    this.clearTimer();
    this.cancelWait?.();
    this.cancelWait = null;
    this.releaseUnusedSession();
    // node emits 'response' on a later tick: one already on its way must find no listener.
    const stream = this.stream;
    if (stream === null) return;
    stream.removeListener('response', this.onStreamResponse);
    cancelStream(stream);
  }

  /** Every path here runs before the handshake finished: later events find their listener gone or check `finished`. */
  private fail(error: Error): void {
    this.stop();
    this.setup.fail(error);
  }

  abort(): Duplex | null {
    if (this.delegate !== null) return this.delegate.abort();
    this.stop();
    return null;
  }
}
