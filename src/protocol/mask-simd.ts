/**
 * Masking with WebAssembly SIMD: 16 bytes per instruction, 64 per loop turn.
 * The payload is copied into the module's memory and back, a slice at a
 * time; even with both copies this is 4-6x the JavaScript word loop from
 * 1 KiB up (bench/: "unmask in place"), and what makes large messages cheap.
 */

import { MASK_SIMD_WASM } from './mask-simd-module.ts';

// The WebAssembly types live in lib.dom, which netws does not compile with;
// this is the little of the global that is used here.
interface MaskModuleExports {
  memory: { buffer: ArrayBuffer };
  mask(length: number, key: number): void;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: MaskModuleExports };
};

/** Bytes masked per round trip through the module's memory (it has 128 KiB). */
const SLICE = 64 * 1024;

export type MaskFunction = (data: Uint8Array, key: Uint8Array, phase: number) => void;

/** Instantiates the module; null where WebAssembly or its SIMD is not available. */
export function createSimdMask(wasm: Uint8Array = Buffer.from(MASK_SIMD_WASM, 'base64')): MaskFunction | null {
  let exports: MaskModuleExports;
  try {
    exports = new WebAssembly.Instance(new WebAssembly.Module(wasm), {}).exports;
  } catch {
    return null;
  }
  const memory = new Uint8Array(exports.memory.buffer);
  const mask = exports.mask;
  return (data, key, phase) => {
    // The key as the little-endian word WebAssembly loads, rotated to `phase`.
    const word = key[phase & 3] | (key[(phase + 1) & 3] << 8) | (key[(phase + 2) & 3] << 16) | (key[(phase + 3) & 3] << 24);
    const length = data.length;
    if (length <= SLICE) {
      memory.set(data);
      mask(length, word);
      data.set(memory.subarray(0, length));
      return;
    }
    for (let start = 0; start < length; start += SLICE) {
      const piece = data.subarray(start, Math.min(length, start + SLICE));
      memory.set(piece);
      mask(piece.length, word);
      piece.set(memory.subarray(0, piece.length));
    }
  };
}
