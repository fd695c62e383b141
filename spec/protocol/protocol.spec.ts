import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ProtocolError } from '../../src/protocol/errors.ts';
import { Opcode } from '../../src/protocol/frame.ts';
import { Protocol } from '../../src/protocol/protocol.ts';
import { closePayload, decodeFrames, frame, text, isError } from '../helpers.ts';

function setup(isServer = true, maxPayload = 1 << 20) {
  const written: Buffer[] = [];
  const events: string[] = [];
  const errors: ProtocolError[] = [];
  const callbacks: Array<(() => void) | undefined> = [];
  const protocol = new Protocol(
    { isServer, maxPayload },
    {
      write: (header, payload, callback) => {
        written.push(payload ? Buffer.concat([header, payload]) : header);
        callbacks.push(callback as (() => void) | undefined);
      },
      onMessage: (data, isBinary) => events.push(`message:${isBinary ? 'bin' : 'text'}:${data.toString()}`),
      onPing: (data) => events.push(`ping:${data}`),
      onPong: (data) => events.push(`pong:${data}`),
      onCloseReceived: (code, reason) => events.push(`close:${code}:${reason}`),
      onProtocolError: (error) => errors.push(error),
    },
  );
  const sent = () => decodeFrames(Buffer.concat(written));
  return { protocol, written, events, errors, sent, callbacks };
}

test('a ping is answered with a pong carrying the same payload', () => {
  const { protocol, events, sent } = setup();
  protocol.receiveData(frame({ opcode: Opcode.Ping, payload: 'abc' }));
  assert.equal(events, ['ping:abc']);
  assert.equal(
    sent().map((f) => [f.opcode, f.payload.toString()]),
    [[Opcode.Pong, 'abc']],
  );
});

test('pongs and messages are reported', () => {
  const { protocol, events } = setup();
  protocol.receiveData(Buffer.concat([frame({ opcode: Opcode.Pong, payload: 'z' }), text('hi')]));
  assert.equal(events, ['pong:z', 'message:text:hi']);
});

test("the peer's close is echoed with its code and reason, then input stops", () => {
  const { protocol, events, sent } = setup();
  protocol.receiveData(Buffer.concat([frame({ opcode: Opcode.Close, payload: closePayload(4000, 'done') }), text('late')]));
  assert.equal(events, ['close:4000:done']);
  const frames = sent();
  assert.is(frames.length, 1);
  assert.is(frames[0].opcode, Opcode.Close);
  assert.is(frames[0].payload.readUInt16BE(0), 4000);
  assert.is(frames[0].payload.subarray(2).toString(), 'done');
  assert.ok(protocol.closeReceived && protocol.closeSent);
});

test('an empty close is echoed empty and reported as 1005', () => {
  const { protocol, events, sent } = setup();
  protocol.receiveData(frame({ opcode: Opcode.Close }));
  assert.equal(events, ['close:1005:']);
  assert.is(sent()[0].payload.length, 0);
});

test('a close answering ours is not echoed again', () => {
  const { protocol, sent } = setup();
  assert.ok(protocol.close(1000));
  protocol.receiveData(frame({ opcode: Opcode.Close, payload: closePayload(1000) }));
  assert.is(sent().length, 1);
  assert.not.ok(protocol.close(1000), 'only one close frame');
});

test('protocol errors write a close frame with the error code and report it', () => {
  const { protocol, errors, sent } = setup();
  protocol.receiveData(frame({ opcode: 5 }));
  assert.is(errors.length, 1);
  assert.is(errors[0].closeCode, 1002);
  const frames = sent();
  assert.is(frames.length, 1);
  assert.is(frames[0].payload.readUInt16BE(0), 1002);
  protocol.receiveData(text('ignored'));
  assert.is(errors.length, 1);
});

test('close frames with a bad code, a 1-byte payload or bad UTF-8 fail with 1002/1002/1007', () => {
  const cases: Array<[Buffer, number]> = [
    [closePayload(1005), 1002],
    [closePayload(999), 1002],
    [Buffer.from([0x03]), 1002],
    [Buffer.concat([closePayload(1000), Buffer.from([0xff])]), 1007],
  ];
  for (const [payload, code] of cases) {
    const { protocol, errors, sent } = setup();
    protocol.receiveData(frame({ opcode: Opcode.Close, payload }));
    assert.is(errors[0]?.closeCode, code);
    assert.is(sent()[0].payload.readUInt16BE(0), code);
  }
});

test('after a failure, an error is not written twice', () => {
  const { protocol, errors, sent } = setup();
  protocol.close(1000);
  protocol.receiveData(frame({ opcode: 5 }));
  assert.is(errors.length, 1);
  assert.is(sent().length, 1, 'only our first close frame');
});

