/**
 * Where a client connects: the URL given to the constructor (or a redirect's
 * Location) read as ws reads it, and the subprotocol list checked.
 */

import querystring from 'node:querystring';
import { isToken } from '../protocol/headers.ts';

/** One request target of the opening handshake. */
export interface Target {
  /** ws:, wss: or ws+unix: (http: and https: are mapped to ws: and wss:); its href is `ws.url`. */
  url: URL;
  secure: boolean;
  /** The UNIX domain socket of a ws+unix: URL, else undefined. */
  socketPath: string | undefined;
  /** Host name or address, IPv6 without its brackets ('' for ws+unix:). */
  host: string;
  /** As written in the URL, '' for the scheme's default. */
  port: string;
  /** Path and query: the request target. */
  path: string;
  /** "user:password" from the URL, percent-decoded, or undefined. */
  credentials: string | undefined;
}

const BAD_SCHEME = 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"';

/** Parses an address as the WebSocket constructor takes it (a string or a URL); null if it is no URL. */
export function toUrl(address: unknown, base?: URL): URL | null {
  try {
    return new URL(address as string, base);
  } catch {
    return null;
  }
}

/**
 * The target of `url`, or why it cannot be one (the constructor throws that
 * as a SyntaxError; a redirect fails the handshake with it).
 */
export function toTarget(parsed: URL): Target | string {
  const url = new URL(parsed.href);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  const ipc = url.protocol === 'ws+unix:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:' && !ipc) return BAD_SCHEME;
  if (ipc && url.pathname === '') return "The URL's pathname is empty";
  if (url.hash !== '') return 'The URL contains a fragment identifier';
  let path = url.pathname + url.search;
  let socketPath: string | undefined;
  if (ipc) {
    // ws+unix:/path/to/socket:/request/path — the first colon ends the socket path.
    const colon = path.indexOf(':');
    socketPath = colon === -1 ? path : path.slice(0, colon);
    path = colon === -1 ? '' : path.slice(colon + 1);
  }
  const hostname = url.hostname;
  const credentials =
    url.username !== '' || url.password !== '' ? `${querystring.unescape(url.username)}:${querystring.unescape(url.password)}` : undefined;
  return {
    url,
    secure: url.protocol === 'wss:',
    socketPath,
    host: hostname.startsWith('[') ? hostname.slice(1, -1) : hostname,
    port: url.port,
    path,
    credentials,
  };
}

/** Why a subprotocol list is invalid (empty, not a token, or repeated), or null if it is fine. */
export function checkProtocols(list: readonly unknown[]): string | null {
  const seen = new Set<string>();
  for (const protocol of list) {
    // ws's words for both.
    if (typeof protocol !== 'string' || !isToken(protocol) || seen.has(protocol))
      return 'An invalid or duplicated subprotocol was specified';
    seen.add(protocol);
  }
  return null;
}
