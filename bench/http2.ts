/**
 * WebSockets over HTTP/2 (RFC 8441) against HTTP/1.1, both over TLS, with a
 * netws server (node:http2, allowHTTP1) in its own process:
 *
 * - open: milliseconds from `new WebSocket()` to 'open' for a stream on an
 *   HTTP/2 session already open, for a new TLS connection with the
 *   HTTP/1.1 upgrade, and for a new TLS connection with HTTP/2
 *   (`http2: true`: TLS, SETTINGS, then the CONNECT);
 * - echo: messages per second echoed by the server on one WebSocket with a
 *   window of pre-masked frames in flight (the load generator's method,
 *   over a TLS socket or an HTTP/2 stream), at 16 B and 64 KiB.
 *
 * Transports alternate within every repetition (their order flips each
 * time); medians are printed with their spread ((max - min) / median).
 *
 * The HTTP/2 windows are netws's own (src/http2/windows.ts) on both ends:
 * the client session is made as `http2: true` makes it. `--window-size N`
 * sets both ends' stream and connection windows to N instead, as an owner
 * of both would (`--window-size 65535` is node's default).
 *
 *   node --import tsx bench/http2.ts [--reps 5] [--opens 200] [--ms 1000] [--window-size bytes] [--smoke]
 */

import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { maskedFrames } from './load-generator.ts';
import { summarize, type Summary } from './stats.ts';
import { WEBSOCKET_SESSION_WINDOW, WEBSOCKET_STREAM_WINDOW, websocketSessionSettings, widenSessionWindow } from '../src/http2/windows.ts';
import { headerSize } from '../src/protocol/frame.ts';

/** Bytes as MiB, for the table's title. */
const mib = (bytes: number): string => `${bytes / (1024 * 1024)} MiB`;

const fixtures = new URL('../spec/fixtures/', import.meta.url);
const cert = readFileSync(new URL('cert.pem', fixtures));

async function startServer(windowSize: number | undefined): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL(import.meta.url).pathname, ['server', String(windowSize ?? '')], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => child.once('message', (message) => resolve((message as { port: number }).port)));
  return { child, port };
}

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

/** Median milliseconds to open one WebSocket, `count` opened one after another (each closed before the next). */
async function openTimes(count: number, open: () => import('../src/index.ts').WebSocket): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    const ws = open();
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    times.push(ms(start));
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.close();
    await closed;
  }
  return summarize(times).median;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** A TLS connection (ALPN http/1.1) with the opening handshake done by hand: the raw transport of an HTTP/1.1 WebSocket. */
function openHttp1(port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    socket.setNoDelay(true);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end === -1) return;
      socket.removeListener('data', onData);
      if (!head.subarray(0, 12).equals(Buffer.from('HTTP/1.1 101'))) reject(new Error(head.toString('latin1')));
      else if (end + 4 < head.length) reject(new Error('frames before the first send'));
      else resolve(socket);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(
      'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
  });
}

/** An extended CONNECT stream on `session`: the raw transport of an HTTP/2 WebSocket. */
function openHttp2(session: http2.ClientHttp2Session): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const stream = session.request(
      {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':path': '/',
        ':scheme': 'https',
        ':authority': 'localhost',
        'sec-websocket-version': '13',
      },
      { endStream: false },
    );
    stream.once('error', reject);
    stream.once('response', (headers) => (headers[':status'] === 200 ? resolve(stream) : reject(new Error(String(headers[':status'])))));
  });
}

/** Messages per second the server echoes on `transport` with `window` frames of `size` bytes in flight. */
async function echoRate(transport: Duplex, size: number, window: number, warmupMs: number, measureMs: number): Promise<number> {
  const sentFrame = headerSize(size, true) + size;
  const echoedFrame = headerSize(size, false) + size;
  const frames = maskedFrames(size, window);
  let running = true;
  let received = 0;
  let counted = 0;
  transport.on('data', (chunk: Buffer) => {
    received += chunk.length;
    const done = Math.floor(received / echoedFrame);
    const fresh = done - counted;
    if (fresh === 0) return;
    counted = done;
    if (running) transport.write(frames.subarray(0, fresh * sentFrame));
  });
  transport.write(frames);
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  const startCount = counted;
  const start = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, measureMs));
  const rate = (counted - startCount) / (ms(start) / 1000);
  running = false;
  transport.destroy();
  return rate;
}

