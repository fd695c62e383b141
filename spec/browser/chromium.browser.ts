/**
 * `npm run test:browser`: netws against a real browser. Headless Chromium
 * (Debian's /usr/bin/chromium, or $CHROMIUM) runs the same browser scripts
 * as the Node specs (the WebSocket one and the WebSocketStream one), and two
 * tabs use the chat demo. Not part of `npm test`.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startChatServer } from '../../examples/chat/server.ts';
import { Chromium, withTimeout, type Tab } from './chromium.ts';
import { startEchoServer } from './echo-server.ts';
import { expectedReport } from './expected-report.ts';
import { RedisServer, freePort } from '../redis-server.ts';
import { expectedStreamReport } from './expected-stream-report.ts';

/** Screenshots land here (git-ignored); docs/chat.png is a committed copy. */
const RESULTS = new URL('../../test-results/', import.meta.url);
const TEST_TIMEOUT = 60_000;

const chromium = suite('chromium');

// Launched by the first test rather than in a before() hook: uvu does not
// fail the run when a hook throws, and a missing browser must fail CI.
let launched: Promise<Chromium> | null = null;

function browser(): Promise<Chromium> {
  launched ??= (async () => {
    mkdirSync(RESULTS, { recursive: true });
    const started = Date.now();
    const instance = await Chromium.launch();
    console.log(`\n  ${await instance.version}, up in ${Date.now() - started} ms`);
    return instance;
  })();
  return launched;
}

chromium.after(async () => {
  if (launched !== null) await (await launched.catch(() => null))?.close();
});

/** Runs one test body with a deadline, so a stuck browser fails the test instead of hanging CI. */
function test(name: string, body: () => Promise<void>): void {
  chromium(name, async () => {
    const started = Date.now();
    await withTimeout(body(), TEST_TIMEOUT, name);
    console.log(`\n  ${name}: ${Date.now() - started} ms`);
  });
}

test('roundtrip.js runs unchanged in Chromium against a netws server and reports what Node reports', async () => {
  const chrome = await browser();
  const server = await startEchoServer();
  try {
    const tab = await chrome.open(`${server.httpUrl}/`);
    const report = await tab.evaluate(`import('/roundtrip.js').then((m) => m.roundTrip(WebSocket, ${JSON.stringify(server.url)}))`);
    assert.equal(report, expectedReport());

    // What Chromium offers in the handshake, and that both ends agree on permessage-deflate.
    const offer = server.extensionOffers.at(-1) ?? '';
    assert.match(offer, /permessage-deflate/);
    const negotiated = await tab.evaluate<string>(`new Promise((resolve, reject) => {
      const ws = new WebSocket(${JSON.stringify(server.url + '/echo')});
      ws.onopen = () => { resolve(ws.extensions); ws.close(); };
      ws.onerror = () => reject(new Error('no connection'));
    })`);
    assert.is(negotiated, server.extensionsAccepted.at(-1), 'the browser and the server agree on the extensions');
    assert.match(negotiated, /^permessage-deflate/);
    console.log(`\n  Chromium offers Sec-WebSocket-Extensions: ${offer}\n  negotiated: ${negotiated === '' ? '(none)' : negotiated}`);
    await chrome.send('Target.closeTarget', { targetId: tab.targetId });
  } finally {
    await server.close();
  }
});

test("websocketstream.js runs unchanged against Chromium's native WebSocketStream and reports what netws's reports in Node", async () => {
  const chrome = await browser();
  const server = await startEchoServer();
  try {
    const tab = await chrome.open(`${server.httpUrl}/`);
    const report = await tab.evaluate(
      `import('/websocketstream.js').then((m) => m.streamRoundTrip(WebSocketStream, WebSocketError, ${JSON.stringify(server.url)}))`,
    );
    assert.equal(report, expectedStreamReport());
    await chrome.send('Target.closeTarget', { targetId: tab.targetId });
  } finally {
    await server.close();
  }
});

/** Types a message into a chat tab and sends it with the page's own form. */
async function say(tab: Tab, text: string): Promise<void> {
  await tab.evaluate(`(() => {
    document.getElementById('text').value = ${JSON.stringify(text)};
    document.getElementById('send').requestSubmit();
  })()`);
}

const logHas = (text: string): string => `document.getElementById('log').textContent.includes(${JSON.stringify(text)})`;

