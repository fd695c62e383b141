/**
 * Frames as a structure the mutations can edit (RFC 6455 section 5.2): a
 * lenient decoder that turns any bytes into frames plus a tail it could not
 * read, and an encoder that writes them back, masking with each frame's
 * key. Written from the RFC for the fuzzer, independently of src/.
 */

import zlib from 'node:zlib';
import type { Random } from '../random.ts';

export interface WireFrame {
  fin: boolean;
  /** RSV1-3 as bits 4, 2, 1. */
  rsv: number;
  opcode: number;
  /** A masking key, or null for an unmasked frame. */
  key: Buffer | null;
  /** Length field width: 0 = shortest, 2 = 16-bit, 8 = 64-bit (not minimal: invalid when the shortest is shorter? RFC 5.2 says MUST use minimal). */
  lengthWidth: 0 | 2 | 8;
  /** Unmasked payload. */
  payload: Buffer;
}

export interface Wire {
  frames: WireFrame[];
  /** Bytes after the last whole frame (a truncated frame, garbage). */
  tail: Buffer;
}

function xor(data: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ key[i & 3];
  return out;
}

export function decodeWire(data: Buffer): Wire {
  const frames: WireFrame[] = [];
  let offset = 0;
  while (data.length - offset >= 2) {
    const b0 = data[offset];
    const b1 = data[offset + 1];
    const length7 = b1 & 0x7f;
    let at = offset + 2;
    let length = length7;
    let lengthWidth: 0 | 2 | 8 = 0;
    if (length7 === 126) {
      if (data.length - at < 2) break;
      length = data.readUInt16BE(at);
      at += 2;
      lengthWidth = length < 126 ? 2 : 0;
    } else if (length7 === 127) {
      if (data.length - at < 8) break;
      const high = data.readUInt32BE(at);
      if (high !== 0) break;
      length = data.readUInt32BE(at + 4);
      at += 8;
      lengthWidth = length < 65536 ? 8 : 0;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked && data.length - at < 4) break;
    const key = masked ? Buffer.from(data.subarray(at, at + 4)) : null;
    if (masked) at += 4;
    if (data.length - at < length) break;
    const raw = data.subarray(at, at + length);
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      opcode: b0 & 0x0f,
      key,
      lengthWidth,
      payload: key === null ? Buffer.from(raw) : xor(raw, key),
    });
    offset = at + length;
  }
  return { frames, tail: Buffer.from(data.subarray(offset)) };
}

export function encodeFrame(frame: WireFrame): Buffer {
  const length = frame.payload.length;
  const width = length >= 65536 ? 8 : length >= 126 ? Math.max(2, frame.lengthWidth) : frame.lengthWidth;
  const header = Buffer.alloc(2 + width + (frame.key === null ? 0 : 4));
  header[0] = (frame.fin ? 0x80 : 0) | ((frame.rsv & 7) << 4) | (frame.opcode & 0x0f);
  const maskBit = frame.key === null ? 0 : 0x80;
  if (width === 0) header[1] = maskBit | length;
  else if (width === 2) {
    header[1] = maskBit | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = maskBit | 127;
    header.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    header.writeUInt32BE(length >>> 0, 6);
  }
  if (frame.key !== null) frame.key.copy(header, 2 + width);
  return Buffer.concat([header, frame.key === null ? frame.payload : xor(frame.payload, frame.key)]);
}

export function encodeWire(wire: Wire): Buffer {
  return Buffer.concat([...wire.frames.map(encodeFrame), wire.tail]);
}

/** Text pieces that put UTF-8 sequences of every length, and invalid ones, next to fragment cuts. */
const UTF8_PIECES = ['a', 'é', '€', '😀', '\u0000', '\uffff', '\u{10ffff}'].map((s) => Buffer.from(s, 'utf8'));
const BAD_UTF8 = [
  [0x80],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xff],
  [0xef, 0xbf, 0xbe],
].map((b) => Buffer.from(b));

export const CLOSE_CODES = [
  0, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 2000, 2999, 3000, 3999,
  4000, 4999, 5000, 65535,
];

export function randomText(random: Random, count: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) parts.push(random.chance(0.05) ? random.pick(BAD_UTF8) : random.pick(UTF8_PIECES));
  return Buffer.concat(parts);
}

export function closeFramePayload(code: number, reason: Buffer): Buffer {
  const out = Buffer.alloc(2 + reason.length);
  out.writeUInt16BE(code & 0xffff, 0);
  reason.copy(out, 2);
  return out;
}

/**
 * permessage-deflate payloads: deflated as a peer would (sync flush,
 * trailer removed, 7.2.1), or ending in a final block (7.2.3.4), or stored
 * blocks (level 0), with a window of 8-15 bits.
 */
