/**
 * Other RFC 8441 implementations: undici 7's WebSocket (`allowH2`) as the
 * client of the netws server, and Hypercorn (Debian's python3-hypercorn,
 * h2 + wsproto) as the server for the netws client. Chromium is the third,
 * in spec/browser/ (`npm run test:browser`).
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Agent, WebSocket as UndiciWebSocket } from '../real-undici.ts';
import { WebSocket } from '../../src/index.ts';
import { sleep, waitFor } from '../helpers.ts';
import { cert, h2Server } from './peer.ts';

const interop = suite('http2 interop');

// undici marks WebSocket over HTTP/2 experimental and says so once per process.
process.on('warning', () => {});

/** `promise`, or a rejection after `ms`: undici never ends its stream, and a close must not wait for closeTimeout (30 s). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`${what}: not within ${ms} ms`)))]);
}

interop(
  'undici 7 WebSocket (Agent allowH2) against the netws server: an HTTP/2 stream, text, binary, deflate, close codes both ways',
  async () => {
    const fixture = await h2Server({ perMessageDeflate: true });
    const seen: Array<{ version: string; key: boolean }> = [];
    const serverCloses: number[] = [];
    fixture.wss.on('connection', (ws, req) => {
      seen.push({ version: req.httpVersion!, key: req.headers['sec-websocket-key'] !== undefined });
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'bye') ws.close(4001, 'from netws');
        else ws.send(data, { binary: isBinary });
      });
      ws.on('close', (code) => serverCloses.push(code));
    });
    const dispatcher = new Agent({ allowH2: true, connect: { ca: cert } });
    const ws = new UndiciWebSocket(`wss://localhost:${fixture.port}/echo`, { dispatcher, protocols: ['chat'] });
    ws.binaryType = 'arraybuffer';
    const messages: unknown[] = [];
    ws.onmessage = (event) => messages.push(event.data);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (event) => reject((event as unknown as { error?: Error }).error ?? new Error('undici: no connection'));
    });
    assert.equal(seen, [{ version: '2.0', key: true }], 'an HTTP/2 stream, with the key undici sends');
    assert.is(ws.protocol, 'chat');
    assert.match(ws.extensions, /permessage-deflate/);
    ws.send('hello from undici');
    const big = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff);
    ws.send(big);
    const deadline = Date.now() + 5000;
    while (messages.length < 2 && Date.now() < deadline) await sleep(5);
    assert.is(messages[0], 'hello from undici');
    assert.ok(Buffer.from(messages[1] as ArrayBuffer).equals(Buffer.from(big)));
    const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
      ws.onclose = (event) => resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    });
    ws.send('bye');
    assert.equal(await within(closed, 2000, 'close from netws'), { code: 4001, reason: 'from netws', wasClean: true });

    const second = new UndiciWebSocket(`wss://localhost:${fixture.port}/echo`, { dispatcher });
    await new Promise<void>((resolve) => (second.onopen = () => resolve()));
    const secondClosed = new Promise<number>((resolve) => (second.onclose = (event) => resolve(event.code)));
    second.close(4002, 'from undici');
    assert.is(await within(secondClosed, 2000, 'close from undici'), 4002);
    await sleep(20);
    assert.equal(serverCloses, [4001, 4002]);
    assert.equal(
      seen.map(({ version }) => version),
      ['2.0', '2.0'],
    );
    await dispatcher.close();
    await fixture.close();
  },
);

const PYTHON = '/usr/bin/python3';
const hasHypercorn = spawnSync(PYTHON, ['-c', 'import hypercorn, h2, wsproto'], { stdio: 'ignore' }).status === 0;

/** A port free a moment ago (Hypercorn binds it itself). */
async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await waitFor(probe, 'listening');
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Starts Hypercorn with the echo app of fixtures/hypercorn_echo.py on TLS; resolves with its port. */
async function startHypercorn(attempts = 3): Promise<{ port: number; child: ChildProcess }> {
  const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
  const port = await freePort();
  const child = spawn(
    PYTHON,
    [
      '-m',
      'hypercorn',
      '--certfile',
      `${fixtures}cert.pem`,
      '--keyfile',
      `${fixtures}key.pem`,
      '--bind',
      `127.0.0.1:${port}`,
      'hypercorn_echo:app',
    ],
    { cwd: fixtures, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  const started = await new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Hypercorn did not start:\n${log}`));
    }, 10_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Running on')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (started) return { port, child };
  // Another process took the port in between: try another.
  if (attempts > 1) return startHypercorn(attempts - 1);
  throw new Error(`Hypercorn exited:\n${log}`);
}

interop(
  'the netws client against Hypercorn (python3-hypercorn, h2 + wsproto): HTTP/2 stream, deflate, 1 MiB, close codes both ways',
  async () => {
    if (!hasHypercorn) {
      console.log("\n  skipped: Debian's python3-hypercorn is not installed (.ci/run installs it)");
      return;
    }
    const { port, child } = await startHypercorn();
    try {
      for (const http2 of [true, false]) {
        const ws = new WebSocket(`wss://localhost:${port}/echo`, ['chat'], { http2, ca: cert });
        await waitFor(ws, 'open');
        assert.is(ws._socket!.constructor.name, http2 ? 'ClientHttp2Stream' : 'TLSSocket');
        assert.is(ws.protocol, 'chat');
        assert.match(ws.extensions, /^permessage-deflate/);
        ws.send('http_version');
        assert.is((await waitFor<[Buffer]>(ws, 'message'))[0].toString(), http2 ? '2' : '1.1', 'the version Hypercorn saw');
        const big = Buffer.alloc(1024 * 1024).map((_, i) => (i * 7) & 0xff);
        ws.send(big);
        assert.ok((await waitFor<[Buffer]>(ws, 'message'))[0].equals(big));
        ws.send('close 4003');
        const [code, , wasClean] = await waitFor<[number, Buffer, boolean]>(ws, 'close');
        assert.equal([code, wasClean], [4003, true]);
      }
      // Our close: Hypercorn answers it at once (its app hears 1000 or 1006 only, whatever the code, so the
      // code it saw cannot be checked), and the client ends the stream without waiting for Hypercorn to.
      const ws = new WebSocket(`wss://localhost:${port}/echo`, { http2: true, ca: cert });
      await waitFor(ws, 'open');
      ws.close(4002, 'from netws');
      const [code, , wasClean] = await waitFor<[number, Buffer, boolean]>(ws, 'close', 2000);
      assert.equal([code, wasClean], [4002, true]);
    } finally {
      child.kill('SIGKILL');
    }
  },
);

interop.run();
