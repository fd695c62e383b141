/**
 * Fuzz targets. Each runs one iteration from a seeded Random and throws an
 * `InvariantError` when netws misbehaves; anything else escaping is a bug too.
 */

import { HeadError, HeadReader, parseRequestHead, parseResponseHead } from '../../src/http/head.ts';
import { isValidCloseCode } from '../../src/protocol/close.ts';
import { type ProtocolError, WebSocketError } from '../../src/protocol/errors.ts';
import { acceptResponseLines, checkUpgradeRequest, checkUpgradeResponse, isRejection } from '../../src/protocol/handshake.ts';
import { Protocol } from '../../src/protocol/protocol.ts';
import { isValidUtf8 } from '../../src/protocol/utf8.ts';
import { SAMPLE_KEY, decodeFrames } from '../helpers.ts';
import { validRequest, validStream, type ExpectedMessage } from './generate.ts';
import { chunk, mutate } from './mutate.ts';
import type { Random } from './random.ts';

export class InvariantError extends Error {
  override name = 'InvariantError';
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

/** Close codes a failing parser may send: protocol error, bad UTF-8, too many fragments (1008, as ws), too big. */
const FAILURE_CODES = new Set([1002, 1007, 1008, 1009]);

/** Limits of the parser's own buffers (see src/protocol/parser.ts). */
const MAX_HEADER = 14;
const MAX_CONTROL_PAYLOAD = 125;
const MAX_PENDING_PIECES = 64;

interface ParserInternals {
  chunks: Buffer[];
  bufferedBytes: number;
  pieces: Buffer[];
  messageLength: number;
}

interface Outcome {
  messages: ExpectedMessage[];
  written: Buffer[];
  error: ProtocolError | null;
  closeReceived: boolean;
}

/**
 * Feeds `chunks` to a fresh Protocol, checking its bounds after every chunk.
 * The parser owns what it is given (it unmasks in place): chunks must be
 * views of a copy nobody else reads.
 */
function runProtocol(isServer: boolean, maxPayload: number, maxFragments: number, chunks: Buffer[], perMessageDeflate = false): Outcome {
  const outcome: Outcome = { messages: [], written: [], error: null, closeReceived: false };
  let finished = false;
  const protocol = new Protocol(
    { isServer, maxPayload, maxFragments, perMessageDeflate },
    {
      write: (header, payload) => {
        outcome.written.push(Buffer.from(header));
        if (payload !== null) outcome.written.push(Buffer.from(payload));
      },
      onMessage: (data, isBinary, compressed) => {
        check(!finished, 'a message after the close or failure');
        check(data.length <= maxPayload, `a message of ${data.length} bytes over maxPayload ${maxPayload}`);
        // Compressed text is checked once inflated, above the Protocol.
        check(isBinary || compressed || isValidUtf8(data), 'a text message that is not valid UTF-8');
        check(perMessageDeflate || !compressed, 'a compressed message without permessage-deflate');
        outcome.messages.push({ isBinary, data: Buffer.from(data) });
      },
      onPing: (data) => check(data.length <= MAX_CONTROL_PAYLOAD, 'a ping over 125 bytes'),
      onPong: (data) => check(data.length <= MAX_CONTROL_PAYLOAD, 'a pong over 125 bytes'),
      onCloseReceived: (code) => {
        check(!finished, 'a second close or failure');
        check(code === 1005 || isValidCloseCode(code), `close code ${code} reported`);
        finished = true;
        outcome.closeReceived = true;
      },
      onProtocolError: (error) => {
        check(!finished, 'a failure after the close or failure');
        check(FAILURE_CODES.has(error.closeCode), `failed with close code ${error.closeCode}`);
        finished = true;
        outcome.error = error;
      },
    },
  );
  const parser = (protocol as unknown as { parser: ParserInternals }).parser;
  for (const piece of chunks) {
    protocol.receiveData(piece);
    check(parser.bufferedBytes <= MAX_HEADER + MAX_CONTROL_PAYLOAD, `${parser.bufferedBytes} bytes held unparsed`);
    check(parser.chunks.length <= MAX_HEADER + MAX_CONTROL_PAYLOAD, `${parser.chunks.length} chunks held`);
    check(parser.pieces.length < MAX_PENDING_PIECES, `${parser.pieces.length} pieces pending`);
    check(parser.messageLength <= maxPayload, 'a message grew past maxPayload');
  }
  // Whatever we wrote must be well-formed frames; a close frame carries a valid code.
  for (const sent of decodeFrames(Buffer.concat(outcome.written))) {
    if (sent.opcode === 0x8 && sent.payload.length >= 2) {
      const code = sent.payload.readUInt16BE(0);
      check(isValidCloseCode(code), `sent close code ${code}`);
    }
  }
  return outcome;
}

function sameMessages(actual: ExpectedMessage[], expected: ExpectedMessage[]): boolean {
  return (
    actual.length === expected.length && actual.every((m, i) => m.isBinary === expected[i].isBinary && m.data.equals(expected[i].data))
  );
}

/**
 * One parser iteration: a valid stream, mutated (or, one time in five, left
 * valid and compared message for message), fed in random chunks; then a fresh
 * Protocol must still parse a valid stream exactly.
 */
export function fuzzProtocol(random: Random): string {
  const isServer = random.chance(0.5);
  const stream = validStream(random, isServer);
  const donor = validStream(random, isServer).bytes;
  const intact = random.chance(0.2);
  const maxPayload = intact ? Math.max(stream.largest, 1) : random.pick([16, 1024, 70_000]);
  const maxFragments = intact ? Math.max(stream.mostFrames, 1) : random.pick([2, 64, 131_072]);
  const input = intact ? stream.bytes : mutate(random, stream.bytes, donor);
  // Mutated streams also run with permessage-deflate negotiated, where RSV1 on a first frame is legal.
  const perMessageDeflate = !intact && random.chance(0.3);
  const outcome = runProtocol(isServer, maxPayload, maxFragments, chunk(random, Buffer.from(input)), perMessageDeflate);
  if (intact) {
    check(outcome.error === null, `a valid stream failed: ${outcome.error?.message}`);
    check(sameMessages(outcome.messages, stream.messages), 'a valid stream parsed to different messages');
  }
  const after = validStream(random, isServer);
  const fresh = runProtocol(isServer, 70_000, 131_072, chunk(random, Buffer.from(after.bytes)));
  check(fresh.error === null && sameMessages(fresh.messages, after.messages), 'a fresh parser after fuzzing misparsed');
  if (outcome.error !== null) return `failed ${outcome.error.closeCode}`;
  return outcome.closeReceived ? 'closed' : 'open';
}

const HANDSHAKE_STATUSES = new Set([400, 405, 426, 431]);
const LIMITS = { maxHeaderSize: 4096, maxHeaderCount: 40 };

/**
 * One handshake iteration: a mutated upgrade request through the head reader,
 * parser and checks (only a HeadError or a rejection with an HTTP status may
 * come out), then a mutated 101 response through the client's checks.
 */
export function fuzzHandshake(random: Random): void {
  const request = mutate(random, validRequest(random), validRequest(random));
  try {
    const reader = new HeadReader(LIMITS);
    let received = null;
    for (const piece of chunk(random, request)) {
      received = reader.push(piece);
      if (received !== null) break;
    }
    if (received !== null) {
      const result = checkUpgradeRequest(parseRequestHead(received.head, LIMITS));
      if (isRejection(result)) check(HANDSHAKE_STATUSES.has(result.status), `rejected with ${result.status}`);
      else check(result.key.length === 24, 'accepted a key that is not 24 characters');
    }
  } catch (error) {
    if (!(error instanceof HeadError)) throw error;
    check(error.status === 400 || error.status === 431, `head refused with ${error.status}`);
  }

  const lines = acceptResponseLines(SAMPLE_KEY, random.chance(0.5) ? 'chat' : undefined, undefined);
  const valid = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  const response = random.chance(0.1) ? valid : mutate(random, valid, validRequest(random));
  try {
    const reader = new HeadReader(LIMITS);
    const received = reader.push(response);
    if (received === null) return;
    const head = parseResponseHead(received.head, LIMITS);
    checkUpgradeResponse(head.statusCode, head.headers, SAMPLE_KEY, ['chat']);
  } catch (error) {
    if (!(error instanceof HeadError) && !(error instanceof WebSocketError)) throw error;
  }
}
