/**
 * How one transport answers an opening handshake. WebSocketServer runs one
 * pipeline for every transport (checks, path, verifyClient, negotiation,
 * the 'headers' event, the hand-over to a WebSocket); what differs between
 * an HTTP/1.1 upgrade (upgrade.ts) and an RFC 8441 extended CONNECT on an
 * HTTP/2 stream (http2/server.ts) is only this channel: how the request is
 * checked, how it is answered or refused, and what kind of transport the
 * WebSocket gets. A third one (RFC 9220, WebSockets over HTTP/3, the same
 * extended CONNECT) would be a third channel.
 */

import type { Duplex } from 'node:stream';
import type { TransportTraits } from '../connection/transport.ts';
import type { HandshakeRejection, HeaderValue, OfferedFields } from '../protocol/handshake.ts';

/** A request that passed the transport's checks; `key` is Sec-WebSocket-Key when it has one. */
export interface CheckedRequest extends OfferedFields {
  key: string | undefined;
}

export interface HandshakeChannel {
  /** The Duplex that becomes the WebSocket's transport. */
  readonly duplex: Duplex;
  /** Bytes that arrived after the request (HTTP/1.1's `head`); none on a stream. */
  readonly head: Buffer;
  /** How the transport ends and aborts; null for a TCP or TLS socket. */
  readonly traits: TransportTraits | null;
  /** verifyClient's `secure`: the connection is TLS. */
  readonly secure: boolean;
  /**
   * Whether a refused request may go to 'wsClientError' listeners instead
   * (HTTP/1.1 only, as in ws: their listeners write HTTP/1.1 to a socket).
   */
  readonly reportsClientErrors: boolean;
  /** The transport's rules for the request (RFC 6455 4.2.1, or RFC 8441 section 4). */
  check(): CheckedRequest | HandshakeRejection;
  /** Answers with an error status and closes. May throw only for fields the user gave (`headers`). */
  refuse(status: number, message?: string, headers?: Record<string, HeaderValue>): void;
  /** The peer went away while the handshake waited (verifyClient): nothing to answer. */
  gone(): boolean;
  /** Throws if the transport was handed over before (handleUpgrade() twice on one socket). */
  claim(): void;
  /** The fields of the success answer, as the 'headers' event gives them to listeners. */
  responseLines(request: CheckedRequest, protocol: string | undefined, extensions: string): string[];
  /** Sends the success answer; throws for a line a 'headers' listener broke. */
  answer(lines: string[]): void;
}
