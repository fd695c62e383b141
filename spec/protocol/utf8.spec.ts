import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Utf8Validator, isValidUtf8 } from '../../src/protocol/utf8.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const fatal = new TextDecoder('utf-8', { fatal: true });

/** Reference answer from the WHATWG decoder in fatal mode. */
function referenceValid(bytes: Uint8Array): boolean {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Feeds all pieces; true only when every feed and the final end() succeed. */
function validate(pieces: Uint8Array[]): boolean {
  const v = new Utf8Validator();
  let ok = true;
  for (const piece of pieces) ok = v.feed(piece) && ok;
  return v.end() && ok;
}

const whole = (bytes: Uint8Array): boolean => validate([bytes]);
const byteByByte = (bytes: Uint8Array): boolean => validate([...bytes].map((b) => Uint8Array.of(b)));

function expectValid(bytes: Uint8Array, label: string): void {
  assert.ok(whole(bytes), `${label}: whole`);
  assert.ok(byteByByte(bytes), `${label}: byte by byte`);
  assert.ok(isValidUtf8(bytes), `${label}: isValidUtf8`);
}

function expectInvalid(bytes: Uint8Array, label: string): void {
  assert.not.ok(whole(bytes), `${label}: whole`);
  assert.not.ok(byteByByte(bytes), `${label}: byte by byte`);
  assert.not.ok(isValidUtf8(bytes), `${label}: isValidUtf8`);
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.not.ok(validate([bytes.subarray(0, cut), bytes.subarray(cut)]), `${label}: split at ${cut}`);
  }
}

// ---------------------------------------------------------------- valid text

test('valid: empty input', () => {
  const v = new Utf8Validator();
  assert.ok(v.feed(new Uint8Array(0)));
  assert.ok(v.end());
  expectValid(new Uint8Array(0), 'empty');
});

test('valid: ASCII, including NUL and DEL', () => {
  expectValid(Buffer.from('Hello, World! 0123456789'), 'ascii');
  expectValid(hex('00 7f'), 'NUL and DEL');
  expectValid(Buffer.from('x'.repeat(10000)), 'long ascii');
});

test('valid: 2-, 3- and 4-byte sequences', () => {
  expectValid(Buffer.from('é'), '2-byte é');
  expectValid(hex('c2 80'), 'U+0080, smallest 2-byte');
  expectValid(hex('df bf'), 'U+07FF, largest 2-byte');
  expectValid(Buffer.from('€'), '3-byte €');
  expectValid(hex('e0 a0 80'), 'U+0800, smallest 3-byte');
  expectValid(hex('ed 9f bf'), 'U+D7FF, just below the surrogates');
  expectValid(hex('ee 80 80'), 'U+E000, just above the surrogates');
  expectValid(Buffer.from('𝄞'), '4-byte 𝄞');
  expectValid(hex('f0 90 80 80'), 'U+10000, smallest 4-byte');
  expectValid(hex('f1 80 80 80'), 'U+40000');
  expectValid(hex('f3 bf bf bf'), 'U+FFFFF');
});

test('valid: U+FFFF and the maximum U+10FFFF', () => {
  expectValid(hex('ef bf bf'), 'U+FFFF');
  expectValid(hex('ef bf be'), 'U+FFFE');
  expectValid(hex('f4 8f bf bf'), 'U+10FFFF');
  expectValid(Buffer.from('\u{10FFFF}'), 'U+10FFFF from JS');
});

test('valid: a long mixed text (the native bulk path)', () => {
  const text = 'Grüße, 世界! 🎉 κόσμε '.repeat(500);
  expectValid(Buffer.from(text), 'mixed long');
});

// -------------------------------------------------------------- invalid text

test('invalid: stray continuation bytes', () => {
  expectInvalid(hex('80'), 'lone 80');
  expectInvalid(hex('bf'), 'lone bf');
  expectInvalid(hex('41 80 41'), 'continuation after ASCII');
  expectInvalid(hex('c3 a9 80'), 'extra continuation after a 2-byte sequence');
  expectInvalid(hex('e2 82 ac 80'), 'extra continuation after a 3-byte sequence');
  expectInvalid(hex('80 80 80 80 80'), 'run of continuations');
  expectInvalid(Buffer.concat([Buffer.from('a'.repeat(100)), hex('80'), Buffer.from('a'.repeat(100))]), 'in the middle');
});

