/**
 * The incremental frame and message parser (RFC 6455 section 5).
 *
 * Bytes arrive in chunks of any size, down to one byte. The parser is a
 * two-state machine: HEADER (wait for the 2-14 header bytes) and PAYLOAD.
 * Data payloads are handed on piece by piece as chunks arrive, without
 * copying a piece that sits inside one chunk; they are unmasked in place and
 * text is UTF-8-checked as it comes, so a bad byte or an oversized message
 * fails the connection before the rest of the message is buffered.
 */

import { CloseCode } from './close.ts';
import { ProtocolError } from './errors.ts';
import { MAX_CONTROL_PAYLOAD, Opcode, isControlOpcode, isKnownOpcode } from './frame.ts';
import { applyMask } from './mask.ts';
import { Utf8Validator, invalidUtf8, isValidUtf8 } from './utf8.ts';

export interface ParserOptions {
  /** A server requires masked frames, a client unmasked ones (5.1). */
  isServer: boolean;
  /** Largest message, in bytes, counted across all its fragments. */
  maxPayload: number;
  /** permessage-deflate was negotiated: RSV1 marks a compressed message (RFC 7692 section 6). */
  perMessageDeflate?: boolean;
  /** Most frames in one message; default DEFAULT_MAX_FRAGMENTS. */
  maxFragments?: number;
  /** Most received chunks waiting to be parsed; default no limit. More → close 1008. */
  maxBufferedChunks?: number;
  /** Do not check text messages for UTF-8 (trusted peers only). */
  skipUTF8Validation?: boolean;
  /** Largest streamed message (see streamMessages), in bytes; default no limit. */
  maxStreamPayload?: number;
}

/**
 * Frames per message: twice the 65,536 that Autobahn 9.3/9.4 send, and a cap
 * on the per-message work a peer can cause with empty or 1-byte fragments.
 */
export const DEFAULT_MAX_FRAGMENTS = 131_072;

export interface ParserEvents {
  /**
   * A complete message; `compressed` ones are still deflated and their text
   * unchecked. With `keepFragments` on, an uncompressed binary message comes
   * as `fragments`, one Buffer per frame, and `data` is empty.
   */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean, fragments: Buffer[] | null): void;
  /** A complete, unmasked ping, pong or close frame. */
  onControl(opcode: number, payload: Buffer): void;
  /** streamMessages: a message begins; its payload follows piece by piece. */
  onMessageStart?(isBinary: boolean, compressed: boolean): void;
  /** streamMessages: a piece of the message's payload, unmasked (still deflated if compressed; text checked if not). */
  onMessageData?(piece: Buffer): void;
  /** streamMessages: the message's last frame ended. */
  onMessageEnd?(): void;
}

const HEADER = 0;
const PAYLOAD = 1;

/**
 * Pieces of an unfinished message kept as separate views before they are
 * copied into one growing buffer. Small enough that a message sent as many
 * tiny fragments cannot pin many receive chunks in memory; large enough that
 * a message in a few pieces is joined once, at the end.
 */
const MAX_PENDING_PIECES = 64;

const EMPTY = Buffer.alloc(0);
/** The empty list, shared: replaced by a list of its own on the first push. */
const NO_BUFFERS: Buffer[] = Object.freeze([]) as unknown as Buffer[];

// The current key as bytes for applyMask, shared by all parsers: it is only
// read during the applyMask call that follows.
const keyScratch = Buffer.alloc(4);

function keyBytes(key: number): Buffer {
  // By hand: Buffer's writeUInt32BE checks its arguments on every call.
  keyScratch[0] = key >>> 24;
  keyScratch[1] = (key >>> 16) & 0xff;
  keyScratch[2] = (key >>> 8) & 0xff;
  keyScratch[3] = key & 0xff;
  return keyScratch;
}

/**
 * A broken frame: ws's words (its receiver's 'Invalid WebSocket frame: …'),
 * code and close code, so that code matching on ws's errors matches ours.
 */
function protocolError(code: string, message: string, closeCode: number = CloseCode.ProtocolError): ProtocolError {
  return new ProtocolError(code, `Invalid WebSocket frame: ${message}`, closeCode);
}

/** A limit passed (no frame broken): ws's words, without its frame prefix. */
function limitError(code: string, message: string, closeCode: number): ProtocolError {
  return new ProtocolError(code, message, closeCode);
}

