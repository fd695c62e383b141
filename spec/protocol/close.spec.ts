import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CloseCode, MAX_CLOSE_REASON, encodeClosePayload, isValidCloseCode, parseClosePayload } from '../../src/protocol/close.ts';
import { ProtocolError, WebSocketError } from '../../src/protocol/errors.ts';

// uvu's assert.throws calls a function argument as a predicate, so pass one
// (passing the class itself would accept any error).
const isTypeError = (e: unknown): boolean => e instanceof TypeError;
const isRangeError = (e: unknown): boolean => e instanceof RangeError;

function payload(code: number, reason: Buffer | string = ''): Buffer {
  const bytes = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16BE(code, 0);
  bytes.copy(out, 2);
  return out;
}

function expectProtocolError(fn: () => unknown, code: string, closeCode: number): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, ProtocolError);
    assert.instance(error, WebSocketError);
    const e = error as ProtocolError;
    assert.is(e.code, code);
    assert.is(e.closeCode, closeCode);
    // As ws's receiver errors: a RangeError, an Error for text that is not UTF-8.
    assert.is(e.name, code === 'WS_ERR_INVALID_UTF8' ? 'Error' : 'RangeError');
    assert.ok(e.message.startsWith('Invalid WebSocket frame: '), e.message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

// ------------------------------------------------------------ isValidCloseCode

test('7.4.1: codes below 1000 are never valid (0, 999)', () => {
  for (const code of [0, 1, 500, 999]) assert.not.ok(isValidCloseCode(code), `${code}`);
});

test('7.4.1: 1000-1003 are valid', () => {
  for (const code of [1000, 1001, 1002, 1003]) assert.ok(isValidCloseCode(code), `${code}`);
});

test('7.4.1: 1004 is reserved', () => {
  assert.not.ok(isValidCloseCode(1004));
});

test('7.4.1: 1005 and 1006 are for local use only, never on the wire', () => {
  assert.not.ok(isValidCloseCode(1005));
  assert.not.ok(isValidCloseCode(1006));
});

test('7.4.1 + IANA registry: 1007-1014 are valid', () => {
  for (let code = 1007; code <= 1014; code++) assert.ok(isValidCloseCode(code), `${code}`);
});

test('7.4.1: 1015 (TLS failure) is for local use only', () => {
  assert.not.ok(isValidCloseCode(1015));
});

test('7.4.2: 1016-2999 are reserved', () => {
  for (const code of [1016, 1100, 2000, 2999]) assert.not.ok(isValidCloseCode(code), `${code}`);
});

test('7.4.2: 3000-4999 belong to libraries and applications', () => {
  for (const code of [3000, 3999, 4000, 4999]) assert.ok(isValidCloseCode(code), `${code}`);
});

test('codes from 5000 up are not valid', () => {
  for (const code of [5000, 6000, 65535]) assert.not.ok(isValidCloseCode(code), `${code}`);
});

test('CloseCode constants carry the RFC values', () => {
  assert.equal(CloseCode, {
    Normal: 1000,
    GoingAway: 1001,
    ProtocolError: 1002,
    UnsupportedData: 1003,
    NoStatus: 1005,
    Abnormal: 1006,
    InvalidPayload: 1007,
    PolicyViolation: 1008,
    MessageTooBig: 1009,
    MandatoryExtension: 1010,
    InternalError: 1011,
  });
  assert.is(MAX_CLOSE_REASON, 123);
});

// ----------------------------------------------------------- parseClosePayload

test('5.5.1: an empty close payload reports 1005 (no status) and an empty reason', () => {
  const result = parseClosePayload(Buffer.alloc(0));
  assert.is(result.code, 1005);
  assert.is(result.reason.length, 0);
});

test('5.5.1: a 1-byte close payload is a protocol error (1002)', () => {
  expectProtocolError(() => parseClosePayload(Buffer.from([0x03])), 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002);
});

test('7.4.1: a close frame with a code that may not be sent is a protocol error (1002)', () => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    expectProtocolError(() => parseClosePayload(payload(code)), 'WS_ERR_INVALID_CLOSE_CODE', 1002);
    expectProtocolError(() => parseClosePayload(payload(code, 'reason')), 'WS_ERR_INVALID_CLOSE_CODE', 1002);
  }
});

test('5.5.1 + 8.1: a reason that is not valid UTF-8 fails with 1007', () => {
  for (const bad of ['ff', 'c0 80', 'ed a0 80', 'f4 90 80 80', '80', '41 42 c3']) {
    const reason = Buffer.from(bad.replace(/ /g, ''), 'hex');
    expectProtocolError(() => parseClosePayload(payload(1000, reason)), 'WS_ERR_INVALID_UTF8', 1007);
  }
});

test('a reason truncated mid-character (valid prefix, incomplete end) fails with 1007', () => {
  const reason = Buffer.from('€').subarray(0, 2);
  expectProtocolError(() => parseClosePayload(payload(1001, reason)), 'WS_ERR_INVALID_UTF8', 1007);
});

