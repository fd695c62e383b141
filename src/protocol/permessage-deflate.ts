/**
 * permessage-deflate negotiation (RFC 7692 section 7): which offer a server
 * accepts and what it answers, what a client offers, and whether the
 * server's answer fits that offer. Pure data in and out; the zlib streams
 * live in src/compression/, which also checks the options (settings.ts).
 */

import { WebSocketError } from './errors.ts';
import { formatExtensions, type ExtensionOffer } from './headers.ts';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/**
 * Both context-takeover options default to true: each message is compressed
 * on its own, so no connection keeps zlib state between messages and idle
 * streams are shared per server (about 40 KiB per connection instead of
 * about 330 KiB, see bench/deflate-memory.ts). Set both to false for better
 * ratios on streams of small, similar messages, at that memory cost.
 */
export interface PerMessageDeflateOptions {
  /** Server: reset the server's compressor after every message. Client: ask the server to. Default true. */
  serverNoContextTakeover?: boolean;
  /** Server: ask the client to reset its compressor. Client: reset ours. Default true. */
  clientNoContextTakeover?: boolean;
  /**
   * Largest LZ77 window of the server's compressor, 8-15 bits. `true` is the
   * default; on a server, `false` declines offers that limit the server's
   * window (as in ws).
   */
  serverMaxWindowBits?: number | boolean;
  /**
   * Largest LZ77 window of the client's compressor, 8-15 bits. `true` is the
   * default; `false`: a client does not offer the parameter, a server does
   * not limit the client's window.
   */
  clientMaxWindowBits?: number | boolean;
  /** Messages smaller than this many bytes are sent uncompressed when our side keeps no context; default 1024. */
  threshold?: number;
  /** zlib compression level, 0-9; default 6 (overrides `zlibDeflateOptions.level`). */
  level?: number;
  /** zlib memLevel, 1-9; default 8 (overrides `zlibDeflateOptions.memLevel`). */
  memLevel?: number;
  /** Options passed to zlib's deflate streams (ws's name); `windowBits` is negotiated and ignored. */
  zlibDeflateOptions?: Record<string, unknown>;
  /** Options passed to zlib's inflate streams (ws's name); `windowBits` is negotiated and ignored. */
  zlibInflateOptions?: Record<string, unknown>;
  /** zlib jobs running at once for one server (or a client); default 10. ws's name for `concurrency`. */
  concurrencyLimit?: number;
  /** Same as `concurrencyLimit`. */
  concurrency?: number;
}

/** What one connection uses, seen from our side. */
export interface DeflateParams {
  /** Reset our compressor after each message (no context takeover). */
  sendNoContextTakeover: boolean;
  /** Window of our compressor, 8-15 bits. */
  sendWindowBits: number;
  /** The peer resets its compressor after each message, so our decompressor can too. */
  receiveNoContextTakeover: boolean;
  /** Window the peer's compressor may use, 8-15 bits. */
  receiveWindowBits: number;
}

export interface AcceptedDeflate {
  /** The Sec-WebSocket-Extensions value of the response. */
  header: string;
  params: DeflateParams;
}

const MAX_WINDOW_BITS = 15;

/** A window-bits value: a decimal integer 8-15 written without leading zeros (7.1.2). */
function windowBits(value: string | true): number | null {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) return null;
  return Number(value);
}

/**
 * A window-bits option as a number, or undefined for the default (unset or
 * a boolean). The options were checked when the server or client was made
 * (compression/settings.ts).
 */
function ownWindowBits(value: number | boolean | undefined): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

/**
 * Server side: the first acceptable permessage-deflate offer, with the
 * answer to send, or null when none is acceptable. An offer with an unknown
 * or repeated parameter, or an invalid value, is declined (7.1), not fatal:
 * the next offer is tried, and without one the connection is uncompressed.
 */
export function acceptDeflateOffer(offers: ExtensionOffer[], options: PerMessageDeflateOptions): AcceptedDeflate | null {
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const accepted = acceptOne(offer, options);
    if (accepted !== null) return accepted;
  }
  return null;
}

