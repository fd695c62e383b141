/**
 * One WebSocket connection as pure protocol: bytes in through
 * `receiveData`, frames out through the handler's `write`, events out through
 * the handler's callbacks. No sockets and no timers: the Node layer decides
 * when to close the transport, this class decides what goes on the wire.
 */

import { CloseCode, encodeClosePayload, parseClosePayload } from './close.ts';
import { ProtocolError } from './errors.ts';
import { CONTROL_TOO_BIG, MAX_CONTROL_PAYLOAD, Opcode, headerSize, writeHeader } from './frame.ts';
import { applyMask, nextMaskKey } from './mask.ts';
import { FrameParser, type ParserOptions } from './parser.ts';

/**
 * Called once the data was handed to the kernel (with null or undefined, as
 * node passes it) or with the error that kept it from it. A method's type,
 * whose parameter is checked both ways, so that a callback typed as
 * @types/ws types it, `(err?: Error) => void`, fits too.
 */
export type WriteCallback = { callback(error?: Error | null): void }['callback'];

export interface ProtocolHandler {
  /**
   * Bytes for the transport, in order. `payload`, when not null, follows
   * `header` directly (it is passed separately so large payloads are not copied).
   */
  write(header: Buffer, payload: Buffer | null, callback?: WriteCallback): void;
  /**
   * A complete message; a `compressed` one is still deflated
   * (permessage-deflate) and unchecked. `fragments`: see FrameParser's keepFragments.
   */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean, fragments: Buffer[] | null): void;
  /** With streamMessages on: a message begins, its payload follows piece by piece, then its end. */
  onMessageStart?(isBinary: boolean, compressed: boolean): void;
  onMessageData?(piece: Buffer): void;
  onMessageEnd?(): void;
  /** A ping arrived; with autoPong the pong has already been written. */
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /**
   * Whether our answer to the peer's close frame may be written now. A
   * layer that still has messages queued before it (waiting for zlib, say)
   * says no and calls sendCloseEcho() once they are out. Default: yes.
   */
  canAnswerClose?(): boolean;
  /** The peer's close frame arrived; our answer is written unless closeEchoPending. */
  onCloseReceived(code: number, reason: Buffer): void;
  /** The peer broke the protocol; our close frame carrying `error.closeCode` is already written. */
  onProtocolError(error: ProtocolError): void;
}

/** The parser's options, and what the protocol adds on top of framing. */
export interface ProtocolOptions extends ParserOptions {
  /** Answer pings with pongs; default true. */
  autoPong?: boolean;
  /** Client: fills each frame's 4-byte masking key; default random keys (5.3). */
  generateMask?: ((mask: Buffer) => void) | null;
}

/**
 * Frames up to this size are written as one buffer (header and payload
 * copied together): one write beats two for small frames, a copy costs more
 * for large ones.
 */
const SINGLE_WRITE_MAX = 16 * 1024;

/**
 * Where a handler that has one (netws's own connections; not part of
 * ProtocolHandler) offers room for a whole small frame: in what it is about
 * to write, in order with every write, so the frame is written there at
 * once rather than into a buffer of its own that is copied again.
 * `[kReserveFrame](size, callback, slot)` sets `slot` to the bytes
 * [offset, offset + size) of `buffer` and returns true; false when the frame
 * cannot be sent (the handler has told `callback`, as a refused write() would).
 */
export const kReserveFrame = Symbol('netws.reserveFrame');
export interface FrameSlot {
  buffer: Buffer;
  offset: number;
}
type ReservingHandler = ProtocolHandler & {
  [kReserveFrame]?(size: number, callback: WriteCallback | undefined, slot: FrameSlot): boolean;
};
/** The one slot, shared: it is read at once, before anything else can reserve. */
const slot: FrameSlot = { buffer: Buffer.alloc(0), offset: 0 };

export class Protocol {
  readonly isServer: boolean;
  private readonly handler: ProtocolHandler;
  private readonly parser: FrameParser;

  // State and options whose defaults live on the prototype (see the end of
  // this file): a connection holds its own value only once it differs.
  declare private closeFrameSent: boolean;
  declare private closeFrameReceived: boolean;
  /** Opcode of a message being sent in fragments, 0 when none is open. */
  declare private fragmentedOpcode: number;
  declare private closeHeld: boolean;
  declare private heldClose: { code: number; reason: Buffer } | null;
  /** The peer's close frame, while our answer waits (see canAnswerClose). */
  declare private closeEcho: { code: number; reason: Buffer } | null;
  declare private readonly autoPong: boolean;
  declare private readonly skipUTF8Validation: boolean;
  declare private readonly generateMask: ((mask: Buffer) => void) | null;
  declare private maskKey: Buffer | null;

