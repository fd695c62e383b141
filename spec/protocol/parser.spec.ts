import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { Opcode } from '../../src/protocol/frame.ts';
import { FrameParser } from '../../src/protocol/parser.ts';
import { binary, closePayload, frame, text } from '../helpers.ts';

interface Collected {
  messages: Array<{ data: string; isBinary: boolean }>;
  controls: Array<{ opcode: number; payload: string }>;
  error: ProtocolError | null;
  parser: FrameParser;
}

function collect(options: { isServer?: boolean; maxPayload?: number } = {}): Collected {
  const out: Collected = { messages: [], controls: [], error: null, parser: null! };
  out.parser = new FrameParser(
    { isServer: options.isServer ?? true, maxPayload: options.maxPayload ?? 1024 * 1024 },
    {
      onMessage: (data, isBinary) => out.messages.push({ data: data.toString('latin1'), isBinary }),
      onControl: (opcode, payload) => out.controls.push({ opcode, payload: payload.toString('latin1') }),
    },
  );
  return out;
}

/** Feeds `bytes` split into chunks of the given sizes (cycled), recording a thrown ProtocolError. */
function feed(out: Collected, bytes: Buffer, chunkSizes: number[] = [bytes.length]): Collected {
  let offset = 0;
  let i = 0;
  try {
    while (offset < bytes.length) {
      const size = Math.max(1, chunkSizes[i++ % chunkSizes.length]);
      out.parser.push(Buffer.from(bytes.subarray(offset, offset + size)));
      offset += size;
    }
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    out.error = error;
  }
  return out;
}

function expectError(bytes: Buffer, code: string, closeCode: number, options?: { isServer?: boolean; maxPayload?: number }) {
  const out = feed(collect(options), bytes);
  assert.ok(out.error, `expected ${code}`);
  assert.is(out.error!.code, code);
  assert.is(out.error!.closeCode, closeCode);
  return out;
}

const frames = suite('parser: frames');

frames('a masked text frame from a client', () => {
  const out = feed(collect(), text('Hello'));
  assert.equal(out.messages, [{ data: 'Hello', isBinary: false }]);
});

frames('an unmasked frame from a server (client side)', () => {
  const out = feed(collect({ isServer: false }), binary(Buffer.from([1, 2, 3]), { mask: false }));
  assert.equal(out.messages, [{ data: '\x01\x02\x03', isBinary: true }]);
});

frames('RFC 6455 5.7 examples: unmasked and masked "Hello"', () => {
  const client = feed(collect({ isServer: false }), Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
  assert.is(client.messages[0].data, 'Hello');
  const server = feed(collect(), Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]));
  assert.is(server.messages[0].data, 'Hello');
  const fragmented = feed(collect({ isServer: false }), Buffer.from([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]));
  assert.is(fragmented.messages[0].data, 'Hello');
});

frames('payload lengths at the 7/16/64-bit boundaries', () => {
  for (const length of [0, 125, 126, 65535, 65536]) {
    const out = feed(collect(), binary(Buffer.alloc(length, 7)));
    assert.is(out.messages.length, 1, `length ${length}`);
    assert.is(out.messages[0].data.length, length);
  }
});

frames('the same stream split at every point gives the same messages', () => {
  const stream = Buffer.concat([
    text('héllo wörld, κόσμε'),
    frame({ opcode: Opcode.Ping, payload: 'p' }),
    binary(Buffer.alloc(300, 9)),
    text('frag-', { fin: false }),
    frame({ opcode: Opcode.Pong, payload: 'q' }),
    frame({ opcode: 0, payload: 'ment' }),
    text(''),
  ]);
  const reference = feed(collect(), stream);
  assert.is(reference.messages.length, 4);
  for (let split = 1; split < stream.length; split++) {
    const out = feed(collect(), stream, [split, stream.length]);
    assert.equal(out.messages, reference.messages, `split at ${split}`);
    assert.equal(out.controls, reference.controls, `split at ${split}`);
  }
  const byteByByte = feed(collect(), stream, [1]);
  assert.equal(byteByByte.messages, reference.messages);
  assert.equal(byteByByte.controls, reference.controls);
});

