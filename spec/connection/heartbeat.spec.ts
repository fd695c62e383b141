import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Heartbeat, kHeartbeatPing, kHeartbeatTimedOut, type HeartbeatOwner } from '../../src/connection/heartbeat.ts';
import { resolveConnectionOptions, type HeartbeatOptions } from '../../src/options/connection.ts';
import { isError, sleep } from '../helpers.ts';

const test = suite('heartbeat');

/** A heartbeat's owner from two callbacks. */
function owner(ping: () => void, timedOut: () => void): HeartbeatOwner {
  return { [kHeartbeatPing]: ping, [kHeartbeatTimedOut]: timedOut };
}

function checkHeartbeatOptions(heartbeat: HeartbeatOptions | undefined): void {
  resolveConnectionOptions({ heartbeat });
}

test('pings every interval while pongs come back; never declares a live peer dead', async () => {
  let pings = 0;
  let dead = 0;
  const heartbeat = new Heartbeat(
    { interval: 20, timeout: 40 },
    owner(
      () => {
        pings++;
        setImmediate(() => heartbeat.alive());
      },
      () => dead++,
    ),
  );
  await sleep(150);
  heartbeat.stop();
  assert.ok(pings >= 4, `${pings} pings`);
  assert.is(dead, 0);
});

test('no pong within timeout: onDead once, and no more pings after', async () => {
  let pings = 0;
  let dead = 0;
  const heartbeat = new Heartbeat(
    { interval: 20, timeout: 30 },
    owner(
      () => pings++,
      () => dead++,
    ),
  );
  await sleep(150);
  assert.is(dead, 1);
  assert.is(pings, 1, 'pinged again while waiting for the first pong');
  heartbeat.stop();
});

test('stop() before the first beat: nothing fires', async () => {
  let calls = 0;
  const heartbeat = new Heartbeat(
    { interval: 10, timeout: 10 },
    owner(
      () => calls++,
      () => calls++,
    ),
  );
  heartbeat.stop();
  await sleep(40);
  assert.is(calls, 0);
});

test('the heartbeat option: undefined and positive values pass; zero, negative and NaN throw', () => {
  checkHeartbeatOptions(undefined);
  checkHeartbeatOptions({ interval: 1, timeout: 1 });
  assert.throws(() => checkHeartbeatOptions({ interval: 0, timeout: 1 }), isError(RangeError));
  assert.throws(() => checkHeartbeatOptions({ interval: 1, timeout: -5 }), isError(RangeError));
  assert.throws(() => checkHeartbeatOptions({ interval: NaN, timeout: 1 }), isError(TypeError));
});

test.run();
