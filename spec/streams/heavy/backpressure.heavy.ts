/**
 * `npm run test:heavy` (run by .ci/run after `npm test`): backpressure
 * proven with bounds on gigabytes, not with timings. Each figure is printed;
 * the README's "Backpressure, measured" section quotes them.
 *
 * - A consumer that pulls one message a second while the peer sends 1 GiB:
 *   the receiving process's RSS stays within a bound and the sender is held
 *   back by TCP (its sends wait in drained()), not cut by maxBufferedAmount;
 *   once the consumer goes fast, every byte arrives.
 * - A producer writing 1 GiB to a slow reader, through a WebSocketStream's
 *   writable, through send() and drained(), and through sendStream(), the
 *   last two with permessage-deflate: bufferedAmount never exceeds the
 *   high-water mark plus one message (one chunk for sendStream).
 * - A 2 GiB message sent from a file stream and received as a stream,
 *   checked by hash, the process's RSS under 100 MiB.
 *
 * The measured processes run bundled to plain JavaScript (esbuild, which
 * tsx brings), so the TypeScript loader is not in their memory.
 */

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer, WebSocketStream } from '../../../src/index.ts';
import { sleep } from '../../helpers.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TEST_TIMEOUT = 240_000;

const test = suite('streams, heavy: backpressure measured');

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

let bundled: string | null = null;

