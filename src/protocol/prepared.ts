/**
 * A message framed once for many connections (a broadcast). A server's data
 * frames are not masked (5.1) and, without a compression context, depend on
 * nothing but the message, so the same bytes can be written to every
 * connection: one frame header, one copy of the payload, however many clients.
 */

import { Opcode, headerSize, writeHeader } from './frame.ts';

export class PreparedMessage {
  /** The whole server frame: header and payload. */
  readonly frame: Buffer;
  /** The payload, for connections that must frame the message themselves. */
  readonly data: Buffer;
  readonly isBinary: boolean;

  constructor(data: Buffer, isBinary: boolean) {
    const size = headerSize(data.length, false);
    const frame = Buffer.allocUnsafe(size + data.length);
    writeHeader(frame, 0, isBinary ? Opcode.Binary : Opcode.Text, true, false, data.length, null);
    data.copy(frame, size);
    this.frame = frame;
    this.data = data;
    this.isBinary = isBinary;
  }
}
