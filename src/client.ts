/**
 * The client side of the opening handshake over node:net or node:tls: parse
 * the URL, send the upgrade request, read and check the 101 response, then
 * hand the socket to the WebSocket.
 */

import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { resolveDeflateConfig, type DeflateConfig, type DeflateSettings } from './compression.ts';
import { HeadReader, parseResponseHead, type ResponseHead } from './http/head.ts';
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_HEADER_COUNT,
  DEFAULT_MAX_HEADER_SIZE,
  deflateOption,
  millisecondsOption,
  numberOption,
  type ClientOptions,
} from './options.ts';
import { WebSocketError } from './protocol/errors.ts';
import { buildUpgradeRequest, checkUpgradeResponse, generateKey } from './protocol/handshake.ts';
import { formatExtensions, isToken } from './protocol/headers.ts';
import { PERMESSAGE_DEFLATE, acceptDeflateResponse, buildDeflateOffer, type DeflateParams } from './protocol/permessage-deflate.ts';

/** The server's answer to the opening handshake, as 'upgrade' and 'unexpected-response' listeners get it. */
export type UpgradeResponse = ResponseHead;

/** What a WebSocket needs once its opening handshake succeeded. */
export interface HandshakeResult {
  /** The URL finally connected to (after redirects). */
  url: string;
  socket: Duplex;
  /** Bytes that arrived after the response head. */
  head: Buffer;
  protocol: string;
  extensions: string;
  deflate: DeflateSettings | null;
}

/** How the handshake reports to the WebSocket that started it (the client imports nothing from websocket.ts). */
export interface ClientHandshakeHooks {
  /** The 101 response arrived and was accepted ('upgrade' event). */
  upgrade(response: UpgradeResponse): void;
  /** A redirect is about to be followed ('redirect' event). */
  redirect(url: string, request: unknown): void;
  /** A response other than 101: true if a listener took it ('unexpected-response'), else the handshake fails. */
  unexpectedResponse(request: unknown, response: UpgradeResponse): boolean;
  /** False once the user closed the WebSocket (from an 'upgrade' listener, say). */
  isConnecting(): boolean;
  open(result: HandshakeResult): void;
  /** The handshake failed; `socket`, if given, is still to be destroyed. */
  fail(error: Error, socket?: Duplex | null): void;
}

/** A handshake in progress. */
export interface ClientHandshake {
  url: string;
  /**
   * Stops it: timers cleared, listeners removed, later socket errors
   * ignored. Returns the socket (if any) for the WebSocket to destroy.
   */
  abort(): Duplex | null;
}

function ignoreError(): void {}

/** TLS settings passed through to tls.connect for wss: URLs. */
const TLS_OPTION_NAMES = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'rejectUnauthorized',
  'servername',
  'checkServerIdentity',
  'ciphers',
  'minVersion',
  'maxVersion',
] as const;

/** Thrown for a bad URL or subprotocol list, as the WHATWG WebSocket constructor does. */
function syntaxError(message: string): DOMException {
  return new DOMException(message, 'SyntaxError');
}

export function parseUrl(address: string | URL): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw syntaxError(`Invalid URL: ${String(address)}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw syntaxError(`The URL's scheme must be "ws" or "wss", not "${url.protocol.slice(0, -1)}"`);
  }
  if (url.hash !== '') throw syntaxError('The URL contains a fragment identifier');
  return url;
}

export function checkProtocols(protocols: string | string[]): string[] {
  const list = typeof protocols === 'string' ? [protocols] : protocols;
  const seen = new Set<string>();
  for (const protocol of list) {
    if (typeof protocol !== 'string' || !isToken(protocol)) {
      throw syntaxError(`Invalid subprotocol: ${JSON.stringify(protocol)}`);
    }
    if (seen.has(protocol)) throw syntaxError(`Duplicate subprotocol: ${protocol}`);
    seen.add(protocol);
  }
  return list;
}

/**
 * Starts the opening handshake and returns the URL it goes to. URL,
 * subprotocol and option mistakes throw here, synchronously; network and
 * handshake failures arrive later through `hooks.fail`.
 */
