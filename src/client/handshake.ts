/**
 * The client side of the opening handshake, on node:http's client as ws's
 * is: http.request (https.request for wss:) sends the upgrade request, so
 * every request option, agents, `finishRequest` and the ClientRequest and
 * IncomingMessage objects of the 'redirect', 'unexpected-response' and
 * 'upgrade' events are node's own. This file follows redirects, bounds each
 * request in time, checks the 101 answer, and hands the socket over to the
 * WebSocket. It imports nothing from websocket.ts: it reports to its owner.
 */

import type { EventEmitter } from 'node:events';
import http from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { resolveDeflateConfig, type DeflateConfig } from '../compression/settings.ts';
import { startHttp2Handshake } from '../http2/client.ts';
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from '../options/client.ts';
import { WebSocketError } from '../protocol/errors.ts';
import { checkUpgradeResponse, generateKey } from '../protocol/handshake.ts';
import { formatExtensions } from '../protocol/headers.ts';
import { PERMESSAGE_DEFLATE, acceptDeflateResponse, buildDeflateOffer, type DeflateParams } from '../protocol/permessage-deflate.ts';
import { checkProtocols, toTarget, toUrl, type Target } from './address.ts';
import type { HandshakeResult } from './handshake-result.ts';
import { originOf, redirectDrops, type Origin } from './redirect.ts';
import { basicAuthorization, connectSecure, headerFields, requestOptions, type HeaderFields } from './request.ts';

/** The server's answer, as 'upgrade' and 'unexpected-response' listeners get it. */
export type UpgradeResponse = http.IncomingMessage;

export type { HandshakeResult };

/** How the handshake reports to the WebSocket that started it (closures of the WebSocket's, for the handshake's life). */
export interface HandshakeOwner {
  /** The WebSocket itself: finishRequest's second argument; its 'redirect' listeners decide what a redirect keeps. */
  readonly websocket: EventEmitter;
  /** A 101 answer arrived ('upgrade' event), before it is checked, as in ws. */
  upgrade(response: UpgradeResponse): void;
  /** A redirect is being followed: `url` is the new URL, `request` its request, not yet ended ('redirect' event). */
  redirect(url: string, request: http.ClientRequest): void;
  /** An answer other than a 101: true if a listener took it ('unexpected-response'), else the handshake fails. */
  unexpectedResponse(request: http.ClientRequest, response: UpgradeResponse): boolean;
  /** False once the user closed the WebSocket (from an 'upgrade' listener, say). */
  isConnecting(): boolean;
  open(result: HandshakeResult): void;
  /** The handshake failed; `socket`, if given, is still to be destroyed. */
  fail(error: Error, socket?: Duplex | null): void;
}

/** A handshake in progress. */
export interface ClientHandshake {
  /** The first URL (the 'redirect' hook reports later ones). */
  url: string;
  /**
   * Stops it: timer cleared, request destroyed, later errors ignored.
   * Returns the upgraded socket, if the handshake got that far, for the
   * WebSocket to destroy.
   */
  abort(): Duplex | null;
}

/** Thrown for a bad URL or subprotocol list, as the WHATWG WebSocket constructor does. */
function syntaxError(message: string): DOMException {
  return new DOMException(message, 'SyntaxError');
}

function ignoreError(): void {}

/**
 * Starts the opening handshake. URL, subprotocol and option mistakes throw
 * here, synchronously (node:http's own option checks included); network and
 * handshake failures arrive later through `owner.fail`.
 */
export function startClientHandshake(
  address: string | URL,
  protocolList: string | string[],
  options: ClientOptions,
  owner: HandshakeOwner,
): ClientHandshake {
  const resolved = resolveClientOptions(options);
  const url = toUrl(address);
  if (url === null) throw syntaxError(`Invalid URL: ${String(address)}`);
  const target = toTarget(url);
  if (typeof target === 'string') throw syntaxError(target);
  // Anything but an array is one subprotocol (as in ws): a number is then refused as not a token.
  const protocols = Array.isArray(protocolList) ? protocolList : [protocolList];
  const invalid = checkProtocols(protocols);
  if (invalid !== null) throw syntaxError(invalid);
  const deflate = resolveDeflateConfig(resolved.perMessageDeflate, false);
  const overHttp1 = (socket: Duplex | null): Handshake => {
    const handshake = new Handshake(socket === null ? options : withSocket(options, socket), resolved, protocols, deflate, owner, target);
    handshake.send(handshake.createRequest(target));
    return handshake;
  };
  if (!usesHttp2(resolved, options, target)) return overHttp1(null);
  const http2 = startHttp2Handshake({
    target,
    protocols,
    deflate,
    session: resolved.http2 === true ? null : (resolved.http2 as ClientHttp2Session),
    options: options as Record<string, unknown>,
    headers: headerFields(resolved.headers),
    protocolVersion: resolved.protocolVersion,
    origin: resolved.origin,
    handshakeTimeout: resolved.handshakeTimeout,
    open: (result) => owner.open(result),
    fail: (error) => owner.fail(error),
    fallback: overHttp1,
  });
  return { url: target.url.href, abort: () => http2.abort() };
}

