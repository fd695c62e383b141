/**
 * The client side of the opening handshake over node:net or node:tls: parse
 * the URL, send the upgrade request, read and check the 101 response, then
 * hand the socket to the WebSocket.
 */

import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { deflateSettings, resolveDeflateOption } from './compression.ts';
import { HeadReader, parseResponseHead, type ResponseHead } from './http/head.ts';
import { WebSocketError } from './protocol/errors.ts';
import { buildUpgradeRequest, checkUpgradeResponse, generateKey } from './protocol/handshake.ts';
import { formatExtensions, isToken } from './protocol/headers.ts';
import {
  PERMESSAGE_DEFLATE,
  acceptDeflateResponse,
  buildDeflateOffer,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from './protocol/permessage-deflate.ts';
import type { WebSocket } from './websocket.ts';
import { checkHeartbeatOptions, type HeartbeatOptions } from './heartbeat.ts';
import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_PAYLOAD, kAbortHandshake, kAttach } from './websocket.ts';

export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
export const DEFAULT_MAX_HEADER_COUNT = 100;

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

type TlsOptions = Pick<tls.ConnectionOptions, (typeof TLS_OPTION_NAMES)[number]>;

export interface ClientOptions extends TlsOptions {
  /** Extra request headers; names must be tokens and values may not hold CR or LF. */
  headers?: Record<string, string>;
  origin?: string;
  /** Milliseconds for the whole opening handshake; default 10 s. */
  handshakeTimeout?: number;
  /** Largest message accepted, in bytes; default 64 MiB. */
  maxPayload?: number;
  /** Milliseconds to wait for the closing handshake before destroying the socket; default 30 s. */
  closeTimeout?: number;
  /** Largest response head accepted, in bytes; default 16 KiB. */
  maxHeaderSize?: number;
  /** Most frames in one received message; default 131,072. More → close 1009. */
  maxFragments?: number;
  /** Bytes that may wait in the send buffer; default 64 MiB. More → close 1008. */
  maxBufferedAmount?: number;
  /** Ping every `interval` ms, destroy the connection if silent for `timeout` ms; default off. */
  heartbeat?: HeartbeatOptions;
  /** Local address to connect from. */
  localAddress?: string;
  /** 4 or 6 to force an address family for the host name lookup. */
  family?: number;
  /**
   * Offer permessage-deflate (RFC 7692): `true` for the defaults, or the
   * settings; default true, as browsers do. Used only if the server accepts.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Opens the transport yourself (a proxy tunnel, a test stream): the request is written to it. */
  createConnection?: (options: { host: string; port: number; secure: boolean }) => Duplex;
}

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
 * Starts connecting `ws` and returns its URL and socket. URL and subprotocol
 * mistakes throw here, synchronously; network and handshake failures arrive
 * later as an 'error' event followed by 'close' (1006).
 */
export function connectClient(
  ws: WebSocket,
  address: string | URL,
  protocolList: string | string[],
  options: ClientOptions,
): { url: string; socket: Duplex } {
  const url = parseUrl(address);
  const protocols = checkProtocols(protocolList);
  checkHeartbeatOptions(options.heartbeat);
  const secure = url.protocol === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const key = generateKey();
  const deflateOptions = resolveDeflateOption(options.perMessageDeflate, true);
  const request = buildUpgradeRequest({
    path: (url.pathname || '/') + url.search,
    host: url.host,
    key,
    protocols,
    origin: options.origin,
    extensions: deflateOptions ? buildDeflateOffer(deflateOptions) : undefined,
    headers: Object.entries(options.headers ?? {}),
  });
  const limits = {
    maxHeaderSize: options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
    maxHeaderCount: DEFAULT_MAX_HEADER_COUNT,
  };

  const socket = openTransport(options, host, port, secure);
  const reader = new HeadReader(limits);
  const timer = setTimeout(
    () => fail(new WebSocketError('WS_ERR_HANDSHAKE_TIMEOUT', 'Opening handshake has timed out')),
    options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
  );

  function cleanup(): void {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('error', fail);
    socket.removeListener('close', onClose);
  }

  function fail(error: Error): void {
    cleanup();
    ws[kAbortHandshake](error);
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
      const offered = deflateOptions ? [PERMESSAGE_DEFLATE] : [];
      accepted = checkUpgradeResponse(response.statusCode, response.headers, key, protocols, offered);
      if (deflateOptions) deflateParams = acceptDeflateResponse(accepted.extensions, deflateOptions);
    } catch (error) {
      fail(error as Error);
      return;
    }
    cleanup();
    socket.pause();
    ws.emit('upgrade', response);
    if (ws.readyState !== ws.CONNECTING) return; // closed from an 'upgrade' listener
    ws[kAttach](socket, received.rest, {
      isServer: false,
      protocol: accepted.protocol,
      extensions: formatExtensions(accepted.extensions),
      deflate: deflateParams && deflateSettings(deflateParams, deflateOptions!),
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
      maxFragments: options.maxFragments,
      maxBufferedAmount: options.maxBufferedAmount,
      heartbeat: options.heartbeat,
    });
  }

  socket.on('data', onData);
  socket.on('error', fail);
  socket.on('close', onClose);
  socket.write(request);
  return { url: url.href, socket };
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
