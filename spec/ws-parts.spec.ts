/** netws's own rules for ws's parts (spec/compat/parts.spec.ts compares them with ws's). */

import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Receiver, Sender } from '../src/index.ts';
import { isError } from './helpers.ts';

const parts = suite('Receiver and Sender');

parts("no extension: permessage-deflate is a WebSocket connection's own, so one given is refused, not ignored", () => {
  const deflate = { 'permessage-deflate': {} };
  assert.throws(() => new Receiver({ extensions: deflate }), isError(TypeError));
  assert.throws(() => new Sender(new PassThrough(), deflate), isError(TypeError));
  assert.ok(new Receiver({ extensions: {} }));
  assert.ok(new Sender(new PassThrough(), null));
});

parts('Sender.frame(): a random key by default, written where maskBuffer says; a string is never readOnly', () => {
  const maskBuffer = Buffer.alloc(4);
  const keys = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const [header, payload] = Sender.frame(Buffer.from('abc'), { opcode: 1, fin: true, mask: true, maskBuffer });
    assert.equal(header.subarray(2, 6), maskBuffer);
    keys.add(maskBuffer.toString('hex'));
    for (let j = 0; j < 3; j++) payload[j] ^= maskBuffer[j];
    assert.is(payload.toString(), 'abc');
  }
  assert.ok(keys.size > 1, 'fresh keys');
  const list = Sender.frame('abc', { opcode: 1, fin: true, mask: true, readOnly: true });
  assert.is(list.length, 2, 'a string is converted, so masked in place');
});

parts('Receiver: a maxPayload of 0 or none is no limit; writes after the close frame fail', async () => {
  const receiver = new Receiver();
  const errors: Error[] = [];
  receiver.on('error', (error) => errors.push(error));
  let concluded = 0;
  receiver.on('conclude', () => concluded++);
  receiver.write(Buffer.from([0x88, 0x00]));
  receiver.write(Buffer.from([0x81, 0x00]));
  await new Promise((resolve) => setImmediate(resolve));
  assert.is(concluded, 1);
  assert.is(errors.length, 1);
  assert.is((errors[0] as Error & { code?: string }).code, 'ERR_STREAM_WRITE_AFTER_END');
});

parts.run();
