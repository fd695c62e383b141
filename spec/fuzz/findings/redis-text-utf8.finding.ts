/**
 * Found by the coverage-guided fuzzer's `redis` target (21 runs, seed 1, with
 * TEXT_MUST_BE_UTF8 on in spec/fuzz/glue-redis.ts): an envelope flagged as
 * text whose payload is not valid UTF-8 is delivered to every subscriber
 * as a text frame. A browser fails such a connection with 1007, so one bad
 * publish (another node's bug, or anyone who can PUBLISH on the Redis
 * channel) disconnects all of a topic's subscribers.
 *
 * Fails until src/adapters/redis.ts refuses (drops and reports) such an
 * envelope; not part of `npm test` until then: `npm run test:findings`.
 * Then: move this test to spec/adapters/, and set TEXT_MUST_BE_UTF8 to true.
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeHarness } from '../glue-redis.ts';

const finding = suite('finding: Redis envelope with invalid UTF-8 text');

finding('a text envelope whose payload is not UTF-8 is dropped and reported, not delivered', () => {
  const harness = makeHarness(undefined);
  try {
    harness.subscribe('a');
    // The fuzzer's minimized envelope: version 1, flags 0 (text, compress), a node id, and a payload of one byte, 0x88 (a lone continuation byte).
    const envelope = Buffer.from('0100630511230101edac88', 'hex');
    harness.receive(Buffer.from('fz:a'), envelope);
    assert.is(harness.deliveries.length, 0, 'delivered as text');
    assert.is(harness.stats.dropped, 1);
    assert.is(harness.errors.length, 1);
  } finally {
    harness.detach();
  }
});

finding.run();
