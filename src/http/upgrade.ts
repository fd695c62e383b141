/**
 * The HTTP/1.1 channel of a server handshake (see channel.ts): an upgrade
 * request (RFC 6455 section 4.2) on a socket, answered with a 101 or an
 * HTTP error written to the socket itself.
 */

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { UpgradeRequest } from '../options/server.ts';
import {
  acceptResponseLines,
  buildRejectResponse,
  checkUpgradeRequest,
  type HandshakeRejection,
  type HeaderValue,
} from '../protocol/handshake.ts';
import type { CheckedRequest, HandshakeChannel } from './channel.ts';

/** Sockets a WebSocket was given: a second hand-over is a caller's mistake. */
const kUpgraded = Symbol('netws.upgraded');

/** Ends a socket after an HTTP answer; destroys it once the answer is flushed. */
export function rejectHandshake(socket: Duplex, status: number, message?: string, headers?: Record<string, HeaderValue>): void {
  socket.removeAllListeners('data');
  if (socket.writable) {
    socket.once('finish', () => socket.destroy());
    socket.end(buildRejectResponse(status, message || STATUS_CODES[status] || 'Error', headers));
  } else {
    socket.destroy();
  }
}

/** `secure` of verifyClient's info: the connection is TLS (as ws decides it). */
function isSecure(socket: Duplex): boolean {
  const tlsSocket = socket as { authorized?: boolean; encrypted?: boolean };
  return tlsSocket.authorized === true || tlsSocket.encrypted === true;
}

export class UpgradeChannel implements HandshakeChannel {
  readonly traits = null;
  readonly reportsClientErrors = true;
  readonly secure: boolean;

  constructor(
    private readonly req: UpgradeRequest,
    readonly duplex: Duplex,
    readonly head: Buffer,
    private readonly ownListener = false,
  ) {
    this.secure = isSecure(duplex);
  }

  check(): CheckedRequest | HandshakeRejection {
    return checkUpgradeRequest(this.req, this.ownListener);
  }

  refuse(status: number, message?: string, headers?: Record<string, HeaderValue>): void {
    rejectHandshake(this.duplex, status, message, headers);
  }

  gone(): boolean {
    const socket = this.duplex;
    if (socket.readable && socket.writable) return false;
    socket.destroy();
    return true;
  }

  claim(): void {
    if ((this.duplex as Duplex & { [kUpgraded]?: boolean })[kUpgraded]) {
      throw new Error('server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration');
    }
  }

  responseLines(request: CheckedRequest, protocol: string | undefined, extensions: string): string[] {
    return acceptResponseLines(request.key!, protocol, extensions);
  }

  answer(lines: string[]): void {
    (this.duplex as Duplex & { [kUpgraded]?: boolean })[kUpgraded] = true;
    this.duplex.write(`${lines.join('\r\n')}\r\n\r\n`);
  }
}