test('valid code without reason, and code with a UTF-8 reason', () => {
  const bare = parseClosePayload(payload(1000));
  assert.is(bare.code, 1000);
  assert.is(bare.reason.length, 0);
  for (const code of [1000, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 4999]) {
    const result = parseClosePayload(payload(code, 'bye κόσμε 🎉'));
    assert.is(result.code, code);
    assert.is(result.reason.toString('utf8'), 'bye κόσμε 🎉');
  }
});

test('a 123-byte reason (the 125-byte control payload limit) parses', () => {
  const reason = 'r'.repeat(123);
  const result = parseClosePayload(payload(1000, reason));
  assert.is(result.reason.toString(), reason);
});

// ---------------------------------------------------------- encodeClosePayload

test('no code gives an empty payload', () => {
  assert.is(encodeClosePayload().length, 0);
  assert.is(encodeClosePayload(undefined, '').length, 0);
  assert.is(encodeClosePayload(undefined, new Uint8Array(0)).length, 0);
});

test('5.5.1: a reason without a code throws TypeError (the reason must follow a code)', () => {
  assert.throws(() => encodeClosePayload(undefined, 'why'), isTypeError);
  assert.throws(() => encodeClosePayload(undefined, Uint8Array.of(0x41)), isTypeError);
});

test('a code that may not be sent throws RangeError', () => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, 70000, -1]) {
    assert.throws(() => encodeClosePayload(code), isRangeError, `${code}`);
  }
});

test('a non-integer code throws RangeError', () => {
  for (const code of [1000.5, Number.NaN, Number.POSITIVE_INFINITY, 3000.0001]) {
    assert.throws(() => encodeClosePayload(code), isRangeError, `${code}`);
  }
});

test('code alone: 2 bytes, big-endian', () => {
  assert.equal([...encodeClosePayload(1000)], [0x03, 0xe8]);
  assert.equal([...encodeClosePayload(4999)], [0x13, 0x87]);
  assert.equal([...encodeClosePayload(1000, '')], [0x03, 0xe8]);
});

test('code and string reason: the reason is UTF-8 encoded', () => {
  const out = encodeClosePayload(1001, 'κόσμε');
  assert.is(out.readUInt16BE(0), 1001);
  assert.is(out.subarray(2).toString('utf8'), 'κόσμε');
  assert.is(out.length, 2 + Buffer.byteLength('κόσμε'));
});

test('5.5: a 124-byte reason does not fit the 125-byte control payload: RangeError', () => {
  assert.throws(() => encodeClosePayload(1000, 'x'.repeat(124)), isRangeError);
  assert.throws(() => encodeClosePayload(1000, new Uint8Array(124).fill(0x41)), isRangeError);
});

test('5.5: a 123-byte reason fits exactly (125-byte payload)', () => {
  const out = encodeClosePayload(1000, 'x'.repeat(123));
  assert.is(out.length, 125);
  const bytes = encodeClosePayload(1000, new Uint8Array(123).fill(0x41));
  assert.is(bytes.length, 125);
});

test('the reason limit counts UTF-8 bytes, not characters', () => {
  const fits = '€'.repeat(41); // 123 bytes
  assert.is(encodeClosePayload(1000, fits).length, 125);
  assert.throws(() => encodeClosePayload(1000, fits + 'a'), isRangeError, '124 bytes in 42 characters');
  assert.throws(() => encodeClosePayload(1000, '🎉'.repeat(31)), isRangeError, '124 bytes in 31 code points');
});

test('a Uint8Array reason over a larger ArrayBuffer copies only its own bytes (no leak of neighbours)', () => {
  const backing = new ArrayBuffer(64);
  const all = new Uint8Array(backing);
  all.fill(0x53); // 'S': secret bytes around the view
  const view = new Uint8Array(backing, 10, 5);
  view.set(Buffer.from('hello'));
  const out = encodeClosePayload(1000, view);
  assert.is(out.length, 7);
  assert.is(out.subarray(2).toString(), 'hello');
  assert.not.ok(out.includes(0x53), 'secret bytes leaked');
});

test('a Buffer reason over a larger pool copies only its own bytes', () => {
  // A pool built here: Node's Buffer.from() shares one for small Buffers, Bun's does not.
  const pool = Buffer.alloc(64, 0x53);
  pool.write('pooled', 8);
  const reason = pool.subarray(8, 14);
  assert.ok(reason.buffer.byteLength > reason.length, 'the reason is a view over a larger pool');
  const out = encodeClosePayload(3001, reason);
  assert.equal(out, Buffer.concat([Buffer.from([0x0b, 0xb9]), Buffer.from('pooled')]));
});

test('the payload is a copy: changing the reason afterwards does not change it', () => {
  const reason = Uint8Array.from(Buffer.from('abc'));
  const out = encodeClosePayload(1000, reason);
  reason[0] = 0x7a;
  assert.is(out.subarray(2).toString(), 'abc');
});

test('encode then parse round-trips', () => {
  for (const [code, reason] of [
    [1000, ''],
    [1001, 'going away'],
    [1011, 'κόσμε'],
    [4000, 'x'.repeat(123)],
  ] as Array<[number, string]>) {
    const parsed = parseClosePayload(encodeClosePayload(code, reason));
    assert.is(parsed.code, code);
    assert.is(parsed.reason.toString(), reason);
  }
  assert.is(parseClosePayload(encodeClosePayload()).code, 1005);
});

test.run();
