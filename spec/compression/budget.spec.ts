/** src/compression/budget.ts: the main thread's zlib time per event-loop turn, for all connections and for each. */

import zlib from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type BudgetAccount, CONNECTION_BUDGET_MS, mayRunSync, runLater, spend, TURN_BUDGET_MS } from '../../src/compression/budget.ts';
import { MessageCompressor } from '../../src/compression/compressor.ts';
import { ZlibPool } from '../../src/compression/pool.ts';
import type { WebSocket } from '../../src/index.ts';
import { frame, portOf, rawConnect, until, upgradeRequest, waitFor } from '../helpers.ts';
import { listen, shutdown } from '../security/peer.ts';

const test = suite('compression: main-thread zlib budget');

const account = (): BudgetAccount => ({ budgetTurn: 0, spentMs: 0 });
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A compressor without context takeover, on a pool of its own. */
function compressorOn(pool: ZlibPool): MessageCompressor {
  return new MessageCompressor(
    {
      params: { sendNoContextTakeover: true, receiveNoContextTakeover: true, sendWindowBits: 15, receiveWindowBits: 15 },
      config: { negotiation: {}, threshold: 0, deflateOptions: {}, inflateOptions: {}, pool },
    },
    64 * 1024 * 1024,
  );
}

/** A message permessage-deflate put on the wire, inflated. */
function fromTheWire(data: Buffer): string {
  return String(zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }));
}

/** A server with permessage-deflate and a raw peer that negotiated it, without context takeover from the peer. */
async function deflatePeer() {
  const wss = await listen({ perMessageDeflate: true });
  const serverSide = waitFor<[WebSocket]>(wss, 'connection');
  const conn = await rawConnect(portOf(wss));
  conn.socket.write(upgradeRequest('/', ['Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover']));
  const [server] = await serverSide;
  return { wss, conn, server };
}

/** Counts the jobs handed to any zlib pool (the thread pool) until stop(). */
function countPoolJobs(): { readonly count: number; stop(): void } {
  const run = ZlibPool.prototype.run;
  const counter = { count: 0, stop: () => void (ZlibPool.prototype.run = run) };
  ZlibPool.prototype.run = function (this: ZlibPool, job: () => void) {
    counter.count++;
    return run.call(this, job);
  };
  return counter;
}

/** `text` as permessage-deflate puts it on the wire. */
function onTheWire(text: string): Buffer {
  const deflated = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return deflated.subarray(0, deflated.length - 4);
}

test('a connection past its share runs no more zlib on the main thread this turn; the others still do', async () => {
  await nextTurn();
  const [a, b] = [account(), account()];
  assert.ok(mayRunSync(a) && mayRunSync(b));
  spend(a, CONNECTION_BUDGET_MS + 0.1);
  assert.not.ok(mayRunSync(a), 'a is over its share');
  assert.ok(mayRunSync(b), 'b is not');
  await nextTurn();
  assert.ok(mayRunSync(a), 'a new turn, a new share');
});

test('past the turn budget nobody runs zlib on the main thread until the next turn', async () => {
  await nextTurn();
  const accounts = Array.from({ length: 8 }, account);
  let spent = 0;
  for (const one of accounts) {
    if (spent >= TURN_BUDGET_MS) break;
    spend(one, CONNECTION_BUDGET_MS * 0.9);
    spent += CONNECTION_BUDGET_MS * 0.9;
  }
  assert.not.ok(mayRunSync(account()), 'a fresh connection too');
  await nextTurn();
  assert.ok(mayRunSync(account()));
});