test('invalid: overlong encodings (C0 80, C1 BF, E0 80 80, E0 9F BF, F0 80 80 80, F0 8F BF BF)', () => {
  expectInvalid(hex('c0 80'), 'overlong NUL, 2 bytes');
  expectInvalid(hex('c1 bf'), 'overlong U+007F');
  expectInvalid(hex('c0 af'), 'overlong "/"');
  expectInvalid(hex('e0 80 80'), 'overlong NUL, 3 bytes');
  expectInvalid(hex('e0 80 af'), 'overlong "/", 3 bytes');
  expectInvalid(hex('e0 9f bf'), 'overlong U+07FF');
  expectInvalid(hex('f0 80 80 80'), 'overlong NUL, 4 bytes');
  expectInvalid(hex('f0 80 80 af'), 'overlong "/", 4 bytes');
  expectInvalid(hex('f0 8f bf bf'), 'overlong U+FFFF');
});

test('invalid: UTF-16 surrogates (ED A0 80 .. ED BF BF)', () => {
  for (const s of ['ed a0 80', 'ed ad bf', 'ed ae 80', 'ed af bf', 'ed b0 80', 'ed be 80', 'ed bf bf']) {
    expectInvalid(hex(s), `surrogate ${s}`);
  }
  expectInvalid(hex('ed a0 80 ed b0 80'), 'paired surrogates U+D800 U+DC00');
  expectInvalid(hex('ed af bf ed bf bf'), 'paired surrogates U+DBFF U+DFFF');
});

test('invalid: code points above U+10FFFF and bytes F5..FF', () => {
  expectInvalid(hex('f4 90 80 80'), 'U+110000');
  expectInvalid(hex('f4 bf bf bf'), 'U+13FFFF');
  expectInvalid(hex('f7 bf bf bf'), 'U+1FFFFF');
  for (let b = 0xf5; b <= 0xff; b++) {
    expectInvalid(Uint8Array.of(b), `lone ${b.toString(16)}`);
    expectInvalid(Uint8Array.of(b, 0x80, 0x80, 0x80), `${b.toString(16)} 80 80 80`);
  }
  expectInvalid(hex('f8 88 80 80 80'), '5-byte form');
  expectInvalid(hex('fc 84 80 80 80 80'), '6-byte form');
  expectInvalid(hex('fe fe ff ff'), 'FE FE FF FF');
});

test('invalid: a lead byte followed by a non-continuation byte', () => {
  expectInvalid(hex('c3 41'), '2-byte lead then ASCII');
  expectInvalid(hex('e2 82 41'), '3-byte lead, 1 continuation, then ASCII');
  expectInvalid(hex('f0 9f 98 41'), '4-byte lead, 2 continuations, then ASCII');
  expectInvalid(hex('c3 c3 a9'), 'lead then lead');
  expectInvalid(hex('e0 20'), 'lonely E0');
  expectInvalid(hex('f0 20'), 'lonely F0');
});

test('invalid: truncated sequences at the end: feed succeeds, end() fails', () => {
  for (const s of ['c3', 'e2', 'e2 82', 'e0 a0', 'ed 9f', 'f0', 'f0 9f', 'f0 9f 98', 'f4 8f bf', '41 42 f0 9f 98']) {
    const v = new Utf8Validator();
    assert.ok(v.feed(hex(s)), `feed ${s} is still a valid prefix`);
    assert.not.ok(v.end(), `end after ${s}`);
    assert.not.ok(isValidUtf8(hex(s)), `isValidUtf8 ${s}`);
  }
});

// -------------------------------------------------------------- incremental

const MIXED = Buffer.from('aé€𝄞\u{10FFFF}\uFFFF κόσμε ü 世 🎉!');

