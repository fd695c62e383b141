/** What a client WebSocket gets once its opening handshake succeeded, over HTTP/1.1 or HTTP/2. */

import type { Duplex } from 'node:stream';
import type { DeflateSettings } from '../compression/settings.ts';
import type { TransportTraits } from '../connection/transport.ts';

export interface HandshakeResult {
  /** The URL finally connected to (after redirects). */
  url: string;
  socket: Duplex;
  /** Bytes that arrived after the response head. */
  head: Buffer;
  protocol: string;
  extensions: string;
  deflate: DeflateSettings | null;
  /** How the transport ends and aborts, when it is not a TCP or TLS socket (an HTTP/2 stream). */
  traits?: TransportTraits;
}
