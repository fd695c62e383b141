/**
 * `npm run test:browser`, RFC 8441: headless Chromium loads a page over
 * HTTP/2 from a netws server and opens its WebSockets as extended CONNECT
 * streams on that connection. The server asserts how each arrived
 * (req.httpVersion '2.0', one HTTP/2 connection), not the browser's word.
 * Chromium runs with --ignore-certificate-errors: the certificate is the
 * test suite's self-signed one.
 */

import { mkdirSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startExample } from '../examples/h2-process.ts';
import { waitFor } from '../helpers.ts';
import { Chromium, withTimeout } from './chromium.ts';
import { startHttp2EchoServer } from './echo-server.ts';
import { expectedReport } from './expected-report.ts';

const RESULTS = new URL('../../test-results/', import.meta.url);
const TEST_TIMEOUT = 60_000;

const chromium = suite('chromium over HTTP/2');

let launched: Promise<Chromium> | null = null;

// Launched by the first test (a hook that throws does not fail a uvu run).
function browser(): Promise<Chromium> {
  launched ??= (async () => {
    mkdirSync(RESULTS, { recursive: true });
    const instance = await Chromium.launch(['--ignore-certificate-errors']);
    console.log(`\n  ${await instance.version} (HTTP/2 case)`);
    return instance;
  })();
  return launched;
}

chromium.after(async () => {
  if (launched !== null) await (await launched.catch(() => null))?.close();
});

function test(name: string, body: () => Promise<void>): void {
  chromium(name, async () => {
    const started = Date.now();
    await withTimeout(body(), TEST_TIMEOUT, name);
    console.log(`\n  ${name}: ${Date.now() - started} ms`);
  });
}

test('roundtrip.js over HTTP/2: text, binary, 1 MiB both ways, close codes both ways, each WebSocket a stream of the page connection', async () => {
  const chrome = await browser();
  const server = await startHttp2EchoServer();
  try {
    const tab = await chrome.open(`${server.httpUrl}/`);
    assert.is(
      await tab.evaluate<string>(`performance.getEntriesByType('navigation')[0].nextHopProtocol`),
      'h2',
      'the page came over HTTP/2',
    );
    const report = await tab.evaluate(`import('/roundtrip.js').then((m) => m.roundTrip(WebSocket, ${JSON.stringify(server.url)}))`);
    assert.equal(report, expectedReport());
    // The server's view: every WebSocket an extended CONNECT stream, all on the page's one connection.
    assert.ok(server.transports.length >= 3, `${server.transports.length} WebSockets`);
    assert.equal(new Set(server.transports), new Set(['2.0']), `transports seen: ${server.transports.join(', ')}`);
    assert.is(server.connectionsUsed(), 1, 'one HTTP/2 connection for the page and its WebSockets');
    const negotiated = await tab.evaluate<string>(`new Promise((resolve, reject) => {
      const ws = new WebSocket(${JSON.stringify(server.url + '/echo')});
      ws.onopen = () => { resolve(ws.extensions); ws.close(); };
      ws.onerror = () => reject(new Error('no connection'));
    })`);
    assert.match(server.extensionOffers.at(-1)!, /permessage-deflate/);
    assert.is(negotiated, server.extensionsAccepted.at(-1), 'the browser and the server agree on the extensions');
    assert.match(negotiated, /^permessage-deflate/);
    console.log(
      `\n  ${server.transports.length} WebSockets, all HTTP/2 streams on ${server.connectionsUsed()} connection; negotiated: ${negotiated}`,
    );
    await chrome.send('Target.closeTarget', { targetId: tab.targetId });
  } finally {
    await server.close();
  }
});

test('examples/h2: the page loads over HTTP/2, its WebSocket opens over HTTP/2 and echoes; /stats says h2', async () => {
  const chrome = await browser();
  const { port, child } = await startExample();
  try {
    const tab = await chrome.open(`https://127.0.0.1:${port}/`);
    await tab.waitUntil(`document.body.dataset.state === 'open'`, 'the WebSocket opened');
    assert.is(await tab.evaluate<string>(`document.getElementById('page').textContent`), 'h2');
    assert.match(await tab.evaluate<string>(`document.getElementById('extensions').textContent`), /permessage-deflate/);
    await tab.evaluate(`(() => {
      document.getElementById('text').value = 'hello over one connection';
      document.getElementById('form').requestSubmit();
    })()`);
    await tab.waitUntil(`document.getElementById('log').textContent.includes('echo: hello over one connection')`, 'the echo');
    const stats = await tab.evaluate<{ websockets: { h2: number; http1: number } }>(`fetch('/stats').then((r) => r.json())`);
    assert.equal(stats, { websockets: { h2: 1, http1: 0 } });
    await tab.waitUntil(`document.getElementById('stats').textContent.includes('1 over HTTP/2')`, 'the page shows the stats');
    await tab.screenshot(new URL('h2.png', RESULTS).pathname);
    await chrome.send('Target.closeTarget', { targetId: tab.targetId });
  } finally {
    child.kill('SIGTERM');
    await waitFor(child, 'exit');
  }
});

chromium.run();
