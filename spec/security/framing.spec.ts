/**
 * Attacks on framing, each against a real server over loopback (and the
 * sans-I/O parser where its internal bounds are checked).
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameParser, DEFAULT_MAX_FRAGMENTS } from '../../src/protocol/parser.ts';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { WebSocket } from '../../src/index.ts';
import { binary, frame, sleep, text, waitFor } from '../helpers.ts';
import { closeCodeOf, listen, rawPeer, shutdown } from './peer.ts';

const test = suite('security: framing attacks');

/** `count` fragments of `size` bytes each, as one buffer. */
function fragments(count: number, size: number): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    frames.push(frame({ opcode: i === 0 ? 2 : 0, payload: Buffer.alloc(size, i & 0xff), fin: i === count - 1 }));
  }
  return Buffer.concat(frames);
}

test('a frame announcing 2^63-1 bytes → 1009 at once, with nothing allocated for it', async () => {
  const wss = await listen();
  const peer = await rawPeer(wss);
  const closed = waitFor<[number]>(peer.server, 'close');
  const before = process.memoryUsage().arrayBuffers;
  // Only the header: the server must not wait for (or reserve room for) the payload.
  peer.socket.write(Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]));
  const [code] = await closed;
  assert.is(code, 1009);
  assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024);
  await peer.closed;
  assert.is(closeCodeOf(peer.frames()), 1009);
  await shutdown(wss);
});

test('65,536 one-byte fragments (Autobahn 9.3/9.4) pass under the default maxFragments', async () => {
  assert.ok(DEFAULT_MAX_FRAGMENTS >= 65_536);
  const wss = await listen();
  const peer = await rawPeer(wss);
  const message = waitFor<[Buffer]>(peer.server, 'message', 10_000);
  peer.socket.write(fragments(65_536, 1));
  const [data] = await message;
  assert.is(data.length, 65_536);
  assert.is(data[300], 300 & 0xff);
  await shutdown(wss);
});

test('one fragment more than maxFragments → 1008 (as ws); empty fragments count too (no endless message)', async () => {
  const wss = await listen({ maxFragments: 1000 });
  const ok = await rawPeer(wss);
  const message = waitFor<[Buffer]>(ok.server, 'message');
  ok.socket.write(fragments(1000, 1));
  assert.is((await message)[0].length, 1000);

  const peer = await rawPeer(wss);
  const closed = waitFor<[number]>(peer.server, 'close');
  peer.socket.write(fragments(1001, 0));
  assert.is((await closed)[0], 1008);
  await peer.closed;
  assert.is(closeCodeOf(peer.frames()), 1008);
  await shutdown(wss);
});

test('thousands of 1-byte fragments in 1-byte TCP chunks: buffered chunks and pending pieces stay bounded', () => {
  let received: Buffer | null = null;
  const parser = new FrameParser({ isServer: true, maxPayload: 1 << 20 }, { onMessage: (data) => (received = data), onControl: () => {} });
  const internals = parser as unknown as { chunks: Buffer[]; pieces: Buffer[]; bufferedBytes: number };
  const input = fragments(5000, 1);
  let mostChunks = 0;
  let mostPieces = 0;
  for (let i = 0; i < input.length; i++) {
    parser.push(Buffer.from([input[i]]));
    mostChunks = Math.max(mostChunks, internals.chunks.length);
    mostPieces = Math.max(mostPieces, internals.pieces.length);
  }
  assert.ok(received !== null && (received as Buffer).length === 5000);
  // At most one frame header (14 bytes) waits in chunks; pieces are joined every 64.
  assert.ok(mostChunks <= 14, `${mostChunks} chunks held`);
  assert.ok(mostPieces <= 64, `${mostPieces} pieces held`);
});

