/**
 * RFC 8441's opening handshake: a WebSocket is one HTTP/2 stream, opened by
 * an extended CONNECT (`:method CONNECT`, `:protocol websocket`) and
 * accepted with a 2xx response; no key, no accept, no Upgrade. Pure
 * functions over header objects as node:http2 gives and takes them; the
 * streams live in src/http2/.
 */

import { STATUS_CODES } from 'node:http';
import { WebSocketError } from './errors.ts';
import {
  checkAcceptedFields,
  checkWebSocketFields,
  computeAccept,
  isRejection,
  type AcceptedResponse,
  type HandshakeRejection,
  type HeaderRecord,
  type HeaderValue,
  type OfferedFields,
} from './handshake.ts';
import { isToken } from './headers.ts';

/** The `:protocol` of a WebSocket (RFC 8441 section 4, from the HTTP Upgrade Token registry). */
export const WEBSOCKET_PROTOCOL = 'websocket';

/** HTTP/2 header objects: lowercase names; pseudo-headers start with ':'. */
export type Http2HeaderRecord = Record<string, string | string[] | number | undefined>;

/** An accepted extended CONNECT: what was offered, and undici's key (see connectResponseHeaders). */
export interface ConnectRequest extends OfferedFields {
  key: string | undefined;
}

/** One field as text (the pseudo-headers and the key this file reads are single values in node:http2's headers). */
function single(headers: Http2HeaderRecord, name: string): string | undefined {
  const value = headers[name];
  return value === undefined ? undefined : String(value);
}

/** Whether an HTTP/2 request asks for a WebSocket: a CONNECT whose `:protocol` is websocket. */
export function isWebSocketConnect(headers: Http2HeaderRecord): boolean {
  return headers[':method'] === 'CONNECT' && single(headers, ':protocol')?.toLowerCase() === WEBSOCKET_PROTOCOL;
}

/**
 * Checks an extended CONNECT (RFC 8441 sections 4 and 5). The statuses are
 * the ones an HTTP/1.1 upgrade gets for the same mistake: a wrong method is
 * 405, a missing or foreign `:protocol` 400 (as a missing or foreign
 * Upgrade header in ws), and the Sec-WebSocket-* fields are checked exactly
 * as on HTTP/1.1.
 */
export function checkConnectRequest(headers: Http2HeaderRecord): ConnectRequest | HandshakeRejection {
  if (headers[':method'] !== 'CONNECT') {
    return { status: 405, message: 'A WebSocket over HTTP/2 is opened with an extended CONNECT (RFC 8441)', headers: { Allow: 'CONNECT' } };
  }
  const protocol = single(headers, ':protocol');
  if (protocol === undefined) {
    return { status: 400, message: 'Missing :protocol pseudo-header: expected "websocket" (RFC 8441)' };
  }
  if (protocol.toLowerCase() !== WEBSOCKET_PROTOCOL) {
    return { status: 400, message: 'Invalid :protocol pseudo-header: expected "websocket"' };
  }
  // nghttp2 already refuses an extended CONNECT without them (RFC 8441 section 4); a request built by hand may lack them.
  if (!single(headers, ':path') || !single(headers, ':authority')) {
    return { status: 400, message: 'An extended CONNECT needs :path and :authority' };
  }
  const fields = checkWebSocketFields(headers as HeaderRecord);
  if (isRejection(fields)) return fields;
  return { ...fields, key: single(headers, 'sec-websocket-key') };
}

/**
 * The headers of the 200 accepting a WebSocket. RFC 8441 uses neither
 * Sec-WebSocket-Key nor -Accept, but undici 7 sends a key over HTTP/2 and
 * fails the connection unless the answer carries its accept value: it is
 * added whenever a key came, which costs nothing and lets undici connect.
 */
export function connectResponseHeaders(
  key: string | undefined,
  protocol: string | undefined,
  extensions: string | undefined,
): Record<string, string | number> {
  const headers: Record<string, string | number> = { ':status': 200 };
  if (protocol) headers['sec-websocket-protocol'] = protocol;
  if (extensions) headers['sec-websocket-extensions'] = extensions;
  if (key !== undefined) headers['sec-websocket-accept'] = computeAccept(key);
  return headers;
}

/**
 * HTTP/1.1 fields with no meaning in HTTP/2, which node:http2 refuses to
 * send (RFC 9113 section 8.2.2): dropped from refusals and 'headers' lines.
 */
const CONNECTION_SPECIFIC = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'http2-settings']);

/** Adds one header field to an HTTP/2 header object (lowercase name; repeated names become a list). */
function addField(headers: Record<string, string | number | string[]>, name: string, value: string): void {
  const lower = name.toLowerCase();
  if (CONNECTION_SPECIFIC.has(lower) || lower.startsWith(':')) return;
  const previous = headers[lower];
  if (previous === undefined) headers[lower] = value;
  else if (Array.isArray(previous)) previous.push(value);
  else headers[lower] = [String(previous), value];
}

