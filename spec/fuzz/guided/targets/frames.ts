/**
 * Target `frames`: the sans-I/O Protocol (FrameParser, control frames,
 * closing) without permessage-deflate. Input: 4 option bytes, then the bytes
 * a peer sends (see decodeOptions). The bytes go to a Protocol twice, whole
 * and cut into chunks, and both runs must report and write exactly what the
 * reference reading (reference.ts) says; the Protocol's bounds are checked
 * after every chunk.
 */

import { Random } from '../../random.ts';
import { Protocol, ProtocolError, TARGET_FILES } from '../../targets-glue.ts';
import { referenceRead, type ReferenceOptions } from '../reference.ts';
import { check, type FuzzTarget } from '../target.ts';
import { decodeWire, encodeWire, mutateWire, type WireFrame } from '../wire.ts';

export const OPTION_BYTES = 4;
const MAX_PAYLOADS = [0, 1, 2, 3, 16, 125, 126, 127, 1000, 65535, 65536, 70_000];
const MAX_FRAGMENTS = [1, 2, 3, 4, 64, 131_072];
const MAX_STREAM_PAYLOADS = [Number.MAX_SAFE_INTEGER, 0, 10, 1000];
const MAX_BUFFERED_CHUNKS = [1, 2, 3, 16];
/** Failures a Protocol may report: protocol error, bad UTF-8, too many parts (as ws), too big. */
const FAILURE_CODES = new Set([1002, 1007, 1008, 1009]);
/** The parser's own bounds (src/protocol/parser.ts): a header, a control payload, pending pieces. */
const MAX_UNPARSED = 14 + 125;
const MAX_PENDING_PIECES = 64;

export interface FrameOptions extends ReferenceOptions {
  keepFragments: boolean;
  /** Counts received chunks, so only the chunked run is compared, and only for its bounds. */
  maxBufferedChunks: number | undefined;
  chunkSeed: number;
}

export function decodeOptions(data: Buffer, perMessageDeflate: boolean): FrameOptions {
  const [o0 = 0, o1 = 0, o2 = 0, o3 = 0] = data;
  return {
    isServer: (o0 & 1) !== 0,
    streamMessages: (o0 & 2) !== 0,
    keepFragments: (o0 & 4) !== 0,
    autoPong: (o0 & 8) === 0,
    skipUTF8Validation: (o0 & 16) !== 0,
    maxBufferedChunks: (o0 & 32) !== 0 ? MAX_BUFFERED_CHUNKS[o2 >> 6] : undefined,
    streamCompressed: (o0 & 64) !== 0,
    perMessageDeflate,
    maxPayload: MAX_PAYLOADS[o1 % MAX_PAYLOADS.length],
    maxFragments: MAX_FRAGMENTS[o2 % MAX_FRAGMENTS.length],
    maxStreamPayload: MAX_STREAM_PAYLOADS[(o2 >> 3) & 3],
    chunkSeed: o3,
  };
}

