/**
 * Incremental UTF-8 validation (RFC 3629 as required by RFC 6455 section 8.1).
 *
 * Text may arrive in fragments and partial frames; a sequence can be cut
 * anywhere. The validator keeps the state of an unfinished sequence between
 * calls and rejects as soon as the bytes seen so far cannot start a valid
 * sequence (overlong forms, surrogates, code points above U+10FFFF), so a
 * connection can be failed before the rest of the message arrives.
 * Complete stretches are checked by Node's native `isUtf8`.
 */

import { isUtf8 } from 'node:buffer';
import { CloseCode } from './close-code.ts';
import { ProtocolError } from './errors.ts';

// States: how many continuation bytes are still owed, and for the first of
// them, which narrower range is allowed.
const ACCEPT = 0;
const REJECT = 1;
const NEED1 = 2; // 80..BF then done
const NEED2 = 3; // 80..BF, 80..BF
const NEED3 = 4; // 80..BF x3
const AFTER_E0 = 5; // A0..BF (no overlong 3-byte form), then NEED1
const AFTER_ED = 6; // 80..9F (no UTF-16 surrogates), then NEED1
const AFTER_F0 = 7; // 90..BF (no overlong 4-byte form), then NEED2
const AFTER_F4 = 8; // 80..8F (nothing above U+10FFFF), then NEED2

function step(state: number, byte: number): number {
  switch (state) {
    case ACCEPT:
      if (byte < 0x80) return ACCEPT;
      if (byte < 0xc2) return REJECT; // stray continuation or overlong 2-byte lead
      if (byte < 0xe0) return NEED1;
      if (byte === 0xe0) return AFTER_E0;
      if (byte === 0xed) return AFTER_ED;
      if (byte < 0xf0) return NEED2;
      if (byte === 0xf0) return AFTER_F0;
      if (byte < 0xf4) return NEED3;
      if (byte === 0xf4) return AFTER_F4;
      return REJECT;
    case NEED1:
      return byte >= 0x80 && byte <= 0xbf ? ACCEPT : REJECT;
    case NEED2:
      return byte >= 0x80 && byte <= 0xbf ? NEED1 : REJECT;
    case NEED3:
      return byte >= 0x80 && byte <= 0xbf ? NEED2 : REJECT;
    case AFTER_E0:
      return byte >= 0xa0 && byte <= 0xbf ? NEED1 : REJECT;
    case AFTER_ED:
      return byte >= 0x80 && byte <= 0x9f ? NEED1 : REJECT;
    case AFTER_F0:
      return byte >= 0x90 && byte <= 0xbf ? NEED2 : REJECT;
    case AFTER_F4:
      return byte >= 0x80 && byte <= 0x8f ? NEED2 : REJECT;
    default:
      return REJECT;
  }
}

export class Utf8Validator {
  private state = ACCEPT;

  /** Feeds the next bytes; false once the text can no longer be valid. */
  feed(data: Uint8Array): boolean {
    const length = data.length;
    let state = this.state;
    let i = 0;
    // Finish a sequence left open by the previous piece.
    while (state > REJECT && i < length) state = step(state, data[i++]);
    if (state === REJECT) return this.reject();
    if (i === length) {
      this.state = state;
      return true;
    }
    // Hold back a trailing sequence that may be cut short: its lead byte sits
    // in the last three bytes. Everything before it must be complete.
    let tail = length;
    for (let k = length - 1; k >= i && k >= length - 3; k--) {
      const byte = data[k];
      if (byte >= 0xc0) {
        tail = k;
        break;
      }
      if (byte < 0x80) break;
    }
    if (tail > i && !isUtf8(data.subarray(i, tail))) return this.reject();
    for (let k = tail; k < length; k++) {
      state = step(state, data[k]);
      if (state === REJECT) return this.reject();
    }
    this.state = state;
    return true;
  }

  /** True when the text ended on a sequence boundary; resets for reuse. */
  end(): boolean {
    const complete = this.state === ACCEPT;
    this.state = ACCEPT;
    return complete;
  }

  reset(): void {
    this.state = ACCEPT;
  }

  private reject(): false {
    this.state = REJECT;
    return false;
  }
}

/** Whole-buffer check for text that arrived complete. */
export function isValidUtf8(data: Uint8Array): boolean {
  return isUtf8(data);
}

/**
 * The one failure for text that is not UTF-8 (RFC 6455 section 8.1): close
 * 1007, wherever the text was checked (as it arrived, once inflated, in a
 * streamed message, in a close reason), in ws's words.
 */
export function invalidUtf8(): ProtocolError {
  return new ProtocolError('WS_ERR_INVALID_UTF8', 'Invalid WebSocket frame: invalid UTF-8 sequence', CloseCode.InvalidPayload);
}

/**
 * The rule for text whose bytes could not be checked as they arrived (a
 * compressed message, checked once inflated): null when it is UTF-8, else
 * the failure to fail the connection with.
 */
export function checkInflatedText(data: Buffer): ProtocolError | null {
  return isValidUtf8(data) ? null : invalidUtf8();
}
