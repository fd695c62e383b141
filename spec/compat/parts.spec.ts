/**
 * ws's parts as ws exports them, `Receiver` and `Sender`, driven by the
 * same bodies: frames fed to a Receiver (whole and byte by byte) and the
 * events it emits; the bytes a Sender writes and Sender.frame() returns;
 * the errors of both, in ws's words.
 */

import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import { compat, errorShape, type Loose, type Run } from './harness.ts';
import { OP, closePayload, encodeFrame, type FrameSpec } from './wire.ts';

/** One frame; masked (with wire.ts's key) only when asked. */
const frame = (spec: Omit<FrameSpec, 'mask'> & { masked?: boolean }): Buffer =>
  encodeFrame({ ...spec, mask: spec.masked ? undefined : null });

const receiving = suite('compat: Receiver');
const sending = suite('compat: Sender');

const KEY = Buffer.from([1, 2, 3, 4]);
const fixedMask = (mask: Buffer): void => void KEY.copy(mask);

/** A Receiver of the library under test with every event noted. */
function receiverOf(lib: Loose, t: Run, options: Record<string, unknown>): Loose {
  const receiver = new lib.module.Receiver(options);
  for (const event of ['message', 'ping', 'pong', 'conclude']) {
    receiver.on(event, (...args: unknown[]) => t.note(event, ...args.map((arg) => t.shape(arg))));
  }
  receiver.on('error', (error: Error & Loose) =>
    t.note('error', errorShape(error, true), error.closeCode ?? error[Object.getOwnPropertySymbols(error)[0]]),
  );
  return receiver;
}

/** Writes `bytes` to `receiver` whole, or a byte at a time, then lets its events out. */
async function feed(t: Run, receiver: Loose, bytes: Buffer, byByte: boolean): Promise<void> {
  if (byByte) for (const byte of bytes) receiver.write(Buffer.from([byte]));
  else receiver.write(bytes);
  await t.sleep(5);
}

const messages = (masked: boolean): Buffer =>
  Buffer.concat([
    frame({ opcode: OP.text, payload: Buffer.from('héllo'), masked }),
    frame({ opcode: OP.binary, payload: Buffer.from([1, 2]), fin: false, masked }),
    frame({ opcode: OP.ping, payload: Buffer.from('p'), masked }),
    frame({ opcode: OP.cont, payload: Buffer.from([3]), masked }),
    frame({ opcode: OP.pong, payload: Buffer.alloc(0), masked }),
    frame({ opcode: OP.close, payload: closePayload(1000, 'bye'), masked }),
    frame({ opcode: OP.text, payload: Buffer.from('after the close'), masked }),
  ]);

for (const byByte of [false, true]) {
  for (const isServer of [true, false]) {
    compat(
      receiving,
      `messages, control frames and the close frame (isServer ${isServer}${byByte ? ', byte by byte' : ''})`,
      async (lib, t) => {
        const receiver = receiverOf(lib, t, { isServer });
        await feed(t, receiver, messages(isServer), byByte);
      },
    );
  }
}

compat(receiving, "binaryType 'arraybuffer' and 'fragments'; a close frame without a code", async (lib, t) => {
  // Fresh bytes for each receiver: a Receiver unmasks in place.
  const binary = (): Buffer =>
    Buffer.concat([
      frame({ opcode: OP.binary, payload: Buffer.from([1]), fin: false, masked: true }),
      frame({ opcode: OP.cont, payload: Buffer.from([2]), masked: true }),
    ]);
  await feed(t, receiverOf(lib, t, { isServer: true, binaryType: 'arraybuffer' }), binary(), false);
  const fragments = receiverOf(lib, t, { isServer: true, binaryType: 'fragments' });
  await feed(t, fragments, binary(), false);
  await feed(t, fragments, frame({ opcode: OP.close, payload: Buffer.alloc(0), masked: true }), false);
});

for (const [title, options, bytes] of [
  ['an unmasked frame to a server', { isServer: true }, () => frame({ opcode: OP.text, payload: Buffer.from('x') })],
  ['a masked frame to a client', { isServer: false }, () => frame({ opcode: OP.text, payload: Buffer.from('x'), masked: true })],
  ['a reserved opcode', { isServer: true }, () => frame({ opcode: 3, payload: Buffer.alloc(0), masked: true })],
  ['RSV1 without an extension', { isServer: true }, () => frame({ opcode: OP.text, payload: Buffer.from('x'), masked: true, rsv1: true })],
  ['text that is not UTF-8', { isServer: true }, () => frame({ opcode: OP.text, payload: Buffer.from([0xff]), masked: true })],
  [
    'a message over maxPayload',
    { isServer: true, maxPayload: 4 },
    () => frame({ opcode: OP.binary, payload: Buffer.alloc(5), masked: true }),
  ],
  ['a fragmented ping', { isServer: true }, () => frame({ opcode: OP.ping, payload: Buffer.alloc(0), fin: false, masked: true })],
  ['an invalid close code', { isServer: true }, () => frame({ opcode: OP.close, payload: closePayload(1005), masked: true })],
] as Array<[string, Record<string, unknown>, () => Buffer]>) {
  compat(receiving, `errors: ${title}`, async (lib, t) => {
    const receiver = receiverOf(lib, t, options);
    // Made for each run: a Receiver unmasks in place.
    await feed(t, receiver, bytes(), false);
    t.note('destroyed', receiver.destroyed);
  });
}