test('a compressor past its share turns a message away (null: the thread pool), and takes the next turn again', async () => {
  const compressor = new MessageCompressor(
    {
      params: { sendNoContextTakeover: true, receiveNoContextTakeover: true, sendWindowBits: 15, receiveWindowBits: 15 },
      config: { negotiation: {}, threshold: 0, deflateOptions: {}, inflateOptions: {}, pool: new ZlibPool() },
    },
    64 * 1024 * 1024,
  );
  const deflated = zlib.deflateRawSync(Buffer.from('hello'), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const message = deflated.subarray(0, deflated.length - 4);
  await nextTurn();
  assert.is(String(compressor.decompressSync(message)), 'hello');
  spend(compressor, CONNECTION_BUDGET_MS);
  assert.is(compressor.decompressSync(message), null, 'inflate: to the thread pool');
  assert.is(compressor.compressSync(Buffer.from('x')), null, 'deflate: to the thread pool');
  assert.ok(compressor.compressSync(Buffer.from('x'), true) !== null, "a broadcast's shared frame is still deflated here");
  await nextTurn();
  assert.is(String(compressor.decompressSync(message)), 'hello');
  compressor.close();
});

test("a broadcast's shared frame counts against the turn, not against the connection that happens to deflate it", async () => {
  // Charged to that connection, a broadcast in every turn kept it over its share and its own messages in line, turn after turn.
  const compressor = compressorOn(new ZlibPool());
  let clock = performance.now();
  // Bun's performance has `now` of its own, node's and Deno's a prototype's: what is there is put back.
  const own = Object.getOwnPropertyDescriptor(performance, 'now');
  await nextTurn();
  // Every reading of the clock 1 ms later: each deflate takes the connection's whole share.
  Object.defineProperty(performance, 'now', { value: () => (clock += CONNECTION_BUDGET_MS), configurable: true, writable: true });
  try {
    assert.ok(compressor.compressSync(Buffer.from('to everyone'), true) !== null);
    assert.ok(mayRunSync(compressor), 'its own messages still run on the main thread');
    assert.ok(compressor.compressSync(Buffer.from('its own')) !== null);
    assert.not.ok(mayRunSync(compressor), 'its own deflate is charged to it');
  } finally {
    if (own === undefined) delete (performance as { now?: unknown }).now;
    else Object.defineProperty(performance, 'now', own);
    compressor.close();
  }
  assert.type(performance.now(), 'number');
});

test('a flood of small messages inflating to 1 MiB each: all delivered, in order, some in later turns', async () => {
  const { wss, conn, server } = await deflatePeer();
  const later = { calls: 0 };
  const decompress = MessageCompressor.prototype.decompress;
  MessageCompressor.prototype.decompress = function (this: MessageCompressor, ...args: Parameters<typeof decompress>) {
    later.calls++;
    return decompress.apply(this, args);
  };
  try {
    const sizes: number[] = [];
    server.on('message', (data) => sizes.push((data as Buffer).length));
    const deflated = zlib.deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const one = frame({ opcode: 2, payload: deflated.subarray(0, deflated.length - 4), rsv: 0x4 });
    // About 200 KB in one write: the server reads it in one or a few chunks, in one turn.
    conn.socket.write(Buffer.concat(Array.from({ length: 200 }, () => one)));
    await until(() => sizes.length === 200, 20_000, '200 messages');
    assert.ok(sizes.every((size) => size === 1024 * 1024));
    assert.ok(later.calls > 0, 'some waited for a later turn (decompress(), not decompressSync())');
  } finally {
    MessageCompressor.prototype.decompress = decompress;
    conn.socket.destroy();
    await shutdown(wss);
  }
});

test("with the turn's zlib time left, compress() and decompress() of a small message answer before they return", async () => {
  const pool = new ZlibPool();
  const compressor = compressorOn(pool);
  await nextTurn();
  const answers: string[] = [];
  compressor.decompress(onTheWire('hello'), (error, output) => answers.push(`${error}:${output}`));
  compressor.compress(Buffer.from('back'), true, (error, output) => answers.push(`${error}:${fromTheWire(output!)}`));
  assert.equal(answers, ['null:hello', 'null:back']);
  assert.equal(pool.jobs, { running: 0, waiting: 0 });
  compressor.close();
});

test("past the turn's zlib time, small messages wait on the main thread, first come first served, not on the thread pool", async () => {
  const pool = new ZlibPool();
  const [a, b] = [compressorOn(pool), compressorOn(pool)];
  await nextTurn();
  spend(account(), TURN_BUDGET_MS);
  const answers: string[] = [];
  a.decompress(onTheWire('first'), (error, output) => answers.push(`a:${error}:${output}`));
  b.compress(Buffer.from('second'), true, (error, output) => answers.push(`b:${error}:${fromTheWire(output!)}`));
  b.decompress(onTheWire('third'), (error, output) => answers.push(`b:${error}:${output}`));
  assert.equal(answers, [], 'none before the turn ends');
  assert.equal(pool.jobs, { running: 0, waiting: 0 }, 'nothing on the thread pool');
  assert.not.ok(b.compressSync(Buffer.from('behind')), 'a connection with a message waiting deflates nothing ahead of it');
  await nextTurn();
  assert.equal(answers, [], 'the spent turn ends with nothing left for the line');
  await nextTurn();
  assert.equal(answers, ['a:null:first', 'b:null:second', 'b:null:third'], 'the next turn runs the line');
  a.close();
  b.close();
});

test('while anything waits in line, a connection with time left joins its end', async () => {
  await nextTurn();
  spend(account(), TURN_BUDGET_MS);
  const order: string[] = [];
  runLater(account(), () => order.push('waiting'));
  await nextTurn();
  const fresh = account();
  assert.not.ok(mayRunSync(fresh), 'a fresh turn, but the line goes first');
  await nextTurn();
  assert.equal(order, ['waiting']);
  assert.ok(mayRunSync(fresh), 'the line is empty');
});

test("in line, a connection past its share keeps its place for the next turn while the others' jobs run", async () => {
  await nextTurn();
  spend(account(), TURN_BUDGET_MS);
  const [greedy, other] = [account(), account()];
  const ran: string[] = [];
  runLater(greedy, () => {
    ran.push('greedy 1');
    spend(greedy, CONNECTION_BUDGET_MS);
    runLater(greedy, () => ran.push('greedy 2'));
  });
  runLater(other, () => ran.push('other'));
  await nextTurn();
  await nextTurn();
  assert.equal(ran, ['greedy 1', 'other'], 'greedy is over its share this turn');
  await nextTurn();
  assert.equal(ran, ['greedy 1', 'other', 'greedy 2']);
});

test('a queued message inflates at most 256 KiB on the main thread; the thread pool finishes a bomb', async () => {
  const pool = new ZlibPool();
  const compressor = compressorOn(pool);
  const poolJobs = countPoolJobs();
  try {
    const deflated = zlib.deflateRawSync(Buffer.alloc(1024 * 1024, 7), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const bomb = deflated.subarray(0, deflated.length - 4);
    const small = onTheWire('x'.repeat(200_000));
    const sizes: number[] = [];
    await nextTurn();
    for (const message of [small, bomb]) {
      await new Promise<void>((resolve, reject) =>
        compressor.decompress(message, (error, output) => (error ? reject(error) : resolve(void sizes.push(output!.length)))),
      );
    }
    assert.equal(sizes, [200_000, 1024 * 1024]);
    assert.is(poolJobs.count, 1, 'the bomb only');
  } finally {
    poolJobs.stop();
    compressor.close();
  }
});

test("where zlib cannot be driven synchronously (a runtime without the handle's writeSync), queued messages go to the thread pool", async () => {
  const pool = new ZlibPool();
  // The streams the compressor takes from its pool: with the handle's writeSync gone.
  pool.take = (key: string) => {
    const stream = key.startsWith('deflate') ? zlib.createDeflateRaw() : zlib.createInflateRaw();
    (stream as unknown as { _handle: { writeSync?: unknown } })._handle.writeSync = undefined;
    return stream;
  };
  const compressor = compressorOn(pool);
  const poolJobs = countPoolJobs();
  try {
    await nextTurn();
    spend(account(), TURN_BUDGET_MS);
    const answers = await Promise.all([
      new Promise<string>((resolve) => compressor.decompress(onTheWire('in'), (error, output) => resolve(`${error}:${output}`))),
      new Promise<string>((resolve) =>
        compressor.compress(Buffer.from('out'), true, (error, output) => resolve(`${error}:${fromTheWire(output!)}`)),
      ),
    ]);
    assert.equal(answers, ['null:in', 'null:out']);
    assert.is(poolJobs.count, 2);
  } finally {
    poolJobs.stop();
    compressor.close();
  }
});

test('a compressor closed while its message waits for zlib time answers with an error', async () => {
  const compressor = compressorOn(new ZlibPool());
  await nextTurn();
  spend(account(), TURN_BUDGET_MS);
  const answers: string[] = [];
  compressor.decompress(onTheWire('never'), (error) => answers.push(String(error?.message)));
  compressor.compress(Buffer.from('never'), true, (error) => answers.push(String(error?.message)));
  compressor.close();
  await nextTurn();
  await nextTurn();
  assert.equal(answers, ['The connection is closed', 'The connection is closed']);
});

test("waiting jobs run while a turn's time lasts and the rest in the turns after; one that throws stops none of the others", async () => {
  await nextTurn();
  spend(account(), TURN_BUDGET_MS);
  const ran: number[] = [];
  let turns = 0;
  const thrown: unknown[] = [];
  const onUncaught = (error: unknown): void => {
    thrown.push(error);
  };
  process.on('uncaughtException', onUncaught);
  try {
    for (let job = 0; job < 7; job++) {
      const own = account();
      runLater(own, () => {
        ran.push(turns);
        spend(own, TURN_BUDGET_MS / 2 + 0.1);
        if (job === 1) throw new Error('a listener failed');
      });
    }
    while (ran.length < 7 && turns < 20) {
      await nextTurn();
      turns++;
    }
  } finally {
    process.off('uncaughtException', onUncaught);
  }
  // None in the spent turn, then two a turn: after each pair the turn's time is spent.
  assert.equal(ran, [1, 1, 2, 2, 3, 3, 4]);
  assert.equal(
    thrown.map((error) => (error as Error).message),
    ['a listener failed'],
  );
});

test("a flood of small compressed messages past the turn's time: delivered in order, all inflated on the main thread", async () => {
  const { wss, conn, server } = await deflatePeer();
  const poolJobs = countPoolJobs();
  try {
    const received: number[] = [];
    server.on('message', (data) => received.push(JSON.parse(String(data)).n));
    const count = 3000;
    const frames = Array.from({ length: count }, (_, n) =>
      frame({ opcode: 1, payload: onTheWire(JSON.stringify({ n, pad: 'x'.repeat(2000) + n })), rsv: 0x4 }),
    );
    // Far more zlib work than one turn allows, in a few reads.
    conn.socket.write(Buffer.concat(frames));
    await until(() => received.length === count, 20_000, `${count} messages`);
    assert.equal(
      received,
      Array.from({ length: count }, (_, n) => n),
    );
    assert.is(poolJobs.count, 0, 'no thread-pool job');
  } finally {
    poolJobs.stop();
    conn.socket.destroy();
    await shutdown(wss);
  }
});

test.run();
