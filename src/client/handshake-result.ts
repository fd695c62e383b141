/** What a client WebSocket gets once its opening handshake succeeded, over HTTP/1.1 or HTTP/2. */

import type { Duplex } from 'node:stream';
import type { DeflateSettings } from '../compression.ts';

export interface HandshakeResult {
  /** The URL finally connected to (after redirects). */
  url: string;
  socket: Duplex;
  /** Bytes that arrived after the response head. */
  head: Buffer;
  protocol: string;
  extensions: string;
  deflate: DeflateSettings | null;
  /** The transport is an HTTP/2 stream: our side ends once the closing handshake is through (see AttachOptions.endsFirst). */
  endsFirst?: boolean;
}