export class FrameParser {
  private readonly isServer: boolean;
  private readonly maxPayload: number;
  // Options at their defaults are read from the prototype (the end of this file).
  declare private readonly perMessageDeflate: boolean;
  declare private readonly maxFragments: number;
  declare private readonly maxBufferedChunks: number;
  declare private readonly skipUTF8Validation: boolean;
  private readonly events: ParserEvents;
  /** Deliver binary messages as their frames' payloads, uncopied (binaryType 'fragments'). */
  declare keepFragments: boolean;
  /**
   * Hand messages on piece by piece as they arrive, never assembled (read at
   * each message's start): limited by maxStreamPayload instead of maxPayload,
   * and by no count of frames, since nothing is held.
   */
  declare streamMessages: boolean;
  /** Compressed messages too (only when each can be inflated on its own). */
  declare streamCompressed: boolean;
  declare private readonly maxStreamPayload: number;
  /** The message being read is streamed. */
  declare private streaming: boolean;

  // Received bytes not yet consumed, oldest first.
  declare private chunks: Buffer[];
  /**
   * Where the unconsumed bytes of chunks[0] start: consuming a frame's head
   * moves it rather than slicing the chunk, so a read chunk of many small
   * messages costs one Buffer view per message (its payload), not four.
   */
  declare private offset: number;
  declare private bufferedBytes: number;
  declare private state: number;
  declare private stopped: boolean;

  // The frame being read.
  declare private fin: boolean;
  declare private opcode: number;
  declare private masked: boolean;
  /** The frame's masking key as one big-endian number (a Buffer each would cost an idle connection ~180 bytes). */
  declare private maskKey: number;
  declare private maskPhase: number;
  declare private payloadRemaining: number;
  /** Chunks the current frame's payload arrived in (ws's maxBufferedChunks counts them). */
  declare private framePieces: number;

  // The message being assembled; messageOpcode 0 means none is open.
  declare private messageOpcode: number;
  declare private messageCompressed: boolean;
  declare private messageLength: number;
  declare private messageFrames: number;
  declare private pieces: Buffer[];
  declare private assembled: Buffer | null;
  declare private assembledLength: number;
  /** Payloads of the message's finished frames, when keepFragments was on at its first frame. */
  declare private fragments: Buffer[] | null;
  /** Checks text that arrives in pieces; made on the first such message. */
  declare private utf8: Utf8Validator | null;

  constructor(options: ParserOptions, events: ParserEvents) {
    this.isServer = options.isServer;
    this.maxPayload = options.maxPayload;
    if (options.perMessageDeflate) this.perMessageDeflate = true;
    if (options.maxFragments !== undefined && options.maxFragments !== DEFAULT_MAX_FRAGMENTS) this.maxFragments = options.maxFragments;
    if (options.maxBufferedChunks !== undefined) this.maxBufferedChunks = options.maxBufferedChunks;
    if (options.skipUTF8Validation) this.skipUTF8Validation = true;
    if (options.maxStreamPayload !== undefined) this.maxStreamPayload = options.maxStreamPayload;
    this.events = events;
  }

  /**
   * Feeds received bytes. The parser takes ownership of `chunk`: payloads are
   * unmasked in place and messages may be views into it. Throws a
   * ProtocolError when the peer breaks the protocol; nothing more is parsed
   * after that.
   */
  push(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    if (this.chunks.length >= this.maxBufferedChunks) {
      this.stop();
      throw limitError('WS_ERR_TOO_MANY_BUFFERED_PARTS', 'Too many buffered chunks', CloseCode.PolicyViolation);
    }
    if (this.chunks === NO_BUFFERS) this.chunks = [chunk];
    else this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    try {
      while (!this.stopped) {
        const progressed = this.state === HEADER ? this.readHeader() : this.readPayload();
        if (!progressed) return;
      }
    } catch (error) {
      if (error instanceof ProtocolError) this.stop();
      throw error;
    }
  }

