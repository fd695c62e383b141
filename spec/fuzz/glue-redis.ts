/**
 * Glue of the `redis` fuzz target: the Redis adapter's receiving side driven
 * through its message handler, with fake clients (the duck type of ioredis:
 * `status`, `ssubscribe`, 'messageBuffer' events) and a fake server host,
 * plus what the envelope format says of one message. When the adapter gains
 * an exported decode function or a new envelope version, this file is what
 * changes.
 */

import { EventEmitter } from 'node:events';
import { RedisAdapter } from '../../src/adapters/redis.ts';
import { WebSocketError } from '../../src/protocol/errors.ts';
import { PreparedMessage } from '../../src/protocol/prepared.ts';

export const PREFIX = 'fz:';
/** The adapter's node id is random; the harness sets it, so a corpus can hold "our own" envelopes. */
export const OWN_ID = Buffer.from('netws!!!', 'latin1');
export const HEADER_SIZE = 10;

/**
 * Whether the adapter refuses text envelopes that are not valid UTF-8 (it
 * must: every subscriber would get a text frame its browser fails with
 * 1007). Found by this target (SECURITY.md, "Fuzzing") and fixed; a switch
 * so that a rule found broken again can be set aside while it is open.
 */
export const TEXT_MUST_BE_UTF8 = true;

export interface Delivery {
  topic: string;
  data: Buffer;
  isBinary: boolean;
  compress: boolean;
}

export interface EnvelopeHarness {
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** A message on the subscribing connection, as ioredis emits it. */
  receive(channel: Buffer | string, envelope: Buffer | string): void;
  /** This node publishes; the envelopes handed to the publishing client are in `published`. */
  publish(topic: string, data: Buffer, isBinary: boolean, compress: boolean): void;
  published: Array<{ channel: string; envelope: Buffer }>;
  /** The subscribing connection drops, then is ready again. */
  lose(): void;
  ready(): void;
  deliveries: Delivery[];
  errors: Error[];
  stats: { received: number; dropped: number };
  detach(): void;
}

class FakeIoredis extends EventEmitter {
  status = 'ready';
  ssubscribe(): Promise<void> {
    return Promise.resolve();
  }
  subscribe(): Promise<void> {
    return Promise.resolve();
  }
  unsubscribe(): Promise<void> {
    return Promise.resolve();
  }
  readonly published: Array<{ channel: string; envelope: Buffer }> = [];
  publish(channel: string, envelope: Buffer): Promise<number> {
    this.published.push({ channel, envelope: Buffer.from(envelope) });
    return Promise.resolve(0);
  }
}

/** `id`: this adapter's node id (OWN_ID unless another node is wanted). */
export function makeHarness(maxMessageSize: number | undefined, id: Buffer = OWN_ID): EnvelopeHarness {
  const publisher = new FakeIoredis();
  const subscriber = new FakeIoredis();
  const adapter = new RedisAdapter({ publisher, subscriber, prefix: PREFIX, maxMessageSize });
  id.copy((adapter as unknown as { origin: Buffer }).origin);
  const deliveries: Delivery[] = [];
  const errors: Error[] = [];
  const topics = new Set<string>();
  adapter.attach({
    deliver(topic, message, compress) {
      deliveries.push({ topic, data: Buffer.from(message.data), isBinary: message.isBinary, compress });
      return 1;
    },
    topics: () => topics.values(),
    reportError: (error) => void errors.push(error),
  });
  return {
    subscribe: (topic) => {
      topics.add(topic);
      adapter.subscribe(topic);
    },
    unsubscribe: (topic) => {
      topics.delete(topic);
      adapter.unsubscribe(topic);
    },
    publish: (topic, data, isBinary, compress) => adapter.publish(topic, new PreparedMessage(data, isBinary), compress),
    published: publisher.published,
    receive: (channel, envelope) => void subscriber.emit('messageBuffer', channel, envelope),
    lose: () => void subscriber.emit('close'),
    ready: () => void subscriber.emit('ready'),
    deliveries,
    errors,
    stats: adapter.stats,
    detach: () => adapter.detach(),
  };
}

export type EnvelopeVerdict = { drop: string } | { own: true } | { payload: Buffer; isBinary: boolean; compress: boolean };

/** What format version 1 says of an envelope (see the header of src/adapters/redis.ts). */
export function readEnvelope(envelope: Buffer | string, maxMessageSize: number): EnvelopeVerdict {
  if (typeof envelope === 'string' || envelope.length < HEADER_SIZE) return { drop: 'not an envelope' };
  if (envelope[0] !== 1 || (envelope[1] & ~3) !== 0) return { drop: 'unknown version or flags' };
  if (envelope.length - HEADER_SIZE > maxMessageSize) return { drop: 'too large' };
  if (envelope.subarray(2, HEADER_SIZE).equals(OWN_ID)) return { own: true };
  const payload = envelope.subarray(HEADER_SIZE);
  const isBinary = (envelope[1] & 1) !== 0;
  if (TEXT_MUST_BE_UTF8 && !isBinary && !isUtf8(payload)) return { drop: 'text that is not UTF-8' };
  return { payload, isBinary, compress: (envelope[1] & 2) === 0 };
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

export { WebSocketError };
