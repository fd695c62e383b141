/** What both ends do to an HTTP/2 stream that carries a WebSocket. */

import http2 from 'node:http2';

/**
 * RFC 8441 section 5: an abrupt end of a WebSocket stream (terminate(), a
 * failure, a timeout) is RST_STREAM(CANCEL), the counterpart of TCP's RST;
 * node's destroy() resets with NO_ERROR. A stream that already closed
 * cleanly (END_STREAM both ways) sends nothing.
 */
export function resetWithCancel(stream: http2.Http2Stream): void {
  const destroy = stream.destroy;
  stream.destroy = function destroyWithCancel(this: http2.Http2Stream, error?: Error) {
    if (!this.closed && !this.destroyed) this.close(http2.constants.NGHTTP2_CANCEL);
    return destroy.call(this, error);
  };
}
