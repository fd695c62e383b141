/**
 * The standalone server's request object: a real node:http IncomingMessage,
 * so framework code written for ws (which hands out node's own) finds
 * everything it reads: method, url, headers with node's rules for repeated
 * fields (set-cookie as an array, duplicate Host dropped, ...), rawHeaders,
 * httpVersion, socket and connection. Building one costs less than building
 * a plain object of our own (node computes `headers` lazily from rawHeaders).
 */

import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestHead } from './head.ts';

interface NodeIncomingMessage extends IncomingMessage {
  /** Set by node's HTTP server on upgrade requests. */
  upgrade?: boolean;
  /** node's own: applies its repeated-header rules (the same function its HTTP parser calls). */
  _addHeaderLines?(headers: string[], n: number): void;
}

export function toIncomingMessage(head: RequestHead, socket: Socket): IncomingMessage {
  const req = new IncomingMessage(socket) as NodeIncomingMessage;
  req.method = head.method;
  req.url = head.url;
  req.httpVersion = head.httpVersion;
  req.httpVersionMajor = Number(head.httpVersion[0]);
  req.httpVersionMinor = Number(head.httpVersion[2]);
  if (typeof req._addHeaderLines === 'function') {
    req._addHeaderLines(head.rawHeaders, head.rawHeaders.length);
  } else {
    req.headers = head.headers;
    req.rawHeaders = head.rawHeaders;
  }
  req.upgrade = true;
  req.complete = true;
  return req;
}
