/**
 * Target `redis`: the Redis adapter's receiving side (the envelope decoder,
 * duplicate detection and the subscription state around them), through
 * glue-redis.ts. Input: 1 option byte (maxMessageSize), then a program:
 * subscribe, unsubscribe, publish, a message on a channel (ours or not,
 * Buffer or string), the subscribing connection lost or ready again.
 *
 * Invariants: nothing throws out of the handler; each message is exactly
 * what the reference model of the wire format (glue-redis.ts, envelope
 * versions 1 and 2, written from the adapter's description) says: ignored
 * (another prefix, a topic not subscribed, a probe, our own node id),
 * dropped (counted once and reported once as WS_ERR_ADAPTER_MESSAGE: not an
 * envelope, unknown version or flags, over maxMessageSize, text that is not
 * UTF-8), a repeat (counted, nothing reported or delivered), or delivered
 * once, to its topic, with the payload and flags of the envelope; the
 * counters agree. What this node publishes is one version-2 envelope with
 * its node id and a sequence number that increases on its channel, which
 * another node judges as the model does (delivered as it was sent, or
 * dropped if the text was not UTF-8) and this node ignores; a message over
 * maxMessageSize is reported, not published.
 */

import {
  FLAG_BINARY,
  FLAG_NO_COMPRESS,
  OWN_ID,
  PREFIX,
  ReceiverModel,
  V1_HEADER_SIZE,
  V2_HEADER_SIZE,
  WebSocketError,
  makeHarness,
  parseEnvelope,
} from '../../glue-redis.ts';
import { TARGET_FILES } from '../../targets-glue.ts';
import type { Random } from '../../random.ts';
import { bytes, check, type FuzzTarget } from '../target.ts';
import { randomText } from '../wire.ts';

const TOPICS = ['a', 'b', 'chat:1', ''];
const OTHER_ID = Buffer.from('another!', 'latin1');
const MAX_SIZES = [undefined, 0, 1, 16];
const DEFAULT_MAX = 1024 * 1024;
/** maxMessageSize 0: Redis's own limit on a string, less the envelope's header (README: 512 MiB). */
const REDIS_MAX = 512 * 1024 * 1024 - V2_HEADER_SIZE;