test('every split point of a mixed valid string, fed in two pieces, stays valid', () => {
  for (let cut = 0; cut <= MIXED.length; cut++) {
    const v = new Utf8Validator();
    assert.ok(v.feed(MIXED.subarray(0, cut)), `first piece, cut ${cut}`);
    assert.ok(v.feed(MIXED.subarray(cut)), `second piece, cut ${cut}`);
    assert.ok(v.end(), `end, cut ${cut}`);
  }
});

test('every pair of split points (three pieces) stays valid', () => {
  for (let a = 0; a <= MIXED.length; a++) {
    for (let b = a; b <= MIXED.length; b++) {
      assert.ok(validate([MIXED.subarray(0, a), MIXED.subarray(a, b), MIXED.subarray(b)]), `cuts at ${a} and ${b}`);
    }
  }
});

test('the mixed valid string fed byte by byte stays valid, with end() false mid-sequence', () => {
  const v = new Utf8Validator();
  for (let i = 0; i < MIXED.length; i++) assert.ok(v.feed(MIXED.subarray(i, i + 1)), `byte ${i}`);
  assert.ok(v.end());
  // Cut right after the first byte of é: not on a boundary.
  const w = new Utf8Validator();
  assert.ok(w.feed(MIXED.subarray(0, 2)));
  assert.not.ok(w.end());
});

test('an invalid byte is found at every split point (two pieces)', () => {
  const bad = Buffer.concat([MIXED, hex('ed a0 80'), MIXED]);
  for (let cut = 0; cut <= bad.length; cut++) {
    assert.not.ok(validate([bad.subarray(0, cut), bad.subarray(cut)]), `cut ${cut}`);
  }
});

