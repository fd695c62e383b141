import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Opcode } from '../../src/protocol/frame.ts';
import { PreparedMessage } from '../../src/protocol/prepared.ts';
import { Protocol } from '../../src/protocol/protocol.ts';
import { decodeFrames } from '../helpers.ts';

/** The bytes a server Protocol writes for one message sent on its own. */
function sentAlone(data: Buffer, isBinary: boolean): Buffer {
  const written: Buffer[] = [];
  const protocol = new Protocol(
    { isServer: true, maxPayload: 1 << 20 },
    {
      write: (header, payload) => written.push(payload ? Buffer.concat([header, payload]) : header),
      onMessage: () => {},
      onPing: () => {},
      onPong: () => {},
      onCloseReceived: () => {},
      onProtocolError: () => {},
    },
  );
  protocol.sendMessage(data, isBinary, true);
  return Buffer.concat(written);
}

test('5.2: the prepared frame is byte for byte what send() frames, for every length encoding', () => {
  for (const length of [0, 1, 125, 126, 65535, 65536, 70000]) {
    for (const isBinary of [true, false]) {
      const data = Buffer.alloc(length, 0x61);
      const prepared = new PreparedMessage(data, isBinary);
      assert.ok(prepared.frame.equals(sentAlone(data, isBinary)), `length ${length}, binary ${isBinary}`);
    }
  }
});

test('5.1: a prepared frame is a final, unmasked frame of the right opcode', () => {
  const [textFrame] = decodeFrames(new PreparedMessage(Buffer.from('hi'), false).frame);
  assert.equal([textFrame.opcode, textFrame.fin, textFrame.masked, textFrame.rsv], [Opcode.Text, true, false, 0]);
  const [binaryFrame] = decodeFrames(new PreparedMessage(Buffer.from([1, 2]), true).frame);
  assert.is(binaryFrame.opcode, Opcode.Binary);
});

test('the payload is kept for connections that must frame it themselves', () => {
  const data = Buffer.from('payload');
  const prepared = new PreparedMessage(data, false);
  assert.equal(prepared.data, data);
  assert.is(prepared.isBinary, false);
});

test('the frame and the payload are copies: changing the data afterwards changes neither (plain and compressing clients get the same)', () => {
  const data = Buffer.from('abc');
  const prepared = new PreparedMessage(data, true);
  data[0] = 0x7a;
  assert.is(decodeFrames(prepared.frame)[0].payload.toString(), 'abc');
  assert.is(prepared.data.toString(), 'abc', 'what compressing connections deflate or send()');
  let deflated = '';
  prepared.compressedFrame('k', (payload) => {
    deflated = payload.toString();
    return payload;
  });
  assert.is(deflated, 'abc');
});

test.run();
