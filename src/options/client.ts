/**
 * The client WebSocket's own options (beyond the connection's), their
 * defaults and checks. Everything else in them is node:http's, passed
 * through to http.request and checked by it.
 */

import type { EventEmitter } from 'node:events';
import type http from 'node:http';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import type { PerMessageDeflateOptions } from '../protocol/permessage-deflate.ts';
import type { ConnectionOptions } from './connection.ts';
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HEADER_SIZE } from './server.ts';
import { booleanOption, describe, functionOption, MAX_TIMER, numberOption, stringOption, type Options } from './values.ts';

export const DEFAULT_MAX_REDIRECTS = 10;

/**
 * node:http's request options (https.request's for wss:, TLS settings
 * included), passed through to http.request as ws does. The ones the
 * handshake decides itself are left out: the URL gives host, port, path and
 * socketPath, and the handshake has its own timeout.
 */
type HttpRequestOptions = Omit<
  https.RequestOptions,
  'headers' | 'timeout' | 'host' | 'hostname' | 'port' | 'path' | 'protocol' | 'socketPath' | 'method' | 'createConnection'
>;

/** Header values as users give them: a string, a number, or several values (one line each). */
export type ClientHeaderValue = string | number | readonly string[];

/**
 * The client's options. `Socket` is the type finishRequest's second argument
 * has: websocket.ts gives it the WebSocket class (which lives above this
 * file) and exports that as the public ClientOptions.
 */
export interface ClientOptions<Socket = EventEmitter> extends ConnectionOptions, HttpRequestOptions {
  /** Subprotocols, when not given as the constructor's second argument. */
  protocols?: string | string[];
  /** Extra request headers: an array value sends one line per element; `Host` replaces the generated one. */
  headers?: Record<string, ClientHeaderValue>;
  /** The Origin header (Sec-WebSocket-Origin with protocolVersion 8); none by default. */
  origin?: string;
  /** The Sec-WebSocket-Version sent: 13 (default) or 8. */
  protocolVersion?: number;
  /** Milliseconds for each request of the opening handshake (a redirect starts a new one); default 10 s; 0 for none. */
  handshakeTimeout?: number;
  /** Largest response head accepted, in bytes (node:http's maxHeaderSize); default 16 KiB. */
  maxHeaderSize?: number;
  /** Follow a 3xx answer that has a Location header; default false. */
  followRedirects?: boolean;
  /** Most redirects followed in one handshake; default 10. */
  maxRedirects?: number;
  /**
   * Offer permessage-deflate (RFC 7692): `true` for the defaults, or the
   * settings; default true, as browsers do. Used only if the server accepts.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** An http.Agent (https.Agent for wss:) that opens the connection: a proxy tunnel, say; default none (a direct connection). */
  agent?: http.RequestOptions['agent'];
  /** "user:password" sent as Authorization: Basic (credentials in the URL do the same). */
  auth?: http.RequestOptions['auth'];
  /** Resolves the host name instead of dns.lookup. */
  lookup?: http.RequestOptions['lookup'];
  /** Local address to connect from. */
  localAddress?: string;
  /** 4 or 6 to force an address family for the host name lookup. */
  family?: number;
  /** Opens the transport (http.request's option): called with the request options, returns any Duplex. */
  createConnection?: (
    options: http.ClientRequestArgs,
    oncreate: (error: Error | null, socket: Duplex) => void,
  ) => Duplex | null | undefined;
  /** Called with the request and the WebSocket in place of `request.end()`, which it must call. */
  finishRequest?(request: http.ClientRequest, websocket: Socket): void;
  /**
   * Open the WebSocket as a stream of an HTTP/2 connection (RFC 8441) when
   * the server allows it, else over HTTP/1.1. `true`: for wss: URLs
   * without `agent` or `createConnection`, on a connection netws shares
   * among the WebSockets to the same origin (ALPN picks the protocol); a
   * ClientHttp2Session: on that session, which stays the caller's. Default
   * false.
   */
  http2?: boolean | ClientHttp2Session;
}

