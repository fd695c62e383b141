/**
 * ws's `Sender`, over the protocol core's framing: frames data, pings,
 * pongs and close frames onto a socket, masked when asked (a client's
 * frames). For code written against ws's parts (`Sender.frame()` to frame a
 * message once, a tool writing frames onto its own socket); a netws
 * connection does not use it. Error messages are ws's.
 */

import type { Duplex } from 'node:stream';
import { toBuffer, type SendData } from '../connection/data.ts';
import { isValidCloseCode, MAX_CLOSE_REASON } from '../protocol/close-code.ts';
import { CONTROL_TOO_BIG, headerSize, MAX_CONTROL_PAYLOAD, Opcode, writeHeader } from '../protocol/frame.ts';
import { applyMask, nextMaskKey } from '../protocol/mask.ts';
import type { WriteCallback } from '../protocol/protocol.ts';
import { noExtension } from './extensions.ts';

export interface FrameOptions {
  /** The frame's opcode (0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong). */
  opcode: number;
  /** The last frame of its message. */
  fin?: boolean;
  /** RSV1 set (a compressed message's first frame). */
  rsv1?: boolean;
  /** Mask the payload (a client's frames). */
  mask?: boolean;
  /** Fills the 4-byte masking key; default a random one. */
  generateMask?: ((mask: Buffer) => void) | null;
  /** Where the key goes (4 bytes); default an internal buffer. */
  maskBuffer?: Buffer;
  /** The data must not be changed: masking copies it into the header's buffer instead of masking it in place. */
  readOnly?: boolean;
}

export interface SenderSendOptions {
  binary?: boolean;
  /** Accepted for ws's sake; there is no extension to compress with. */
  compress?: boolean;
  /** Default true: the last frame of the message. */
  fin?: boolean;
  mask?: boolean;
}

const KEY = Buffer.alloc(4);

export class Sender {
  private readonly socket: Duplex;
  private readonly generateMask: ((mask: Buffer) => void) | undefined;
  /** The next send() starts a message (else it continues one with fin false). */
  private firstFragment = true;

  constructor(socket: Duplex, extensions?: Record<string, unknown> | null, generateMask?: (mask: Buffer) => void) {
    noExtension(extensions, 'Sender');
    this.socket = socket;
    this.generateMask = generateMask;
  }

  /**
   * One frame as the list of buffers to write: the header, then the payload
   * (masked in place unless `readOnly`, where header and masked copy are one
   * buffer); the header alone for an empty payload. A key of four zero bytes
   * leaves the payload as it is.
   */
  static frame(data: Buffer | string, options: FrameOptions): Buffer[] {
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    let key: Buffer | null = null;
    if (options.mask) {
      key = options.maskBuffer ?? KEY;
      if (options.generateMask) options.generateMask(key);
      else nextMaskKey().copy(key);
    }
    const size = headerSize(payload.length, key !== null);
    const unmasked = key === null || (key[0] | key[1] | key[2] | key[3]) === 0;
    const merge = !unmasked && options.readOnly === true && typeof data !== 'string';
    const target = Buffer.allocUnsafe(merge ? size + payload.length : size);
    writeHeader(target, 0, options.opcode, options.fin === true, options.rsv1 === true, payload.length, key);
    if (payload.length === 0) return [target];
    if (unmasked) return [target, payload];
    if (merge) {
      payload.copy(target, size);
      applyMask(target.subarray(size), key!);
      return [target];
    }
    applyMask(payload, key!);
    return [target, payload];
  }

  /** A data frame: text unless `binary`; `fin: false` leaves the message open for the next send(). */
  send(data: Exclude<SendData, Blob> | number, options: SenderSendOptions, callback?: WriteCallback): void {
    let opcode: number = options.binary ? Opcode.Binary : Opcode.Text;
    if (!this.firstFragment) opcode = Opcode.Continuation;
    const fin = options.fin !== false;
    this.firstFragment = fin;
    this.write(this.frame(data, opcode, fin, options.mask), callback);
  }

  ping(data: Exclude<SendData, Blob> | number | undefined, mask: boolean | undefined, callback?: WriteCallback): void {
    this.write(this.control(data, Opcode.Ping, mask), callback);
  }

  pong(data: Exclude<SendData, Blob> | number | undefined, mask: boolean | undefined, callback?: WriteCallback): void {
    this.write(this.control(data, Opcode.Pong, mask), callback);
  }

  /** A close frame: no payload without a code; else the code (checked as ws checks it) and a reason of at most 123 bytes. */
  close(code: number | undefined, reason: string | Buffer | undefined, mask: boolean | undefined, callback?: WriteCallback): void {
    let payload: Buffer;
    if (code === undefined) {
      payload = Buffer.alloc(0);
    } else if (typeof code !== 'number' || !isValidCloseCode(code)) {
      throw new TypeError('First argument must be a valid error code number');
    } else {
      const text = reason === undefined ? Buffer.alloc(0) : Buffer.from(reason);
      if (text.length > MAX_CLOSE_REASON) throw new RangeError('The message must not be greater than 123 bytes');
      payload = Buffer.allocUnsafe(2 + text.length);
      payload.writeUInt16BE(code, 0);
      text.copy(payload, 2);
    }
    this.write(Sender.frame(payload, { opcode: Opcode.Close, fin: true, mask, generateMask: this.generateMask }), callback);
  }

  private control(data: Exclude<SendData, Blob> | number | undefined, opcode: number, mask: boolean | undefined): Buffer[] {
    const payload = toBuffer(data);
    if (payload.length > MAX_CONTROL_PAYLOAD) throw new RangeError(CONTROL_TOO_BIG);
    return this.frame(data, opcode, true, mask, payload);
  }

  /** Frames the caller's data; their own buffers are never masked in place. */
  private frame(
    data: Exclude<SendData, Blob> | number | undefined,
    opcode: number,
    fin: boolean,
    mask: boolean | undefined,
    payload = toBuffer(data),
  ): Buffer[] {
    const readOnly = typeof data !== 'string' && typeof data !== 'number';
    return Sender.frame(payload, { opcode, fin, mask, readOnly, generateMask: this.generateMask });
  }

  private write(list: Buffer[], callback: WriteCallback | undefined): void {
    const socket = this.socket;
    if (list.length === 1) {
      socket.write(list[0], callback);
      return;
    }
    socket.cork();
    socket.write(list[0]);
    socket.write(list[1], callback);
    socket.uncork();
  }
}
