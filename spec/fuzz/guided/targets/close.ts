/**
 * Target `close`: close frames (RFC 6455 5.5.1, 7.1.5, 7.4). Input: 2
 * option bytes, then a close payload (code and reason as a peer sends
 * them, or as a user passes them to close()).
 *
 * Invariants, against rules written here from the RFC: parseClosePayload
 * takes an empty payload as 1005, a valid code with a UTF-8 reason as
 * itself, and refuses everything else with a ProtocolError (1002, or 1007
 * for the reason); a Protocol receiving that close frame (whole or in
 * chunks, with data after it) reports exactly that, echoes the code and
 * reason (an empty payload for 1005) or fails with that code, and parses
 * nothing after; encodeClosePayload and Protocol.close() throw only a
 * RangeError or TypeError, exactly for a code that may not be sent or a
 * reason over 123 bytes, and otherwise write exactly code and reason.
 */

import { CloseCode, Protocol, ProtocolError, TARGET_FILES, encodeClosePayload, parseClosePayload } from '../../targets-glue.ts';
import type { Random } from '../../random.ts';
import { check, type FuzzTarget } from '../target.ts';
import { chunks } from './frames.ts';
import { CLOSE_CODES, closeFramePayload, decodeWire, encodeFrame, randomText } from '../wire.ts';

const fatal = new TextDecoder('utf-8', { fatal: true });
const isUtf8 = (data: Uint8Array): boolean => {
  try {
    fatal.decode(data);
    return true;
  } catch {
    return false;
  }
};
const sendable = (code: number): boolean =>
  (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);

/** What a received close payload means: [code, reason] or the close code of the failure. */
function expected(payload: Buffer, skipUTF8: boolean): { code: number; reason: Buffer } | { fail: number } {
  if (payload.length === 0) return { code: 1005, reason: payload };
  if (payload.length === 1) return { fail: 1002 };
  const code = payload.readUInt16BE(0);
  if (!sendable(code)) return { fail: 1002 };
  const reason = payload.subarray(2);
  if (!skipUTF8 && !isUtf8(reason)) return { fail: 1007 };
  return { code, reason };
}

function receive(payload: Buffer, isServer: boolean, skipUTF8: boolean, chunkSeed: number): void {
  const want = expected(payload, skipUTF8);
  const events: string[] = [];
  const written: Buffer[] = [];
  const protocol = new Protocol(
    { isServer, maxPayload: 1000, skipUTF8Validation: skipUTF8 },
    {
      write: (header, data) => void written.push(Buffer.from(header), ...(data === null ? [] : [Buffer.from(data)])),
      onMessage: () => void events.push('message'),
      onPing: () => void events.push('ping'),
      onPong: () => void events.push('pong'),
      onCloseReceived: (code, reason) => void events.push(`close ${code} ${reason.toString('hex')}`),
      onProtocolError: (error) => {
        check(error instanceof ProtocolError, 'a failure that is not a ProtocolError');
        events.push(`fail ${error.closeCode}`);
      },
    },
  );
  const key = isServer ? Buffer.from([0x12, 0x34, 0x56, 0x78]) : null;
  const frame = (opcode: number, data: Buffer): Buffer => encodeFrame({ fin: true, rsv: 0, opcode, key, lengthWidth: 0, payload: data });
  const input = Buffer.concat([frame(8, payload), frame(1, Buffer.from('after')), frame(9, Buffer.from('p'))]);
  for (const piece of chunks(input, chunkSeed)) protocol.receiveData(piece);
  const out = decodeWire(Buffer.concat(written)).frames;
  check(out.length === 1 && out[0].opcode === 8, () => `${out.length} frames written for one close frame`);
  if ('fail' in want) {
    check(
      events.length === 1 && events[0] === `fail ${want.fail}`,
      () => `close payload ${payload.toString('hex')}: ${events.join(', ')}, expected fail ${want.fail}`,
    );
    check(out[0].payload.equals(Buffer.from([want.fail >> 8, want.fail & 0xff])), 'the failure sent another code');
  } else {
    check(
      events.length === 1 && events[0] === `close ${want.code} ${want.reason.toString('hex')}`,
      () => `close payload ${payload.toString('hex')}: ${events.join(', ')}`,
    );
    check(out[0].payload.equals(want.code === 1005 ? Buffer.alloc(0) : payload), 'the echo is not the code and reason received');
  }
  check(protocol.closeReceived === !('fail' in want) && protocol.closeSent, 'closeReceived/closeSent disagree with what happened');
}