/** Cuts the input as TCP might: whole, bytes, small or larger pieces, chosen by the seed. */
export function chunks(data: Buffer, seed: number): Buffer[] {
  const random = new Random(seed * 2654435761);
  const max = [1, 3, 7, 64][seed & 3];
  const out: Buffer[] = [];
  for (let offset = 0; offset < data.length; ) {
    const size = Math.min(data.length - offset, random.between(1, max));
    out.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return out;
}

interface ParserInternals {
  chunks: Buffer[];
  bufferedBytes: number;
  pieces: Buffer[];
  messageLength: number;
  isStopped: boolean;
}

export interface ProtocolRun {
  events: string[];
  written: string[];
  /** Compressed messages handed up, in order (for the deflate target). */
  compressed: Array<{ data: Buffer; isBinary: boolean }>;
  error: ProtocolError | null;
}

/** Feeds `pieces` to a fresh Protocol and logs what it does, in the reference's words. */
export function runProtocol(o: FrameOptions, pieces: Buffer[]): ProtocolRun {
  const run: ProtocolRun = { events: [], written: [], compressed: [], error: null };
  let finished = false;
  let streamed: Buffer[] | null = null;
  const out: Buffer[] = [];
  const event = (text: string): void => {
    check(!finished, () => `"${text.slice(0, 60)}" after the close or failure`);
    run.events.push(text);
  };
  const protocol = new Protocol(
    {
      isServer: o.isServer,
      maxPayload: o.maxPayload,
      maxFragments: o.maxFragments,
      perMessageDeflate: o.perMessageDeflate,
      skipUTF8Validation: o.skipUTF8Validation,
      autoPong: o.autoPong,
      maxStreamPayload: o.maxStreamPayload === Number.MAX_SAFE_INTEGER ? undefined : o.maxStreamPayload,
      maxBufferedChunks: o.maxBufferedChunks,
    },
    {
      write: (header, payload) => {
        out.push(Buffer.from(header));
        if (payload !== null) out.push(Buffer.from(payload));
      },
      onMessage: (data, isBinary, compressed, fragments) => {
        check(
          fragments === null || (o.keepFragments && isBinary && !compressed && data.length === 0),
          'fragments where none were asked for',
        );
        const whole = fragments === null ? data : Buffer.concat(fragments);
        check(whole.length <= o.maxPayload, () => `a message of ${whole.length} bytes over maxPayload ${o.maxPayload}`);
        check(o.perMessageDeflate || !compressed, 'a compressed message without permessage-deflate');
        event(`message:${isBinary ? 'binary' : 'text'}:${compressed}:${whole.toString('hex')}`);
        if (compressed) run.compressed.push({ data: Buffer.from(whole), isBinary });
      },
      onMessageStart: (isBinary, compressed) => {
        check(streamed === null, 'a streamed message began inside another');
        streamed = [];
        event(`start:${isBinary ? 'binary' : 'text'}:${compressed}`);
      },
      onMessageData: (piece) => {
        check(streamed !== null, 'streamed data outside a message');
        streamed!.push(Buffer.from(piece));
      },
      onMessageEnd: () => {
        check(streamed !== null, 'a streamed message ended that never began');
        const data = Buffer.concat(streamed!);
        check(data.length <= o.maxStreamPayload, 'a streamed message over maxStreamPayload');
        event(`end:${data.toString('hex')}`);
        streamed = null;
      },
      onPing: (data) => event(`ping:${data.toString('hex')}`),
      onPong: (data) => event(`pong:${data.toString('hex')}`),
      onCloseReceived: (code, reason) => {
        event(`close:${code}:${reason.toString('hex')}`);
        finished = true;
      },
      onProtocolError: (error) => {
        check(error instanceof ProtocolError, 'a failure that is not a ProtocolError');
        check(FAILURE_CODES.has(error.closeCode), () => `failed with close code ${error.closeCode}`);
        check(/^WS_ERR_[A-Z0-9_]+$/.test(error.code), () => `error code ${error.code}`);
        event(`error:${error.closeCode}`);
        run.error = error;
        finished = true;
      },
    },
  );
  protocol.keepFragments = o.keepFragments;
  protocol.streamMessages(o.streamMessages, o.streamCompressed);
  const parser = (protocol as unknown as { parser: ParserInternals }).parser;
  for (const piece of pieces) {
    protocol.receiveData(piece);
    check(parser.bufferedBytes <= MAX_UNPARSED, () => `${parser.bufferedBytes} bytes held unparsed`);
    check(parser.chunks.length <= MAX_UNPARSED, () => `${parser.chunks.length} chunks held`);
    check(parser.pieces.length < MAX_PENDING_PIECES, () => `${parser.pieces.length} pieces pending`);
    check(parser.messageLength <= Math.max(o.maxPayload, o.maxStreamPayload), 'a message grew past its limit');
    if (finished) check(parser.isStopped && parser.bufferedBytes === 0, 'the parser still holds input after the close or failure');
  }
  for (const frame of decodeWire(Buffer.concat(out)).frames) {
    check((frame.key !== null) === !o.isServer, 'a frame written with the wrong masking');
    check(frame.fin && frame.rsv === 0, 'a control frame written fragmented or with RSV bits');
    run.written.push(`${frame.opcode}:${frame.payload.toString('hex')}`);
  }
  return run;
}

function sameLog(actual: string[], expected: string[], what: string): void {
  const at = actual.findIndex((line, i) => line !== expected[i]);
  const differs = at !== -1 || actual.length !== expected.length;
  const index = at === -1 ? Math.min(actual.length, expected.length) : at;
  check(
    !differs,
    () =>
      `${what}: entry ${index} is ${JSON.stringify(actual[index]?.slice(0, 80))}, the reference says ${JSON.stringify(expected[index]?.slice(0, 80))}`,
  );
}

/** Both runs against the reference (or, with maxBufferedChunks, the chunked run's bounds only). */
export function checkAgainstReference(o: FrameOptions, wire: Buffer): ProtocolRun {
  const pieces = chunks(Buffer.from(wire), o.chunkSeed);
  if (o.maxBufferedChunks !== undefined) return runProtocol(o, pieces);
  const expected = referenceRead(wire, o);
  const whole = runProtocol(o, [Buffer.from(wire)]);
  sameLog(whole.events, expected.events, 'events (one chunk)');
  sameLog(whole.written, expected.written, 'frames written (one chunk)');
  const cut = runProtocol(o, pieces);
  sameLog(cut.events, expected.events, `events (${pieces.length} chunks)`);
  sameLog(cut.written, expected.written, `frames written (${pieces.length} chunks)`);
  return cut;
}

export function mutateFrames(random: Random, data: Buffer, deflate: boolean, optionBytes = OPTION_BYTES): Buffer | null {
  if (data.length < optionBytes) return null;
  const options = Buffer.from(data.subarray(0, optionBytes));
  if (random.chance(0.15)) {
    options[random.below(optionBytes)] = random.next() & 0xff;
    return Buffer.concat([options, data.subarray(optionBytes)]);
  }
  const wire = decodeWire(data.subarray(optionBytes));
  mutateWire(random, wire, (options[0] & 1) !== 0, { deflate });
  return Buffer.concat([options, encodeWire(wire)]);
}

/** Valid streams to start from: messages, fragments, control frames between them, a close. */
export function frameSeeds(deflate: boolean, optionBytes = OPTION_BYTES): Buffer[] {
  const random = new Random(deflate ? 7692 : 6455);
  const seeds: Buffer[] = [];
  for (let i = 0; i < 24; i++) {
    const options = Buffer.from(
      Array.from({ length: optionBytes }, (_, k) => (k === 0 ? random.next() & 0x5f & (i % 2 === 0 ? 0xff : 0xfe) : random.below(256))),
    );
    const masked = (options[0] & 1) !== 0;
    const wire = { frames: [] as WireFrame[], tail: Buffer.alloc(0) };
    for (let k = 0; k < 1 + (i % 4); k++) mutateWire(random, wire, masked, { deflate });
    seeds.push(Buffer.concat([options, encodeWire(wire)]));
  }
  return seeds;
}

export const DICTIONARY = [
  [0x81, 0x80],
  [0x82, 0x80],
  [0x01, 0x80],
  [0x80, 0x80],
  [0x88, 0x80],
  [0x89, 0x80],
  [0x8a, 0x80],
  [0xc1, 0x80],
  [0x81, 0xfe, 0xff, 0xff],
  [0x81, 0xff, 0, 0, 0, 0, 0, 1, 0, 0],
  [0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x03, 0xe8],
  [0x03, 0xef],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf0, 0x9f, 0x98, 0x80],
  [0xe2, 0x82, 0xac],
  [0xc0, 0xaf],
].map((b) => Buffer.from(b));

export const frames: FuzzTarget = {
  name: 'frames',
  files: TARGET_FILES.frames,
  maxLength: 4096,
  dictionary: DICTIONARY,
  seeds: () => frameSeeds(false),
  run(data) {
    const o = decodeOptions(data, false);
    checkAgainstReference(o, data.subarray(OPTION_BYTES));
  },
  mutate: (random, data) => mutateFrames(random, data, false),
};
