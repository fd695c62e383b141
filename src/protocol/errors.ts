/**
 * Errors users can switch on: `code` is stable, `closeCode` is what went on
 * the wire (when the error failed an open connection), `statusCode` is the
 * HTTP status of a failed opening handshake.
 *
 * They read as ws's do, because code in the wild matches on them (logs,
 * retries, tests): a WebSocketError's `name` is 'Error', as ws's plain
 * errors, and a ProtocolError is, like ws's receiver errors, a RangeError
 * (an Error for text that is not UTF-8 and for data zlib refuses), with
 * ws's message. `instanceof WebSocketError` and `instanceof ProtocolError`
 * still hold for them: both classes recognise netws's errors by a mark.
 */

/** What marks netws's errors for `instanceof`, whatever built-in class they are. */
const kNetwsError = Symbol.for('netws.error');
const kProtocolError = Symbol.for('netws.protocolError');

const isInstance = Function.prototype[Symbol.hasInstance];

export class WebSocketError extends Error {
  readonly code: string;
  readonly closeCode: number | undefined;
  readonly statusCode: number | undefined;

  constructor(code: string, message: string, extra: { closeCode?: number; statusCode?: number } = {}) {
    super(message);
    this.code = code;
    this.closeCode = extra.closeCode;
    this.statusCode = extra.statusCode;
  }

  /** `this` is the class `instanceof` asks about: WebSocketError, ProtocolError (which inherits this), or a user's subclass. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noUselessThisAlias: named: it is the class instanceof was asked about, not always this one
    // biome-ignore lint/complexity/noThisInStatic: the same reason
    const asked = this;
    if (isInstance.call(asked, value)) return true;
    const marks = value as { [kNetwsError]?: boolean; [kProtocolError]?: boolean } | null;
    if (typeof value !== 'object' || marks === null) return false;
    return asked === WebSocketError ? marks[kNetwsError] === true : asked === ProtocolError && marks[kProtocolError] === true;
  }
}

// As ws's plain errors read: 'Error: WebSocket is not open: readyState 0 (CONNECTING)'.
Object.defineProperty(WebSocketError.prototype, 'name', { value: 'Error', writable: true, configurable: true });
Object.defineProperty(WebSocketError.prototype, kNetwsError, { value: true });

/** Codes whose errors ws makes plain Errors; every other receiver error of ws's is a RangeError. */
function isPlainError(code: string): boolean {
  return code === 'WS_ERR_INVALID_UTF8' || code.startsWith('Z_');
}

/**
 * A rule of RFC 6455 broken by the peer; the connection is failed with
 * `closeCode`. `new ProtocolError(...)` gives a RangeError (or an Error, see
 * isPlainError) carrying `code` and `closeCode`, as ws's receiver errors are.
 */
export class ProtocolError extends WebSocketError {
  declare readonly closeCode: number;

  constructor(code: string, message: string, closeCode: number) {
    super(code, message, { closeCode });
    const error = (isPlainError(code) ? new Error(message) : new RangeError(message)) as Error & Record<PropertyKey, unknown>;
    error.code = code;
    error.closeCode = closeCode;
    error.statusCode = undefined;
    Object.defineProperty(error, kNetwsError, { value: true });
    Object.defineProperty(error, kProtocolError, { value: true });
    // The stack of the error made here, not of the one discarded above.
    Error.captureStackTrace?.(error, ProtocolError);
    // biome-ignore lint/correctness/noConstructorReturn: the point: a built-in error class, as ws's, with our marks
    return error as unknown as ProtocolError;
  }
}
