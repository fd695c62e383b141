/**
 * Byte-level mutations of the coverage-guided fuzzer, the classic set
 * (libFuzzer's and AFL's): erase, insert, repeat, change a byte or a bit,
 * add to a 1/2/4-byte integer in either byte order, set a boundary value,
 * copy a part within the input, cross over with another corpus entry, and
 * insert or overwrite a dictionary word. Structure-aware mutations live
 * with each target; these reach whatever the structure does not model.
 */

import type { Random } from '../random.ts';

const INTERESTING_8 = [0, 1, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xfe, 0xff];
const INTERESTING_16 = [
  0, 1, 125, 126, 127, 128, 255, 256, 999, 1000, 1004, 1005, 1006, 1015, 2999, 3000, 4999, 5000, 0x7fff, 0x8000, 0xfffe, 0xffff,
];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x1fffff, 0x200000, 65535, 65536, 1 << 20];

function splice(data: Buffer, at: number, remove: number, insert: Uint8Array): Buffer {
  return Buffer.concat([data.subarray(0, at), insert, data.subarray(Math.min(data.length, at + remove))]);
}

export function mutateBytes(random: Random, data: Buffer, other: Buffer, dictionary: readonly Buffer[]): Buffer {
  const at = random.below(data.length + 1);
  const inside = data.length === 0 ? 0 : random.below(data.length);
  switch (random.below(13)) {
    case 0: {
      // Erase a run: short ones mostly, sometimes long.
      if (data.length === 0) return data;
      const length = random.chance(0.8) ? random.between(1, 4) : random.between(1, data.length);
      return splice(data, inside, length, Buffer.alloc(0));
    }
    case 1:
      return splice(data, at, 0, Buffer.from([random.next() & 0xff]));
    case 2: {
      const byte = random.chance(0.5) ? random.pick(INTERESTING_8) : random.next() & 0xff;
      return splice(data, at, 0, Buffer.alloc(random.between(2, random.chance(0.9) ? 32 : 1024), byte));
    }
    case 3: {
      if (data.length === 0) return data;
      const out = Buffer.from(data);
      out[inside] = random.chance(0.5) ? random.pick(INTERESTING_8) : random.next() & 0xff;
      return out;
    }
    case 4: {
      if (data.length === 0) return data;
      const out = Buffer.from(data);
      out[inside] ^= 1 << random.below(8);
      return out;
    }
    case 5:
    case 6: {
      // An integer of 1, 2 or 4 bytes, either order: a small step or a boundary value.
      const width = random.pick([1, 2, 4]);
      if (data.length < width) return data;
      const out = Buffer.from(data);
      const offset = random.below(data.length - width + 1);
      const bigEndian = random.chance(0.7);
      const read = (): number =>
        width === 1
          ? out[offset]
          : width === 2
            ? bigEndian
              ? out.readUInt16BE(offset)
              : out.readUInt16LE(offset)
            : bigEndian
              ? out.readUInt32BE(offset)
              : out.readUInt32LE(offset);
      const max = width === 1 ? 0xff : width === 2 ? 0xffff : 0xffffffff;
      let value: number;
      if (random.chance(0.5)) value = read() + random.between(-16, 16);
      else value = random.pick(width === 1 ? INTERESTING_8 : width === 2 ? INTERESTING_16 : INTERESTING_32);
      value = ((value % (max + 1)) + (max + 1)) % (max + 1);
      if (width === 1) out[offset] = value;
      else if (width === 2) bigEndian ? out.writeUInt16BE(value, offset) : out.writeUInt16LE(value, offset);
      else bigEndian ? out.writeUInt32BE(value, offset) : out.writeUInt32LE(value, offset);
      return out;
    }
    case 7: {
      // Copy a part of the input elsewhere in it (insert or overwrite).
      if (data.length === 0) return data;
      const length = random.between(1, Math.min(64, data.length - inside));
      const part = Buffer.from(data.subarray(inside, inside + length));
      if (random.chance(0.5)) return splice(data, at, 0, part);
      const out = Buffer.from(data);
      part.copy(out, random.below(data.length));
      return out;
    }
    case 8:
    case 9: {
      // Cross over: a part of another corpus entry, inserted, overwriting, or as the tail.
      if (other.length === 0) return data;
      const from = random.below(other.length);
      const part = other.subarray(from, from + random.between(1, other.length - from));
      const mode = random.below(3);
      if (mode === 0) return splice(data, at, 0, part);
      if (mode === 1) return splice(data, at, part.length, part);
      return Buffer.concat([data.subarray(0, at), other.subarray(from)]);
    }
    case 10:
    case 11: {
      if (dictionary.length === 0) return data;
      const word = random.pick(dictionary);
      return random.chance(0.5) ? splice(data, at, 0, word) : splice(data, at, word.length, word);
    }
    default: {
      // Truncate, or repeat a short slice many times (long values, many frames).
      if (random.chance(0.5)) return data.subarray(0, at);
      const slice = data.subarray(inside, inside + random.between(1, 16));
      return splice(data, at, 0, Buffer.concat(Array.from({ length: random.between(2, 64) }, () => slice)));
    }
  }
}