/**
 * Whether to try HTTP/2: with a session of the user's, always; with `true`,
 * for wss: when nothing else decides the transport (an agent, a
 * createConnection, a UNIX socket).
 */
function usesHttp2(resolved: ResolvedClientOptions, options: ClientOptions, target: Target): boolean {
  if (resolved.http2 === false) return false;
  if (resolved.http2 !== true) return true;
  return target.secure && target.socketPath === undefined && options.agent == null && options.createConnection == null;
}

/** The options with `socket` (the TLS connection ALPN chose http/1.1 on) as the first request's transport. */
function withSocket(options: ClientOptions, socket: Duplex): ClientOptions {
  let unused: Duplex | null = socket;
  const createConnection = (requestOptions: http.ClientRequestArgs): Duplex => {
    if (unused === null) return connectSecure(requestOptions as Parameters<typeof connectSecure>[0]); // a redirect's request
    const first = unused;
    unused = null;
    return first;
  };
  return { ...options, createConnection };
}

class Handshake implements ClientHandshake {
  readonly url: string;
  private readonly origin: Origin;
  /** The user's headers, kept from request to request; URL credentials join them as Authorization. */
  private readonly userHeaders: HeaderFields;
  private request: http.ClientRequest | null = null;
  private target: Target;
  private key = '';
  private timer: NodeJS.Timeout | null = null;
  private redirects = 0;
  /** The upgraded socket between the 101 and the hand-over. */
  private socket: Duplex | null = null;
  private finished = false;

  constructor(
    private readonly options: ClientOptions,
    private readonly resolved: ResolvedClientOptions,
    private readonly protocols: string[],
    private readonly deflate: DeflateConfig | null,
    private readonly owner: HandshakeOwner,
    first: Target,
  ) {
    this.url = first.url.href;
    this.target = first;
    this.origin = originOf(first);
    this.userHeaders = headerFields(resolved.headers);
  }

  /**
   * Creates the request for `target` (the first one, or a redirect's).
   * node:http's checks of the user's options throw here.
   */
  createRequest(target: Target): http.ClientRequest {
    this.target = target;
    this.key = generateKey();
    const fields = this.requestHeaders(target);
    const request = (target.secure ? https.request : http.request)(
      requestOptions(this.options, target, fields, this.resolved.maxHeaderSize),
    );
    this.request = request;
    request.on('error', (error) => this.onRequestError(request, error));
    request.on('response', (response) => this.onResponse(request, response));
    request.on('upgrade', (response, socket, head) => this.onUpgrade(request, response, socket, head));
    return request;
  }

  /** Starts the clock, reports a redirect, and sends the request (or lets finishRequest do it). */
  send(request: http.ClientRequest): void {
    const timeout = this.resolved.handshakeTimeout;
    if (timeout > 0) {
      this.timer = setTimeout(() => this.fail(new WebSocketError('WS_ERR_HANDSHAKE_TIMEOUT', 'Opening handshake has timed out')), timeout);
      // The request's socket keeps the process alive while it connects; the timer alone must not (ws has none by default).
      this.timer.unref();
    }
    if (this.redirects > 0) this.userCall(() => this.owner.redirect(this.target.url.href, request));
    if (this.finished) return; // closed from a 'redirect' listener
    const finishRequest = this.resolved.finishRequest;
    if (finishRequest === undefined) request.end();
    else this.userCall(() => finishRequest(request, this.owner.websocket as Parameters<typeof finishRequest>[1]));
  }

  /**
   * The header fields of one request: the user's, then the handshake's own
   * (which win, as in ws), then Authorization from credentials if none yet.
   */
  private requestHeaders(target: Target): HeaderFields {
    const fields = new Map(this.userHeaders);
    let credentials = target.credentials ?? (typeof this.options.auth === 'string' ? this.options.auth : undefined);
    if (this.redirects > 0 && this.owner.websocket.listenerCount('redirect') === 0) {
      const drops = redirectDrops(this.origin, target);
      if (drops.credentials) {
        fields.delete('authorization');
        fields.delete('cookie');
        credentials = undefined;
      }
      if (drops.host) fields.delete('host');
    }
    const own: Array<[string, string]> = [
      ['Sec-WebSocket-Version', String(this.resolved.protocolVersion)],
      ['Sec-WebSocket-Key', this.key],
      ['Connection', 'Upgrade'],
      ['Upgrade', 'websocket'],
    ];
    if (this.deflate !== null) own.push(['Sec-WebSocket-Extensions', buildDeflateOffer(this.deflate.negotiation)]);
    if (this.protocols.length > 0) own.push(['Sec-WebSocket-Protocol', this.protocols.join(',')]);
    const origin = this.resolved.origin;
    if (origin) own.push([this.resolved.protocolVersion === 8 ? 'Sec-WebSocket-Origin' : 'Origin', origin]);
    for (const [name, value] of own) fields.set(name.toLowerCase(), [name, value]);
    if (credentials !== undefined && !fields.has('authorization')) {
      const authorization = basicAuthorization(credentials);
      fields.set('authorization', ['Authorization', authorization]);
      // Later requests keep it, like the user's headers (the first Authorization wins).
      if (this.resolved.followRedirects && !this.userHeaders.has('authorization')) {
        this.userHeaders.set('authorization', ['Authorization', authorization]);
      }
    }
    return fields;
  }

