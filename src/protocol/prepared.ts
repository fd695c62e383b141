/**
 * A message framed once for many connections (a broadcast). A server's data
 * frames are not masked (5.1) and, without a compression context, depend on
 * nothing but the message, so the same bytes can be written to every
 * connection: one frame header, one copy of the payload, however many clients.
 *
 * Compressed, the same holds for every connection that deflates each
 * message on its own (no server context takeover) with the same settings:
 * the message is deflated once per such group (RFC 7692 7.2.3.2's "the same
 * compressed payload" for a message whose sender keeps no context).
 */

import { Opcode, headerSize, writeHeader } from './frame.ts';

export class PreparedMessage {
  /** The whole server frame: header and payload. */
  readonly frame: Buffer;
  /** The payload, for connections that must frame the message themselves. */
  readonly data: Buffer;
  readonly isBinary: boolean;
  /** Compressed frames by deflate settings, made on first use. */
  private compressed: Map<string, Buffer> | null = null;

  constructor(data: Buffer, isBinary: boolean) {
    const size = headerSize(data.length, false);
    const frame = Buffer.allocUnsafe(size + data.length);
    writeHeader(frame, 0, isBinary ? Opcode.Binary : Opcode.Text, true, false, data.length, null);
    data.copy(frame, size);
    this.frame = frame;
    // A view of our copy: the caller may reuse its buffer, and every connection must get the same bytes.
    this.data = frame.subarray(size);
    this.isBinary = isBinary;
  }

  /**
   * The message deflated for connections whose compressor settings are
   * `key` (and keep no context), framed with RSV1: `deflate` runs at most
   * once per key (unless it returns null: it could not, try again later).
   */
  compressedFrame(key: string, deflate: (data: Buffer) => Buffer | null): Buffer | null {
    const cached = this.compressed?.get(key);
    if (cached !== undefined) return cached;
    const payload = deflate(this.data);
    if (payload === null) return null;
    const size = headerSize(payload.length, false);
    const frame = Buffer.allocUnsafe(size + payload.length);
    writeHeader(frame, 0, this.isBinary ? Opcode.Binary : Opcode.Text, true, true, payload.length, null);
    payload.copy(frame, size);
    (this.compressed ??= new Map()).set(key, frame);
    return frame;
  }
}
