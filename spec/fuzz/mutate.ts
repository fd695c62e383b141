/**
 * The mutation engine: a handful of byte-level edits that, applied to a valid
 * frame stream or handshake, reach the parser's error paths and its corner
 * cases (lengths at the 7/16/64-bit boundaries, reserved bits and opcodes,
 * control frames that are too long, split points anywhere).
 */

import type { Random } from './random.ts';

/** Bytes that sit on boundaries of the frame format. */
const INTERESTING_BYTES = [0x00, 0x01, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x88, 0x89, 0x8a, 0xff, 0x0d, 0x0a, 0x3a, 0x2c, 0x3b, 0x22];

/** Frame headers an attacker would write (unmasked and masked forms are both tried). */
const HOSTILE_HEADERS = [
  [0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // 2^63-1 bytes
  [0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // high bit set
  [0x89, 0x7e, 0x00, 0x7e], // ping of 126 bytes
  [0x09, 0x00], // fragmented ping
  [0x00, 0x00], // continuation without a message
  [0xc1, 0x00], // RSV1
  [0x83, 0x00], // reserved opcode
  [0x88, 0x01, 0x03], // 1-byte close payload
  [0x88, 0x02, 0x03, 0xed], // close code 1005
  [0x01, 0x00], // an unfinished text message
];

function splice(data: Buffer, at: number, remove: number, insert: Buffer): Buffer {
  return Buffer.concat([data.subarray(0, at), insert, data.subarray(Math.min(data.length, at + remove))]);
}

/** One random edit; `donor` is another valid input to splice pieces from. */
export function mutateOnce(random: Random, data: Buffer, donor: Buffer): Buffer {
  const at = random.below(data.length + 1);
  switch (random.below(9)) {
    case 0: {
      if (data.length === 0) return Buffer.from([random.next() & 0xff]);
      const out = Buffer.from(data);
      out[Math.min(at, out.length - 1)] ^= 1 << random.below(8);
      return out;
    }
    case 1: {
      if (data.length === 0) return data;
      const out = Buffer.from(data);
      out[Math.min(at, out.length - 1)] = random.pick(INTERESTING_BYTES);
      return out;
    }
    case 2:
      return splice(data, at, 0, random.bytes(random.between(1, 16)));
    case 3:
      return splice(data, at, random.between(1, 32), Buffer.alloc(0));
    case 4: {
      const length = random.between(1, 64);
      return splice(data, at, 0, Buffer.from(data.subarray(at, at + length)));
    }
    case 5:
      return data.subarray(0, at);
    case 6: {
      const from = random.below(donor.length + 1);
      return splice(data, at, random.below(16), Buffer.from(donor.subarray(from, from + random.between(1, 128))));
    }
    case 7: {
      const header = Buffer.from(random.pick(HOSTILE_HEADERS));
      if (random.chance(0.5)) header[1] |= 0x80;
      return splice(data, at, 0, random.chance(0.5) ? Buffer.concat([header, random.bytes(4)]) : header);
    }
    default: {
      // Repeat a slice many times: many fragments, many headers, long header values.
      const slice = data.subarray(at, at + random.between(1, 12));
      const copies = Array.from({ length: random.between(2, 200) }, () => slice);
      return splice(data, at, 0, Buffer.concat(copies));
    }
  }
}

/** One to four edits. */
export function mutate(random: Random, data: Buffer, donor: Buffer): Buffer {
  let out = data;
  const edits = random.between(1, 4);
  for (let i = 0; i < edits; i++) out = mutateOnce(random, out, donor);
  return out;
}

/** Cuts `data` into chunks the way TCP might: byte by byte, small pieces, or whole. */
export function chunk(random: Random, data: Buffer): Buffer[] {
  const style = random.below(4);
  if (style === 0 || data.length === 0) return [data];
  // Byte by byte only for short inputs: long ones take the small-chunk path instead.
  const max = style === 1 && data.length <= 4096 ? 1 : style <= 2 ? 7 : 300;
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; ) {
    const size = Math.min(data.length - offset, random.between(1, max));
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}
