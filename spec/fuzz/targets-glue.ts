/**
 * The one place the coverage-guided fuzz targets (spec/fuzz/guided/) import
 * the code under test from, so that moving a file in src/ is a change of a
 * path here. The Redis envelope has its own glue: glue-redis.ts.
 */

export { Protocol, type ProtocolHandler, type ProtocolOptions } from '../../src/protocol/protocol.ts';
export { ProtocolError, WebSocketError } from '../../src/protocol/errors.ts';
export { CloseCode, encodeClosePayload, parseClosePayload } from '../../src/protocol/close.ts';
export { HeadError, HeadReader, parseRequestHead, parseResponseHead, type HeadLimits } from '../../src/http/head.ts';
export {
  acceptResponseLines,
  checkUpgradeRequest,
  checkUpgradeResponse,
  isRejection,
  isValidKey,
  type HandshakeRejection,
} from '../../src/protocol/handshake.ts';
export { formatExtensions, parseExtensions, parseSubprotocols, type ExtensionOffer } from '../../src/protocol/headers.ts';
export {
  acceptDeflateOffer,
  acceptDeflateResponse,
  buildDeflateOffer,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from '../../src/protocol/permessage-deflate.ts';
export {
  buildConnectHeaders,
  checkConnectRequest,
  checkConnectResponse,
  connectResponseHeaders,
  isWebSocketConnect,
  type Http2HeaderRecord,
} from '../../src/protocol/extended-connect.ts';

import { MessageCompressor } from '../../src/compression/compressor.ts';
import { resolveDeflateConfig } from '../../src/compression/settings.ts';
import type { DeflateParams } from '../../src/protocol/permessage-deflate.ts';

/** The inflating side of one connection's permessage-deflate, as the connection makes it. */
export type Inflater = Pick<MessageCompressor, 'decompress' | 'decompressSync' | 'close'>;

/** A connection's compressor for negotiated `params`, with a server's default zlib settings and a pool of its own. */
export function makeInflater(params: DeflateParams, maxPayload: number): Inflater {
  const config = resolveDeflateConfig(true, true)!;
  return new MessageCompressor({ params, config }, maxPayload);
}

/** Source files (relative to src/) each target is about, for the coverage report. */
export const TARGET_FILES = {
  frames: ['protocol/parser.ts', 'protocol/protocol.ts', 'protocol/utf8.ts', 'protocol/close.ts', 'protocol/mask.ts'],
  deflate: ['protocol/parser.ts', 'protocol/protocol.ts', 'compression/compressor.ts', 'compression/zlib-sync.ts', 'compression/budget.ts'],
  head: ['http/head.ts'],
  handshake: ['protocol/handshake.ts', 'protocol/headers.ts', 'protocol/permessage-deflate.ts'],
  connect: ['protocol/extended-connect.ts', 'protocol/handshake.ts', 'protocol/headers.ts'],
  close: ['protocol/close.ts', 'protocol/utf8.ts', 'protocol/protocol.ts'],
  redis: ['adapters/redis/envelope.ts', 'adapters/redis/dedupe.ts', 'adapters/redis/adapter.ts', 'adapters/redis/subscriptions.ts'],
} as const;
