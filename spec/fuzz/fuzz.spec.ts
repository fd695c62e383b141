/**
 * The short, seeded fuzz pass of `npm test` (a few seconds). Long runs:
 * `npm run fuzz -- --iterations N --seed S` (see SECURITY.md for the figures).
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Random } from './random.ts';
import { iterationSeed } from './seed.ts';
import { fuzzSocket, startFuzzServer } from './socket.ts';
import { fuzzHandshake, fuzzProtocol } from './targets.ts';
import { chunk, mutate } from './mutate.ts';

const SEED = 6455;
const fuzz = suite('fuzz (seeded)');

function tally(counts: Map<string, number>, outcome: string): void {
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
}

fuzz('the engine is deterministic and its mutations change the input', () => {
  const a = new Random(42);
  const b = new Random(42);
  for (let i = 0; i < 100; i++) assert.is(a.next(), b.next());
  const random = new Random(7);
  const input = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  let changed = 0;
  for (let i = 0; i < 200; i++) if (!mutate(random, input, input).equals(input)) changed++;
  assert.ok(changed > 150, `${changed} of 200 mutations changed the input`);
  const pieces = chunk(random, Buffer.alloc(1000));
  assert.is(Buffer.concat(pieces).length, 1000);
});

fuzz('protocol: 4,000 mutated frame streams keep every invariant and reach 1002, 1007 and 1009', () => {
  const outcomes = new Map<string, number>();
  for (let i = 0; i < 4000; i++) tally(outcomes, fuzzProtocol(new Random(iterationSeed(SEED, i))));
  for (const expected of ['failed 1002', 'failed 1007', 'failed 1009', 'closed', 'open']) {
    assert.ok((outcomes.get(expected) ?? 0) > 0, `no "${expected}" outcome in ${JSON.stringify([...outcomes])}`);
  }
});

fuzz('handshake: 4,000 mutated requests and responses end in a status or a typed error', () => {
  for (let i = 0; i < 4000; i++) fuzzHandshake(new Random(iterationSeed(SEED, i)));
});

fuzz('socket: 200 fuzzed connections to a real server all end with a valid status or close code', async () => {
  const wss = await startFuzzServer();
  let serverErrors = 0;
  wss.on('error', () => serverErrors++);
  const outcomes = new Map<string, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < 200) tally(outcomes, await fuzzSocket(new Random(iterationSeed(SEED, next++)), wss, 5000));
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  assert.is(serverErrors, 0);
  assert.is(wss.clients.size, 0);
  assert.ok(
    [...outcomes.keys()].some((k) => k.startsWith('101 close 10')),
    JSON.stringify([...outcomes]),
  );
  assert.ok(
    [...outcomes.keys()].some((k) => /^4\d\d$/.test(k)),
    JSON.stringify([...outcomes]),
  );
});

fuzz.run();