  /** Drops all state; later input is ignored (after a close frame, or on failure). */
  stop(): void {
    this.stopped = true;
    this.chunks = NO_BUFFERS;
    this.offset = 0;
    this.bufferedBytes = 0;
    this.pieces = NO_BUFFERS;
    this.assembled = null;
    this.fragments = null;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private readHeader(): boolean {
    if (this.bufferedBytes < 2) return false;
    const first = this.chunks[0];
    const offset = this.offset;
    const inFirst = first.length - offset >= 2;
    const byte0 = inFirst ? first[offset] : this.byteAt(0);
    const byte1 = inFirst ? first[offset + 1] : this.byteAt(1);
    const fin = (byte0 & 0x80) !== 0;
    const opcode = byte0 & 0x0f;
    const masked = (byte1 & 0x80) !== 0;
    const length7 = byte1 & 0x7f;

    const rsv1 = (byte0 & 0x40) !== 0;

    // Everything the first two bytes can tell is checked before waiting for more.
    if ((byte0 & 0x30) !== 0) {
      throw protocolError('WS_ERR_UNEXPECTED_RSV_2_3', 'RSV2 and RSV3 must be clear');
    }
    if (rsv1 && !this.perMessageDeflate) {
      throw protocolError('WS_ERR_UNEXPECTED_RSV_1', 'RSV1 must be clear');
    }
    if (!isKnownOpcode(opcode)) {
      throw protocolError('WS_ERR_INVALID_OPCODE', `invalid opcode ${opcode}`);
    }
    // RFC 7692 section 6.1: RSV1 ("Per-Message Compressed") is set on the first frame of a message only.
    if (rsv1 && (opcode === Opcode.Continuation || isControlOpcode(opcode))) {
      throw protocolError('WS_ERR_UNEXPECTED_RSV_1', 'RSV1 must be clear');
    }
    if (isControlOpcode(opcode)) {
      if (!fin) throw protocolError('WS_ERR_EXPECTED_FIN', 'FIN must be set');
      if (length7 > MAX_CONTROL_PAYLOAD) {
        throw protocolError('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', `invalid payload length ${length7}`);
      }
    } else if (opcode === Opcode.Continuation) {
      if (this.messageOpcode === 0) {
        throw protocolError('WS_ERR_INVALID_OPCODE', 'invalid opcode 0');
      }
    } else if (this.messageOpcode !== 0) {
      throw protocolError('WS_ERR_INVALID_OPCODE', `invalid opcode ${opcode}`);
    }
    if (masked !== this.isServer) {
      throw this.isServer
        ? protocolError('WS_ERR_EXPECTED_MASK', 'MASK must be set')
        : protocolError('WS_ERR_UNEXPECTED_MASK', 'MASK must be clear');
    }

    const lengthBytes = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    const size = 2 + lengthBytes + (masked ? 4 : 0);
    if (this.bufferedBytes < size) return false;
    // Read where it lies when the first chunk holds it all (nearly always), else from a copy.
    let header = this.chunks[0];
    let at = this.offset;
    if (header.length - at >= size) this.skip(size);
    else {
      header = this.take(size);
      at = 0;
    }

    let length = length7;
    if (length7 === 126) {
      length = header.readUInt16BE(at + 2);
    } else if (length7 === 127) {
      const high = header.readUInt32BE(at + 2);
      // The RFC forbids the top bit; larger lengths than 2^53 - 1 cannot be counted exactly (ws's rule, and its 1009).
      if (high > 0x1fffff) {
        throw limitError(
          'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
          'Unsupported WebSocket frame: payload length > 2^53 - 1',
          CloseCode.MessageTooBig,
        );
      }
      length = high * 0x100000000 + header.readUInt32BE(at + 6);
    }
    const streamed =
      opcode === Opcode.Continuation ? this.streaming : !isControlOpcode(opcode) && this.streamMessages && (!rsv1 || this.streamCompressed);
    const limit = streamed ? this.maxStreamPayload : this.maxPayload;
    if (!isControlOpcode(opcode) && this.messageLength + length > limit) {
      // Refused before a single payload byte is buffered.
      throw limitError('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'Max payload size exceeded', CloseCode.MessageTooBig);
    }
    if (!isControlOpcode(opcode) && !streamed && ++this.messageFrames > this.maxFragments) {
      throw limitError('WS_ERR_TOO_MANY_BUFFERED_PARTS', 'Too many message fragments', CloseCode.PolicyViolation);
    }
    if (masked) {
      // By hand, as keyBytes() writes it back: readUInt32BE checks its offset on every call.
      const k = at + size - 4;
      this.maskKey = ((header[k] << 24) | (header[k + 1] << 16) | (header[k + 2] << 8) | header[k + 3]) >>> 0;
    }

    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.maskPhase = 0;
    this.framePieces = 0;
    this.payloadRemaining = length;
    this.state = PAYLOAD;
    if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      this.messageOpcode = opcode;
      this.messageCompressed = rsv1;
      this.streaming = streamed;
      // keepFragments is read once per message: a binaryType change midway
      // must not split how one message is collected (its pieces would be lost).
      if (!streamed && this.keepFragments && opcode === Opcode.Binary && !rsv1) this.fragments = [];
      if (streamed) this.events.onMessageStart!(opcode === Opcode.Binary, rsv1);
    }
    return true;
  }

  private readPayload(): boolean {
    if (isControlOpcode(this.opcode)) {
      if (this.bufferedBytes < this.payloadRemaining) return false;
      const payload = this.payloadRemaining === 0 ? EMPTY : this.take(this.payloadRemaining);
      if (this.masked) applyMask(payload, keyBytes(this.maskKey));
      this.state = HEADER;
      this.events.onControl(this.opcode, payload);
      return true;
    }
    if (this.payloadRemaining > 0) {
      if (this.bufferedBytes === 0) return false;
      if (this.fin && this.messageLength === 0 && !this.streaming && this.fragments === null) {
        // A whole message in one frame, in the first chunk (small messages nearly always): no pieces to hold.
        if (this.chunks[0].length - this.offset >= this.payloadRemaining) {
          this.readWholeMessage();
          return true;
        }
      }
      this.readDataPiece();
      if (this.payloadRemaining > 0) return true;
    }
    this.state = HEADER;
    if (this.streaming) {
      if (this.fin) this.finishStreamedMessage();
      return true;
    }
    if (this.fragments !== null) this.finishFragment();
    if (this.fin) this.finishMessage();
    return true;
  }

  /** keepFragments mode: the frame's payload becomes one fragment. */
  private finishFragment(): void {
    this.fragments!.push(this.joinPieces());
    this.pieces = NO_BUFFERS;
    this.assembled = null;
    this.assembledLength = 0;
  }

  /**
   * A message whose one frame's payload lies whole in the first chunk: the
   * view of it is the message (readDataPiece and finishMessage in one step,
   * with nothing held between them).
   */
  private readWholeMessage(): void {
    const piece = this.takePiece();
    this.state = HEADER;
    this.emitMessage(piece, null);
  }

  /** Consumes what is available of a data frame's payload from the first chunk. */
  private readDataPiece(): void {
    const piece = this.takePiece();
    if (this.streaming) {
      this.events.onMessageData!(piece);
      return;
    }
    if (this.pieces === NO_BUFFERS) this.pieces = [piece];
    else if (this.pieces.push(piece) === MAX_PENDING_PIECES) this.assemblePieces();
  }

  /**
   * Takes what is available of a data frame's payload from the first chunk,
   * unmasked and, when uncompressed text, checked; counted in messageLength.
   */
  private takePiece(): Buffer {
    const first = this.chunks[0];
    const offset = this.offset;
    let piece: Buffer;
    if (first.length - offset <= this.payloadRemaining) {
      piece = offset === 0 ? first : first.subarray(offset);
      this.chunks.shift();
      this.offset = 0;
    } else {
      piece = first.subarray(offset, offset + this.payloadRemaining);
      this.offset = offset + this.payloadRemaining;
    }
    this.bufferedBytes -= piece.length;
    this.payloadRemaining -= piece.length;
    // ws holds a frame's chunks until the frame is complete; netws copies them
    // as they come, but honours the same limit on how many a frame may take.
    if (++this.framePieces > this.maxBufferedChunks) {
      throw limitError('WS_ERR_TOO_MANY_BUFFERED_PARTS', 'Too many buffered chunks', CloseCode.PolicyViolation);
    }
    if (this.masked) {
      applyMask(piece, keyBytes(this.maskKey), this.maskPhase);
      this.maskPhase = (this.maskPhase + piece.length) & 3;
    }
    // Compressed text is checked once inflated.
    if (this.messageOpcode === Opcode.Text && !this.messageCompressed && !this.skipUTF8Validation) {
      const wholeMessage = this.fin && this.payloadRemaining === 0 && this.messageLength === 0;
      // A message that arrived in one piece is checked natively in one call;
      // anything else goes through the incremental validator (6.4.x: fail fast).
      const valid = wholeMessage ? isValidUtf8(piece) : (this.utf8 ??= new Utf8Validator()).feed(piece);
      if (!valid) throw invalidUtf8();
    }
    this.messageLength += piece.length;
    return piece;
  }

  private finishStreamedMessage(): void {
    this.checkTextEnd();
    this.streaming = false;
    this.messageOpcode = 0;
    this.messageCompressed = false;
    this.messageLength = 0;
    this.events.onMessageEnd!();
  }

  private checkTextEnd(): void {
    if (
      this.messageOpcode === Opcode.Text &&
      !this.messageCompressed &&
      !this.skipUTF8Validation &&
      this.utf8 !== null &&
      !this.utf8.end()
    ) {
      throw invalidUtf8();
    }
  }

  private finishMessage(): void {
    this.checkTextEnd();
    const fragments = this.fragments;
    const data = fragments === null ? this.joinPieces(this.messageLength) : EMPTY;
    this.fragments = null;
    this.pieces = NO_BUFFERS;
    this.assembled = null;
    this.assembledLength = 0;
    this.emitMessage(data, fragments);
  }

  /** The message is complete: its state is cleared for the next one, then it is handed on. */
  private emitMessage(data: Buffer, fragments: Buffer[] | null): void {
    const isBinary = this.messageOpcode === Opcode.Binary;
    const compressed = this.messageCompressed;
    this.messageOpcode = 0;
    this.messageCompressed = false;
    this.messageLength = 0;
    this.messageFrames = 0;
    this.events.onMessage(data, isBinary, compressed, fragments);
  }

  /** The pending pieces as one Buffer, copied only when there are several. */
  private joinPieces(length?: number): Buffer {
    if (this.assembled !== null) {
      this.assemblePieces();
      return this.assembled.subarray(0, this.assembledLength);
    }
    if (this.pieces.length === 1) return this.pieces[0];
    if (this.pieces.length === 0) return EMPTY;
    return Buffer.concat(this.pieces, length);
  }

  /** Copies pending pieces into one buffer that grows by doubling (linear overall). */
  private assemblePieces(): void {
    const needed = this.assembledLength + this.piecesLength();
    if (this.assembled === null || this.assembled.length < needed) {
      const capacity = Math.min(Math.max(needed, (this.assembled?.length ?? 0) * 2), this.maxPayload);
      const grown = Buffer.allocUnsafe(capacity);
      if (this.assembled !== null) this.assembled.copy(grown, 0, 0, this.assembledLength);
      this.assembled = grown;
    }
    for (const piece of this.pieces) {
      piece.copy(this.assembled, this.assembledLength);
      this.assembledLength += piece.length;
    }
    this.pieces = NO_BUFFERS;
  }

  private piecesLength(): number {
    let length = 0;
    for (const piece of this.pieces) length += piece.length;
    return length;
  }

  private byteAt(index: number): number {
    index += this.offset;
    for (const chunk of this.chunks) {
      if (index < chunk.length) return chunk[index];
      index -= chunk.length;
    }
    return -1;
  }

  /** Consumes `n` bytes that all lie in the first chunk. */
  private skip(n: number): void {
    this.bufferedBytes -= n;
    this.offset += n;
    if (this.offset === this.chunks[0].length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** Consumes `n` buffered bytes: a view when they sit in one chunk, else a copy. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    const start = this.offset;
    const available = first.length - start;
    if (available >= n) {
      const view = start === 0 && available === n ? first : first.subarray(start, start + n);
      this.skip(n);
      return view;
    }
    this.bufferedBytes -= n;
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const chunk = this.chunks[0];
      const from = this.offset;
      const count = Math.min(chunk.length - from, n - copied);
      chunk.copy(out, copied, from, from + count);
      copied += count;
      if (from + count === chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      } else this.offset = from + count;
    }
    return out;
  }
}

/**
 * The parser's state starts at defaults on the prototype: an idle
 * connection's parser holds only what it was given, and a field becomes its
 * own on first use (bench/: heap per idle connection).
 */
Object.assign(FrameParser.prototype, {
  perMessageDeflate: false,
  maxFragments: DEFAULT_MAX_FRAGMENTS,
  maxBufferedChunks: Infinity,
  skipUTF8Validation: false,
  maxStreamPayload: Number.MAX_SAFE_INTEGER,
  keepFragments: false,
  streamMessages: false,
  streamCompressed: false,
  streaming: false,
  chunks: NO_BUFFERS,
  offset: 0,
  bufferedBytes: 0,
  state: HEADER,
  stopped: false,
  fin: false,
  opcode: 0,
  masked: false,
  maskKey: 0,
  maskPhase: 0,
  payloadRemaining: 0,
  framePieces: 0,
  messageOpcode: 0,
  messageCompressed: false,
  messageLength: 0,
  messageFrames: 0,
  pieces: NO_BUFFERS,
  assembled: null,
  assembledLength: 0,
  fragments: null,
  utf8: null,
});