/**
 * Whether a field name is one node:http2 refuses to send (no HTTP token: a space, say). Checked before
 * respond(): Bun's respond() throws on it as Node's does, but the session's later HEADERS then fail at the peer
 * (a connection error for every stream on it, seen on Bun 1.4.5).
 */
export function hasUnsendableField(headers: Record<string, unknown>): boolean {
  for (const name of Object.keys(headers)) if (!name.startsWith(':') && !isToken(name)) return true;
  return false;
}

/** The headers of an HTTP/2 response refusing a handshake with `status`, its body `byteLength` bytes of text. */
export function refusalHeaders(
  status: number,
  byteLength: number,
  extra: Record<string, HeaderValue> = {},
): Record<string, string | number | string[]> {
  const headers: Record<string, string | number | string[]> = { ':status': status };
  for (const [name, value] of Object.entries(extra)) {
    for (const one of Array.isArray(value) ? value : [value]) addField(headers, name, String(one));
  }
  headers['content-type'] = 'text/plain; charset=utf-8';
  headers['content-length'] = byteLength;
  return headers;
}

/** The text of a refusal: the message, or the status's reason phrase. */
export function refusalBody(status: number, message: string | undefined): string {
  return message || STATUS_CODES[status] || 'Error';
}

/**
 * The 'headers' event's lines for an HTTP/2 answer: a status line and one
 * "name: value" line per field, as on HTTP/1.1, so a listener that adds
 * lines (Set-Cookie, say) works on both transports.
 */
export function responseLines(headers: Record<string, string | number>): string[] {
  const lines = [`HTTP/2 ${headers[':status']}`];
  for (const [name, value] of Object.entries(headers)) if (!name.startsWith(':')) lines.push(`${name}: ${value}`);
  return lines;
}

/** Reads 'headers' lines back into an HTTP/2 header object; lines without a colon are skipped. */
export function linesToHeaders(status: number, lines: readonly string[]): Record<string, string | number | string[]> {
  const headers: Record<string, string | number | string[]> = { ':status': status };
  for (let i = 1; i < lines.length; i++) {
    const line = String(lines[i]);
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    addField(headers, line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return headers;
}

export interface ConnectRequestOptions {
  /** Path and query. */
  path: string;
  /** Host, and port when it is not the scheme's default. */
  authority: string;
  scheme: 'https' | 'http';
  version: number;
  protocols: readonly string[];
  extensions: string | undefined;
  /** More fields (the user's headers, Origin, Authorization); their names in any case. */
  fields: Iterable<[string, HeaderValue]>;
}

/**
 * The header block of a client's extended CONNECT (RFC 8441 section 5): no
 * Sec-WebSocket-Key. A user's Host field becomes `:authority`; fields
 * HTTP/2 cannot carry are left out.
 */
export function buildConnectHeaders(options: ConnectRequestOptions): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  let authority = options.authority;
  for (const [name, value] of options.fields) {
    const lower = name.toLowerCase();
    if (lower === 'host') {
      authority = String(Array.isArray(value) ? value[0] : value);
      continue;
    }
    for (const one of Array.isArray(value) ? value : [value]) addField(headers as Record<string, string | string[]>, lower, String(one));
  }
  headers[':method'] = 'CONNECT';
  headers[':protocol'] = WEBSOCKET_PROTOCOL;
  headers[':scheme'] = options.scheme;
  headers[':path'] = options.path || '/';
  headers[':authority'] = authority;
  // The handshake's own fields win over the user's, as on HTTP/1.1.
  headers['sec-websocket-version'] = String(options.version);
  if (options.protocols.length > 0) headers['sec-websocket-protocol'] = options.protocols.join(', ');
  if (options.extensions) headers['sec-websocket-extensions'] = options.extensions;
  return headers;
}

/**
 * Checks a server's answer to an extended CONNECT: any 2xx opens the
 * WebSocket (RFC 8441 section 5); the subprotocol and extensions must be
 * among those offered. Throws a WebSocketError otherwise.
 */
export function checkConnectResponse(
  headers: Http2HeaderRecord,
  offeredProtocols: readonly string[],
  offeredExtensions: readonly string[],
): AcceptedResponse {
  const status = Number(headers[':status']);
  if (!(status >= 200 && status <= 299)) {
    throw new WebSocketError('WS_ERR_UNEXPECTED_RESPONSE', `Unexpected server response: ${status}`, { statusCode: status });
  }
  return checkAcceptedFields(status, headers as HeaderRecord, offeredProtocols, offeredExtensions);
}
