/** Close codes and close frame payloads (RFC 6455 sections 5.5.1 and 7.4). */

import { CloseCode, MAX_CLOSE_REASON, isValidCloseCode } from './close-code.ts';
import { ProtocolError } from './errors.ts';
import { invalidUtf8, Utf8Validator } from './utf8.ts';

export { CloseCode, MAX_CLOSE_REASON, isValidCloseCode } from './close-code.ts';

export interface ClosePayload {
  /** 1005 when the frame carried no code. */
  code: number;
  reason: Buffer;
}

/** Decodes a received close payload; a broken one fails the connection. */
export function parseClosePayload(payload: Buffer, skipUTF8Validation = false): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NoStatus, reason: payload };
  if (payload.length === 1) {
    throw new ProtocolError(
      'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
      'Invalid WebSocket frame: invalid payload length 1',
      CloseCode.ProtocolError,
    );
  }
  const code = payload.readUInt16BE(0);
  if (!isValidCloseCode(code)) {
    throw new ProtocolError('WS_ERR_INVALID_CLOSE_CODE', `Invalid WebSocket frame: invalid status code ${code}`, CloseCode.ProtocolError);
  }
  const reason = payload.subarray(2);
  if (skipUTF8Validation) return { code, reason };
  const validator = new Utf8Validator();
  if (!validator.feed(reason) || !validator.end()) throw invalidUtf8();
  return { code, reason };
}

/**
 * Encodes an outgoing close payload. With no code the payload is empty (the
 * peer then reports 1005). Throws on a code that may not be sent or a reason
 * longer than 123 bytes, so the mistake surfaces in the caller's stack.
 */
export function encodeClosePayload(code?: number, reason?: string | Uint8Array): Buffer {
  if (code === undefined) {
    if (reason !== undefined && reason.length > 0) {
      throw new TypeError('A close reason needs a close code');
    }
    return Buffer.alloc(0);
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new RangeError(`Invalid close code: ${code}`);
  }
  // A typed-array reason is copied by value: only its own bytes go out.
  const reasonBytes =
    reason === undefined
      ? Buffer.alloc(0)
      : typeof reason === 'string'
        ? Buffer.from(reason, 'utf8')
        : Buffer.from(reason.buffer, reason.byteOffset, reason.byteLength);
  if (reasonBytes.length > MAX_CLOSE_REASON) {
    throw new RangeError(`Close reason is ${reasonBytes.length} bytes; at most ${MAX_CLOSE_REASON} fit`);
  }
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return payload;
}
