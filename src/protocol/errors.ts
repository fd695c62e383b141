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

/**
 * A rule of RFC 6455 broken by the peer; the connection is failed with
 * `closeCode`. A RangeError, as ws's receiver errors are (code that checks
 * `instanceof RangeError` keeps working), and still `instanceof WebSocketError`.
 */
export class ProtocolError extends RangeError {
  readonly code: string;
  readonly closeCode: number;
  readonly statusCode: undefined = undefined;

  constructor(code: string, message: string, closeCode: number) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.closeCode = closeCode;
  }
}

// One class cannot extend both Error subclasses: WebSocketError also claims ProtocolErrors.
Object.defineProperty(WebSocketError, Symbol.hasInstance, {
  value(this: typeof WebSocketError, value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value) || (this === WebSocketError && value instanceof ProtocolError);
  },
});
