/**
 * The processes whose memory the heavy backpressure tests measure, each
 * alone in its own process (bundled to plain JavaScript, so the TypeScript
 * loader's memory is not in the figures). Every wait is bounded by the
 * parent, which kills this process at its deadline.
 *
 * - `slow-receiver`: a server whose consumer pulls one message a second
 *   (`for await`) until told to go fast; reports RSS and bytes received.
 * - `big-message SIZE`: writes a SIZE-byte file, sends it as one message
 *   from a file stream (sendStream) to a server in the same process that
 *   receives it as a stream (messages({ stream: true })) and hashes it;
 *   reports the peak RSS and both hashes.
 */

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { WebSocket, WebSocketServer } from '../../../src/index.ts';

const send = (message: Record<string, unknown>): void => {
  process.send!(message);
};

const rss = (): number => process.memoryUsage().rss;

async function listening(wss: WebSocketServer): Promise<number> {
  await once(wss, 'listening');
  return (wss.address() as { port: number }).port;
}

async function slowReceiver(): Promise<void> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  const port = await listening(wss);
  let fast = false;
  let received = 0;
  let messages = 0;
  let peak = 0;
  process.on('message', (message: { fast?: boolean }) => {
    if (message.fast) fast = true;
  });
  const timer = setInterval(() => {
    peak = Math.max(peak, rss());
    send({ rss: rss(), peak, received, messages });
  }, 100);
  wss.on('connection', async (ws) => {
    send({ connected: true, rss: rss() });
    try {
      for await (const { data } of ws) {
        received += (data as Buffer).length;
        messages++;
        if (!fast) await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    } catch (error) {
      send({ error: String(error) });
    }
    clearInterval(timer);
    peak = Math.max(peak, rss());
    send({ done: true, rss: rss(), peak, received, messages });
    wss.close();
  });
  send({ port, rss: rss() });
}

/** A file of `size` pseudo-random bytes (a 1 MiB block, varied per block), written with its hash. */
async function writeFile(file: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  const out = fs.createWriteStream(file);
  for (let offset = 0, n = 0; offset < size; offset += block.length, n++) {
    block.writeUInt32BE(n, 0);
    const chunk = block.subarray(0, Math.min(block.length, size - offset));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

async function bigMessage(size: number): Promise<void> {
  const file = path.join(os.tmpdir(), `netws-big-message-${process.pid}.bin`);
  try {
    const written = await writeFile(file, size);
    const before = rss();
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, rss())), 20);
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    const port = await listening(wss);
    const received = new Promise<{ hash: string; size: number; isBinary: boolean }>((resolve, reject) => {
      wss.on('connection', async (ws) => {
        try {
          for await (const { data, isBinary } of ws.messages({ stream: true })) {
            const hash = createHash('sha256');
            let bytes = 0;
            for await (const chunk of data) {
              bytes += (chunk as Buffer).length;
              hash.update(chunk as Buffer);
            }
            resolve({ hash: hash.digest('hex'), size: bytes, isBinary });
            ws.close();
          }
        } catch (error) {
          reject(error);
        }
      });
    });
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    await once(client, 'open');
    const started = Date.now();
    await client.sendStream(fs.createReadStream(file));
    const result = await received;
    const seconds = (Date.now() - started) / 1000;
    clearInterval(timer);
    peak = Math.max(peak, rss());
    client.close();
    wss.close();
    send({ done: true, written, ...result, before, peak, seconds });
  } finally {
    fs.rmSync(file, { force: true });
  }
}

const [mode, argument] = process.argv.slice(2);
const run = mode === 'slow-receiver' ? slowReceiver() : bigMessage(Number(argument));
run.catch((error: unknown) => {
  send({ error: String((error as Error)?.stack ?? error) });
  process.exitCode = 1;
});