test('differential: matches the fatal TextDecoder on pseudo-random mutated text, whole and split', () => {
  let x = 0x9e3779b9;
  const rand = (n: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  const interesting = [
    0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
  ];
  const samples = ['a', 'é', '€', '𝄞', '\u{10FFFF}', '\uFFFF', '\uD7FF', '\uE000', 'κόσμε'];
  let validCount = 0;
  for (let round = 0; round < 3000; round++) {
    let text = '';
    const parts = 1 + rand(8);
    for (let p = 0; p < parts; p++) text += samples[rand(samples.length)];
    const bytes = Buffer.from(text);
    const mutations = rand(3);
    for (let m = 0; m < mutations; m++) {
      const at = rand(bytes.length);
      bytes[at] = rand(2) === 0 ? interesting[rand(interesting.length)] : rand(256);
    }
    const expected = referenceValid(bytes);
    if (expected) validCount++;
    const label = `round ${round}: ${bytes.toString('hex')}`;
    assert.is(whole(bytes), expected, `${label} whole`);
    assert.is(byteByByte(bytes), expected, `${label} byte by byte`);
    const cut = rand(bytes.length + 1);
    assert.is(validate([bytes.subarray(0, cut), bytes.subarray(cut)]), expected, `${label} cut ${cut}`);
    assert.is(isValidUtf8(bytes), expected, `${label} isValidUtf8`);
  }
  assert.ok(validCount > 300 && validCount < 2700, `sample mix: ${validCount} valid`);
});

// --------------------------------------------------------------- fail-fast

test('fail-fast: a certain-invalid prefix alone is rejected immediately', () => {
  const prefixes: Array<[string, string]> = [
    ['f4 90', 'above U+10FFFF'],
    ['e0 80', 'overlong 3-byte'],
    ['e0 9f', 'overlong 3-byte'],
    ['ed a0', 'surrogate'],
    ['ed bf', 'surrogate'],
    ['f0 80', 'overlong 4-byte'],
    ['f0 8f', 'overlong 4-byte'],
    ['c0', 'overlong 2-byte lead'],
    ['c1', 'overlong 2-byte lead'],
    ['f5', 'lead above F4'],
    ['ff', 'never valid'],
    ['80', 'stray continuation'],
  ];
  for (const [s, why] of prefixes) {
    const v = new Utf8Validator();
    assert.not.ok(v.feed(hex(s)), `${s} (${why})`);
  }
});

test('fail-fast: the invalid prefix is rejected when it arrives byte by byte', () => {
  for (const s of ['f4 90', 'e0 80', 'ed a0', 'f0 80', 'f0 8f']) {
    const v = new Utf8Validator();
    const bytes = hex(s);
    assert.ok(v.feed(bytes.subarray(0, 1)), `lead of ${s} alone is fine`);
    assert.not.ok(v.feed(bytes.subarray(1)), `second byte of ${s}`);
  }
  const w = new Utf8Validator();
  assert.ok(w.feed(hex('f0 9f')));
  assert.not.ok(w.feed(hex('41')), 'ASCII inside a 4-byte sequence');
});

test('fail-fast: an invalid prefix after valid text in the same piece', () => {
  for (const s of ['f4 90', 'e0 80', 'ed a0', 'c0', 'f5']) {
    const v = new Utf8Validator();
    assert.not.ok(v.feed(Buffer.concat([Buffer.from('hello κόσμε '), hex(s)])), s);
  }
});

test('after a rejection the validator stays failed until end() or reset()', () => {
  const v = new Utf8Validator();
  assert.not.ok(v.feed(hex('c0')));
  assert.not.ok(v.feed(Buffer.from('fine text')), 'sticky');
  assert.not.ok(v.feed(new Uint8Array(0)), 'sticky on empty input too');
  assert.not.ok(v.end());
  assert.ok(v.feed(Buffer.from('fine text')), 'usable again after end()');
  assert.ok(v.end());
});

// ------------------------------------------------------- Autobahn 6.x style

test('Autobahn 6.2-6.3: "κόσμε" is valid; with an embedded surrogate it is not', () => {
  const kosme = hex('ce ba e1 bd b9 cf 83 ce bc ce b5');
  assert.is(kosme.toString('utf8'), '\u03ba\u1f79\u03c3\u03bc\u03b5', 'the Autobahn κόσμε uses U+1F79');
  expectValid(kosme, '6.2 κόσμε');
  expectInvalid(hex('ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64'), '6.3.1 κόσμε + ED A0 80 + "edited"');
});

test('Autobahn 6.4: fail fast on "κόσμε" + F4 90 (80 80) + "edited"', () => {
  const prefix = hex('ce ba e1 bd b9 cf 83 ce bc ce b5');
  // 6.4.1: three pieces; the second already cannot be valid.
  let v = new Utf8Validator();
  assert.ok(v.feed(prefix));
  assert.not.ok(v.feed(hex('f4 90 80 80')));
  // 6.4.2: the code point split after F4.
  v = new Utf8Validator();
  assert.ok(v.feed(Buffer.concat([prefix, hex('f4')])));
  assert.not.ok(v.feed(hex('90 80 80 65 64 69 74 65 64')));
  // 6.4.3/6.4.4: fed a byte at a time, the failure comes at 0x90.
  v = new Utf8Validator();
  const all = Buffer.concat([prefix, hex('f4 90 80 80 65 64 69 74 65 64')]);
  let failedAt = -1;
  for (let i = 0; i < all.length; i++) {
    if (!v.feed(all.subarray(i, i + 1))) {
      failedAt = i;
      break;
    }
  }
  assert.is(failedAt, prefix.length + 1);
});

test('Autobahn 6.5-6.6: every prefix of "κόσμε" is a valid prefix; only whole characters end cleanly', () => {
  const kosme = hex('ce ba e1 bd b9 cf 83 ce bc ce b5');
  const boundaries = new Set([0, 2, 5, 7, 9, 11]);
  for (let n = 0; n <= kosme.length; n++) {
    const v = new Utf8Validator();
    assert.ok(v.feed(kosme.subarray(0, n)), `prefix ${n}`);
    assert.is(v.end(), boundaries.has(n), `end after ${n} bytes`);
  }
});

test('Autobahn 6.7-6.11: boundary code points', () => {
  for (const s of [
    '00',
    'c2 80',
    'e0 a0 80',
    'f0 90 80 80',
    '7f',
    'df bf',
    'ef bf bf',
    'f4 8f bf bf',
    'ed 9f bf',
    'ee 80 80',
    'ef bf bd',
  ]) {
    expectValid(hex(s), s);
  }
  for (const s of ['f8 88 80 80 80', 'fc 84 80 80 80 80', 'f7 bf bf bf', 'fb bf bf bf bf', 'fd bf bf bf bf bf', 'f4 90 80 80']) {
    expectInvalid(hex(s), s);
  }
});

test('Autobahn 6.12-6.16: continuations, lonely starts, missing last bytes, impossible bytes', () => {
  for (const s of ['80', 'bf', '80 bf', '80 bf 80', '80 bf 80 bf', '80 bf 80 bf 80', '80 bf 80 bf 80 bf']) expectInvalid(hex(s), s);
  for (let b = 0xc0; b <= 0xfd; b++) expectInvalid(Uint8Array.of(b, 0x20), `lonely ${b.toString(16)} 20`);
  for (const s of ['c0', 'e0 80', 'f0 80 80', 'df', 'ef bf', 'f7 bf bf']) expectInvalid(hex(s), `missing last byte ${s}`);
  expectInvalid(hex('c0 e0 80 f0 80 80 f8 80 80 80 fc 80 80 80 80 df ef bf f7 bf bf fb bf bf bf fd bf bf bf bf'), '6.15 concatenation');
  for (const s of ['fe', 'ff', 'fe fe ff ff']) expectInvalid(hex(s), s);
});

test('Autobahn 6.17-6.21: overlong forms and surrogates', () => {
  for (const s of ['c0 af', 'e0 80 af', 'f0 80 80 af', 'f8 80 80 80 af', 'fc 80 80 80 80 af']) expectInvalid(hex(s), s);
  for (const s of ['c1 bf', 'e0 9f bf', 'f0 8f bf bf', 'f8 87 bf bf bf', 'fc 83 bf bf bf bf']) expectInvalid(hex(s), s);
  for (const s of ['c0 80', 'e0 80 80', 'f0 80 80 80', 'f8 80 80 80 80', 'fc 80 80 80 80 80']) expectInvalid(hex(s), s);
  for (const s of ['ed a0 80', 'ed ad bf', 'ed ae 80', 'ed af bf', 'ed b0 80', 'ed be 80', 'ed bf bf']) expectInvalid(hex(s), s);
  for (const s of ['ed a0 80 ed b0 80', 'ed a0 80 ed bf bf', 'ed ad bf ed b0 80', 'ed af bf ed bf bf']) expectInvalid(hex(s), s);
});

test('Autobahn 6.22-6.23: noncharacters and U+FFFD are valid', () => {
  for (const s of ['ef bf be', 'ef bf bf', 'f0 9f bf be', 'f0 9f bf bf', 'f4 8f bf be', 'ef b7 90', 'ef b7 af', 'ef bf bd']) {
    expectValid(hex(s), s);
  }
});

// ------------------------------------------------------------ reuse, reset

test('end() resets the state for the next message', () => {
  const v = new Utf8Validator();
  assert.ok(v.feed(hex('e2 82')));
  assert.not.ok(v.end(), 'message ended mid-sequence');
  // A fresh message: a continuation byte at the start must not complete the old sequence.
  assert.not.ok(v.feed(hex('ac')), 'stale state was cleared');
  v.end();
  assert.ok(v.feed(Buffer.from('€')));
  assert.ok(v.end());
  assert.ok(v.end(), 'end() on a fresh validator is true');
});

test('reset() discards an unfinished sequence', () => {
  const v = new Utf8Validator();
  assert.ok(v.feed(hex('f0 9f 98')));
  v.reset();
  assert.ok(v.feed(Buffer.from('ok')));
  assert.ok(v.end());
  const w = new Utf8Validator();
  assert.not.ok(w.feed(hex('c0')));
  w.reset();
  assert.ok(w.feed(Buffer.from('ok')), 'reset() also clears a rejection');
  assert.ok(w.end());
});

test('isValidUtf8 checks whole buffers', () => {
  assert.ok(isValidUtf8(Buffer.from('κόσμε')));
  assert.ok(isValidUtf8(new Uint8Array(0)));
  assert.not.ok(isValidUtf8(hex('e2 82')));
  assert.not.ok(isValidUtf8(hex('ed a0 80')));
  const backing = Buffer.from([0xff, 0x41, 0x42, 0xff]);
  assert.ok(isValidUtf8(backing.subarray(1, 3)), 'only the view is checked');
});

test.run();