test('the parser refuses fragment 131,073 by default with WS_ERR_TOO_MANY_BUFFERED_PARTS and 1008 (as ws)', () => {
  const parser = new FrameParser({ isServer: true, maxPayload: 1 << 20 }, { onMessage: () => {}, onControl: () => {} });
  const empty = frame({ opcode: 0, payload: Buffer.alloc(0), fin: false });
  parser.push(frame({ opcode: 1, payload: Buffer.alloc(0), fin: false }));
  parser.push(Buffer.concat(Array.from({ length: DEFAULT_MAX_FRAGMENTS - 1 }, () => empty)));
  let error: unknown;
  try {
    parser.push(Buffer.from(empty));
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof ProtocolError);
  assert.is((error as ProtocolError).code, 'WS_ERR_TOO_MANY_BUFFERED_PARTS');
  assert.is((error as ProtocolError).closeCode, 1008);
});

test('the fragment count restarts with every message', () => {
  const got: number[] = [];
  const parser = new FrameParser(
    { isServer: true, maxPayload: 1 << 20, maxFragments: 3 },
    { onMessage: (data) => got.push(data.length), onControl: () => {} },
  );
  for (let i = 0; i < 5; i++) parser.push(fragments(3, 2));
  assert.equal(got, [6, 6, 6, 6, 6]);
});

test('a control frame with a 126-byte payload → 1002', async () => {
  const wss = await listen();
  const peer = await rawPeer(wss);
  const closed = waitFor<[number]>(peer.server, 'close');
  peer.socket.write(frame({ opcode: 0x9, payload: Buffer.alloc(126) }));
  assert.is((await closed)[0], 1002);
  await peer.closed;
  assert.is(closeCodeOf(peer.frames()), 1002);
  await shutdown(wss);
});

test('interleaved data frames (a new message inside a fragmented one) → 1002', async () => {
  const wss = await listen();
  const peer = await rawPeer(wss);
  const closed = waitFor<[number]>(peer.server, 'close');
  peer.socket.write(Buffer.concat([text('part', { fin: false }), binary(Buffer.from('intruder'))]));
  assert.is((await closed)[0], 1002);
  await peer.closed;
  assert.is(closeCodeOf(peer.frames()), 1002);
  await shutdown(wss);
});

test('close() with a TypedArray view reason sends only the view, never the rest of its ArrayBuffer', async () => {
  const wss = await listen();
  const peer = await rawPeer(wss);
  const memory = new ArrayBuffer(4096);
  new Uint8Array(memory).fill(0x53); // "S": stands for secrets next to the reason
  const reason = new Uint8Array(memory, 1000, 3);
  reason.set([0x62, 0x79, 0x65]); // "bye"
  peer.server.close(4000, reason);
  await sleep(30);
  const close = peer.frames().find((f) => f.opcode === 0x8)!;
  assert.equal([...close.payload], [0x0f, 0xa0, 0x62, 0x79, 0x65]);
  await shutdown(wss);
});

test('send() of a TypedArray view sends only the view, never the rest of its ArrayBuffer', async () => {
  const wss = await listen();
  const peer = await rawPeer(wss);
  const memory = new ArrayBuffer(4096);
  new Uint8Array(memory).fill(0x53);
  const view = new Uint16Array(memory, 8, 2);
  view.set([0x0102, 0x0304]);
  peer.server.send(view);
  await sleep(30);
  const sent = peer.frames()[0];
  assert.is(sent.payload.length, 4);
  assert.not.ok(sent.payload.includes(0x53));
  await shutdown(wss);
});

test('other connections are unaffected while one is failed for an attack', async () => {
  const wss = await listen();
  const good = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  await waitFor(good, 'open');
  const bad = await rawPeer(wss);
  bad.socket.write(Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]));
  await bad.closed;
  const echo = new Promise<string>((resolve) => {
    for (const ws of wss.clients) ws.on('message', (data) => ws.send(data));
    good.on('message', (data) => resolve(String(data)));
  });
  good.send('still here');
  assert.is(await echo, 'still here');
  good.terminate();
  await shutdown(wss);
});

test.run();
