/**
 * What both ends do to an HTTP/2 stream that carries a WebSocket: the
 * stream's traits as a transport (how it ends and aborts), and the PING
 * round trips behind them.
 */

import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TransportTraits } from '../connection/transport.ts';

/**
 * RFC 8441 section 5: an abrupt end of a WebSocket stream (terminate(), a
 * failure, a timeout, a handshake cancelled) is RST_STREAM(CANCEL), the
 * counterpart of TCP's RST; node's destroy() alone resets with NO_ERROR. A
 * stream that already closed cleanly (END_STREAM both ways) sends nothing.
 *
 * The reset comes alone: node's close() first ends the writable side
 * (_final sends END_STREAM), and outside nghttp2's own callbacks (a timer,
 * closeTimeout, the user's terminate()) that END_STREAM went out ahead of
 * the RST_STREAM, so the peer saw an orderly end, then the abort. With
 * _final a no-op on this path, the reset is all that is sent.
 */
function closeWithCancel(stream: http2.Http2Stream): void {
  if (stream.closed || stream.destroyed) return;
  (stream as unknown as { _final(callback: () => void): void })._final = (callback) => callback();
  stream.close(http2.constants.NGHTTP2_CANCEL);
}

/** Resets `stream` with CANCEL alone (closeWithCancel) and destroys it. */
export function cancelStream(stream: http2.Http2Stream): void {
  closeWithCancel(stream);
  stream.destroy();
}

/**
 * Makes every destroy() of a WebSocket's stream a cancelStream(): ours, a
 * user's `ws._socket.destroy()`, and node's own when its session is
 * destroyed, which destroys the open streams directly. The last one is why
 * this cannot be left to the transport's abort: besides sending NO_ERROR
 * where RFC 8441 asks for CANCEL, a server session destroyed with an open
 * WebSocket stream on it never returned on Node 20.20 (the RST_STREAM
 * submission looped until the process ran out of memory; reproduced by
 * spec/http2/client.spec.ts, "terminate() resets only its stream"), while
 * closing the stream first, as this does, avoids it.
 */
function cancelOnDestroy(stream: http2.Http2Stream): void {
  const destroy = stream.destroy;
  stream.destroy = function destroyWithCancel(this: http2.Http2Stream, error?: Error) {
    closeWithCancel(this);
    return destroy.call(this, error);
  };
}

/** Per session: the callbacks the PING in flight answers, and those waiting for the next one. */
interface RoundTrips {
  inFlight: Array<() => void>;
  next: Array<() => void>;
}

const roundTrips = new WeakMap<http2.Http2Session, RoundTrips>();

function sendPing(session: http2.Http2Session, state: RoundTrips): void {
  const answered = state.inFlight;
  const done = (): void => {
    for (const callback of answered) callback();
    if (state.next.length === 0) {
      roundTrips.delete(session);
      return;
    }
    state.inFlight = state.next;
    state.next = [];
    sendPing(session, state);
  };
  // node:http2 answers every PING, cancelled ones (the session closing) included: the streams go with the session then.
  if (session.destroyed) done();
  else session.ping(done);
}

/**
 * Calls back once the peer has acknowledged a PING sent after this call,
 * so it has processed every frame sent before (RFC 9113 section 6.7). One
 * PING in flight per session, however many streams wait.
 */
export function afterRoundTrip(session: http2.Http2Session, callback: () => void): void {
  const state = roundTrips.get(session);
  if (state !== undefined) {
    state.next.push(callback);
    return;
  }
  const fresh: RoundTrips = { inFlight: [callback], next: [] };
  roundTrips.set(session, fresh);
  sendPing(session, fresh);
}

/**
 * Our END_STREAM goes out once the closing handshake is through (or the
 * connection failed); the peer is expected to end its side then, which
 * closes the stream. undici 7 and Hypercorn 0.13 never do, and each close
 * would wait for closeTimeout. Nothing may come from the peer any more, so
 * once a PING round trip shows it has everything we sent, the stream is
 * closed with RST_STREAM(NO_ERROR), which asks it for nothing more and is
 * no error (RFC 9113 section 8.1).
 */
export function closeAfterEnd(stream: http2.Http2Stream): void {
  stream.once('finish', () => {
    const session = stream.session;
    if (stream.readableEnded || stream.closed || session === undefined) return;
    afterRoundTrip(session, () => {
      if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
  });
}

/**
 * An HTTP/2 stream as a WebSocket's transport: no TIME_WAIT to leave to
 * the server, so both ends end their side once both close frames passed;
 * any destroy, an abort included, is a CANCEL (cancelOnDestroy); and once
 * our side ended, the stream closes itself when the peer has everything
 * (closeAfterEnd).
 */
export const HTTP2_STREAM: TransportTraits = {
  endsFirst: true,
  bind(duplex: Duplex) {
    cancelOnDestroy(duplex as http2.Http2Stream);
    closeAfterEnd(duplex as http2.Http2Stream);
  },
};