test('a ping after our close frame is not answered', () => {
  const { protocol, events, sent } = setup();
  protocol.close(1001);
  protocol.receiveData(frame({ opcode: Opcode.Ping, payload: 'x' }));
  assert.equal(events, ['ping:x']);
  assert.is(sent().length, 1);
});

test('server frames are unmasked; small ones go in one write, large ones header + payload', () => {
  const { protocol, written, sent } = setup(true);
  protocol.sendMessage(Buffer.from('small'), false, true);
  protocol.sendMessage(Buffer.alloc(70_000, 1), true, true);
  assert.is(written.length, 2);
  const frames = sent();
  assert.equal(
    frames.map((f) => [f.opcode, f.masked, f.payload.length]),
    [
      [Opcode.Text, false, 5],
      [Opcode.Binary, false, 70_000],
    ],
  );
});

test('client frames are masked with a fresh key each, and the user buffer is untouched', () => {
  const { protocol, written, sent } = setup(false);
  const data = Buffer.from('the same payload');
  protocol.sendMessage(data, false, true);
  protocol.sendMessage(data, false, true);
  assert.is(data.toString(), 'the same payload');
  const frames = sent();
  assert.ok(frames.every((f) => f.masked && f.payload.toString() === 'the same payload'));
  const key = (b: Buffer) => b.subarray(2, 6).toString('hex');
  assert.is.not(key(written[0]), key(written[1]));
});

test('fragmented sending: first frame typed, then continuations, FIN on the last', () => {
  const { protocol, sent } = setup();
  protocol.sendMessage(Buffer.from('a'), true, false);
  protocol.sendMessage(Buffer.from('b'), true, false);
  protocol.sendMessage(Buffer.from('c'), true, true);
  protocol.sendMessage(Buffer.from('d'), false, true);
  assert.equal(
    sent().map((f) => [f.opcode, f.fin]),
    [
      [Opcode.Binary, false],
      [Opcode.Continuation, false],
      [Opcode.Continuation, true],
      [Opcode.Text, true],
    ],
  );
});

test('nothing is sent after our close frame; control payloads are bounded', () => {
  const { protocol, sent } = setup();
  assert.ok(protocol.ping(Buffer.from('p')));
  assert.ok(protocol.pong(Buffer.from('q')));
  protocol.close();
  assert.not.ok(protocol.sendMessage(Buffer.from('x'), false, true));
  assert.not.ok(protocol.ping(Buffer.alloc(0)));
  assert.throws(() => protocol.ping(Buffer.alloc(126)), isError(RangeError));
  assert.equal(
    sent().map((f) => f.opcode),
    [Opcode.Ping, Opcode.Pong, Opcode.Close],
  );
});

test('an invalid close code from the user throws and sends nothing', () => {
  const { protocol, written } = setup();
  assert.throws(() => protocol.close(1005), isError(RangeError));
  assert.is(written.length, 0);
  assert.not.ok(protocol.closeSent);
});

test('stopReceiving ignores later input', () => {
  const { protocol, events } = setup();
  protocol.stopReceiving();
  protocol.receiveData(text('x'));
  assert.equal(events, []);
});

test('a user exception in a handler propagates (not swallowed as a protocol error)', () => {
  const protocol = new Protocol(
    { isServer: true, maxPayload: 100 },
    {
      write: () => {},
      onMessage: () => {
        throw new Error('boom');
      },
      onPing: () => {},
      onPong: () => {},
      onCloseReceived: () => {},
      onProtocolError: () => assert.unreachable('not a protocol error'),
    },
  );
  assert.throws(() => protocol.receiveData(text('x')), /boom/);
});

test('a server connection can share prepared frames while open and outside a fragmented message', () => {
  const { protocol } = setup(true);
  assert.is(protocol.canSharePreparedFrame(), true);
  protocol.sendMessage(Buffer.from('a'), false, false);
  assert.is(protocol.canSharePreparedFrame(), false, 'a fragmented message is open');
  protocol.sendMessage(Buffer.from('b'), false, true);
  assert.is(protocol.canSharePreparedFrame(), true, 'the message was finished');
  protocol.close(1000);
  assert.is(protocol.canSharePreparedFrame(), false, 'after our close frame');
});

test('5.3: a client connection never shares prepared frames (each of its frames has its own mask)', () => {
  const { protocol } = setup(false);
  assert.is(protocol.canSharePreparedFrame(), false);
});

test('a prepared frame is written as the very same buffer, with the callback', () => {
  const { protocol, written, callbacks } = setup(true);
  const prepared = Buffer.from([0x82, 0x01, 0x2a]);
  const callback = (): void => {};
  protocol.sendPreparedFrame(prepared, callback);
  assert.is(written[0], prepared);
  assert.is(callbacks[0], callback);
});

test.run();
