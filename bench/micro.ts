/**
 * Frame-path microbenchmarks, in memory (no sockets), netws and ws side by
 * side in one process: parsing, framing, masking and UTF-8 validation.
 */

import { FrameParser } from '../src/protocol/parser.ts';
import { Protocol, type ProtocolHandler } from '../src/protocol/protocol.ts';
import { headerSize, writeHeader } from '../src/protocol/frame.ts';
import { applyMask } from '../src/protocol/mask.ts';
import { Utf8Validator, isValidUtf8 } from '../src/protocol/utf8.ts';
import { opsPerSecond, type Summary } from './stats.ts';
import { Receiver, Sender, bufferutil, loadWsJsMask, wsIsValidUtf8 } from './ws-internals.ts';

export interface MicroResult {
  group: 'parse' | 'build' | 'mask' | 'utf8';
  case: string;
  size: number;
  /** Implementation name → bytes per second (payload bytes). */
  rates: Record<string, Summary>;
}

export interface MicroOptions {
  minMs: number;
  rounds: number;
  log: (line: string) => void;
}

export const MICRO_SIZES = [16, 125, 1024, 64 * 1024, 1024 * 1024];

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** `count` binary frames of `size` bytes back to back, as one receive chunk. */
function frameStream(size: number, masked: boolean, count: number): Buffer {
  const one = headerSize(size, masked) + size;
  const out = Buffer.alloc(one * count);
  const payload = Buffer.alloc(size, 0x61);
  for (let i = 0; i < count; i++) {
    const offset = writeHeader(out, i * one, 2, true, false, size, masked ? KEY : null);
    payload.copy(out, offset);
    if (masked) applyMask(out.subarray(offset, offset + size), KEY);
  }
  return out;
}

/** Frames per chunk: about 64 KiB of small frames, one frame of a large size. */
const framesPerChunk = (size: number): number => Math.max(1, Math.floor(65536 / (size + 14)));

function parseCase(size: number, masked: boolean, options: MicroOptions): MicroResult {
  const count = framesPerChunk(size);
  const chunk = frameStream(size, masked, count);
  let received = 0;
  const parser = new FrameParser(
    { isServer: masked, maxPayload: 1 << 30 },
    { onMessage: (data) => (received += data.length), onControl: () => {} },
  );
  const receiver = new Receiver({ isServer: masked, maxPayload: 0 });
  receiver.on('message', (data) => (received += data.length));
  receiver.on('error', (error) => {
    throw error;
  });
  const bytes = size * count;
  // Masked payloads are unmasked in place by both parsers, so the chunk flips
  // between masked and plain bytes; binary frames make that harmless.
  const rates = {
    netws: scale(
      opsPerSecond(() => parser.push(chunk), options.minMs, options.rounds),
      bytes,
    ),
    ws: scale(
      opsPerSecond(() => receiver.write(chunk), options.minMs, options.rounds),
      bytes,
    ),
  };
  if (received === 0) throw new Error('parsers delivered nothing');
  return { group: 'parse', case: masked ? 'parse masked (server)' : 'parse unmasked (client)', size, rates };
}

function buildCase(size: number, masked: boolean, options: MicroOptions): MicroResult {
  const payload = Buffer.alloc(size, 0x61);
  let written = 0;
  const handler: ProtocolHandler = {
    write: (header, data) => (written += header.length + (data?.length ?? 0)),
    onMessage: () => {},
    onPing: () => {},
    onPong: () => {},
    onCloseReceived: () => {},
    onProtocolError: () => {},
  };
  const protocol = new Protocol({ isServer: !masked, maxPayload: 1 << 30 }, handler);
  const frameOptions = { fin: true, rsv1: false, opcode: 2, mask: masked, readOnly: true };
  const rates = {
    netws: scale(
      opsPerSecond(() => protocol.sendMessage(payload, true, true), options.minMs, options.rounds),
      size,
    ),
    ws: scale(
      opsPerSecond(() => (written += Sender.frame(payload, frameOptions).length), options.minMs, options.rounds),
      size,
    ),
  };
  if (written === 0) throw new Error('nothing was framed');
  return { group: 'build', case: masked ? 'build masked (client)' : 'build unmasked (server)', size, rates };
}

function maskCase(size: number, options: MicroOptions, wsJs: ReturnType<typeof loadWsJsMask>): MicroResult {
  const data = Buffer.alloc(size, 0x61);
  const rates: Record<string, Summary> = {
    netws: scale(
      opsPerSecond(() => applyMask(data, KEY), options.minMs, options.rounds),
      size,
    ),
    bufferutil: scale(
      opsPerSecond(() => bufferutil.unmask(data, KEY), options.minMs, options.rounds),
      size,
    ),
    'ws js': scale(
      opsPerSecond(() => wsJs.unmask(data, KEY), options.minMs, options.rounds),
      size,
    ),
  };
  return { group: 'mask', case: 'unmask in place', size, rates };
}

function utf8Case(size: number, options: MicroOptions): MicroResult {
  // Mixed text: ASCII with 2-, 3- and 4-byte sequences, cut to whole characters.
  const unit = Buffer.from('hello wörld — ✓ 𝄞 ');
  const text = Buffer.alloc(size);
  let used = 0;
  while (used + unit.length <= size) used += unit.copy(text, used);
  text.fill(0x20, used);
  const validator = new Utf8Validator();
  const rates = {
    'netws whole': scale(
      opsPerSecond(() => isValidUtf8(text), options.minMs, options.rounds),
      size,
    ),
    'netws incremental': scale(
      opsPerSecond(() => validator.feed(text) && validator.end(), options.minMs, options.rounds),
      size,
    ),
    ws: scale(
      opsPerSecond(() => wsIsValidUtf8(text), options.minMs, options.rounds),
      size,
    ),
  };
  if (!isValidUtf8(text) || !wsIsValidUtf8(text)) throw new Error('utf8 sample is invalid');
  return { group: 'utf8', case: 'validate mixed text', size, rates };
}

/** Converts operations per second into payload bytes per second. */
function scale(summary: Summary, bytesPerOp: number): Summary {
  const times = (v: number): number => v * bytesPerOp;
  return {
    median: times(summary.median),
    min: times(summary.min),
    max: times(summary.max),
    spread: summary.spread,
    samples: summary.samples.map(times),
  };
}

export function runMicro(options: MicroOptions): MicroResult[] {
  const results: MicroResult[] = [];
  const wsJs = loadWsJsMask();
  const add = (result: MicroResult): void => {
    results.push(result);
    const cells = Object.entries(result.rates).map(([name, s]) => `${name} ${(s.median / 1e9).toFixed(3)} GB/s`);
    options.log(`  ${result.case.padEnd(26)} ${String(result.size).padStart(8)} B  ${cells.join('  ')}`);
  };
  for (const size of MICRO_SIZES) add(parseCase(size, true, options));
  for (const size of MICRO_SIZES) add(parseCase(size, false, options));
  for (const size of MICRO_SIZES) add(buildCase(size, false, options));
  for (const size of MICRO_SIZES) add(buildCase(size, true, options));
  for (const size of MICRO_SIZES) add(maskCase(size, options, wsJs));
  for (const size of [1024, 64 * 1024, 1024 * 1024]) add(utf8Case(size, options));
  return results;
}