export function deflatePayload(random: Random, data: Buffer): Buffer {
  const windowBits = random.between(9, 15);
  const level = random.chance(0.2) ? 0 : random.between(1, 9);
  if (random.chance(0.2)) return zlib.deflateRawSync(data, { windowBits, level });
  const out = zlib.deflateRawSync(data, { windowBits, level, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return random.chance(0.9) ? out.subarray(0, out.length - 4) : out;
}

/** Frame-level edits; `masked` says how new frames are written (a client's are masked). */
export function mutateWire(random: Random, wire: Wire, masked: boolean, options: { deflate: boolean }): void {
  const frames = wire.frames;
  const newKey = (): Buffer | null =>
    masked ? Buffer.from([random.next() & 0xff, random.next() & 0xff, random.next() & 0xff, random.next() & 0xff]) : null;
  const pickIndex = (): number => random.below(frames.length);
  const make = (opcode: number, payload: Buffer, fin = true, rsv = 0): WireFrame => ({
    fin,
    rsv,
    opcode,
    key: newKey(),
    lengthWidth: 0,
    payload,
  });
  switch (random.below(frames.length === 0 ? 3 : 16)) {
    case 0: {
      // A new data message, sometimes text with UTF-8 cut points, sometimes compressed.
      const text = random.chance(0.6);
      let payload = text ? randomText(random, random.below(40)) : random.bytes(random.below(random.chance(0.9) ? 64 : 300));
      let rsv = 0;
      if (options.deflate && random.chance(0.7)) {
        payload = deflatePayload(random, payload);
        rsv = 4;
      }
      frames.splice(random.below(frames.length + 1), 0, make(text ? 1 : 2, payload, true, rsv));
      return;
    }
    case 1: {
      const opcode = random.pick([8, 9, 10]);
      const payload =
        opcode === 8 ? closeFramePayload(random.pick(CLOSE_CODES), randomText(random, random.below(8))) : random.bytes(random.below(126));
      frames.splice(random.below(frames.length + 1), 0, make(opcode, random.chance(0.9) ? payload : payload.subarray(0, random.below(3))));
      return;
    }
    case 2:
      wire.tail = random.chance(0.5) ? Buffer.alloc(0) : random.bytes(random.between(1, 12));
      return;
    case 3:
      frames[pickIndex()].fin = !frames[pickIndex()].fin;
      return;
    case 4:
      frames[pickIndex()].opcode = random.chance(0.8) ? random.pick([0, 1, 2, 8, 9, 10]) : random.below(16);
      return;
    case 5:
      frames[pickIndex()].rsv ^= random.pick([4, 4, 4, 2, 1]);
      return;
    case 6: {
      const frame = frames[pickIndex()];
      frame.key = frame.key === null ? (newKey() ?? Buffer.from([1, 2, 3, 4])) : null;
      return;
    }
    case 7:
      frames[pickIndex()].lengthWidth = random.pick([0, 2, 8] as const);
      return;
    case 8: {
      // Split a frame's payload into a fragment and a continuation (cuts land inside UTF-8 sequences and deflate blocks).
      const i = pickIndex();
      const frame = frames[i];
      const cut = random.below(frame.payload.length + 1);
      const second: WireFrame = { ...frame, opcode: 0, rsv: 0, key: newKey(), payload: frame.payload.subarray(cut) };
      frames.splice(i, 1, { ...frame, fin: false, payload: frame.payload.subarray(0, cut) }, second);
      return;
    }
    case 9: {
      const i = pickIndex();
      frames.splice(i, 0, { ...frames[i], key: frames[i].key === null ? null : newKey() });
      return;
    }
    case 10:
      frames.splice(pickIndex(), 1);
      return;
    case 11: {
      const i = pickIndex();
      const j = pickIndex();
      [frames[i], frames[j]] = [frames[j], frames[i]];
      return;
    }
    case 12: {
      const frame = frames[pickIndex()];
      const at = random.below(frame.payload.length + 1);
      const insert = random.chance(0.5) ? random.pick(BAD_UTF8) : random.pick(UTF8_PIECES);
      frame.payload = Buffer.concat([frame.payload.subarray(0, at), insert, frame.payload.subarray(at)]);
      return;
    }
    case 13: {
      // A payload around the 125/126/65535/65536 boundaries.
      const frame = frames[pickIndex()];
      const length = random.pick([0, 1, 124, 125, 126, 127, 65535, 65536]);
      frame.payload = Buffer.alloc(length, frame.payload.length > 0 ? frame.payload[0] : 0x61);
      return;
    }
    case 14: {
      const frame = frames[pickIndex()];
      if (options.deflate && random.chance(0.8)) {
        frame.payload = deflatePayload(random, frame.payload);
        frame.rsv |= 4;
      } else {
        frame.payload = frame.payload.subarray(0, random.below(frame.payload.length + 1));
      }
      return;
    }
    default: {
      // Many empty or tiny fragments.
      const i = pickIndex();
      const count = random.between(2, random.chance(0.9) ? 16 : 200);
      const pieces: WireFrame[] = [];
      for (let k = 0; k < count; k++) pieces.push(make(0, random.bytes(random.below(3)), k === count - 1));
      frames.splice(i + 1, 0, ...pieces);
      frames[i].fin = false;
    }
  }
}
