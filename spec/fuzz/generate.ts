/** Valid inputs for the fuzzer to start from: frame streams and handshakes. */

import { Opcode } from '../../src/protocol/frame.ts';
import { SAMPLE_KEY, closePayload, frame, upgradeRequest } from '../helpers.ts';
import type { Random } from './random.ts';

export interface ExpectedMessage {
  isBinary: boolean;
  data: Buffer;
}

export interface ValidStream {
  bytes: Buffer;
  messages: ExpectedMessage[];
  /** Largest message and most frames in one message, to pick limits that fit. */
  largest: number;
  mostFrames: number;
}

// ASCII, 2-, 3- and 4-byte characters, so fragment cuts land inside sequences.
const TEXT_PIECES = ['a', 'Z', ' ', '0', 'é', 'κ', '€', '中', '😀', '\u0000'];

function randomText(random: Random, maxChars: number): Buffer {
  let text = '';
  const count = random.below(maxChars + 1);
  for (let i = 0; i < count; i++) text += random.pick(TEXT_PIECES);
  return Buffer.from(text, 'utf8');
}

function payloadLength(random: Random): number {
  // Mostly small; sometimes at the 7/16-bit length boundaries or larger.
  if (random.chance(0.9)) return random.below(40);
  if (random.chance(0.9)) return random.pick([125, 126, 127, random.below(1000)]);
  return random.pick([65535, 65536]);
}

/** Binary payload: random when short; a random 8-byte pattern repeated when long (cheaper, as good for parsing). */
function randomBinary(random: Random, length: number): Buffer {
  if (length <= 256) return random.bytes(length);
  return Buffer.alloc(length, random.bytes(8));
}

/**
 * Messages split into fragments with pings between them, optionally ended by
 * a close frame. `masked`: frames as a client sends them.
 */
export function validStream(random: Random, masked: boolean): ValidStream {
  const frames: Buffer[] = [];
  const messages: ExpectedMessage[] = [];
  let largest = 0;
  let mostFrames = 0;
  const count = random.below(4);
  for (let m = 0; m < count; m++) {
    const isBinary = random.chance(0.5);
    const data = isBinary ? randomBinary(random, payloadLength(random)) : randomText(random, payloadLength(random) >> 1);
    messages.push({ isBinary, data });
    largest = Math.max(largest, data.length);
    const pieces = random.chance(0.7) ? 1 : random.between(2, random.chance(0.1) ? 300 : 6);
    mostFrames = Math.max(mostFrames, pieces);
    let offset = 0;
    for (let p = 0; p < pieces; p++) {
      const end = p === pieces - 1 ? data.length : Math.min(data.length, offset + random.below(data.length - offset + 1));
      const opcode = p === 0 ? (isBinary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation;
      frames.push(frame({ opcode, payload: data.subarray(offset, end), fin: p === pieces - 1, mask: masked, key: random.bytes(4) }));
      offset = end;
      if (random.chance(0.1)) frames.push(frame({ opcode: Opcode.Ping, payload: random.bytes(random.below(126)), mask: masked }));
    }
  }
  if (random.chance(0.5)) {
    const code = random.pick([1000, 1001, 1003, 1008, 3000, 4999]);
    frames.push(frame({ opcode: Opcode.Close, payload: closePayload(code, random.chance(0.5) ? 'bye' : ''), mask: masked }));
  }
  return { bytes: Buffer.concat(frames), messages, largest, mostFrames };
}

const SUBPROTOCOLS = ['chat', 'superchat', 'v1.json', '__proto__', 'constructor'];
const EXTENSIONS = [
  'permessage-deflate',
  'permessage-deflate; client_max_window_bits',
  'x-foo; a=1; b="2"',
  '__proto__; constructor=1',
  'hasOwnProperty',
];

/** An upgrade request a browser could send, with random optional headers. */
export function validRequest(random: Random): Buffer {
  const extra: string[] = [];
  if (random.chance(0.5)) extra.push(`Sec-WebSocket-Protocol: ${SUBPROTOCOLS.slice(0, random.between(1, 5)).join(', ')}`);
  if (random.chance(0.5)) extra.push(`Sec-WebSocket-Extensions: ${random.pick(EXTENSIONS)}`);
  if (random.chance(0.3)) extra.push('Origin: http://example.com');
  return Buffer.from(upgradeRequest(random.chance(0.8) ? '/' : '/path?q=1', extra, SAMPLE_KEY), 'latin1');
}
