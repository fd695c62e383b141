/** src/http2/stream.ts: what both ends do to a WebSocket's stream (the PING round trips behind closeAfterEnd, CANCEL resets). */

import http2 from 'node:http2';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { afterRoundTrip } from '../../src/http2/stream.ts';
import { waitFor } from '../helpers.ts';
import { cert, key, listen } from './peer.ts';
import { WebSocketServer } from '../../src/index.ts';

const stream = suite('http2 streams');

async function sessionPair() {
  const fixture = await listen(http2.createSecureServer({ cert, key }), new WebSocketServer({ noServer: true }));
  const session = http2.connect(`https://localhost:${fixture.port}`, { ca: cert });
  session.on('error', () => {});
  await waitFor(session, 'remoteSettings');
  return { fixture, session };
}

stream('afterRoundTrip: one PING in flight per session; callers arriving meanwhile wait for the next one', async () => {
  const { fixture, session } = await sessionPair();
  let pings = 0;
  fixture.sessions[0].on('ping', () => pings++);
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    afterRoundTrip(session, () => order.push('a'));
    afterRoundTrip(session, () => order.push('b'));
    afterRoundTrip(session, () => {
      order.push('c');
      resolve();
    });
  });
  assert.equal(order, ['a', 'b', 'c']);
  assert.is(pings, 2, 'a, then b and c together');
  session.close();
  await fixture.close();
});

stream('afterRoundTrip: a session destroyed with a PING out answers everyone waiting, without another PING', async () => {
  const { fixture, session } = await sessionPair();
  const answered: string[] = [];
  afterRoundTrip(session, () => answered.push('in flight'));
  afterRoundTrip(session, () => answered.push('next'));
  session.destroy();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(answered, ['in flight', 'next']);
  afterRoundTrip(session, () => answered.push('after'));
  assert.equal(answered, ['in flight', 'next', 'after'], 'a destroyed session answers at once');
  await fixture.close();
});

stream.run();