function acceptOne(offer: ExtensionOffer, options: PerMessageDeflateOptions): AcceptedDeflate | null {
  if (offer.duplicateParams.length > 0) return null;
  let serverNoContextTakeover = options.serverNoContextTakeover !== false;
  let clientNoContextTakeover = options.clientNoContextTakeover !== false;
  let offeredServerBits: number | undefined;
  let offeredClientBits: number | true | undefined;
  for (const [name, value] of offer.params) {
    if (name === 'server_no_context_takeover' || name === 'client_no_context_takeover') {
      if (value !== true) return null;
      if (name === 'server_no_context_takeover') serverNoContextTakeover = true;
      else clientNoContextTakeover = true;
    } else if (name === 'server_max_window_bits') {
      const bits = windowBits(value);
      if (bits === null || options.serverMaxWindowBits === false) return null;
      offeredServerBits = bits;
    } else if (name === 'client_max_window_bits') {
      // The value is optional here: without one the client only says it understands the parameter.
      const bits = value === true ? true : windowBits(value);
      if (bits === null) return null;
      offeredClientBits = bits;
    } else {
      return null;
    }
  }

  const response = new Map<string, string | true>();
  if (serverNoContextTakeover) response.set('server_no_context_takeover', true);
  if (clientNoContextTakeover) response.set('client_no_context_takeover', true);

  // Our window: never above what the client asked for (7.1.2.1); we may always choose a smaller one.
  const ownServerBits = ownWindowBits(options.serverMaxWindowBits);
  const serverBits = Math.min(offeredServerBits ?? MAX_WINDOW_BITS, ownServerBits ?? MAX_WINDOW_BITS);
  if (offeredServerBits !== undefined || ownServerBits !== undefined) {
    response.set('server_max_window_bits', String(serverBits));
  }

  // The client's window may only be limited when it sent the parameter (7.1.2.2).
  let clientBits = MAX_WINDOW_BITS;
  const ownClientBits = ownWindowBits(options.clientMaxWindowBits);
  // false: the client's window is not limited, so the parameter is left out of the answer.
  if (offeredClientBits !== undefined && options.clientMaxWindowBits !== false) {
    const offered = offeredClientBits === true ? MAX_WINDOW_BITS : offeredClientBits;
    clientBits = Math.min(offered, ownClientBits ?? MAX_WINDOW_BITS);
    if (offeredClientBits !== true || ownClientBits !== undefined) {
      response.set('client_max_window_bits', String(clientBits));
    }
  }

  return {
    header: formatExtensions([{ name: PERMESSAGE_DEFLATE, params: response }]),
    params: {
      sendNoContextTakeover: serverNoContextTakeover,
      sendWindowBits: serverBits,
      receiveNoContextTakeover: clientNoContextTakeover,
      receiveWindowBits: clientBits,
    },
  };
}

/** Client side: the Sec-WebSocket-Extensions value to offer. */
export function buildDeflateOffer(options: PerMessageDeflateOptions): string {
  const params = new Map<string, string | true>();
  if (options.serverNoContextTakeover !== false) params.set('server_no_context_takeover', true);
  if (options.clientNoContextTakeover !== false) params.set('client_no_context_takeover', true);
  const serverBits = ownWindowBits(options.serverMaxWindowBits);
  if (serverBits !== undefined) params.set('server_max_window_bits', String(serverBits));
  // Sent unless switched off, so the server may ask for a smaller client window (7.1.2.2).
  const clientBits = ownWindowBits(options.clientMaxWindowBits);
  if (options.clientMaxWindowBits !== false) params.set('client_max_window_bits', clientBits === undefined ? true : String(clientBits));
  return formatExtensions([{ name: PERMESSAGE_DEFLATE, params }]);
}

/** ws's words for any answer that does not fit the offer; what exactly is wrong is the error's `cause`. */
function invalidResponse(detail: string): WebSocketError {
  const error = new WebSocketError('WS_ERR_INVALID_EXTENSION', 'Invalid Sec-WebSocket-Extensions header');
  error.cause = new Error(`permessage-deflate: ${detail}`);
  return error;
}

/**
 * Client side: checks the server's answer against our offer and returns
 * what the connection uses. Anything the offer did not allow fails the
 * connection (7.1), so this throws a WebSocketError.
 */
export function acceptDeflateResponse(extensions: ExtensionOffer[], options: PerMessageDeflateOptions): DeflateParams | null {
  const answers = extensions.filter((extension) => extension.name === PERMESSAGE_DEFLATE);
  if (answers.length === 0) return null;
  if (answers.length > 1) throw invalidResponse('accepted more than once');
  const answer = answers[0];
  if (answer.duplicateParams.length > 0) throw invalidResponse(`repeated parameter ${answer.duplicateParams[0]}`);

  const ownServerBits = ownWindowBits(options.serverMaxWindowBits);
  const params: DeflateParams = {
    sendNoContextTakeover: options.clientNoContextTakeover !== false,
    sendWindowBits: ownWindowBits(options.clientMaxWindowBits) ?? MAX_WINDOW_BITS,
    receiveNoContextTakeover: false,
    receiveWindowBits: MAX_WINDOW_BITS,
  };
  for (const [name, value] of answer.params) {
    if (name === 'server_no_context_takeover' || name === 'client_no_context_takeover') {
      if (value !== true) throw invalidResponse(`${name} takes no value`);
      if (name === 'server_no_context_takeover') params.receiveNoContextTakeover = true;
      else params.sendNoContextTakeover = true;
    } else if (name === 'server_max_window_bits' || name === 'client_max_window_bits') {
      const bits = windowBits(value);
      if (bits === null) throw invalidResponse(`${name} needs a value from 8 to 15`);
      if (name === 'server_max_window_bits') {
        if (ownServerBits !== undefined && bits > ownServerBits) {
          throw invalidResponse('server_max_window_bits is larger than offered');
        }
        params.receiveWindowBits = bits;
      } else {
        if (options.clientMaxWindowBits === false) throw invalidResponse('client_max_window_bits was not offered');
        if (bits > params.sendWindowBits) throw invalidResponse('client_max_window_bits is larger than offered');
        params.sendWindowBits = bits;
      }
    } else {
      throw invalidResponse(`unknown parameter ${name}`);
    }
  }
  // We asked the server not to keep context; an answer that does not agree is not an acceptance (7.1.1.1).
  if (options.serverNoContextTakeover !== false && !params.receiveNoContextTakeover) {
    throw invalidResponse('server_no_context_takeover was requested but not accepted');
  }
  if (ownServerBits !== undefined && !answer.params.has('server_max_window_bits')) {
    throw invalidResponse('server_max_window_bits was requested but not accepted');
  }
  return params;
}
