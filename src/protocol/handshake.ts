/**
 * The opening handshake (RFC 6455 section 4): key and accept values, checking
 * an upgrade request on the server, building and checking it on the client.
 * Pure functions over header values; the HTTP transport lives elsewhere.
 */

import { createHash, randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { WebSocketError } from './errors.ts';
import { isToken, parseExtensions, parseSubprotocols, tokenListIncludes, type ExtensionOffer } from './headers.ts';

/** The fixed GUID of 4.2.2 appended to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const WEBSOCKET_VERSION = '13';

/** Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). */
export function computeAccept(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
}

/** A client key: 16 random bytes, base64-encoded (4.1). */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

/** 16 bytes in base64 are always 22 significant characters and "==". */
export function isValidKey(key: string | undefined): key is string {
  if (key === undefined || key.length !== 24 || !key.endsWith('==')) return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    const base64 = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
    if (!base64) return false;
  }
  // The last significant character carries only 2 bits: A, Q, g or w.
  return 'AQgw'.includes(key[21]);
}

/** Headers as node:http gives them: lowercase names, repeated values joined. */
export type HeaderRecord = Record<string, string | string[] | undefined>;

function single(headers: HeaderRecord, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The HTTP answer to a refused upgrade. */
export interface HandshakeRejection {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

export interface AcceptedRequest extends OfferedFields {
  key: string;
}

export interface UpgradeRequestLike {
  method?: string;
  httpVersion?: string;
  headers: HeaderRecord;
}

/**
 * Checks a client's opening handshake (4.2.1); a rejection says what to
 * answer, in ws's words where ws refuses the same. As tolerant as ws: the
 * request's HTTP version and its Host header are not checked (RFC 6455
 * asks for HTTP/1.1 and a Host, but nothing depends on them here, and
 * test harnesses such as fastify's injectWS send neither).
 */
export function checkUpgradeRequest(req: UpgradeRequestLike, ownListener = false): AcceptedRequest | HandshakeRejection {
  const headers = req.headers;
  if (req.method !== 'GET') {
    return { status: 405, message: 'Invalid HTTP method', headers: { Allow: 'GET' } };
  }
  const upgrade = single(headers, 'upgrade');
  // A plain request on our own port is answered as ws's HTTP server answers it;
  // a request handed to handleUpgrade() without the field is refused as ws refuses it.
  if (upgrade === undefined && ownListener) {
    return {
      status: 426,
      message: 'This endpoint only speaks WebSocket',
      headers: { Upgrade: 'websocket', Connection: 'Upgrade' },
    };
  }
  if (upgrade === undefined || !tokenListIncludes(upgrade, 'websocket')) {
    return { status: 400, message: 'Invalid Upgrade header' };
  }
  if (!tokenListIncludes(single(headers, 'connection'), 'upgrade')) {
    return { status: 400, message: 'Invalid Connection header' };
  }
  const key = single(headers, 'sec-websocket-key');
  if (!isValidKey(key)) {
    return { status: 400, message: 'Missing or invalid Sec-WebSocket-Key header' };
  }
  const fields = checkWebSocketFields(headers);
  return isRejection(fields) ? fields : { key, ...fields };
}

/** What both handshakes (HTTP/1.1 upgrade, HTTP/2 extended CONNECT) offer in their header fields. */
export interface OfferedFields {
  /** Offered subprotocols in the client's order of preference. */
  protocols: string[];
  extensions: ExtensionOffer[];
}

/**
 * The header fields RFC 6455 and RFC 8441 share: Sec-WebSocket-Version,
 * -Protocol and -Extensions, checked the same way on both transports.
 */
export function checkWebSocketFields(headers: HeaderRecord): OfferedFields | HandshakeRejection {
  const version = single(headers, 'sec-websocket-version');
  // Version 8 (the last hybi draft) frames exactly as 13 does; ws accepts it
  // too, and reads the field as a number (a harness may give one: 13).
  const number = version === undefined ? Number.NaN : Number(version);
  if (number !== 13 && number !== 8) {
    return {
      status: version === undefined ? 400 : 426,
      message: 'Missing or invalid Sec-WebSocket-Version header',
      headers: { 'Sec-WebSocket-Version': `${WEBSOCKET_VERSION}, 8` },
    };
  }
  const protocolHeader = single(headers, 'sec-websocket-protocol');
  const protocols = protocolHeader === undefined ? [] : parseSubprotocols(protocolHeader);
  if (protocols === null) {
    return { status: 400, message: 'Invalid Sec-WebSocket-Protocol header' };
  }
  const extensionHeader = single(headers, 'sec-websocket-extensions');
  const extensions = extensionHeader === undefined ? [] : parseExtensions(extensionHeader);
  if (extensions === null) {
    return { status: 400, message: 'Invalid Sec-WebSocket-Extensions header' };
  }
  return { protocols, extensions };
}

export function isRejection<T extends object>(result: T | HandshakeRejection): result is HandshakeRejection {
  return 'status' in result;
}

/** Refuses CR, LF and NUL so a header value cannot smuggle in another header. */
function assertHeader(name: string, value: string): void {
  if (!isToken(name)) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x00) {
      throw new TypeError(`Invalid value for header ${name}`);
    }
  }
}

/** Header values as users give them: a string, a number, or several values (one line each). */
export type HeaderValue = string | number | readonly string[];