  private onRequestError(request: http.ClientRequest, error: Error): void {
    if (request !== this.request || this.finished) return;
    this.fail(error);
  }

  private onResponse(request: http.ClientRequest, response: http.IncomingMessage): void {
    if (request !== this.request || this.finished) return;
    // Once the answer was read whole the timeout is over, as ws's (a timeout of the idle request) is: a listener of
    // 'unexpected-response' decides what follows, and an answer that stops halfway still times out.
    response.once('end', () => {
      if (request === this.request) this.clearTimer();
    });
    const status = response.statusCode!;
    const location = response.headers.location;
    if (this.resolved.followRedirects && location && status >= 300 && status < 400) {
      this.redirect(location);
      return;
    }
    if (this.userCall(() => this.owner.unexpectedResponse(request, response))) return;
    let error: Error;
    try {
      // A 101 lands here only when node did not see an upgrade in it: say what is missing.
      checkUpgradeResponse(status, response.headers, this.key, this.protocols);
      error = new WebSocketError('WS_ERR_INVALID_UPGRADE', 'Invalid upgrade response', { statusCode: status });
    } catch (invalid) {
      error = invalid as Error;
    }
    this.fail(error);
  }

  private redirect(location: string): void {
    if (++this.redirects > this.resolved.maxRedirects) {
      this.fail(new WebSocketError('WS_ERR_TOO_MANY_REDIRECTS', 'Maximum redirects exceeded'));
      return;
    }
    this.stop();
    const url = toUrl(location, this.target.url);
    if (url === null) {
      this.fail(new SyntaxError(`Invalid URL: ${location}`));
      return;
    }
    const target = toTarget(url);
    if (typeof target === 'string') {
      this.fail(new SyntaxError(target));
      return;
    }
    // A remote server must not point us at a local socket (ws follows such a redirect; netws does not).
    if (target.socketPath !== undefined && this.origin.ipc === false) {
      this.fail(new WebSocketError('WS_ERR_REDIRECT_TO_IPC', 'A redirect from a network URL to a ws+unix: URL is refused'));
      return;
    }
    // node:http checks the new URL against the options (a user's agent for http: given an https: URL throws).
    let request: http.ClientRequest;
    try {
      request = this.createRequest(target);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    this.send(request);
  }

  private onUpgrade(request: http.ClientRequest, response: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (request !== this.request || this.finished) {
      socket.destroy();
      return;
    }
    this.request = null;
    this.clearTimer();
    this.socket = socket;
    // node removed its own listeners; until the WebSocket adds its own, errors are ours to catch.
    socket.on('error', ignoreError);
    this.userCall(() => this.owner.upgrade(response));
    if (this.finished || !this.owner.isConnecting()) return; // closed from an 'upgrade' listener
    let accepted: ReturnType<typeof checkUpgradeResponse>;
    let deflateParams: DeflateParams | null = null;
    try {
      const offered = this.deflate ? [PERMESSAGE_DEFLATE] : [];
      accepted = checkUpgradeResponse(101, response.headers, this.key, this.protocols, offered);
      if (this.protocols.length > 0 && accepted.protocol === '') {
        throw new WebSocketError('WS_ERR_INVALID_SUBPROTOCOL', 'Server sent no subprotocol', { statusCode: 101 });
      }
      if (this.deflate) deflateParams = acceptDeflateResponse(accepted.extensions, this.deflate.negotiation);
    } catch (error) {
      this.fail(error as Error, socket);
      return;
    }
    this.finished = true;
    this.socket = null;
    socket.removeListener('error', ignoreError);
    this.owner.open({
      url: this.target.url.href,
      socket,
      head,
      protocol: accepted.protocol,
      extensions: formatExtensions(accepted.extensions),
      deflate: deflateParams && { params: deflateParams, config: this.deflate! },
    });
  }

  /**
   * Runs a user callback (a listener, finishRequest). If it throws, the
   * handshake fails with that error (nothing is left connecting) and the
   * exception goes on, as any listener's does.
   */
  private userCall<T>(call: () => T): T {
    try {
      return call();
    } catch (error) {
      this.fail(error as Error, this.socket);
      throw error;
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Ends the current request: timer cleared, request destroyed, its late errors ignored. */
  private stop(): void {
    this.clearTimer();
    const request = this.request;
    this.request = null;
    if (request !== null) {
      request.on('error', ignoreError);
      request.destroy();
      // Once a response was read, node may have handed the socket back to a keep-alive agent, where destroy() does not reach it.
      if (request.socket && !request.socket.destroyed) request.socket.destroy();
    }
  }

  private fail(error: Error, socket: Duplex | null = null): void {
    if (this.finished) return;
    this.finished = true;
    this.stop();
    this.socket = null;
    this.owner.fail(error, socket);
  }

  abort(): Duplex | null {
    this.finished = true;
    this.stop();
    const socket = this.socket;
    this.socket = null;
    return socket;
  }
}
