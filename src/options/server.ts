/** WebSocketServer's own options (beyond the connection's), their defaults and checks. */

import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TopicAdapter } from '../adapters/interface.ts';
import type { PerMessageDeflateOptions } from '../protocol/permessage-deflate.ts';
import { resolveConnectionOptions, type ConnectionOptions, type ResolvedConnectionOptions } from './connection.ts';
import { booleanOption, describe, functionOption, millisecondsOption, numberOption, stringOption, type Options } from './values.ts';

export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
export const DEFAULT_MAX_HEADER_COUNT = 100;

/** What a server needs of a request: node:http's IncomingMessage fits. */
export interface UpgradeRequest {
  method?: string;
  url?: string;
  httpVersion?: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders?: string[];
  socket?: Duplex;
}

export interface VerifyClientInfo {
  /** The Origin (or Sec-WebSocket-Origin) header; typed `string` as in @types/ws, undefined when the request has none. */
  origin: string;
  secure: boolean;
  /** node's IncomingMessage (over HTTP/2, node's Http2ServerRequest, which reads the same: see toHttp2Request). */
  req: IncomingMessage;
}

export type VerifyClientCallback = (
  result: boolean,
  code?: number,
  message?: string,
  headers?: Record<string, string | number | readonly string[]>,
) => void;

/** verifyClient answering at once: true accepts, false refuses with 401. */
export type VerifyClientCallbackSync = (info: VerifyClientInfo) => boolean;
/** verifyClient answering later, through `callback`. */
export type VerifyClientCallbackAsync = (info: VerifyClientInfo, callback: VerifyClientCallback) => void;

export interface ServerOptions extends ConnectionOptions {
  /** Listen on this port with netws' own node:net server. */
  port?: number;
  host?: string;
  backlog?: number;
  /** Take upgrades from this node:http or node:https server. */
  server?: EventEmitter;
  /** Take upgrades only through handleUpgrade(). */
  noServer?: boolean;
  /** Accept only this request path (the query string is ignored); others get 400, as in ws. */
  path?: string;
  /** Picks the subprotocol; default: the client's first. Return false for none. */
  handleProtocols?: (protocols: Set<string>, req: IncomingMessage) => string | false;
  /** Accepts or rejects a handshake, synchronously (return) or with the callback. */
  verifyClient?: VerifyClientCallbackSync | VerifyClientCallbackAsync;
  /** Milliseconds for the whole opening handshake (request head and verifyClient); default 10 s. */
  handshakeTimeout?: number;
  /** Standalone only: largest request head in bytes; default 16 KiB. */
  maxHeaderSize?: number;
  /** Standalone only: most header lines; default 100. */
  maxHeaderCount?: number;
  /** Keep connected clients in `clients`; default true. */
  clientTracking?: boolean;
  /**
   * Accept permessage-deflate (RFC 7692) when a client offers it: `true`
   * for the defaults, or the settings. Default false: compression costs
   * memory and CPU per connection, so it is opt-in.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** The class of server-side connections: WebSocket or a subclass (as in ws). */
  WebSocket?: new (
    address: null,
    protocols?: undefined,
    options?: ServerOptions,
  ) => object;
  /**
   * Shares topics with other servers: publish() reaches their subscribers
   * too (netws/redis's RedisAdapter, or InProcessBus's adapters). Default
   * none: topics stay in this server. Can be changed later (`wss.adapter`).
   */
  adapter?: TopicAdapter | null;
}

export interface ResolvedServerOptions extends ResolvedConnectionOptions {
  port: number | undefined;
  host: string | undefined;
  backlog: number | undefined;
  server: EventEmitter | undefined;
  noServer: boolean;
  path: string | undefined;
  handleProtocols: ServerOptions['handleProtocols'];
  verifyClient: ServerOptions['verifyClient'];
  handshakeTimeout: number;
  maxHeaderSize: number;
  maxHeaderCount: number;
  clientTracking: boolean;
  /** As given; checked by compression/settings.ts, the option's one check, when the server is made. */
  perMessageDeflate: boolean | PerMessageDeflateOptions;
  adapter: TopicAdapter | null;
}

/**
 * The `adapter` option (and `wss.adapter = value`): an object with
 * TopicAdapter's methods, or null; undefined gives null.
 */
export function checkAdapter(value: unknown): TopicAdapter | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object') throw new TypeError(`An adapter must be an object, not ${describe(value)}`);
  for (const name of ['attach', 'detach', 'subscribe', 'unsubscribe', 'publish']) {
    if (typeof (value as Options)[name] !== 'function') {
      throw new TypeError(`An adapter must have a ${name}() method (see TopicAdapter)`);
    }
  }
  return value as TopicAdapter;
}

/** A port: a number 0-65535, or its decimal string (an environment variable passed on as it is). */
function portOption(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const port = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value;
  return numberOption({ port }, 'port', 0, { min: 0, max: 65_535, strict: true });
}

/**
 * A server's options with every default applied and every value checked.
 * Exactly one of `port`, `server` and `noServer` must be given (null and
 * undefined count as not given, as in ws).
 */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  // No options at all reads as no mode given, in ws's words.
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('One and only one of the "port", "server", or "noServer" options must be specified');
  }
  const raw = options as Options;
  const port = portOption(raw.port);
  const server = (raw.server ?? undefined) as EventEmitter | undefined;
  const noServer = raw.noServer === null ? false : booleanOption(raw, 'noServer', false);
  const modes = Number(port !== undefined) + Number(server !== undefined) + Number(noServer);
  if (modes !== 1) {
    throw new TypeError('One and only one of the "port", "server", or "noServer" options must be specified');
  }
  if (server !== undefined && typeof server.on !== 'function') {
    throw new TypeError('The "server" option must be a node:http or node:https server');
  }
  return {
    ...resolveConnectionOptions(options),
    port,
    host: stringOption(raw, 'host'),
    backlog: raw.backlog === null ? undefined : numberOption(raw, 'backlog', 0, { min: 0 }) || undefined,
    server,
    noServer,
    path: stringOption(raw, 'path'),
    handleProtocols: functionOption(raw, 'handleProtocols'),
    verifyClient: functionOption(raw, 'verifyClient'),
    handshakeTimeout: millisecondsOption(raw, 'handshakeTimeout', DEFAULT_HANDSHAKE_TIMEOUT),
    maxHeaderSize: numberOption(raw, 'maxHeaderSize', DEFAULT_MAX_HEADER_SIZE, { min: 1 }),
    maxHeaderCount: numberOption(raw, 'maxHeaderCount', DEFAULT_MAX_HEADER_COUNT, { min: 1 }),
    clientTracking: booleanOption(raw, 'clientTracking', true),
    perMessageDeflate: (raw.perMessageDeflate === undefined ? false : raw.perMessageDeflate) as boolean | PerMessageDeflateOptions,
    adapter: checkAdapter(raw.adapter),
  };
}
