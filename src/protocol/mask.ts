/**
 * Masking (RFC 6455 section 5.3). The payload is XORed with a 4-byte key,
 * byte i with key[i % 4]. Long buffers go a 32-bit word at a time: JavaScript
 * has no SIMD, but a Uint32Array loop is several times faster than a byte loop.
 */

import { randomFillSync } from 'node:crypto';
import { createSimdMask } from './mask-simd.ts';

/** Below this many bytes a plain byte loop beats setting up a word view. */
const WORD_LOOP_MIN = 32;

/**
 * From this many bytes on the WebAssembly SIMD loop wins, copies into and out
 * of its memory included (measured with bench/: "unmask in place").
 */
export const SIMD_MASK_MIN = 128;
const simdMask = createSimdMask();

// The 4 mask bytes as one native-endian word, built through a shared view so
// the code works the same on little- and big-endian machines.
const keyWord = new Uint32Array(1);
const keyBytes = new Uint8Array(keyWord.buffer);

/**
 * XORs `data` in place with `key`, starting at position `phase` of the key
 * (the number of payload bytes of this frame already unmasked before `data`).
 */
export function applyMask(data: Uint8Array, key: Uint8Array, phase = 0): void {
  const length = data.length;
  if (length >= SIMD_MASK_MIN && simdMask !== null) {
    simdMask(data, key, phase);
    return;
  }
  let i = 0;
  if (length >= WORD_LOOP_MIN) {
    // Walk bytes until the view is 4-byte aligned in its ArrayBuffer.
    while (((data.byteOffset + i) & 3) !== 0) {
      data[i] ^= key[(phase + i) & 3];
      i++;
    }
    const words = (length - i) >>> 2;
    const start = phase + i;
    keyBytes[0] = key[start & 3];
    keyBytes[1] = key[(start + 1) & 3];
    keyBytes[2] = key[(start + 2) & 3];
    keyBytes[3] = key[(start + 3) & 3];
    const word = keyWord[0];
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= word;
    i += words << 2;
  }
  for (; i < length; i++) data[i] ^= key[(phase + i) & 3];
}

// Mask keys come from a pooled buffer so each frame does not pay for a call
// into the CSPRNG; the pool is refilled when it runs out.
const KEY_POOL_SIZE = 8192;
const keyPool = Buffer.allocUnsafe(KEY_POOL_SIZE);
let keyPoolOffset = KEY_POOL_SIZE;

/**
 * A fresh random 4-byte key (5.3: unpredictable, per frame). The returned view
 * is only valid until the next call: copy it into the frame right away.
 */
export function nextMaskKey(): Buffer {
  if (keyPoolOffset === KEY_POOL_SIZE) {
    randomFillSync(keyPool);
    keyPoolOffset = 0;
  }
  const key = keyPool.subarray(keyPoolOffset, keyPoolOffset + 4);
  keyPoolOffset += 4;
  return key;
}
