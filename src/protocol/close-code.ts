/**
 * Close codes (RFC 6455 sections 7.4 and 11.7): the table, and the rules of
 * which codes may go on the wire and which an application may choose. Every
 * check of a close code anywhere in netws calls one of these.
 */

export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reported locally when a close frame carried no code; never sent. */
  NoStatus: 1005,
  /** Reported locally when the connection ended without a close frame; never sent. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
} as const;

/** A close frame's reason: the 125-byte control payload less the 2-byte code. */
export const MAX_CLOSE_REASON = 123;

/** The byte length of a close reason as it would go on the wire (UTF-8 for strings). */
export function closeReasonLength(reason: string | Uint8Array | undefined): number {
  if (reason === undefined) return 0;
  return typeof reason === 'string' ? Buffer.byteLength(reason) : reason.byteLength;
}

/**
 * May `code` appear in a close frame on the wire? 1004-1006 and 1015 are
 * reserved for local use; 1000-2999 beyond the registered ones are reserved
 * for the RFC and its extensions (1012-1014 are IANA-registered since);
 * 3000-4999 belong to libraries and applications.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/**
 * May an application choose `code`? The WHATWG rule (the browser's
 * `close()` and WebSocketStream): 1000, or 3000-4999. Codes 1001-1014 are
 * for endpoints describing what happened; netws's own WebSocket still lets
 * a server send them (see isValidCloseCode).
 */
export function isApplicationCloseCode(code: number): boolean {
  return code === CloseCode.Normal || (code >= 3000 && code <= 4999);
}