/** child.ts as one plain JavaScript file, built once per run. */
function childScript(): string {
  if (bundled !== null) return bundled;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netws-heavy-'));
  bundled = path.join(dir, 'child.mjs');
  buildSync({
    entryPoints: [new URL('./child.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundled,
    logLevel: 'error',
  });
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return bundled;
}

interface Report {
  port?: number;
  rss?: number;
  peak?: number;
  received?: number;
  messages?: number;
  done?: boolean;
  error?: string;
  [key: string]: unknown;
}

/** Runs child.ts in its own process; every message it sends goes to `onReport`. Killed at the deadline or the end. */
function startChild(args: string[], onReport: (report: Report) => void): { child: ChildProcess; exited: Promise<unknown> } {
  // No execArgv: this process's `--import tsx` would load the TypeScript loader there too.
  const child = fork(childScript(), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  child.on('message', (message) => onReport(message as Report));
  const exited = once(child, 'exit');
  const timer = setTimeout(() => child.kill('SIGKILL'), TEST_TIMEOUT);
  void exited.then(() => clearTimeout(timer));
  process.on('exit', () => child.kill('SIGKILL'));
  return { child, exited };
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

test("a consumer reading one message a second while the peer sends 1 GiB: the receiver's RSS stays bounded, the sender waits on TCP", async () => {
  let latest: Report = {};
  const reports: Report[] = [];
  const { child, exited } = startChild(['slow-receiver'], (report) => {
    latest = report;
    reports.push(report);
  });
  try {
    const port = await withDeadline(
      (async () => {
        while (latest.port === undefined) await sleep(10);
        return latest.port;
      })(),
      20_000,
      'the receiver listening',
    );
    const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    let clientError: Error | null = null;
    client.on('error', (error) => (clientError = error));
    await once(client, 'open');
    await withDeadline(
      (async () => {
        while (latest.rss === undefined || reports.every((r) => !r.connected)) await sleep(10);
      })(),
      10_000,
      'connected',
    );
    const baseline = reports.find((r) => r.connected)!.rss!;
    const message = Buffer.alloc(MiB, 7);
    const total = GiB / MiB;
    let sent = 0;
    let highestBuffered = 0;
    const sending = (async () => {
      for (; sent < total; sent++) {
        const room = client.send(message);
        highestBuffered = Math.max(highestBuffered, client.bufferedAmount);
        if (!room) await client.drained();
      }
    })();
    // Slow phase: five seconds of one message a second.
    await sleep(5000);
    const slow = { ...latest };
    const sentWhileSlow = sent;
    const slowPeak = Math.max(...reports.map((r) => r.peak ?? r.rss ?? 0));
    assert.is(client.readyState, client.OPEN, 'the sender was not cut');
    assert.is(clientError, null);
    assert.ok(sentWhileSlow < 128, `the sender is stalled: ${sentWhileSlow} MiB sent`);
    assert.ok(slow.messages! <= 7, `${slow.messages} messages consumed in the slow phase`);
    const growth = slowPeak - baseline;
    // One message being assembled (1 MiB), the reader's high-water mark (64 KiB) and a receive chunk, plus allocator slack.
    assert.ok(growth < 32 * MiB, `receiver RSS grew by ${mib(growth)}`);
    // Fast phase: everything arrives.
    child.send({ fast: true });
    await withDeadline(sending, 120_000, 'sending 1 GiB');
    client.close();
    await withDeadline(
      (async () => {
        while (!latest.done) await sleep(20);
      })(),
      60_000,
      'the receiver done',
    );
    assert.is(latest.received, GiB);
    console.log(
      `\n  slow consumer, 1 GiB sent: receiver RSS ${mib(baseline)} at connection, peak ${mib(slowPeak)} while slow ` +
        `(+${mib(growth)}), ${mib(latest.peak!)} overall; sender stalled at ${sentWhileSlow} MiB sent after 5 s ` +
        `(bufferedAmount at most ${mib(highestBuffered)}), never cut; all ${mib(latest.received!)} received once fast`,
    );
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
});

/** A server whose reading is paused and resumed every 20 ms: a reader slower than the producer. */
async function slowReaderServer(perMessageDeflate: boolean): Promise<{ port: number; received: () => number; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate, maxPayload: 0 });
  await once(wss, 'listening');
  let received = 0;
  const timers: NodeJS.Timeout[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data) => (received += (data as Buffer).length));
    let paused = false;
    timers.push(
      setInterval(() => {
        paused = !paused;
        if (paused) ws.pause();
        else ws.resume();
      }, 20),
    );
  });
  return {
    port: (wss.address() as { port: number }).port,
    received: () => received,
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Compressible but not trivial: a counter in every 64 bytes. */
function payload(size: number): Buffer {
  const out = Buffer.alloc(size, 'netws streams with real backpressure ');
  for (let i = 0; i < size; i += 64) out.writeUInt32BE(i, i);
  return out;
}

const highWaterMark = MiB;
const messageSize = 256 * 1024;

test('1 GiB through a WebSocketStream writable to a slow reader: bufferedAmount within the mark plus one message', async () => {
  const server = await slowReaderServer(false);
  try {
    const stream = new WebSocketStream(`ws://127.0.0.1:${server.port}`, { highWaterMark, perMessageDeflate: false });
    const { writable } = await stream.opened;
    const ws = (stream as unknown as { ws: WebSocket }).ws;
    const writer = writable.getWriter();
    const message = payload(messageSize);
    let highest = 0;
    const started = Date.now();
    await withDeadline(
      (async () => {
        for (let sent = 0; sent < GiB; sent += messageSize) {
          const written = writer.write(message);
          highest = Math.max(highest, ws.bufferedAmount);
          await written;
        }
      })(),
      TEST_TIMEOUT,
      'writing 1 GiB',
    );
    // bufferedAmount peaks right after a send, before the write promise resolves: sample it there too.
    assert.ok(highest <= highWaterMark + messageSize, `bufferedAmount reached ${highest}`);
    while (server.received() < GiB) await sleep(10);
    console.log(
      `\n  WebSocketStream writable, 1 GiB to a slow reader in ${((Date.now() - started) / 1000).toFixed(1)} s: bufferedAmount at most ${mib(highest)} (mark ${mib(highWaterMark)} + message ${mib(messageSize)})`,
    );
    stream.close();
    await stream.closed;
  } finally {
    await server.close();
  }
});

for (const mode of ['send() and drained()', 'sendStream()'] as const) {
  test(`1 GiB through ${mode} with permessage-deflate to a slow reader: bufferedAmount within the mark plus one ${mode === 'sendStream()' ? 'chunk' : 'message'}`, async () => {
    const server = await slowReaderServer(true);
    try {
      const client = new WebSocket(`ws://127.0.0.1:${server.port}`, { highWaterMark });
      await once(client, 'open');
      assert.match(client.extensions, /permessage-deflate/);
      const message = payload(messageSize);
      let highest = 0;
      const sample = (): void => {
        highest = Math.max(highest, client.bufferedAmount);
      };
      const started = Date.now();
      if (mode === 'sendStream()') {
        // One 1 GiB message; the size of each chunk is the unit of the bound.
        async function* source(): AsyncGenerator<Buffer> {
          for (let sent = 0; sent < GiB; sent += messageSize) {
            sample();
            yield message;
          }
        }
        const sampler = setInterval(sample, 1);
        await withDeadline(client.sendStream(source()), TEST_TIMEOUT, 'streaming 1 GiB').finally(() => clearInterval(sampler));
      } else {
        await withDeadline(
          (async () => {
            for (let sent = 0; sent < GiB; sent += messageSize) {
              const room = client.send(message);
              sample();
              if (!room) await client.drained();
            }
          })(),
          TEST_TIMEOUT,
          'sending 1 GiB',
        );
      }
      assert.ok(highest <= highWaterMark + messageSize, `bufferedAmount reached ${highest}`);
      await withDeadline(
        (async () => {
          while (server.received() < GiB) await sleep(10);
        })(),
        120_000,
        'all received',
      );
      console.log(
        `\n  ${mode} with permessage-deflate, 1 GiB to a slow reader in ${((Date.now() - started) / 1000).toFixed(1)} s: bufferedAmount at most ${mib(highest)} (mark ${mib(highWaterMark)} + ${mib(messageSize)})`,
      );
      client.close();
    } finally {
      await server.close();
    }
  });
}

test("a 2 GiB message from a file stream, received as a stream and hashed: the process's RSS stays under 100 MiB", async () => {
  let result: Report = {};
  const { exited } = startChild(['big-message', String(2 * GiB)], (report) => (result = report));
  await withDeadline(exited, TEST_TIMEOUT, 'the 2 GiB message');
  assert.is(result.error, undefined, String(result.error));
  assert.ok(result.done);
  assert.is(result.size, 2 * GiB);
  assert.is(result.isBinary, true);
  assert.is(result.hash, result.written, "the hash of what arrived is the file's");
  assert.ok((result.peak as number) < 100 * MiB, `RSS peaked at ${mib(result.peak as number)}`);
  console.log(
    `\n  2 GiB message, file stream → sendStream → messages({ stream: true }) → sha256 in ${(result.seconds as number).toFixed(1)} s: RSS ${mib(result.before as number)} before, peak ${mib(result.peak as number)}; hashes equal`,
  );
});

test.run();