function run(data: Buffer): void {
  const option = data[0] ?? 0;
  const maxOption = MAX_SIZES[option & 3];
  const maxMessageSize = maxOption === undefined ? DEFAULT_MAX : maxOption === 0 ? REDIS_MAX : maxOption;
  const harness = makeHarness(maxOption);
  const model = new ReceiverModel(maxMessageSize);
  const subscribed = new Set<string>();
  /** The last sequence number this node published on each channel. */
  const lastSequence = new Map<string, number>();
  let delivered = 0;
  let dropped = 0;
  let duplicates = 0;
  try {
    for (let i = 1; i < data.length; ) {
      const op = data[i++] % 8;
      const arg = data[i++] ?? 0;
      const topic = TOPICS[arg & 3];
      if (op === 1) {
        // Publish: the envelope this node writes must reach another node's subscriber as the format says, and not come back here.
        let length = data[i++] ?? 0;
        if (length & 0x80) length = ((length & 0x7f) << 8) | (data[i++] ?? 0);
        const payload = Buffer.from(data.subarray(i, i + length));
        i += length;
        const isBinary = (arg & 4) !== 0;
        const compress = (arg & 8) !== 0;
        const before = harness.published.length;
        const errorsBefore = harness.errors.length;
        harness.publish(topic, payload, isBinary, compress);
        const sent = harness.published.slice(before);
        if (payload.length > maxMessageSize) {
          check(sent.length === 0, 'a message over maxMessageSize was published');
          const error = harness.errors[errorsBefore];
          check(
            error instanceof WebSocketError && error.code === 'WS_ERR_ADAPTER_MESSAGE_TOO_BIG',
            'a message over maxMessageSize was not reported',
          );
          continue;
        }
        check(sent.length === 1 && sent[0].channel === PREFIX + topic, () => `${sent.length} envelopes published for one message`);
        const envelope = sent[0].envelope;
        const fields = parseEnvelope(envelope);
        check(
          fields !== null &&
            fields.version === 2 &&
            fields.flags === ((isBinary ? FLAG_BINARY : 0) | (compress ? 0 : FLAG_NO_COMPRESS)) &&
            fields.origin.equals(OWN_ID) &&
            fields.payload.equals(payload),
          () =>
            `published envelope ${envelope.subarray(0, V2_HEADER_SIZE).toString('hex')} is not version 2 with our id, the flags and the payload`,
        );
        const last = lastSequence.get(sent[0].channel) ?? 0;
        check(fields.sequence! > last, () => `sequence number ${fields.sequence} published after ${last} on the same channel`);
        lastSequence.set(sent[0].channel, fields.sequence!);
        const other = makeHarness(maxOption, OTHER_ID);
        try {
          other.subscribe(topic);
          other.receive(Buffer.from(sent[0].channel), envelope);
          const verdict = new ReceiverModel(maxMessageSize, OTHER_ID).receive(topic, true, envelope);
          if ('drop' in verdict) {
            check(
              other.deliveries.length === 0 && other.errors.length === 1 && other.stats.dropped === 1,
              () => `another node got our envelope (${verdict.drop}) ${other.deliveries.length} times, ${other.errors.length} errors`,
            );
          } else {
            check(
              other.deliveries.length === 1 && other.errors.length === 0,
              () => `another node got our envelope ${other.deliveries.length} times, ${other.errors.length} errors`,
            );
            const d = other.deliveries[0];
            check(
              d.topic === topic && d.data.equals(payload) && d.isBinary === isBinary && d.compress === compress,
              'another node got another message than was published',
            );
          }
        } finally {
          other.detach();
        }
        const deliveriesBefore = harness.deliveries.length;
        harness.receive(Buffer.from(sent[0].channel), envelope);
        check(
          harness.deliveries.length === deliveriesBefore && harness.errors.length === errorsBefore,
          'our own envelope came back to our subscribers, or was reported',
        );
        continue;
      }
      if (op === 0) {
        harness.subscribe(topic);
        subscribed.add(topic);
        continue;
      }
      if (op === 2) {
        harness.unsubscribe(topic);
        subscribed.delete(topic);
        model.forget(topic);
        continue;
      }
      if (op === 3) {
        harness.lose();
        continue;
      }
      if (op === 4) {
        harness.ready();
        continue;
      }
      let length = data[i++] ?? 0;
      if (length & 0x80) length = ((length & 0x7f) << 8) | (data[i++] ?? 0);
      const raw = data.subarray(i, i + length);
      i += length;
      const channelKind = (arg >> 2) & 3;
      const channelName = channelKind === 1 ? `other:${topic}` : PREFIX + topic;
      const channel = channelKind === 3 ? channelName : Buffer.from(channelName);
      const envelope = (arg & 16) !== 0 ? raw.toString('latin1') : Buffer.from(raw);
      const errorsBefore = harness.errors.length;
      const deliveriesBefore = harness.deliveries.length;
      harness.receive(channel, envelope);
      const newErrors = harness.errors.slice(errorsBefore);
      const newDeliveries = harness.deliveries.slice(deliveriesBefore);
      const verdict = channelKind === 1 ? { ignore: 'another prefix' } : model.receive(topic, subscribed.has(topic), envelope);
      const describe = (): string => `message ${JSON.stringify(channelName)} ${Buffer.from(raw).toString('hex').slice(0, 48)}`;
      if ('drop' in verdict) {
        dropped++;
        check(newDeliveries.length === 0, () => `${describe()} (${verdict.drop}) was delivered`);
        check(
          newErrors.length === 1 && newErrors[0] instanceof WebSocketError && newErrors[0].code === 'WS_ERR_ADAPTER_MESSAGE',
          () => `${describe()} (${verdict.drop}) was not reported once`,
        );
      } else if ('ignore' in verdict) {
        check(newDeliveries.length === 0 && newErrors.length === 0, () => `${describe()} (${verdict.ignore}) should have been ignored`);
      } else if ('duplicate' in verdict) {
        duplicates++;
        check(
          newDeliveries.length === 0 && newErrors.length === 0,
          () => `${describe()} is a repeat and should have been dropped silently`,
        );
      } else {
        delivered++;
        check(newErrors.length === 0, () => `${describe()} reported ${newErrors[0]?.message}`);
        check(newDeliveries.length === 1, () => `${describe()} was delivered ${newDeliveries.length} times`);
        const d = newDeliveries[0];
        check(d.topic === topic && d.data.equals(verdict.payload), () => `${describe()} was delivered with another topic or payload`);
        check(d.isBinary === verdict.isBinary && d.compress === verdict.compress, () => `${describe()} was delivered with other flags`);
      }
      check(
        harness.stats.received === delivered && harness.stats.dropped === dropped && harness.stats.duplicates === duplicates,
        () =>
          `stats say ${harness.stats.received} received, ${harness.stats.dropped} dropped, ${harness.stats.duplicates} repeats; ` +
          `${delivered}, ${dropped} and ${duplicates} happened`,
      );
    }
  } finally {
    harness.detach();
  }
}

/** Node ids other nodes publish with: few, so that their sequence numbers meet again. */
const PEER_IDS = [OTHER_ID, Buffer.from('third..!', 'latin1'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 1])];

/** A sequence number: mostly small, sometimes at the window's edges (256 behind), sometimes large. */
function sequence(random: Random): number {
  if (random.chance(0.7)) return random.below(8);
  return random.pick([255, 256, 257, 300, 511, 512, 2 ** 32 - 1, 2 ** 32, 2 ** 48 - 1, random.below(1024)]);
}