function formatHeaders(lines: string[], headers: Iterable<[string, HeaderValue]>): void {
  for (const [name, value] of headers) {
    for (const one of Array.isArray(value) ? value : [value]) {
      const text = String(one);
      assertHeader(name, text);
      lines.push(`${name}: ${text}`);
    }
  }
}

/**
 * The lines of the 101 response completing a handshake, without the blank
 * line that ends the head (a server may add header lines first).
 */
export function acceptResponseLines(key: string, protocol: string | undefined, extensions: string | undefined): string[] {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${computeAccept(key)}`,
  ];
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  if (extensions) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  return lines;
}

/** A complete HTTP response refusing the upgrade, with a plain-text body. */
export function buildRejectResponse(status: number, message: string, headers: Record<string, HeaderValue> = {}): string {
  const body = Buffer.from(message, 'utf8');
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`];
  const entries = Object.entries(headers);
  // One Connection line: the caller's (426 says "Upgrade"), else ours.
  if (!entries.some(([name]) => name.toLowerCase() === 'connection')) lines.push('Connection: close');
  formatHeaders(lines, entries);
  lines.push('Content-Type: text/plain; charset=utf-8', `Content-Length: ${body.length}`);
  return lines.join('\r\n') + '\r\n\r\n' + message;
}

export interface UpgradeRequestOptions {
  /** Request target: path and query. */
  path: string;
  /** Host header value, with the port when it is not the default. */
  host: string;
  key: string;
  protocols: string[];
  origin?: string;
  extensions?: string;
  headers?: Iterable<[string, HeaderValue]>;
}

/** The client's opening handshake (4.1). */
export function buildUpgradeRequest(options: UpgradeRequestOptions): string {
  const lines = [
    `GET ${options.path} HTTP/1.1`,
    `Host: ${options.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${options.key}`,
    `Sec-WebSocket-Version: ${WEBSOCKET_VERSION}`,
  ];
  if (options.protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${options.protocols.join(', ')}`);
  if (options.extensions) lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  const extra: Array<[string, HeaderValue]> = [];
  if (options.origin !== undefined) extra.push(['Origin', options.origin]);
  if (options.headers) extra.push(...options.headers);
  formatHeaders(lines, extra);
  return lines.join('\r\n') + '\r\n\r\n';
}

export interface AcceptedResponse {
  protocol: string;
  extensions: ExtensionOffer[];
}

/**
 * Checks the server's answer (4.1, "the client MUST validate"). Anything
 * other than a correct 101 throws a WebSocketError and the caller fails the
 * connection.
 */
export function checkUpgradeResponse(
  status: number,
  headers: HeaderRecord,
  key: string,
  offeredProtocols: readonly string[],
  offeredExtensions: readonly string[] = [],
): AcceptedResponse {
  if (status !== 101) {
    throw new WebSocketError('WS_ERR_UNEXPECTED_RESPONSE', `Unexpected server response: ${status}`, {
      statusCode: status,
    });
  }
  const fail = (code: string, message: string): never => {
    throw new WebSocketError(code, message, { statusCode: status });
  };
  if (!tokenListIncludes(single(headers, 'upgrade'), 'websocket')) {
    fail('WS_ERR_INVALID_UPGRADE', 'Invalid Upgrade header');
  }
  if (!tokenListIncludes(single(headers, 'connection'), 'upgrade')) {
    fail('WS_ERR_INVALID_UPGRADE', 'Invalid Connection header in the server response');
  }
  if (single(headers, 'sec-websocket-accept') !== computeAccept(key)) {
    fail('WS_ERR_INVALID_ACCEPT', 'Invalid Sec-WebSocket-Accept header');
  }
  return checkAcceptedFields(status, headers, offeredProtocols, offeredExtensions);
}

/**
 * The subprotocol and extensions a server's answer selects, checked against
 * what was offered (both transports); throws a WebSocketError otherwise.
 */
export function checkAcceptedFields(
  status: number,
  headers: HeaderRecord,
  offeredProtocols: readonly string[],
  offeredExtensions: readonly string[],
): AcceptedResponse {
  const fail = (code: string, message: string): never => {
    throw new WebSocketError(code, message, { statusCode: status });
  };
  const protocol = single(headers, 'sec-websocket-protocol');
  if (protocol !== undefined && !offeredProtocols.includes(protocol)) {
    const message =
      offeredProtocols.length === 0 ? 'Server sent a subprotocol but none was requested' : 'Server sent an invalid subprotocol';
    fail('WS_ERR_INVALID_SUBPROTOCOL', message);
  }
  const extensionHeader = single(headers, 'sec-websocket-extensions');
  let extensions: ExtensionOffer[] = [];
  if (extensionHeader !== undefined) {
    if (offeredExtensions.length === 0) {
      fail('WS_ERR_INVALID_EXTENSION', 'Server sent a Sec-WebSocket-Extensions header but no extension was requested');
    }
    const parsed = parseExtensions(extensionHeader);
    if (parsed === null) fail('WS_ERR_INVALID_EXTENSION', 'Invalid Sec-WebSocket-Extensions header');
    extensions = parsed!;
    for (const extension of extensions) {
      if (!offeredExtensions.includes(extension.name))
        fail('WS_ERR_INVALID_EXTENSION', 'Server indicated an extension that was not requested');
    }
  }
  return { protocol: protocol ?? '', extensions };
}
