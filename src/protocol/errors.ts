/**
 * Errors users can switch on: `code` is stable, `closeCode` is what went on
 * the wire (when the error failed an open connection), `statusCode` is the
 * HTTP status of a failed opening handshake.
 */
export class WebSocketError extends Error {
  readonly code: string;
  readonly closeCode: number | undefined;
  readonly statusCode: number | undefined;

  constructor(code: string, message: string, extra: { closeCode?: number; statusCode?: number } = {}) {
    super(message);
    this.name = 'WebSocketError';
    this.code = code;
    this.closeCode = extra.closeCode;
    this.statusCode = extra.statusCode;
  }
}

/** A rule of RFC 6455 broken by the peer; the connection is failed with `closeCode`. */
export class ProtocolError extends WebSocketError {
  declare readonly closeCode: number;

  constructor(code: string, message: string, closeCode: number) {
    super(code, message, { closeCode });
    this.name = 'ProtocolError';
  }
}