/** A message op with a well-formed envelope (version 2 or 1), sometimes our own, a repeat, or with odd flags. */
function envelopeOp(random: Random): Buffer {
  const payload = random.chance(0.5) ? randomText(random, random.below(20)) : random.bytes(random.below(24));
  const version = random.chance(0.9) ? random.pick([2, 2, 1]) : random.pick([0, 3, 255]);
  const header = Buffer.alloc(version === 1 ? V1_HEADER_SIZE : V2_HEADER_SIZE);
  header[0] = version;
  header[1] = random.chance(0.9) ? random.below(version === 1 ? 4 : 8) : random.pick([4, 8, 0x80, 0xff]);
  (random.chance(0.15) ? OWN_ID : random.chance(0.8) ? random.pick(PEER_IDS) : random.bytes(8)).copy(header, 2);
  if (header.length === V2_HEADER_SIZE) header.writeUIntBE(sequence(random), V1_HEADER_SIZE, 6);
  const envelope = Buffer.concat([header, payload]);
  const arg = random.below(4) | (random.chance(0.9) ? 0 : random.below(4) << 2) | (random.chance(0.95) ? 0 : 16);
  const op = Buffer.concat([Buffer.from([5, arg, envelope.length]), envelope]);
  // The same message again: what a client's resend looks like.
  return random.chance(0.2) ? Buffer.concat([op, op]) : op;
}

/**
 * A subscribe, then messages of one node on that topic whose sequence
 * numbers walk: forward by a little or by about the window (256), back,
 * or not at all. What the window's sliding (which numbers it forgets, which
 * it keeps) is tested by; independent picks rarely make such a walk.
 */
function sequenceWalk(random: Random): Buffer {
  const arg = random.below(4);
  const origin = random.pick(PEER_IDS);
  const ops = [Buffer.from([0, arg])];
  let sequence = random.below(600);
  for (let count = random.between(3, 8); count > 0; count--) {
    const header = Buffer.alloc(V2_HEADER_SIZE);
    header[0] = 2;
    header[1] = FLAG_BINARY;
    origin.copy(header, 2);
    header.writeUIntBE(sequence, V1_HEADER_SIZE, 6);
    ops.push(Buffer.from([5, arg, V2_HEADER_SIZE + 1]), header, Buffer.from([count]));
    const step = random.pick([0, 1, 2, random.below(256), 255, 256, 257, -1, -2, -random.below(300), -255, -256]);
    sequence = Math.max(0, sequence + step);
  }
  return Buffer.concat(ops);
}

function mutate(random: Random, data: Buffer): Buffer | null {
  if (data.length < 1) return null;
  const at = 1 + random.below(data.length);
  const ops = random.chance(0.1)
    ? sequenceWalk(random)
    : random.chance(0.5)
      ? envelopeOp(random)
      : random.chance(0.3)
        ? Buffer.concat([Buffer.from([1, random.below(16), 6]), random.chance(0.5) ? randomText(random, 2) : random.bytes(6)])
        : Buffer.from([random.pick([0, 2, 3, 4]), random.below(4)]);
  // Programs are read from the start, so an insertion inside an op shifts the rest: a mutation of its own.
  return Buffer.concat([data.subarray(0, at), ops, data.subarray(at)]);
}

export const redis: FuzzTarget = {
  name: 'redis',
  files: TARGET_FILES.redis,
  maxLength: 2048,
  dictionary: [
    OWN_ID,
    bytes(PREFIX),
    Buffer.from([1, 0]),
    Buffer.from([1, 1]),
    Buffer.from([1, 2]),
    Buffer.from([1, 3]),
    Buffer.from([2, 0]),
    Buffer.from([2, 1]),
    Buffer.from([2, 2]),
    Buffer.from([2, 3]),
    Buffer.from([2, 4]),
    Buffer.from([0, 0, 0, 0, 1, 0]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xff]),
  ],
  seeds: () => [
    Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), Buffer.from([5, 0, 13, 1, 0]), bytes('abcdefghhi!')]),
    Buffer.concat([Buffer.from([3, 0, 2, 5, 2, 12, 1, 1]), OWN_ID, Buffer.from([1, 2, 2, 1, 3, 0, 4, 0])]),
    // Version 2: number 2, again (a repeat), 1 (late), then unsubscribed and subscribed again: 2 is new once more.
    Buffer.concat([
      Buffer.from([0, 0, 0]),
      ...[2, 2, 1].map((n) =>
        Buffer.concat([Buffer.from([5, 0, 18, 2, 0]), bytes('peer-one'), Buffer.from([0, 0, 0, 0, 0, n]), bytes('hi')]),
      ),
      Buffer.from([2, 0, 0, 0]),
      Buffer.concat([Buffer.from([5, 0, 18, 2, 0]), bytes('peer-one'), Buffer.from([0, 0, 0, 0, 0, 2]), bytes('hi')]),
    ]),
  ],
  run,
  mutate,
};
