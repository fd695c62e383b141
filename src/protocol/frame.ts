/** Frame opcodes and header encoding (RFC 6455 section 5.2). */

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Control frames carry at most 125 payload bytes and are never fragmented (5.5). */
export const MAX_CONTROL_PAYLOAD = 125;
/** What sending a longer ping, pong or control frame throws (a RangeError), in ws's words. */
export const CONTROL_TOO_BIG = 'The data size must not be greater than 125 bytes';

export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** Opcodes 3-7 and 11-15 are reserved: receiving one fails the connection. */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** Number of header bytes for a payload of `length` bytes, in minimal form. */
export function headerSize(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `target` at `offset` and returns the offset just
 * past it. The length always uses the shortest encoding, as 5.2 requires.
 * When `maskKey` is given it is copied in and the MASK bit set.
 */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  length: number,
  maskKey: Uint8Array | null,
): number {
  target[offset++] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey === null ? 0 : 0x80;
  if (length < 126) {
    target[offset++] = maskBit | length;
  } else if (length < 65536) {
    target[offset++] = maskBit | 126;
    target[offset++] = length >>> 8;
    target[offset++] = length & 0xff;
  } else {
    target[offset++] = maskBit | 127;
    const high = Math.floor(length / 0x100000000);
    const low = length >>> 0;
    target[offset++] = high >>> 24;
    target[offset++] = (high >>> 16) & 0xff;
    target[offset++] = (high >>> 8) & 0xff;
    target[offset++] = high & 0xff;
    target[offset++] = low >>> 24;
    target[offset++] = (low >>> 16) & 0xff;
    target[offset++] = (low >>> 8) & 0xff;
    target[offset++] = low & 0xff;
  }
  if (maskKey !== null) {
    target[offset++] = maskKey[0];
    target[offset++] = maskKey[1];
    target[offset++] = maskKey[2];
    target[offset++] = maskKey[3];
  }
  return offset;
}