function format(summary: Summary, digits: number): string {
  return `${summary.median.toFixed(digits)} (±${Math.round((summary.spread * 100) / 2)}%)`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '5' },
      opens: { type: 'string', default: '200' },
      ms: { type: 'string', default: '1000' },
      smoke: { type: 'boolean', default: false },
      'window-size': { type: 'string' },
    },
  });
  // HTTP/2 flow control windows of both ends, stream and connection; default: node's (64 KiB).
  const windowSize = values['window-size'] === undefined ? undefined : Number(values['window-size']);
  const smoke = values.smoke!;
  const reps = smoke ? 1 : Number(values.reps);
  const opens = smoke ? 5 : Number(values.opens);
  const measureMs = smoke ? 50 : Number(values.ms);
  const warmupMs = smoke ? 20 : 300;
  const { WebSocket } = await import('../src/index.ts');
  const { child, port } = await startServer(windowSize);
  const url = `wss://localhost:${port}/`;
  const session = http2.connect(`https://localhost:${port}`, {
    ca: cert,
    settings: windowSize === undefined ? websocketSessionSettings : { initialWindowSize: windowSize },
  });
  await new Promise((resolve) => session.once('remoteSettings', resolve));
  if (windowSize !== undefined) session.setLocalWindowSize(windowSize);
  else widenSessionWindow(session);

  const openCases: Array<[string, () => InstanceType<typeof WebSocket>]> = [
    ['HTTP/2 stream on an open session', () => new WebSocket(url, { http2: session, perMessageDeflate: false })],
    ['new TLS connection, HTTP/1.1 upgrade', () => new WebSocket(url, { ca: cert, perMessageDeflate: false })],
    ['new TLS connection, HTTP/2 (http2: true)', () => new WebSocket(url, { ca: cert, http2: true, perMessageDeflate: false })],
  ];
  const echoCases: Array<[number, number]> = [
    [16, 64],
    [64 * 1024, 16],
    [1024 * 1024, 4],
  ];
  const transports: Array<[string, () => Promise<Duplex>]> = [
    ['HTTP/2', () => openHttp2(session)],
    ['HTTP/1.1', () => openHttp1(port)],
  ];
  const openSamples = new Map<string, number[]>(openCases.map(([name]) => [name, []]));
  const echoSamples = new Map<string, number[]>();
  for (let rep = 0; rep < reps; rep++) {
    const flip = <T>(list: T[]): T[] => (rep % 2 === 0 ? list : [...list].reverse());
    for (const [name, open] of flip(openCases)) openSamples.get(name)!.push(await openTimes(opens, open));
    for (const [size, window] of echoCases) {
      for (const [name, open] of flip(transports)) {
        const key = `${name} ${size}`;
        if (!echoSamples.has(key)) echoSamples.set(key, []);
        echoSamples.get(key)!.push(await echoRate(await open(), size, window, warmupMs, measureMs));
      }
    }
    if (!smoke) console.error(`  repetition ${rep + 1}/${reps} done`);
  }
  session.close();
  child.disconnect();

  console.log(`\nOpening a WebSocket (ms, median of ${reps} runs of the median of ${opens} opens; ± half the spread):\n`);
  console.log('| how | ms to open |');
  console.log('| --- | ---: |');
  for (const [name] of openCases) console.log(`| ${name} | ${format(summarize(openSamples.get(name)!), 3)} |`);
  const windows =
    windowSize === undefined
      ? `netws's HTTP/2 windows (${mib(WEBSOCKET_STREAM_WINDOW)} per stream, ${mib(WEBSOCKET_SESSION_WINDOW)} per session)`
      : `HTTP/2 windows of ${windowSize} bytes`;
  console.log(`\nEcho on one WebSocket (messages/s, window of frames in flight; median of ${reps} runs of ${measureMs} ms; ${windows}):\n`);
  console.log('| size | window | HTTP/2 stream | HTTP/1.1 (TLS) | HTTP/2 / HTTP/1.1 |');
  console.log('| ---: | ---: | ---: | ---: | ---: |');
  for (const [size, window] of echoCases) {
    const h2 = summarize(echoSamples.get(`HTTP/2 ${size}`)!);
    const h1 = summarize(echoSamples.get(`HTTP/1.1 ${size}`)!);
    const label = size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    console.log(`| ${label} | ${window} | ${format(h2, 0)} | ${format(h1, 0)} | ${(h2.median / h1.median).toFixed(2)} |`);
  }
}

if (process.argv[2] === 'server') {
  const { WebSocketServer } = await import('../src/index.ts');
  const windowSize = Number(process.argv[3]) || undefined;
  const server = http2.createSecureServer({
    cert,
    key: readFileSync(new URL('key.pem', fixtures)),
    allowHTTP1: true,
    settings: windowSize === undefined ? {} : { initialWindowSize: windowSize },
  });
  // The connection's receive window too (a SETTINGS value covers streams only).
  if (windowSize !== undefined) server.on('session', (session) => session.setLocalWindowSize(windowSize));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}