frames('control frames interleave with fragments', () => {
  const out = feed(
    collect(),
    Buffer.concat([
      text('a', { fin: false }),
      frame({ opcode: Opcode.Ping, payload: 'x' }),
      frame({ opcode: 0, payload: 'b', fin: false }),
      frame({ opcode: Opcode.Pong }),
      frame({ opcode: 0, payload: 'c' }),
    ]),
  );
  assert.equal(out.messages, [{ data: 'abc', isBinary: false }]);
  assert.equal(
    out.controls.map((c) => c.opcode),
    [Opcode.Ping, Opcode.Pong],
  );
});

frames('thousands of fragments reassemble (Autobahn 9.3/9.4 need 65,536)', () => {
  const parts: Buffer[] = [];
  const count = 65536;
  for (let i = 0; i < count; i++) {
    parts.push(frame({ opcode: i === 0 ? Opcode.Binary : 0, payload: Buffer.from([i & 0xff]), fin: i === count - 1 }));
  }
  const out = feed(collect(), Buffer.concat(parts), [4096]);
  assert.is(out.error, null);
  assert.is(out.messages.length, 1);
  const data = Buffer.from(out.messages[0].data, 'latin1');
  assert.is(data.length, count);
  for (let i = 0; i < count; i += 997) assert.is(data[i], i & 0xff);
});

frames('a message split into pieces by many small chunks is joined in order', () => {
  const payload = Buffer.alloc(100_000);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  const out = feed(collect(), binary(payload), [7, 13, 1]);
  assert.ok(Buffer.from(out.messages[0].data, 'latin1').equals(payload));
});

frames('empty chunks and input after stop() are ignored', () => {
  const out = collect();
  out.parser.push(Buffer.alloc(0));
  out.parser.stop();
  assert.ok(out.parser.isStopped);
  out.parser.push(text('ignored'));
  assert.equal(out.messages, []);
});

const errors = suite('parser: protocol errors');

errors("RSV1, RSV2, RSV3 without an extension → 1002 (ws's codes)", () => {
  expectError(text('x', { rsv: 4 }), 'WS_ERR_UNEXPECTED_RSV_1', 1002);
  for (const rsv of [2, 1]) expectError(text('x', { rsv }), 'WS_ERR_UNEXPECTED_RSV_2_3', 1002);
});

errors('reserved opcodes 3-7 and 11-15 → 1002', () => {
  for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    expectError(frame({ opcode }), 'WS_ERR_INVALID_OPCODE', 1002);
  }
});

errors('a fragmented control frame → 1002', () => {
  expectError(frame({ opcode: Opcode.Ping, fin: false }), 'WS_ERR_EXPECTED_FIN', 1002);
});

errors('a control frame longer than 125 bytes → 1002 before its payload arrives', () => {
  const bytes = frame({ opcode: Opcode.Ping, payload: Buffer.alloc(126) });
  expectError(bytes.subarray(0, 2), 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002);
});

errors('a continuation with no message open → 1002', () => {
  expectError(frame({ opcode: 0, payload: 'x' }), 'WS_ERR_INVALID_OPCODE', 1002);
});

errors('a new data frame while a message is open → 1002', () => {
  expectError(Buffer.concat([text('a', { fin: false }), text('b')]), 'WS_ERR_INVALID_OPCODE', 1002);
});

errors('a server refuses unmasked frames, a client masked ones → 1002', () => {
  expectError(text('x', { mask: false }), 'WS_ERR_EXPECTED_MASK', 1002);
  expectError(text('x'), 'WS_ERR_UNEXPECTED_MASK', 1002, { isServer: false });
});

