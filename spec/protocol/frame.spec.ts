import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Opcode, headerSize, isControlOpcode, isKnownOpcode, writeHeader } from '../../src/protocol/frame.ts';

test('length encodings use the minimal form at every boundary', () => {
  const cases: Array<[number, number, number[]]> = [
    [0, 2, [0x00]],
    [125, 2, [125]],
    [126, 4, [126, 0x00, 126]],
    [65535, 4, [126, 0xff, 0xff]],
    [65536, 10, [127, 0, 0, 0, 0, 0, 1, 0, 0]],
    [2 ** 32 + 5, 10, [127, 0, 0, 0, 1, 0, 0, 0, 5]],
  ];
  for (const [length, size, bytes] of cases) {
    assert.is(headerSize(length, false), size, `size for ${length}`);
    const out = Buffer.alloc(size);
    const end = writeHeader(out, 0, Opcode.Binary, true, false, length, null);
    assert.is(end, size);
    assert.is(out[0], 0x82);
    assert.equal([...out.subarray(1)], bytes, `bytes for ${length}`);
  }
});

test('masked headers carry the key and the mask bit', () => {
  const key = Buffer.from([1, 2, 3, 4]);
  const out = Buffer.alloc(headerSize(300, true));
  assert.is(out.length, 8);
  writeHeader(out, 0, Opcode.Text, false, true, 300, key);
  assert.is(out[0], 0x41, 'no FIN, RSV1, text');
  assert.is(out[1], 0x80 | 126);
  assert.equal([...out.subarray(4)], [1, 2, 3, 4]);
});

test('opcode classes', () => {
  for (const op of [0, 1, 2, 8, 9, 10]) assert.ok(isKnownOpcode(op), `known ${op}`);
  for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) assert.not.ok(isKnownOpcode(op), `reserved ${op}`);
  assert.ok(isControlOpcode(Opcode.Close) && isControlOpcode(Opcode.Ping) && isControlOpcode(Opcode.Pong));
  assert.not.ok(isControlOpcode(Opcode.Text));
});

test.run();