compat(receiving, 'text that is not UTF-8 passes with skipUTF8Validation; maxPayload 0 is no limit', async (lib, t) => {
  const receiver = receiverOf(lib, t, { isServer: true, skipUTF8Validation: true, maxPayload: 0 });
  await feed(t, receiver, frame({ opcode: OP.text, payload: Buffer.from([0xff]), masked: true }), false);
  await feed(t, receiver, frame({ opcode: OP.binary, payload: Buffer.alloc(70_000, 7), masked: true }), false);
});

/** The bytes a Sender of the library under test writes, with a fixed mask. */
function senderOf(lib: Loose): { sender: Loose; written: () => string } {
  const socket = new PassThrough();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { sender: new lib.module.Sender(socket, {}, fixedMask), written: () => Buffer.concat(chunks).toString('hex') };
}

compat(sending, 'Sender.frame(): headers and payloads for each length class, masked in place or copied (readOnly)', (lib, t) => {
  const { Sender } = lib.module as Loose;
  for (const length of [0, 5, 125, 126, 65_535, 65_536]) {
    const list: Buffer[] = Sender.frame(Buffer.alloc(length, 9), { opcode: 2, fin: true, mask: false, readOnly: false });
    t.note(
      length,
      list.length,
      list[0].toString('hex'),
      list.reduce((sum, b) => sum + b.length, 0),
    );
  }
  const data = Buffer.from('abcd');
  const masked = Sender.frame(data, { opcode: 1, fin: true, mask: true, readOnly: false, generateMask: fixedMask });
  t.note(
    'masked in place',
    masked.map((b: Buffer) => b.toString('hex')),
    data.toString('hex'),
  );
  const kept = Buffer.from('abcd');
  const copied = Sender.frame(kept, { opcode: 1, fin: false, rsv1: true, mask: true, readOnly: true, generateMask: fixedMask });
  t.note(
    'copied',
    copied.map((b: Buffer) => b.toString('hex')),
    kept.toString('hex'),
  );
  const zero = Sender.frame(Buffer.from('ab'), {
    opcode: 9,
    fin: true,
    mask: true,
    readOnly: false,
    generateMask: (m: Buffer) => m.fill(0),
  });
  t.note(
    'zero key',
    zero.map((b: Buffer) => b.toString('hex')),
  );
  t.note(
    'string',
    Sender.frame('hé', { opcode: 1, fin: true, mask: false, readOnly: false }).map((b: Buffer) => b.toString('hex')),
  );
});

compat(sending, 'send() in fragments, ping, pong and close, masked and not; callbacks called', async (lib, t) => {
  const { sender, written } = senderOf(lib);
  const done = (label: string) => (error?: Error | null) => t.note('callback', label, error ?? null);
  sender.send('hel', { fin: false, mask: true }, done('first'));
  sender.send(Buffer.from('lo'), { fin: true, mask: true }, done('last'));
  sender.send(Buffer.from([1, 2, 3]), { binary: true, fin: true, compress: false, mask: false }, done('binary'));
  sender.send('', { fin: true, mask: true }, done('empty'));
  sender.ping('p', true, done('ping'));
  sender.pong(Buffer.from('q'), false, done('pong'));
  sender.close(1001, 'gone', true, done('close'));
  sender.close(undefined, undefined, false, done('empty close'));
  await t.sleep(10);
  t.note('bytes', written());
});

compat(sending, "errors in ws's words: control data over 125 bytes, a bad close code, a long reason", (lib, t) => {
  const { sender } = senderOf(lib);
  t.attempt('ping 126 bytes', () => sender.ping(Buffer.alloc(126), false), true);
  t.attempt('pong 126 bytes', () => sender.pong('x'.repeat(126), false), true);
  t.attempt('close code 1005', () => sender.close(1005, undefined, false), true);
  t.attempt('close code as a string', () => sender.close('1000', undefined, false), true);
  t.attempt('close reason of 124 bytes', () => sender.close(1000, 'x'.repeat(124), false), true);
});

receiving.run();
sending.run();