errors('a 64-bit length with the high bit set, or beyond 2^53 - 1 → 1009 (as ws)', () => {
  const bytes = Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
  expectError(bytes, 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009);
  const justOver = Buffer.from([0x82, 0xff, 0, 0x20, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
  expectError(justOver, 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009, { maxPayload: Infinity });
});

errors('a frame announcing 2^53-1 bytes → 1009 at once, with nothing buffered', () => {
  const bytes = Buffer.from([0x82, 0xff, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
  expectError(bytes, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
});

errors('maxPayload counts across fragments and fails before buffering', () => {
  const first = binary(Buffer.alloc(60), { fin: false });
  const second = frame({ opcode: 0, payload: Buffer.alloc(41) });
  const out = expectError(Buffer.concat([first, second.subarray(0, 6)]), 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009, {
    maxPayload: 100,
  });
  assert.equal(out.messages, []);
  const exact = feed(collect({ maxPayload: 100 }), Buffer.concat([first, frame({ opcode: 0, payload: Buffer.alloc(40) })]));
  assert.is(exact.messages[0].data.length, 100, 'exactly maxPayload is fine');
});

errors('invalid UTF-8 fails as soon as it is certain, even mid-frame (6.4.x)', () => {
  // 0xF4 0x90 can never start a valid sequence: fail before the frame ends.
  const payload = Buffer.concat([Buffer.from('κόσμε'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('edited')]);
  const bytes = text(payload);
  const header = 6;
  const cut = header + Buffer.byteLength('κόσμε') + 2;
  expectError(bytes.subarray(0, cut), 'WS_ERR_INVALID_UTF8', 1007);
});

errors('invalid UTF-8 across fragments fails on the fragment that makes it certain', () => {
  const bytes = Buffer.concat([
    text(Buffer.from([0xce, 0xba, 0xe1]), { fin: false }),
    frame({ opcode: 0, payload: Buffer.from([0x28]), fin: false }),
  ]);
  expectError(bytes, 'WS_ERR_INVALID_UTF8', 1007);
});

errors('text ending inside a sequence → 1007', () => {
  expectError(text(Buffer.from([0x61, 0xe2, 0x82])), 'WS_ERR_INVALID_UTF8', 1007);
  expectError(
    Buffer.concat([text(Buffer.from([0xe2]), { fin: false }), frame({ opcode: 0, payload: Buffer.from([0x82]) })]),
    'WS_ERR_INVALID_UTF8',
    1007,
  );
});

errors('a whole invalid text frame → 1007; binary is not checked', () => {
  expectError(text(Buffer.from([0xff])), 'WS_ERR_INVALID_UTF8', 1007);
  const out = feed(collect(), binary(Buffer.from([0xff])));
  assert.is(out.error, null);
});

errors('nothing is parsed after an error', () => {
  const out = feed(collect(), Buffer.concat([frame({ opcode: 3 }), text('after')]));
  assert.ok(out.error);
  assert.equal(out.messages, []);
  out.parser.push(text('later'));
  assert.equal(out.messages, []);
});

errors('an exception from a message handler is not mistaken for a protocol error', () => {
  const parser = new FrameParser(
    { isServer: true, maxPayload: 100 },
    {
      onMessage: () => {
        throw new Error('user bug');
      },
      onControl: () => {},
    },
  );
  assert.throws(() => parser.push(text('x')), /user bug/);
  assert.not.ok(parser.isStopped);
});

errors('close frames are handed on whole, even split byte by byte', () => {
  const out = feed(collect(), frame({ opcode: Opcode.Close, payload: closePayload(1000, 'bye') }), [1]);
  assert.equal(out.controls, [{ opcode: Opcode.Close, payload: '\x03\xe8bye' }]);
});

frames("keepFragments is read at a message's first frame: switching it midway loses nothing", () => {
  for (const [before, after] of [
    [true, false],
    [false, true],
  ]) {
    const got: Array<{ data: string; fragments: string[] | null }> = [];
    const parser = new FrameParser(
      { isServer: true, maxPayload: 1024 },
      {
        onMessage: (data, _isBinary, _compressed, fragments) =>
          got.push({ data: data.toString(), fragments: fragments?.map((f) => f.toString()) ?? null }),
        onControl: () => {},
      },
    );
    parser.keepFragments = before;
    parser.push(binary(Buffer.from('AAA'), { fin: false }));
    parser.keepFragments = after;
    parser.push(frame({ opcode: Opcode.Continuation, payload: 'BBB', fin: false }));
    parser.push(frame({ opcode: Opcode.Continuation, payload: 'CCC' }));
    const expected = before ? { data: '', fragments: ['AAA', 'BBB', 'CCC'] } : { data: 'AAABBBCCC', fragments: null };
    assert.equal(got, [expected], `keepFragments ${before} -> ${after}`);
  }
});

frames.run();
errors.run();
