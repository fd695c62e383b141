/**
 * A small HTTP/1.1 head reader and parser (RFC 7230 section 3) for the
 * standalone server's requests and the client's responses. It only needs
 * what an upgrade needs: the start line and the header fields. Limits are
 * enforced while bytes arrive, so a peer cannot make us buffer an endless head.
 */

import { isTokenChar } from '../protocol/headers.ts';

export interface HeadLimits {
  /** Largest head in bytes, start line and terminating blank line included. */
  maxHeaderSize: number;
  /** Most header lines. */
  maxHeaderCount: number;
}

/** Why a head was refused, with the HTTP status to answer. */
export class HeadError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HeadError';
    this.status = status;
  }
}

/** Header fields by lowercase name, repeated fields joined by ", " (as node:http does). */
export type Headers = Record<string, string>;

interface ParsedHead {
  headers: Headers;
  /** Names and values as received, alternating, like IncomingMessage.rawHeaders. */
  rawHeaders: string[];
}

export interface RequestHead extends ParsedHead {
  method: string;
  url: string;
  httpVersion: string;
}

export interface ResponseHead extends ParsedHead {
  httpVersion: string;
  statusCode: number;
  statusMessage: string;
}

const TERMINATOR = Buffer.from('\r\n\r\n', 'latin1');

/** Collects bytes until the blank line that ends a head. */
export class HeadReader {
  private buffered: Buffer[] = [];
  private length = 0;
  /** The last bytes seen, so a terminator split across chunks is found. */
  private tail: Buffer = Buffer.alloc(0);
  private readonly limits: HeadLimits;

  constructor(limits: HeadLimits) {
    this.limits = limits;
  }

  /**
   * Adds bytes; returns the head (without its blank line) and whatever bytes
   * followed it once the head is complete, null while it is not. Throws a
   * HeadError (431) as soon as the head is too large. Each byte is looked at
   * a bounded number of times, however small the chunks.
   */
  push(chunk: Buffer): { head: Buffer; rest: Buffer } | null {
    const window = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    const found = window.indexOf(TERMINATOR);
    const windowStart = this.length - this.tail.length;
    this.buffered.push(chunk);
    this.length += chunk.length;
    if (found === -1) {
      if (this.length > this.limits.maxHeaderSize) throw this.tooLarge();
      this.tail = Buffer.from(window.subarray(Math.max(0, window.length - 3)));
      return null;
    }
    const end = windowStart + found;
    if (end + TERMINATOR.length > this.limits.maxHeaderSize) throw this.tooLarge();
    const data = this.buffered.length === 1 ? chunk : Buffer.concat(this.buffered, this.length);
    this.buffered = [];
    return { head: data.subarray(0, end), rest: data.subarray(end + TERMINATOR.length) };
  }

  private tooLarge(): HeadError {
    return new HeadError(431, `Head larger than ${this.limits.maxHeaderSize} bytes`);
  }
}

function parseHeaderLines(lines: string[], limits: HeadLimits): ParsedHead {
  if (lines.length > limits.maxHeaderCount) {
    throw new HeadError(431, `More than ${limits.maxHeaderCount} header lines`);
  }
  const headers: Headers = Object.create(null);
  const rawHeaders: string[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    // No name, a name with whitespace before the colon (7230 3.2.4), or an
    // obs-fold continuation line: all refused.
    if (colon <= 0) throw new HeadError(400, 'Malformed header line');
    const name = line.slice(0, colon);
    for (let i = 0; i < name.length; i++) {
      if (!isTokenChar(name.charCodeAt(i))) throw new HeadError(400, 'Malformed header name');
    }
    let start = colon + 1;
    let end = line.length;
    while (start < end && (line.charCodeAt(start) === 0x20 || line.charCodeAt(start) === 0x09)) start++;
    while (end > start && (line.charCodeAt(end - 1) === 0x20 || line.charCodeAt(end - 1) === 0x09)) end--;
    const value = line.slice(start, end);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw new HeadError(400, 'Control character in a header value');
    }
    rawHeaders.push(name, value);
    const key = name.toLowerCase();
    const previous = headers[key];
    headers[key] = previous === undefined ? value : `${previous}, ${value}`;
  }
  return { headers, rawHeaders };
}

function splitLines(head: Buffer): string[] {
  const lines = head.toString('latin1').split('\r\n');
  for (const line of lines) {
    if (line.includes('\r') || line.includes('\n')) throw new HeadError(400, 'Bare CR or LF in the head');
  }
  return lines;
}

const HTTP_VERSION = /^HTTP\/(\d)\.(\d)$/;

/** Parses a request head: "METHOD SP target SP HTTP/x.y" then header lines. */
export function parseRequestHead(head: Buffer, limits: HeadLimits): RequestHead {
  const [requestLine, ...headerLines] = splitLines(head);
  const parts = requestLine.split(' ');
  if (parts.length !== 3) throw new HeadError(400, 'Malformed request line');
  const [method, url, version] = parts;
  for (let i = 0; i < method.length; i++) {
    if (!isTokenChar(method.charCodeAt(i))) throw new HeadError(400, 'Malformed request method');
  }
  if (method.length === 0 || url.length === 0) throw new HeadError(400, 'Malformed request line');
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw new HeadError(400, 'Malformed request target');
  }
  const match = HTTP_VERSION.exec(version);
  if (match === null) throw new HeadError(400, 'Malformed HTTP version');
  return { method, url, httpVersion: `${match[1]}.${match[2]}`, ...parseHeaderLines(headerLines, limits) };
}

/** Parses a response head: "HTTP/x.y SP 3DIGIT SP reason" then header lines. */
export function parseResponseHead(head: Buffer, limits: HeadLimits): ResponseHead {
  const [statusLine, ...headerLines] = splitLines(head);
  const firstSpace = statusLine.indexOf(' ');
  const version = firstSpace === -1 ? statusLine : statusLine.slice(0, firstSpace);
  const match = HTTP_VERSION.exec(version);
  const status = statusLine.slice(firstSpace + 1, firstSpace + 4);
  const afterStatus = statusLine.charAt(firstSpace + 4);
  if (match === null || firstSpace === -1 || !/^\d{3}$/.test(status) || (afterStatus !== '' && afterStatus !== ' ')) {
    throw new HeadError(400, 'Malformed status line');
  }
  return {
    httpVersion: `${match[1]}.${match[2]}`,
    statusCode: Number(status),
    statusMessage: statusLine.slice(firstSpace + 5),
    ...parseHeaderLines(headerLines, limits),
  };
}
