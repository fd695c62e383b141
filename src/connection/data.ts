/**
 * Message data in both directions: what send() takes and how it becomes
 * bytes, and how a received binary message is shaped for the user
 * (`binaryType`).
 */

/** How binary messages are delivered: a Buffer ('nodebuffer', the default, as in ws), an ArrayBuffer, a Buffer per frame ('fragments', as in ws), or a Blob. */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';

/** A received message's data, as 'message' listeners get it (the shape depends on binaryType). */
export type RawData = Buffer | ArrayBuffer | Buffer[] | Blob;

/**
 * Anything send() takes: strings, bytes in any form Buffer.from takes
 * (array-likes of numbers included), Blobs, numbers (sent as their text),
 * and a list of Buffers ('fragments' data), sent as one message.
 */
export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView | Blob | readonly number[] | readonly Uint8Array[];

const EMPTY = Buffer.alloc(0);

/** Data for a message or control frame, as bytes; strings are UTF-8 and numbers their decimal text. */
export function toBuffer(data: Exclude<SendData, Blob> | number | undefined | null): Buffer {
  if (data === undefined || data === null) return EMPTY;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (typeof data === 'number') return Buffer.from(String(data), 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const raw = data as unknown;
  if (raw instanceof ArrayBuffer || raw instanceof SharedArrayBuffer) return Buffer.from(raw);
  // A message received with binaryType 'fragments' can be sent back as it came.
  if (Array.isArray(raw) && raw.length > 0 && raw[0] instanceof Uint8Array) return Buffer.concat(raw as Uint8Array[]);
  // What Buffer.from takes (arrays of bytes, { type: 'Buffer', data }); it throws a TypeError for the rest.
  return Buffer.from(raw as readonly number[]);
}

/** Whether data given to send() goes as binary unless told: everything but strings and numbers (sent as their text, as ws does). */
export function isBinaryData(data: unknown): boolean {
  return typeof data !== 'string' && typeof data !== 'number';
}

/** The byte length of data given to send() after the connection closed (it still counts in bufferedAmount). */
export function dataLength(data: SendData | number | undefined): number {
  if (data instanceof Blob) return data.size;
  try {
    return toBuffer(data).length;
  } catch {
    return 0;
  }
}

/**
 * A binary message's data as binaryType asks. `fragments` is set when the
 * parser kept the message's frames apart (binaryType was 'fragments' then).
 */
export function binaryMessageData(
  data: Buffer,
  fragments: Buffer[] | null,
  binaryType: BinaryType,
): Buffer | ArrayBuffer | Buffer[] | Blob {
  if (binaryType === 'fragments') return fragments ?? [data];
  const whole = fragments === null ? data : fragments.length === 1 ? fragments[0] : Buffer.concat(fragments);
  if (binaryType === 'nodebuffer') return whole;
  if (binaryType === 'blob') return new Blob([whole]);
  const buffer = whole.buffer as ArrayBuffer;
  // A Buffer may be a view into a larger (pooled) ArrayBuffer: hand out only its bytes.
  if (whole.byteOffset === 0 && whole.byteLength === buffer.byteLength) return buffer;
  return buffer.slice(whole.byteOffset, whole.byteOffset + whole.byteLength);
}

/** What ping() and pong() take: data as send() takes it (at most 125 bytes), or the callback in its place. */
export type ControlData = SendData | number | ((error?: Error) => void) | undefined;

/**
 * ping()/pong()'s arguments as ws reads them: `(data, mask, callback)`, with
 * the callback in place of the data or of ws's ignored `mask`; the payload
 * as bytes (a Blob stays one) and its size.
 */
export function controlArguments<C extends (error?: Error) => void>(
  data: ControlData,
  mask: boolean | C | undefined,
  callback: C | undefined,
): { payload: Buffer | Blob; size: number; callback: C | undefined } {
  if (typeof data === 'function') {
    callback = data as C;
    data = undefined;
  } else if (typeof mask === 'function') {
    callback = mask;
  }
  const payload = data instanceof Blob ? data : toBuffer(data as Exclude<SendData, Blob> | number | undefined);
  return { payload, size: payload instanceof Blob ? payload.size : payload.length, callback };
}
