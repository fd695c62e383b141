/**
 * Target `deflate`: the Protocol with permessage-deflate negotiated (RSV1
 * legal on a message's first frame only, RFC 7692 6.1) and then the
 * connection's inflater (MessageCompressor: the main-thread path, the
 * thread-pool path, and the main-thread start finished on the pool).
 * Input: 5 option bytes (the frames target's 4, then the negotiated
 * receive window, context takeover and the inflate path), then the bytes a
 * peer sends. Compressed messages are inflated in order until one fails.
 *
 * Invariants: the frame layer as in `frames` (same reference reading); an
 * inflated message never exceeds maxPayload, whatever the ratio (a bomb
 * costs at most maxPayload bytes); a message that cannot be inflated fails
 * with a ProtocolError, 1007 or 1009, nothing else; without context
 * takeover each message inflates to exactly what node's own
 * inflateRawSync makes of it, and fails exactly when it does.
 */

import zlib from 'node:zlib';
import { ProtocolError, TARGET_FILES, makeInflater, type Inflater } from '../../targets-glue.ts';
import { check, type FuzzTarget } from '../target.ts';
import { DICTIONARY, checkAgainstReference, decodeOptions, frameSeeds, mutateFrames } from './frames.ts';

const OPTION_BYTES = 5;
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Larger limits than the frames target: past 1 MiB the main-thread inflate stops and the pool finishes. */
const MAX_PAYLOADS = [0, 1, 16, 125, 1000, 65536, 1 << 20, 3 << 20];

function inflateAsync(inflater: Inflater, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => inflater.decompress(data, (error, output) => (error ? reject(error) : resolve(output!))));
}

/** What node's one-shot inflate says of one message: its output, or 'too big', or 'invalid'. */
function referenceInflate(data: Buffer, windowBits: number, maxPayload: number): Buffer | 'too big' | 'invalid' {
  try {
    // A sync flush, as a connection inflates: a message need not end the deflate stream (no BFINAL).
    const output = zlib.inflateRawSync(Buffer.concat([data, TRAILER]), {
      windowBits,
      maxOutputLength: Math.max(1, maxPayload + 1),
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    // maxOutputLength allows output of exactly that length: maxPayload + 1 bytes is still too big.
    return output.length > maxPayload ? 'too big' : output;
  } catch (error) {
    return (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? 'too big' : 'invalid';
  }
}

async function run(data: Buffer): Promise<void> {
  const o = decodeOptions(data, true);
  const extra = data[4] ?? 0;
  o.maxPayload = MAX_PAYLOADS[(data[1] ?? 0) % MAX_PAYLOADS.length];
  const windowBits = 8 + (extra & 7);
  const noContextTakeover = (extra & 8) !== 0;
  const path = (extra >> 4) & 3; // 0, 1: main thread first; 2: pool only; 3: main thread only where it takes it
  const protocolRun = checkAgainstReference(o, data.subarray(OPTION_BYTES));
  if (protocolRun.compressed.length === 0) return;
  const inflater = makeInflater(
    { sendNoContextTakeover: true, sendWindowBits: 15, receiveNoContextTakeover: noContextTakeover, receiveWindowBits: windowBits },
    o.maxPayload,
  );
  try {
    for (const message of protocolRun.compressed) {
      let output: Buffer | null = null;
      let failure: unknown = null;
      try {
        if (path !== 2) output = inflater.decompressSync(message.data);
        if (output === null && path !== 3) output = await inflateAsync(inflater, message.data);
      } catch (error) {
        failure = error;
      }
      if (output === null && failure === null) continue; // path 3: left for the pool, not taken here
      const expected = noContextTakeover ? referenceInflate(message.data, Math.max(windowBits, 9), o.maxPayload) : null;
      if (failure !== null) {
        check(failure instanceof ProtocolError, () => `inflating failed with ${String(failure)}, not a ProtocolError`);
        const code = (failure as ProtocolError).closeCode;
        check(code === 1007 || code === 1009, () => `inflating failed with close code ${code}`);
        if (expected !== null) {
          // A message both over maxPayload and invalid further on may fail either way: the main-thread
          // inflate reads up to 1 MiB of output before it compares with maxPayload (see SECURITY.md).

          check(typeof expected === 'string', () => `a message zlib inflates (${(expected as Buffer).length} bytes) failed with ${code}`);
        }
        return;
      }
      check(output!.length <= o.maxPayload, () => `inflated to ${output!.length} bytes, over maxPayload ${o.maxPayload}`);
      if (expected !== null) {
        check(typeof expected !== 'string', () => `inflated to ${output!.length} bytes where zlib says ${expected}`);
        check((expected as Buffer).equals(output!), 'inflated to other bytes than zlib');
      }
    }
  } finally {
    inflater.close();
  }
}

export const deflate: FuzzTarget = {
  name: 'deflate',
  files: TARGET_FILES.deflate,
  maxLength: 4096,
  dictionary: [
    ...DICTIONARY,
    ...[
      [0xc1, 0x80],
      [0xc2, 0x80],
      [0x00, 0x00, 0xff, 0xff],
      [0x03, 0x00],
      [0x01, 0x00, 0x00, 0xff, 0xff],
    ].map((b) => Buffer.from(b)),
  ],
  seeds: () => frameSeeds(true, OPTION_BYTES),
  run,
  mutate: (random, data) => mutateFrames(random, data, true, OPTION_BYTES),
};
