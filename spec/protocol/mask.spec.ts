import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyMask, nextMaskKey } from '../../src/protocol/mask.ts';

/** The obvious byte loop of RFC 6455 section 5.3: octet i XOR key[(phase + i) mod 4]. */
function referenceMask(data: Uint8Array, key: Uint8Array, phase: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ key[(phase + i) % 4];
  return out;
}

/** Deterministic pseudo-random bytes (xorshift32), so failures are reproducible. */
function pseudoRandom(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const KEY = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);

function checkCase(length: number, phase: number, offset: number, key: Uint8Array = KEY): void {
  const original = pseudoRandom(length, length * 131 + phase * 7 + offset + 1);
  // A larger buffer with guard bytes on both sides of the view.
  const backing = new Uint8Array(offset + length + 8);
  backing.fill(0xa5);
  const view = backing.subarray(offset, offset + length);
  view.set(original);
  applyMask(view, key, phase);
  const expected = referenceMask(original, key, phase);
  const label = `length ${length}, phase ${phase}, byteOffset ${offset}`;
  assert.equal(Buffer.from(view).equals(Buffer.from(expected)), true, label);
  for (let i = 0; i < offset; i++) assert.is(backing[i], 0xa5, `guard byte before the view untouched (${label})`);
  for (let i = offset + length; i < backing.length; i++) {
    assert.is(backing[i], 0xa5, `guard byte after the view untouched (${label})`);
  }
}

test('5.3: matches the reference byte loop for lengths 0..200, every phase, aligned view', () => {
  for (let length = 0; length <= 200; length++) {
    for (let phase = 0; phase < 4; phase++) checkCase(length, phase, 0);
  }
});

test('5.3: matches the reference byte loop on unaligned views (byteOffset 1, 2, 3)', () => {
  for (const offset of [1, 2, 3]) {
    for (let length = 0; length <= 200; length++) {
      for (let phase = 0; phase < 4; phase++) checkCase(length, phase, offset);
    }
  }
});

test('5.3: matches the reference on long payloads (1000 and 65536 + 3 bytes), every phase and offset', () => {
  for (const length of [1000, 65536 + 3]) {
    for (let phase = 0; phase < 4; phase++) {
      for (const offset of [0, 1, 2, 3]) checkCase(length, phase, offset);
    }
  }
});

test('phase is taken modulo 4 (a frame unmasked in many pieces)', () => {
  const data = pseudoRandom(100, 42);
  for (const phase of [4, 5, 6, 7, 1001]) {
    const a = Uint8Array.from(data);
    const b = Uint8Array.from(data);
    applyMask(a, KEY, phase);
    applyMask(b, KEY, phase % 4);
    assert.equal([...a], [...b], `phase ${phase}`);
  }
});

test('phase defaults to 0', () => {
  const data = pseudoRandom(77, 9);
  const a = Uint8Array.from(data);
  applyMask(a, KEY);
  assert.equal([...a], [...referenceMask(data, KEY, 0)]);
});

test('unmasking a payload piece by piece with the running phase equals unmasking it whole', () => {
  const data = pseudoRandom(1000, 3);
  const whole = Uint8Array.from(data);
  applyMask(whole, KEY, 0);
  for (const pieceSize of [1, 3, 7, 33, 100, 333]) {
    const pieces = Uint8Array.from(data);
    for (let start = 0; start < pieces.length; start += pieceSize) {
      applyMask(pieces.subarray(start, Math.min(pieces.length, start + pieceSize)), KEY, start);
    }
    assert.equal(Buffer.from(pieces).equals(Buffer.from(whole)), true, `piece size ${pieceSize}`);
  }
});

test('applying the mask twice restores the data (XOR is its own inverse)', () => {
  for (const length of [0, 1, 5, 31, 32, 33, 1000, 65539]) {
    for (let phase = 0; phase < 4; phase++) {
      for (const offset of [0, 1, 2, 3]) {
        const original = pseudoRandom(length, length + phase + offset + 5);
        const backing = new Uint8Array(length + offset);
        const view = backing.subarray(offset);
        view.set(original);
        applyMask(view, KEY, phase);
        applyMask(view, KEY, phase);
        assert.ok(Buffer.from(view).equals(Buffer.from(original)), `length ${length}, phase ${phase}, offset ${offset}`);
      }
    }
  }
});

test('works on a Buffer (pooled, arbitrary byteOffset) as well as a Uint8Array', () => {
  const data = Buffer.from(pseudoRandom(500, 11));
  const copy = Buffer.from(data);
  const key = Buffer.from([1, 2, 3, 4]);
  applyMask(data, key, 2);
  assert.equal([...data], [...referenceMask(copy, key, 2)]);
});

test('an all-zero key leaves the data unchanged', () => {
  const data = pseudoRandom(300, 13);
  const copy = Uint8Array.from(data);
  applyMask(data, new Uint8Array(4), 1);
  assert.equal([...data], [...copy]);
});

test('nextMaskKey returns 4 bytes', () => {
  const key = nextMaskKey();
  assert.ok(Buffer.isBuffer(key));
  assert.is(key.length, 4);
});

test('5.3: nextMaskKey differs between consecutive calls', () => {
  const a = Buffer.from(nextMaskKey());
  const b = Buffer.from(nextMaskKey());
  const c = Buffer.from(nextMaskKey());
  // A repeat has probability 2^-32 per pair.
  assert.not.ok(a.equals(b), 'two consecutive keys are equal');
  assert.not.ok(b.equals(c), 'two consecutive keys are equal');
});

test('5.3: nextMaskKey survives pool refills (over 2048 calls) and keeps producing fresh keys', () => {
  const calls = 2048 * 3 + 17;
  const keys: Buffer[] = [];
  for (let i = 0; i < calls; i++) {
    const key = nextMaskKey();
    assert.is(key.length, 4, `call ${i}`);
    keys.push(Buffer.from(key));
  }
  const distinct = new Set(keys.map((k) => k.toString('hex')));
  // ~6000 random 32-bit values: a handful of birthday collisions at most.
  assert.ok(distinct.size >= calls - 10, `only ${distinct.size} distinct keys out of ${calls}`);
  // A refill must bring new bytes, not replay the previous pool.
  const stream = Buffer.concat(keys);
  const firstPool = stream.subarray(0, 8192);
  const secondPool = stream.subarray(8192, 16384);
  assert.not.ok(firstPool.equals(secondPool), 'the pool repeats after a refill');
  let equalKeys = 0;
  for (let i = 0; i < 2048; i++) if (keys[i].equals(keys[i + 2048])) equalKeys++;
  assert.ok(equalKeys < 4, `${equalKeys} keys repeat with the pool period`);
  // Not stuck at zero.
  assert.ok(stream.some((byte) => byte !== 0));
});

test.run();