export function startClientHandshake(
  address: string | URL,
  protocolList: string | string[],
  options: ClientOptions,
  hooks: ClientHandshakeHooks,
): ClientHandshake {
  const url = parseUrl(address);
  const protocols = checkProtocols(protocolList);
  const raw = options as Record<string, unknown>;
  const handshakeTimeout = millisecondsOption(raw, 'handshakeTimeout', DEFAULT_HANDSHAKE_TIMEOUT);
  const maxHeaderSize = numberOption(raw, 'maxHeaderSize', DEFAULT_MAX_HEADER_SIZE, { min: 1 });
  const deflateConfig: DeflateConfig | null = resolveDeflateConfig(deflateOption(raw, true), false);
  const secure = url.protocol === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const key = generateKey();
  const request = buildUpgradeRequest({
    path: (url.pathname || '/') + url.search,
    host: url.host,
    key,
    protocols,
    origin: options.origin,
    extensions: deflateConfig ? buildDeflateOffer(deflateConfig.negotiation) : undefined,
    headers: Object.entries(options.headers ?? {}) as Array<[string, string]>,
  });
  const limits = { maxHeaderSize, maxHeaderCount: DEFAULT_MAX_HEADER_COUNT };

  const socket = openTransport(options, host, port, secure);
  const reader = new HeadReader(limits);
  const timer = setTimeout(
    () => fail(new WebSocketError('WS_ERR_HANDSHAKE_TIMEOUT', 'Opening handshake has timed out')),
    handshakeTimeout,
  );

  function cleanup(): void {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('error', fail);
    socket.removeListener('close', onClose);
  }

  function fail(error: Error): void {
    cleanup();
    hooks.fail(error, socket);
  }

  function onClose(): void {
    fail(new WebSocketError('WS_ERR_CONNECTION_CLOSED', 'Connection closed before the handshake completed'));
  }

  function onData(chunk: Buffer): void {
    let received;
    let response: ResponseHead;
    try {
      received = reader.push(chunk);
      if (received === null) return;
      response = parseResponseHead(received.head, limits);
    } catch (error) {
      fail(new WebSocketError('WS_ERR_INVALID_RESPONSE', `Invalid handshake response: ${(error as Error).message}`));
      return;
    }
    let accepted;
    let deflateParams: DeflateParams | null = null;
    try {
      const offered = deflateConfig ? [PERMESSAGE_DEFLATE] : [];
      accepted = checkUpgradeResponse(response.statusCode, response.headers, key, protocols, offered);
      if (deflateConfig) deflateParams = acceptDeflateResponse(accepted.extensions, deflateConfig.negotiation);
    } catch (error) {
      fail(error as Error);
      return;
    }
    cleanup();
    socket.pause();
    hooks.upgrade(response);
    if (!hooks.isConnecting()) return; // closed from an 'upgrade' listener
    hooks.open({
      url: url.href,
      socket,
      head: received.rest,
      protocol: accepted.protocol,
      extensions: formatExtensions(accepted.extensions),
      deflate: deflateParams && { params: deflateParams, config: deflateConfig! },
    });
  }

  socket.on('data', onData);
  socket.on('error', fail);
  socket.on('close', onClose);
  socket.write(request);
  const abort = (): Duplex => {
    cleanup();
    socket.on('error', ignoreError);
    return socket;
  };
  return { url: url.href, abort };
}

function openTransport(options: ClientOptions, host: string, port: number, secure: boolean): Duplex {
  if (options.createConnection) return options.createConnection({ host, port, secure });
  if (!secure) {
    return net.connect({ host, port, localAddress: options.localAddress, family: options.family });
  }
  const tlsOptions: tls.ConnectionOptions = {};
  for (const name of TLS_OPTION_NAMES) {
    if (options[name] !== undefined) (tlsOptions as Record<string, unknown>)[name] = options[name];
  }
  return tls.connect({
    ...tlsOptions,
    host,
    port,
    // SNI carries host names only (RFC 6066 section 3).
    servername: options.servername ?? (net.isIP(host) === 0 ? host : undefined),
  });
}
