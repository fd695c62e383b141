import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Heartbeat, checkHeartbeatOptions } from '../src/heartbeat.ts';
import { isError, sleep } from './helpers.ts';

const test = suite('heartbeat');

test('pings every interval while pongs come back; never declares a live peer dead', async () => {
  let pings = 0;
  let dead = 0;
  const heartbeat = new Heartbeat({ interval: 20, timeout: 40 }, {
    sendHeartbeat: () => {
      pings++;
      setImmediate(() => heartbeat.alive());
    },
    heartbeatTimedOut: () => dead++,
  });
  await sleep(150);
  heartbeat.stop();
  assert.ok(pings >= 4, `${pings} pings`);
  assert.is(dead, 0);
});

test('no pong within timeout: onDead once, and no more pings after', async () => {
  let pings = 0;
  let dead = 0;
  const heartbeat = new Heartbeat({ interval: 20, timeout: 30 }, { sendHeartbeat: () => pings++, heartbeatTimedOut: () => dead++ });
  await sleep(150);
  assert.is(dead, 1);
  assert.is(pings, 1, 'pinged again while waiting for the first pong');
  heartbeat.stop();
});

test('stop() before the first beat: nothing fires', async () => {
  let calls = 0;
  const heartbeat = new Heartbeat({ interval: 10, timeout: 10 }, { sendHeartbeat: () => calls++, heartbeatTimedOut: () => calls++ });
  heartbeat.stop();
  await sleep(40);
  assert.is(calls, 0);
});

test('checkHeartbeatOptions: undefined and positive values pass; zero, negative and NaN throw', () => {
  checkHeartbeatOptions(undefined);
  checkHeartbeatOptions({ interval: 1, timeout: 1 });
  assert.throws(() => checkHeartbeatOptions({ interval: 0, timeout: 1 }), isError(RangeError));
  assert.throws(() => checkHeartbeatOptions({ interval: 1, timeout: -5 }), isError(RangeError));
  assert.throws(() => checkHeartbeatOptions({ interval: NaN, timeout: 1 }), isError(TypeError));
});

test.run();
