import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimdMask } from '../../src/protocol/mask-simd.ts';

const KEY = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);

function reference(data: Uint8Array, phase: number): Uint8Array {
  return data.map((byte, i) => byte ^ KEY[(phase + i) & 3]);
}

function sample(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 151 + 7) & 0xff);
}

test('the embedded module instantiates on Node 20 (WebAssembly SIMD available)', () => {
  assert.type(createSimdMask(), 'function');
});

test('bytes that are not a WebAssembly module give null, so the word loop is used', () => {
  assert.is(createSimdMask(Uint8Array.from([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9])), null);
});

test('5.3: matches the reference for lengths off the 64-byte step, every phase', () => {
  const mask = createSimdMask()!;
  for (const length of [1, 15, 16, 63, 64, 65, 127, 128, 1000]) {
    for (let phase = 0; phase < 4; phase++) {
      const data = sample(length);
      mask(data, KEY, phase);
      assert.equal([...data], [...reference(sample(length), phase)], `length ${length}, phase ${phase}`);
    }
  }
});

test('5.3: payloads longer than one slice of module memory are masked slice by slice', () => {
  const mask = createSimdMask()!;
  const length = 2 * 65536 + 5;
  for (let phase = 0; phase < 4; phase++) {
    const data = sample(length);
    mask(data, KEY, phase);
    assert.ok(Buffer.from(data).equals(Buffer.from(reference(sample(length), phase))), `phase ${phase}`);
  }
});

test('bytes of the view only: neighbours in the same ArrayBuffer stay untouched', () => {
  const mask = createSimdMask()!;
  const backing = new Uint8Array(300).fill(0xa5);
  const view = backing.subarray(3, 297);
  mask(view, KEY, 1);
  assert.equal([...backing.subarray(0, 3), ...backing.subarray(297)], [0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5]);
  assert.equal([...view], [...reference(new Uint8Array(294).fill(0xa5), 1)]);
});

test.run();