  constructor(options: ProtocolOptions, handler: ProtocolHandler) {
    this.isServer = options.isServer;
    this.handler = handler;
    if (options.autoPong === false) this.autoPong = false;
    if (options.skipUTF8Validation === true) this.skipUTF8Validation = true;
    if (options.generateMask) this.generateMask = options.generateMask;
    // The parser's events are this object's methods: no closures per connection.
    this.parser = new FrameParser(options, this);
  }

  /** @internal Parser event: a complete message. */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean, fragments: Buffer[] | null): void {
    this.handler.onMessage(data, isBinary, compressed, fragments);
  }

  /** @internal Parser event: a control frame. */
  onControl(opcode: number, payload: Buffer): void {
    this.handleControl(opcode, payload);
  }

  /** @internal Parser events of a streamed message. */
  onMessageStart(isBinary: boolean, compressed: boolean): void {
    this.handler.onMessageStart!(isBinary, compressed);
  }

  /** @internal */
  onMessageData(piece: Buffer): void {
    this.handler.onMessageData!(piece);
  }

  /** @internal */
  onMessageEnd(): void {
    this.handler.onMessageEnd!();
  }

  /**
   * Hand messages that begin from now on to the handler piece by piece
   * (onMessageStart/Data/End) instead of whole; `compressed` ones too when
   * `withCompressed`. See FrameParser's streamMessages.
   */
  streamMessages(on: boolean, withCompressed: boolean): void {
    this.parser.streamMessages = on;
    this.parser.streamCompressed = withCompressed;
  }

  /** binaryType 'fragments': binary messages arrive as their frames' payloads. */
  set keepFragments(on: boolean) {
    this.parser.keepFragments = on;
  }

  /** Our answer to the peer's close frame waits for sendCloseEcho(). */
  get closeEchoPending(): boolean {
    return this.closeEcho !== null;
  }

  get closeSent(): boolean {
    return this.closeFrameSent;
  }

  get closeReceived(): boolean {
    return this.closeFrameReceived;
  }

  /** Feeds bytes from the transport. Protocol errors are reported, never thrown. */
  receiveData(chunk: Buffer): void {
    try {
      this.parser.push(chunk);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.fail(error);
    }
  }

  /**
   * While held, a received close frame is not acted on: messages received
   * before it are still being processed above (inflated), and the peer must
   * get their answers before our close frame. Pings are still answered.
   */
  holdClose(): void {
    this.closeHeld = true;
  }

  /** Acts on a close frame that arrived while held. */
  releaseClose(): void {
    this.closeHeld = false;
    const held = this.heldClose;
    if (held === null) return;
    this.heldClose = null;
    this.answerClose(held.code, held.reason);
  }

  /** Stops parsing, e.g. when the transport is gone. */
  stopReceiving(): void {
    this.parser.stop();
  }

  /**
   * Sends a data message or one fragment of it: with `fin` false the message
   * stays open and the following calls send continuation frames (5.4).
   * Returns false (and sends nothing) once our close frame has gone out.
   * `compressed` data is already deflated: RSV1 goes on the message's first frame.
   */
  sendMessage(data: Buffer, isBinary: boolean, fin: boolean, callback?: WriteCallback, compressed = false): boolean {
    if (this.closeFrameSent) return false;
    let opcode: number = isBinary ? Opcode.Binary : Opcode.Text;
    if (this.fragmentedOpcode !== 0) opcode = Opcode.Continuation;
    else if (!fin) this.fragmentedOpcode = opcode;
    if (fin) this.fragmentedOpcode = 0;
    this.writeFrame(opcode, fin, data, callback, compressed && opcode !== Opcode.Continuation);
    return true;
  }

  ping(data: Buffer, callback?: WriteCallback): boolean {
    return this.sendControl(Opcode.Ping, data, callback);
  }

  pong(data: Buffer, callback?: WriteCallback): boolean {
    return this.sendControl(Opcode.Pong, data, callback);
  }

  /**
   * Starts the closing handshake (or answers the peer's). Throws on an
   * invalid code or reason; returns false when a close frame was already sent.
   */
  close(code?: number, reason?: string | Uint8Array, callback?: WriteCallback): boolean {
    const payload = encodeClosePayload(code, reason);
    if (this.closeFrameSent) return false;
    this.closeFrameSent = true;
    this.writeFrame(Opcode.Close, true, payload, callback);
    return true;
  }

  /**
   * Whether a frame prepared once for many connections (a PreparedMessage)
   * may be written here as it is: only on the server side (client frames are
   * masked per frame), before our close frame, and outside a fragmented
   * message. This is the one place where per-connection state that changes
   * the bytes (a compression context) must say no; the caller then sends
   * the message on its own.
   */
  canSharePreparedFrame(): boolean {
    return this.isServer && !this.closeFrameSent && this.fragmentedOpcode === 0;
  }

  /** Writes a PreparedMessage's frame; only after canSharePreparedFrame() said yes. */
  sendPreparedFrame(frame: Buffer, callback?: WriteCallback): void {
    this.handler.write(frame, null, callback);
  }

  private sendControl(opcode: number, data: Buffer, callback?: WriteCallback): boolean {
    if (data.length > MAX_CONTROL_PAYLOAD) throw new RangeError(CONTROL_TOO_BIG);
    if (this.closeFrameSent) return false;
    this.writeFrame(opcode, true, data, callback);
    return true;
  }

  private handleControl(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.Ping) {
      if (this.autoPong && !this.closeFrameSent) this.writeFrame(Opcode.Pong, true, payload);
      this.handler.onPing(payload);
    } else if (opcode === Opcode.Pong) {
      this.handler.onPong(payload);
    } else {
      const { code, reason } = parseClosePayload(payload, this.skipUTF8Validation);
      // Nothing after a close frame is data (5.5.1).
      this.parser.stop();
      if (this.closeHeld) this.heldClose = { code, reason };
      else this.answerClose(code, reason);
    }
  }

  private answerClose(code: number, reason: Buffer): void {
    this.closeFrameReceived = true;
    if (!this.closeFrameSent) {
      this.closeEcho = { code, reason };
      if (this.handler.canAnswerClose?.() !== false) this.sendCloseEcho();
    }
    this.handler.onCloseReceived(code, reason);
  }

  /** Writes our answer to the peer's close frame, if it is still due. */
  sendCloseEcho(): void {
    const echo = this.closeEcho;
    if (echo === null) return;
    this.closeEcho = null;
    if (this.closeFrameSent) return;
    this.closeFrameSent = true;
    // Echo the peer's code and reason (5.5.1), or an empty payload if it sent none.
    const payload = echo.code === CloseCode.NoStatus ? encodeClosePayload() : encodeClosePayload(echo.code, echo.reason);
    this.writeFrame(Opcode.Close, true, payload);
  }

  /**
   * Fails the connection (7.1.7): sends a close frame with `error.closeCode`
   * and stops parsing. Also for errors found above the framing, such as
   * invalid compressed data.
   */
  fail(error: ProtocolError): void {
    this.parser.stop();
    if (!this.closeFrameSent) {
      this.closeFrameSent = true;
      this.writeFrame(Opcode.Close, true, encodeClosePayload(error.closeCode));
    }
    this.handler.onProtocolError(error);
  }

  /** A key from the user's generateMask, in a buffer of this connection's. */
  private userMaskKey(): Buffer {
    const key = this.maskKey ?? (this.maskKey = Buffer.alloc(4));
    this.generateMask!(key);
    return key;
  }

  private writeFrame(opcode: number, fin: boolean, payload: Buffer, callback?: WriteCallback, rsv1 = false): void {
    const length = payload.length;
    const masked = !this.isServer;
    const size = headerSize(length, masked);
    if (length > SINGLE_WRITE_MAX && !masked) {
      const header = Buffer.allocUnsafe(size);
      writeHeader(header, 0, opcode, fin, rsv1, length, null);
      this.handler.write(header, payload, callback);
      return;
    }
    // Clients mask every frame with a fresh key (5.3); the user's buffer is
    // never touched, so the payload is copied next to the header and masked
    // there. The key comes first: a user's generateMask may throw, and room
    // once reserved is written whatever it holds.
    const key = !masked ? null : this.generateMask === null ? nextMaskKey() : this.userMaskKey();
    const handler = this.handler as ReservingHandler;
    const reserving = handler[kReserveFrame] !== undefined;
    if (!reserving) {
      slot.buffer = Buffer.allocUnsafe(size + length);
      slot.offset = 0;
    } else if (!handler[kReserveFrame]!(size + length, callback, slot)) return;
    const target = slot.buffer;
    const at = slot.offset;
    writeHeader(target, at, opcode, fin, rsv1, length, key);
    // TypedArray set: a quarter faster than Buffer.copy for small payloads (its argument checks and dispatch).
    target.set(payload, at + size);
    if (key !== null) applyMask(target.subarray(at + size, at + size + length), key);
    if (!reserving) handler.write(target, null, callback);
  }
}

Object.assign(Protocol.prototype, {
  closeFrameSent: false,
  closeFrameReceived: false,
  fragmentedOpcode: 0,
  closeHeld: false,
  heldClose: null,
  closeEcho: null,
  autoPong: true,
  skipUTF8Validation: false,
  generateMask: null,
  maskKey: null,
});