test('two tabs in one chat room see each other, a third gets the history; the pages reconnect after the server restarts', async () => {
  const chrome = await browser();
  let chat = await startChatServer(0, '127.0.0.1');
  const port = chat.port;
  try {
    const base = `http://127.0.0.1:${port}/?room=netws`;
    const alice = await chrome.open(`${base}&nick=alice`);
    await alice.emulatePhone();
    await alice.waitUntil(`document.body.dataset.state === 'open'`, 'alice connected');
    const bob = await chrome.open(`${base}&nick=bob`);
    await bob.waitUntil(`document.body.dataset.state === 'open'`, 'bob connected');
    await alice.waitUntil(logHas('bob joined'), 'alice sees bob join');

    await say(alice, 'Hi Bob! This page uses the browser WebSocket; the server is netws.');
    await bob.waitUntil(logHas('Hi Bob!'), "bob sees alice's message");
    await say(bob, 'Hello Alice! The server relays each message to the whole room.');
    await alice.waitUntil(logHas('Hello Alice'), "alice sees bob's message");
    await say(alice, 'Try it: npm install && npm start');
    await bob.waitUntil(logHas('Try it'), "bob sees alice's second message");
    assert.match(await alice.evaluate<string>(`document.getElementById('members').textContent`), /2 here: alice, bob/);
    await alice.screenshot(new URL('chat.png', RESULTS).pathname);

    // A latecomer gets the room's history, and the others hear of it coming and going.
    const carol = await chrome.open(`${base}&nick=carol`);
    await carol.waitUntil(logHas('Hi Bob!') + ' && ' + logHas('Try it'), 'carol sees the history');
    await alice.waitUntil(logHas('carol joined'), 'alice sees carol join');
    await chrome.send('Target.closeTarget', { targetId: carol.targetId });
    await alice.waitUntil(logHas('carol left'), 'alice sees carol leave');

    // The server goes away: both pages say so, and come back when it does.
    await chat.close();
    await alice.waitUntil(`document.body.dataset.state === 'closed'`, 'alice sees the disconnect');
    assert.match(await alice.evaluate<string>(`document.getElementById('state').textContent`), /disconnected \(1006\), retrying/);
    const restarted = Date.now();
    chat = await startChatServer(port, '127.0.0.1');
    await alice.waitUntil(`document.body.dataset.state === 'open'`, 'alice reconnected', 20_000);
    await bob.waitUntil(`document.body.dataset.state === 'open'`, 'bob reconnected', 20_000);
    console.log(`\n  both tabs reconnected ${Date.now() - restarted} ms after the restart`);
    await say(bob, 'back after the restart');
    await alice.waitUntil(logHas('back after the restart'), 'alice hears bob after the restart');
  } finally {
    await chat.close();
  }
});

/** `REDIS_URL=… PORT=… npm start` as its own process; resolves once it serves. */
async function chatProcess(redisUrl: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const main = fileURLToPath(new URL('../../examples/chat/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('netws chat demo')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the chat process exited (${code}): ${output}`)));
    }),
    20_000,
    'the chat process starts',
  );
  return { port, child };
}

test('two pages on two chat processes sharing one Redis: one room, each sees the other and the shared history', async () => {
  const chrome = await browser();
  const redis = await RedisServer.start();
  const processes: ChildProcess[] = [];
  try {
    const [first, second] = [await chatProcess(redis.url), await chatProcess(redis.url)];
    processes.push(first.child, second.child);
    const alice = await chrome.open(`http://127.0.0.1:${first.port}/?room=scaled&nick=alice`);
    await alice.waitUntil(`document.body.dataset.state === 'open'`, 'alice connected to the first process');
    await say(alice, 'Said on the first process before bob came.');
    const bob = await chrome.open(`http://127.0.0.1:${second.port}/?room=scaled&nick=bob`);
    await bob.waitUntil(`document.body.dataset.state === 'open'`, 'bob connected to the second process');
    await bob.waitUntil(logHas('Said on the first process'), 'bob gets the history from Redis');
    await alice.waitUntil(logHas('bob joined'), 'alice hears bob join on the other process');
    await say(bob, 'Hello from the second process!');
    await alice.waitUntil(logHas('Hello from the second process!'), "alice sees bob's message");
    await say(alice, 'And back to the second.');
    await bob.waitUntil(logHas('And back to the second.'), "bob sees alice's message");
    assert.match(await bob.evaluate<string>(`document.getElementById('members').textContent`), /2 here: (alice, bob|bob, alice)/);
    await bob.screenshot(new URL('chat-scaled.png', RESULTS).pathname);
    for (const tab of [alice, bob]) await chrome.send('Target.closeTarget', { targetId: tab.targetId });
  } finally {
    for (const child of processes) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await withTimeout(exited, 5000, 'the chat process exits').catch(() => child.kill('SIGKILL'));
    }
    await redis.stop();
  }
});

chromium.run();
