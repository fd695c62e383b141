/**
 * A reference reading of a received byte stream, written from RFC 6455
 * (5.2-5.5, 7.4, 8.1) and RFC 7692 (6.1) for the fuzzer, deliberately
 * simple: the whole input at once, byte order, no buffers to bound. The
 * frames and deflate targets feed the same bytes, in chunks, to the real
 * `Protocol` and compare what it reports and writes with what this says.
 * UTF-8 is judged with TextDecoder (WHATWG, fatal), not with src/'s validator.
 */

export interface ReferenceOptions {
  isServer: boolean;
  maxPayload: number;
  maxFragments: number;
  perMessageDeflate: boolean;
  streamMessages: boolean;
  streamCompressed: boolean;
  maxStreamPayload: number;
  skipUTF8Validation: boolean;
  autoPong: boolean;
}

export interface ReferenceResult {
  /** Events in order: start:…, message:…, ping:…, pong:…, close:…, error:CODE. */
  events: string[];
  /** Frames written, as "opcode:hex payload". */
  written: string[];
}

const fatal = new TextDecoder('utf-8', { fatal: true });

function isUtf8(data: Uint8Array): boolean {
  try {
    fatal.decode(data);
    return true;
  } catch {
    return false;
  }
}

/** Completions that make any valid prefix whole: a lead byte's range decides which second byte is allowed. */
const COMPLETIONS = [
  [],
  [0x80],
  [0x90],
  [0xa0],
  [0x80, 0x80],
  [0x90, 0x80],
  [0xa0, 0x80],
  [0x80, 0x80, 0x80],
  [0x90, 0x80, 0x80],
  [0xa0, 0x80, 0x80],
].map((bytes) => Buffer.from(bytes));

/** Whether `data` can still begin valid UTF-8 (RFC 6455 8.1 lets an endpoint fail as soon as it cannot). */
export function isUtf8Prefix(data: Buffer): boolean {
  if (isUtf8(data)) return true;
  return COMPLETIONS.some((tail) => tail.length > 0 && isUtf8(Buffer.concat([data, tail])));
}

function isSendableCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code);
}

const CONTROL = new Set([8, 9, 10]);
const KNOWN = new Set([0, 1, 2, 8, 9, 10]);

export function referenceRead(input: Buffer, o: ReferenceOptions): ReferenceResult {
  const events: string[] = [];
  const written: string[] = [];
  const closeSent = false;
  const fail = (code: number): ReferenceResult => {
    events.push(`error:${code}`);
    if (!closeSent) written.push(`8:${Buffer.from([code >> 8, code & 0xff]).toString('hex')}`);
    return { events, written };
  };
  // The open message.
  let messageOpcode = 0;
  let compressed = false;
  let streamed = false;
  let frames = 0;
  let parts: Buffer[] = [];
  let length = 0;
  let offset = 0;
  while (input.length - offset >= 2) {
    const b0 = input[offset];
    const b1 = input[offset + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const length7 = b1 & 0x7f;
    const control = CONTROL.has(opcode);
    if ((b0 & 0x30) !== 0) return fail(1002);
    if (rsv1 && !o.perMessageDeflate) return fail(1002);
    if (!KNOWN.has(opcode)) return fail(1002);
    if (rsv1 && (opcode === 0 || control)) return fail(1002);
    if (control && (!fin || length7 > 125)) return fail(1002);
    if (opcode === 0 && messageOpcode === 0) return fail(1002);
    if ((opcode === 1 || opcode === 2) && messageOpcode !== 0) return fail(1002);
    if (masked !== o.isServer) return fail(1002);
    const lengthBytes = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    const headerLength = 2 + lengthBytes + (masked ? 4 : 0);
    if (input.length - offset < headerLength) break;
    let payloadLength = length7;
    if (length7 === 126) payloadLength = input.readUInt16BE(offset + 2);
    if (length7 === 127) {
      const big = input.readBigUInt64BE(offset + 2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) return fail(1009);
      payloadLength = Number(big);
    }
    const key = masked ? input.subarray(offset + headerLength - 4, offset + headerLength) : null;
    if (!control) {
      const isStreamed: boolean = opcode === 0 ? streamed : o.streamMessages && (!rsv1 || o.streamCompressed);
      const limit = isStreamed ? o.maxStreamPayload : o.maxPayload;
      if ((opcode === 0 ? length : 0) + payloadLength > limit) return fail(1009);
      if (!isStreamed && (opcode === 0 ? frames : 0) + 1 > o.maxFragments) return fail(1008);
      if (opcode !== 0) {
        messageOpcode = opcode;
        compressed = rsv1;
        streamed = isStreamed;
        frames = 0;
        parts = [];
        length = 0;
        if (streamed) events.push(`start:${opcode === 2 ? 'binary' : 'text'}:${compressed}`);
      }
      if (!streamed) frames++;
    }
    offset += headerLength;
    const available = Math.min(payloadLength, input.length - offset);
    const payload = Buffer.from(input.subarray(offset, offset + available));
    if (key !== null) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    offset += available;
    if (control) {
      if (available < payloadLength) break;
      if (opcode === 9) {
        if (o.autoPong && !closeSent) written.push(`10:${payload.toString('hex')}`);
        events.push(`ping:${payload.toString('hex')}`);
      } else if (opcode === 10) {
        events.push(`pong:${payload.toString('hex')}`);
      } else {
        if (payload.length === 1) return fail(1002);
        if (payload.length === 0) {
          written.push('8:');
          events.push('close:1005:');
          return { events, written };
        }
        const code = payload.readUInt16BE(0);
        if (!isSendableCloseCode(code)) return fail(1002);
        const reason = payload.subarray(2);
        if (!o.skipUTF8Validation && !isUtf8(reason)) return fail(1007);
        written.push(`8:${payload.toString('hex')}`);
        events.push(`close:${code}:${reason.toString('hex')}`);
        return { events, written };
      }
      continue;
    }
    parts.push(payload);
    length += payload.length;
    const checksText = messageOpcode === 1 && !compressed && !o.skipUTF8Validation;
    if (checksText && !isUtf8Prefix(Buffer.concat(parts))) return fail(1007);
    if (available < payloadLength) break;
    if (fin) {
      const data = Buffer.concat(parts);
      if (checksText && !isUtf8(data)) return fail(1007);
      const kind = messageOpcode === 2 ? 'binary' : 'text';
      events.push(streamed ? `end:${data.toString('hex')}` : `message:${kind}:${compressed}:${data.toString('hex')}`);
      messageOpcode = 0;
      streamed = false;
    }
  }
  return { events, written };
}