function encode(code: number | undefined, reason: string | Uint8Array | undefined): void {
  const reasonBytes =
    reason === undefined ? Buffer.alloc(0) : typeof reason === 'string' ? Buffer.from(reason, 'utf8') : Buffer.from(reason);
  let want: 'TypeError' | 'RangeError' | Buffer;
  if (code === undefined) want = reasonBytes.length > 0 ? 'TypeError' : Buffer.alloc(0);
  else if (!Number.isInteger(code) || !sendable(code) || reasonBytes.length > 123) want = 'RangeError';
  else want = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), reasonBytes]);
  let got: Buffer | Error;
  try {
    got = encodeClosePayload(code, reason);
  } catch (error) {
    got = error as Error;
  }
  const describe = (x: Buffer | Error | string): string => (Buffer.isBuffer(x) ? x.toString('hex') : typeof x === 'string' ? x : x.name);
  check(
    describe(got) === describe(want),
    () => `encodeClosePayload(${code}, ${JSON.stringify(reason)}) gave ${describe(got)}, expected ${describe(want)}`,
  );

  // The same through Protocol.close(): one frame, then no more sends.
  const written: Buffer[] = [];
  const protocol = new Protocol(
    { isServer: true, maxPayload: 1000 },
    {
      write: (header, data) => void written.push(Buffer.from(header), ...(data === null ? [] : [Buffer.from(data)])),
      onMessage() {},
      onPing() {},
      onPong() {},
      onCloseReceived() {},
      onProtocolError() {},
    },
  );
  try {
    check(protocol.close(code, reason), 'close() said no on a fresh connection');
  } catch (error) {
    check(typeof want === 'string' && (error as Error).name === want, () => `close() threw ${String(error)}`);
    check(written.length === 0 && !protocol.closeSent, 'close() threw but wrote or marked the close');
    return;
  }
  check(Buffer.isBuffer(want), 'close() accepted what encodeClosePayload refused');
  const frames = decodeWire(Buffer.concat(written)).frames;
  check(frames.length === 1 && frames[0].opcode === 8 && frames[0].payload.equals(want as Buffer), 'close() wrote another frame');
  check(
    !protocol.close(1000) && !protocol.sendMessage(Buffer.from('x'), false, true) && !protocol.ping(Buffer.alloc(0)),
    'a send after close() went out',
  );
}

const SPECIAL_CODES = [undefined, 1000.5, NaN, -1000, 1e9, 0x10000 + 1000];

function run(data: Buffer): void {
  const [o0 = 0, o1 = 0] = data;
  const payload = data.subarray(2);
  const skipUTF8 = (o0 & 2) !== 0;
  // parseClosePayload alone, any length.
  const want = expected(payload, skipUTF8);
  try {
    const got = parseClosePayload(Buffer.from(payload), skipUTF8);
    check(
      !('fail' in want) && got.code === want.code && got.reason.equals(want.reason),
      () => `parseClosePayload(${payload.toString('hex').slice(0, 60)}) accepted ${got.code}`,
    );
  } catch (error) {
    check(error instanceof ProtocolError, () => `parseClosePayload threw ${String(error)}`);
    check('fail' in want && error.closeCode === want.fail, () => `parseClosePayload refused with ${(error as ProtocolError).closeCode}`);
  }
  if (payload.length <= 125) receive(payload, (o0 & 1) !== 0, skipUTF8, o1);
  // The user's side: a code and a reason from the same bytes.
  const code = (o0 & 4) !== 0 ? SPECIAL_CODES[(o0 >> 3) % SPECIAL_CODES.length] : payload.length >= 2 ? payload.readUInt16BE(0) : o1 + 1000;
  const reasonBytes = payload.subarray(Math.min(2, payload.length));
  const reasonKind = (o0 >> 6) & 3;
  const reason =
    reasonKind === 0
      ? undefined
      : reasonKind === 1
        ? reasonBytes.toString('utf8')
        : reasonKind === 2
          ? reasonBytes.toString('utf16le')
          : new Uint8Array(reasonBytes);
  encode(code, reason);
  check(CloseCode.NoStatus === 1005, 'CloseCode.NoStatus moved');
}

function mutate(random: Random, data: Buffer): Buffer | null {
  if (data.length < 2) return null;
  const options = Buffer.from(data.subarray(0, 2));
  if (random.chance(0.2)) {
    options[random.below(2)] = random.next() & 0xff;
    return Buffer.concat([options, data.subarray(2)]);
  }
  const reason = random.chance(0.3) ? data.subarray(4) : randomText(random, random.below(random.chance(0.9) ? 20 : 70));
  return Buffer.concat([options, closeFramePayload(random.chance(0.8) ? random.pick(CLOSE_CODES) : random.next() & 0xffff, reason)]);
}

export const close: FuzzTarget = {
  name: 'close',
  files: TARGET_FILES.close,
  maxLength: 512,
  dictionary: [
    [0x03, 0xe8],
    [0x03, 0xed],
    [0x0b, 0xb8],
    [0x13, 0x87],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xc0, 0x80],
    [0xef, 0xbf, 0xbd],
  ].map((b) => Buffer.from(b)),
  seeds: () => [
    Buffer.from([0x41, 0, 0x03, 0xe8, 0x62, 0x79, 0x65]),
    Buffer.from([0x80, 3, 0x0f, 0xa0, 0xe2, 0x82, 0xac]),
    Buffer.from([0x01, 1]),
    Buffer.from([0xc4, 2, 0x03, 0xe9, 0xed, 0xa0, 0x80]),
  ],
  run,
  mutate,
};
