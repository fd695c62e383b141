/**
 * The wire format of netws/redis: what one message on a Redis channel is.
 * A message is an envelope of 16 bytes and the payload, as it is (no JSON,
 * no base64):
 *
 *   byte 0       format version (2; version 1 is still read)
 *   byte 1       flags: 1 = binary, 2 = do not compress, 4 = probe (a check
 *                of the subscription, ignored by every node; never in
 *                version 1)
 *   bytes 2-9    the publishing adapter's node id, so that it skips its own
 *                messages (it delivered them locally already)
 *   bytes 10-15  the publisher's sequence number (48 bits, big-endian),
 *                increasing on each channel: a receiver drops a message
 *                whose number it has delivered from that node on that topic
 *                already (dedupe.ts), so a publish a client sent twice
 *                (ioredis resends commands whose reply a reset connection
 *                lost) is delivered once
 *   bytes 16-    the payload
 *
 * Version 1 was the same without the sequence number (a 10-byte header);
 * its messages are never taken for repeats. Anything else on our channels
 * (not a Buffer, shorter than its version's header, another version, a
 * flag the version does not have), a payload larger than `maxMessageSize`,
 * or text that is not UTF-8, is dropped, counted and reported; it never
 * reaches a connection or throws.
 */

export const VERSION = 2;
export const FLAG_BINARY = 1;
export const FLAG_NO_COMPRESS = 2;
export const FLAG_PROBE = 4;
const KNOWN_FLAGS = FLAG_BINARY | FLAG_NO_COMPRESS | FLAG_PROBE;
const V1_FLAGS = FLAG_BINARY | FLAG_NO_COMPRESS;
export const NODE_ID_SIZE = 8;
const SEQUENCE_SIZE = 6;
/** Version 1's header: version, flags, node id. */
export const V1_HEADER_SIZE = 2 + NODE_ID_SIZE;
export const ENVELOPE_HEADER_SIZE = V1_HEADER_SIZE + SEQUENCE_SIZE;
/**
 * Sequence counters on the publishing side, one per bucket of channels (by
 * a hash of the name): numbers increase on every channel, and a channel's
 * numbers stay close together (a receiver's window counts them) without a
 * counter per topic ever published.
 */
const SEQUENCE_BUCKETS = 1024;

/** FNV-1a over a channel name's UTF-16 units: which sequence counter a channel uses. */
function bucketOf(channel: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < channel.length; i++) hash = Math.imul(hash ^ channel.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SEQUENCE_BUCKETS;
}

/** Writes this node's envelopes: its node id, and each channel's next sequence number. */
export class EnvelopeWriter {
  /** The last sequence number used, per bucket of channels (bucketOf). */
  private readonly sequences = new Float64Array(SEQUENCE_BUCKETS);

  /** `origin`: the node id (NODE_ID_SIZE bytes), read at every write. */
  constructor(private readonly origin: Buffer) {}

  /** An envelope of the current version with the channel's next sequence number. */
  write(channel: string, flags: number, data: Buffer): Buffer {
    const envelope = Buffer.allocUnsafe(ENVELOPE_HEADER_SIZE + data.length);
    envelope[0] = VERSION;
    envelope[1] = flags;
    this.origin.copy(envelope, 2);
    // 2^48 messages per bucket: 8.9 years at a million a second on one channel.
    envelope.writeUIntBE(++this.sequences[bucketOf(channel)], V1_HEADER_SIZE, SEQUENCE_SIZE);
    data.copy(envelope, ENVELOPE_HEADER_SIZE);
    return envelope;
  }
}

/**
 * Checks an envelope's format and size: the size of its header (where the
 * payload starts), or why it is dropped (the end of "A message on topic ...
 * <reason>: dropped"). A number rather than an object: this runs for every
 * message. The payload's UTF-8 is checked later, and only for messages that
 * are to be delivered.
 */
export function readEnvelope(envelope: Buffer | string, maxMessageSize: number): number | string {
  if (!Buffer.isBuffer(envelope) || envelope.length < V1_HEADER_SIZE) return 'is not a netws envelope';
  const version = envelope[0];
  const flags = envelope[1];
  const headerSize = version === VERSION ? ENVELOPE_HEADER_SIZE : V1_HEADER_SIZE;
  if ((version !== VERSION && version !== 1) || (flags & ~(version === 1 ? V1_FLAGS : KNOWN_FLAGS)) !== 0) {
    return `has an unknown format (${version}, flags ${flags})`;
  }
  if (envelope.length < headerSize) return 'is not a netws envelope';
  if (envelope.length - headerSize > maxMessageSize) return `is over maxMessageSize (${envelope.length - headerSize} bytes)`;
  return headerSize;
}

/** Whether `envelope` was published by the node whose id is `origin`. */
export function isFrom(envelope: Buffer, origin: Buffer): boolean {
  return origin.compare(envelope, 2, V1_HEADER_SIZE) === 0;
}

/** A version-2 envelope's node id, as 8 latin1 characters (a Map key). */
export function originKey(envelope: Buffer): string {
  return envelope.toString('latin1', 2, V1_HEADER_SIZE);
}

/** A version-2 envelope's sequence number. */
export function sequenceOf(envelope: Buffer): number {
  return envelope.readUIntBE(V1_HEADER_SIZE, SEQUENCE_SIZE);
}
