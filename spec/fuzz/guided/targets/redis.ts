/**
 * Target `redis`: the Redis adapter's receiving side (the envelope decoder
 * and the subscription state around it), through glue-redis.ts. Input: 1
 * option byte (maxMessageSize), then a program: subscribe, unsubscribe,
 * publish, a message on a channel (ours or not, Buffer or string), the
 * subscribing connection lost or ready again.
 *
 * Invariants: nothing throws out of the handler; each message is exactly
 * one of: ignored (another prefix, our own node id, a topic no longer
 * subscribed), dropped (counted once and reported once as
 * WS_ERR_ADAPTER_MESSAGE: not an envelope, unknown version or flags, over
 * maxMessageSize), or delivered once, to its topic, with the payload and
 * flags of the envelope; the counters agree. What this node publishes is
 * one envelope that another node delivers as it was sent and this node
 * ignores; a message over maxMessageSize is reported, not published.
 */

import { PREFIX, OWN_ID, HEADER_SIZE, WebSocketError, makeHarness, readEnvelope } from '../../glue-redis.ts';
import { TARGET_FILES } from '../../targets-glue.ts';
import type { Random } from '../../random.ts';
import { bytes, check, type FuzzTarget } from '../target.ts';
import { randomText } from '../wire.ts';

const TOPICS = ['a', 'b', 'chat:1', ''];
const OTHER_ID = Buffer.from('another!', 'latin1');
const MAX_SIZES = [undefined, 0, 1, 16];
const DEFAULT_MAX = 1024 * 1024;
const REDIS_MAX = 512 * 1024 * 1024 - HEADER_SIZE;

function run(data: Buffer): void {
  const option = data[0] ?? 0;
  const maxOption = MAX_SIZES[option & 3];
  const maxMessageSize = maxOption === undefined ? DEFAULT_MAX : maxOption === 0 ? REDIS_MAX : maxOption;
  const harness = makeHarness(maxOption);
  const subscribed = new Set<string>();
  let delivered = 0;
  let dropped = 0;
  try {
    for (let i = 1; i < data.length; ) {
      const op = data[i++] % 8;
      const arg = data[i++] ?? 0;
      const topic = TOPICS[arg & 3];
      if (op === 1) {
        // Publish: the envelope this node writes must reach another node's subscriber as it was sent, and not come back here.
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
        const other = makeHarness(maxOption, OTHER_ID);
        try {
          other.subscribe(topic);
          other.receive(Buffer.from(sent[0].channel), sent[0].envelope);
          check(
            other.deliveries.length === 1 && other.errors.length === 0,
            () => `another node got our envelope ${other.deliveries.length} times, ${other.errors.length} errors`,
          );
          const d = other.deliveries[0];
          check(
            d.topic === topic && d.data.equals(payload) && d.isBinary === isBinary && d.compress === compress,
            'another node got another message than was published',
          );
        } finally {
          other.detach();
        }
        const deliveriesBefore = harness.deliveries.length;
        harness.receive(Buffer.from(sent[0].channel), sent[0].envelope);
        check(harness.deliveries.length === deliveriesBefore, 'our own envelope came back to our subscribers');
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
      const verdict = channelKind === 1 ? null : readEnvelope(envelope, maxMessageSize);
      const describe = (): string => `message ${JSON.stringify(channelName)} ${Buffer.from(raw).toString('hex').slice(0, 40)}`;
      if (verdict !== null && 'drop' in verdict) {
        dropped++;
        check(newDeliveries.length === 0, () => `${describe()} (${verdict.drop}) was delivered`);
        check(
          newErrors.length === 1 && newErrors[0] instanceof WebSocketError && newErrors[0].code === 'WS_ERR_ADAPTER_MESSAGE',
          () => `${describe()} (${verdict.drop}) was not reported once`,
        );
      } else if (verdict === null || 'own' in verdict || !subscribed.has(topic)) {
        check(newDeliveries.length === 0 && newErrors.length === 0, () => `${describe()} should have been ignored`);
      } else {
        delivered++;
        check(newErrors.length === 0, () => `${describe()} reported ${newErrors[0]?.message}`);
        check(newDeliveries.length === 1, () => `${describe()} was delivered ${newDeliveries.length} times`);
        const d = newDeliveries[0];
        check(d.topic === topic && d.data.equals(verdict.payload), () => `${describe()} was delivered with another topic or payload`);
        check(d.isBinary === verdict.isBinary && d.compress === verdict.compress, () => `${describe()} was delivered with other flags`);
      }
      check(
        harness.stats.received === delivered && harness.stats.dropped === dropped,
        () => `stats say ${harness.stats.received} received, ${harness.stats.dropped} dropped; ${delivered} and ${dropped} happened`,
      );
    }
  } finally {
    harness.detach();
  }
}

/** A message op with a well-formed envelope, sometimes our own or with odd flags. */
function envelopeOp(random: Random): Buffer {
  const payload = random.chance(0.5) ? randomText(random, random.below(20)) : random.bytes(random.below(24));
  const header = Buffer.alloc(HEADER_SIZE);
  header[0] = random.chance(0.9) ? 1 : random.pick([0, 2, 255]);
  header[1] = random.chance(0.9) ? random.below(4) : random.pick([4, 8, 0x80, 0xff]);
  (random.chance(0.2) ? OWN_ID : random.bytes(8)).copy(header, 2);
  const envelope = Buffer.concat([header, payload]);
  const arg = random.below(4) | (random.chance(0.9) ? 0 : random.below(4) << 2) | (random.chance(0.95) ? 0 : 16);
  return Buffer.concat([Buffer.from([5, arg, envelope.length]), envelope]);
}

function mutate(random: Random, data: Buffer): Buffer | null {
  if (data.length < 1) return null;
  const at = 1 + random.below(data.length);
  const ops = random.chance(0.5)
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
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xff]),
  ],
  seeds: () => [
    Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), Buffer.from([5, 0, 13, 1, 0]), bytes('abcdefghhi!')]),
    Buffer.concat([Buffer.from([3, 0, 2, 5, 2, 12, 1, 1]), OWN_ID, Buffer.from([1, 2, 2, 1, 3, 0, 4, 0])]),
  ],
  run,
  mutate,
};
