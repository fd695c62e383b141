/** src/compression/budget.ts: the main thread's zlib time per event-loop turn, for all connections and for each. */

import zlib from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type BudgetAccount, CONNECTION_BUDGET_MS, mayRunSync, spend, TURN_BUDGET_MS } from '../../src/compression/budget.ts';
import { MessageCompressor } from '../../src/compression/compressor.ts';
import { ZlibPool } from '../../src/compression/pool.ts';
import type { WebSocket } from '../../src/index.ts';
import { frame, portOf, rawConnect, until, upgradeRequest, waitFor } from '../helpers.ts';
import { listen, shutdown } from '../security/peer.ts';

const test = suite('compression: main-thread zlib budget');

const account = (): BudgetAccount => ({ budgetTurn: 0, spentMs: 0 });
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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

test('a flood of small messages inflating to 1 MiB each: all delivered, in order, and not all on the main thread', async () => {
  const wss = await listen({ perMessageDeflate: true });
  const serverSide = waitFor<[WebSocket]>(wss, 'connection');
  const conn = await rawConnect(portOf(wss));
  conn.socket.write(upgradeRequest('/', ['Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover']));
  const [server] = await serverSide;
  const thread = { pool: 0 };
  const decompress = MessageCompressor.prototype.decompress;
  MessageCompressor.prototype.decompress = function (this: MessageCompressor, ...args: Parameters<typeof decompress>) {
    thread.pool++;
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
    assert.ok(thread.pool > 0, 'some went to the thread pool');
  } finally {
    MessageCompressor.prototype.decompress = decompress;
    conn.socket.destroy();
    await shutdown(wss);
  }
});

test.run();