/** The client options the handshake reads, with every default applied. */
export interface ResolvedClientOptions {
  /** 0: no timeout. */
  handshakeTimeout: number;
  maxHeaderSize: number;
  followRedirects: boolean;
  maxRedirects: number;
  protocolVersion: 8 | 13;
  origin: string | undefined;
  /** Names and values as given, checked with node:http's rules. */
  headers: Array<[string, ClientHeaderValue]>;
  perMessageDeflate: boolean | PerMessageDeflateOptions;
  createConnection: ClientOptions['createConnection'];
  finishRequest: ClientOptions['finishRequest'];
  /** false: HTTP/1.1 only. */
  http2: boolean | ClientHttp2Session;
}

/** The `headers` option: a plain object whose names and values node:http would accept. */
function headersOption(options: Options): Array<[string, ClientHeaderValue]> {
  const value = options.headers;
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`The "headers" option must be an object, not ${Array.isArray(value) ? 'an array' : describe(value)}`);
  }
  const headers = Object.entries(value as Record<string, ClientHeaderValue>);
  for (const [name, header] of headers) {
    validateHeaderName(name);
    for (const one of Array.isArray(header) ? header : [header]) validateHeaderValue(name, one);
  }
  return headers;
}

/** The `http2` option: a boolean, or a session (anything with request() and remoteSettings, duck-typed). */
function http2Option(options: Options): boolean | ClientHttp2Session {
  const value = options.http2;
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  const session = value as Partial<ClientHttp2Session>;
  if (typeof value !== 'object' || typeof session.request !== 'function' || typeof session.ping !== 'function') {
    throw new TypeError(`The "http2" option must be a boolean or a ClientHttp2Session, not ${describe(value)}`);
  }
  return value as ClientHttp2Session;
}

/**
 * A client's handshake options with every default applied and every value
 * checked; ws's meanings (handshakeTimeout 0: none). The connection options
 * are resolveConnectionOptions's; everything else is node:http's and is
 * checked by http.request itself.
 */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const raw = options as Options;
  const protocolVersion = raw.protocolVersion;
  if (protocolVersion !== undefined && protocolVersion !== 8 && protocolVersion !== 13) {
    throw new RangeError(`Unsupported protocol version: ${protocolVersion} (supported versions: 8, 13)`);
  }
  return {
    handshakeTimeout: numberOption(raw, 'handshakeTimeout', DEFAULT_HANDSHAKE_TIMEOUT, { min: 0, max: MAX_TIMER }),
    maxHeaderSize: numberOption(raw, 'maxHeaderSize', DEFAULT_MAX_HEADER_SIZE, { min: 1 }),
    followRedirects: booleanOption(raw, 'followRedirects', false),
    maxRedirects: numberOption(raw, 'maxRedirects', DEFAULT_MAX_REDIRECTS, { min: 0 }),
    protocolVersion: (protocolVersion ?? 13) as 8 | 13,
    origin: stringOption(raw, 'origin'),
    headers: headersOption(raw),
    perMessageDeflate: (raw.perMessageDeflate === undefined ? true : raw.perMessageDeflate) as boolean | PerMessageDeflateOptions,
    createConnection: functionOption(raw, 'createConnection'),
    finishRequest: functionOption(raw, 'finishRequest'),
    http2: http2Option(raw),
  };
}

/**
 * The client constructor's `(address, protocols, options)` as ws reads
 * them: options in place of the protocols, or `options.protocols`. Only a
 * missing argument means none: ws takes null as one subprotocol (and refuses it).
 */
export function clientArguments<O extends { protocols?: string | string[] }>(
  protocols: string | string[] | O | undefined,
  options: O | undefined,
): { protocols: string | string[]; options: O } {
  if (protocols !== undefined && protocols !== null && typeof protocols === 'object' && !Array.isArray(protocols)) {
    options = protocols;
    protocols = undefined;
  }
  const resolved = options ?? ({} as O);
  const list = protocols === undefined ? resolved.protocols : (protocols as string | string[]);
  return { protocols: list === undefined ? [] : list, options: resolved };
}
