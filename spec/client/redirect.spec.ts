/** followRedirects, maxRedirects and the 'redirect' event; what a redirect may carry. */

import http from 'node:http';
import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from '../../src/index.ts';
import { toTarget, type Target } from '../../src/client/address.ts';
import { originOf, redirectDrops } from '../../src/client/redirect.ts';
import { sleep, waitFor } from '../helpers.ts';
import { httpPeer, rawPeer } from './peer.ts';

const rule = suite('redirect: what a redirect to another place keeps (ws rule)');

const target = (url: string): Target => toTarget(new URL(url)) as Target;

rule('same host and port: everything is kept; scheme upgrades keep it too', () => {
  const origin = originOf(target('ws://a.example:8080/x'));
  assert.equal(redirectDrops(origin, target('ws://a.example:8080/y?z')), { credentials: false, host: false });
  assert.equal(redirectDrops(origin, target('http://a.example:8080/')), { credentials: false, host: false });
  // URL.host leaves a scheme's default port out: ws://a.example (80) and wss://a.example (443) are one host to this rule.
  assert.equal(redirectDrops(originOf(target('ws://a.example/')), target('wss://a.example/')), { credentials: false, host: false });
});

rule('another host, another port, or a subdomain: credentials and Host dropped', () => {
  const origin = originOf(target('ws://a.example:8080/'));
  for (const url of ['ws://b.example:8080/', 'ws://a.example:8081/', 'ws://sub.a.example:8080/', 'ws://a.example/']) {
    assert.equal(redirectDrops(origin, target(url)), { credentials: true, host: true }, url);
  }
});

rule('wss: down to ws: on the same host: credentials dropped, Host kept', () => {
  const origin = originOf(target('wss://a.example:8443/'));
  assert.equal(redirectDrops(origin, target('ws://a.example:8443/')), { credentials: true, host: false });
});

rule('UNIX sockets: the same path keeps, another path or TCP drops', () => {
  const origin = originOf(target('ws+unix:/run/a.sock:/x'));
  assert.equal(redirectDrops(origin, target('ws+unix:/run/a.sock:/y')), { credentials: false, host: false });
  assert.equal(redirectDrops(origin, target('ws+unix:/run/b.sock:/x')), { credentials: true, host: true });
  assert.equal(redirectDrops(origin, target('ws://localhost/')), { credentials: true, host: true });
  assert.equal(redirectDrops(originOf(target('ws://localhost/')), target('ws+unix:/run/a.sock')), { credentials: true, host: true });
});

const follow = suite('redirect: following');

const secret = { Authorization: 'Bearer secret', Cookie: 'session=1', 'X-Custom': 'kept' };

async function opened(ws: WebSocket): Promise<string> {
  const [data] = await waitFor<[Buffer]>(ws, 'message');
  ws.terminate();
  await waitFor(ws, 'close');
  return String(data);
}

follow('without followRedirects a 302 is an unexpected response', async () => {
  const peer = await httpPeer(() => '/elsewhere');
  const ws = new WebSocket(`ws://127.0.0.1:${peer.port}/`);
  const closed = waitFor(ws, 'close');
  const [error] = await waitFor<[Error & { statusCode?: number }]>(ws, 'error');
  assert.is(error.message, 'Unexpected server response: 302');
  assert.is(error.statusCode, 302);
  await closed;
  assert.is(peer.requests.length, 1);
  await peer.close();
});

follow('a redirect to the same origin: url follows, headers and URL credentials kept, redirect(url, request) emitted', async () => {
  const peer = await httpPeer((url) => (url === '/first' ? '/second?q=1' : null));
  for (const status of [301, 302, 303, 307, 308]) {
    const other = await httpPeer((url) => (url === '/first' ? '/second' : null), status);
    const ws = new WebSocket(`ws://127.0.0.1:${other.port}/first`, { followRedirects: true });
    assert.is(await opened(ws), 'hello', String(status));
    await other.close();
  }
  const ws = new WebSocket(`ws://user:pass@127.0.0.1:${peer.port}/first`, { followRedirects: true, headers: secret });
  const redirects: unknown[][] = [];
  ws.on('redirect', (url, request) => redirects.push([url, request instanceof http.ClientRequest]));
  assert.is(await opened(ws), 'hello');
  assert.is(ws.url, `ws://user:pass@127.0.0.1:${peer.port}/second?q=1`);
  assert.equal(redirects, [[`ws://user:pass@127.0.0.1:${peer.port}/second?q=1`, true]]);
  assert.equal(
    peer.requests.map((r) => r.url),
    ['/first', '/second?q=1'],
  );
  for (const { headers } of peer.requests) {
    assert.is(headers.authorization, 'Bearer secret');
    assert.is(headers.cookie, 'session=1');
    assert.is(headers['x-custom'], 'kept');
  }
  await peer.close();
});

follow('a redirect to another origin (no redirect listener): Authorization, Cookie and Host dropped, the rest kept', async () => {
  const target = await httpPeer();
  const origin = await httpPeer(() => `ws://localhost:${target.port}/landed`);
  const ws = new WebSocket(`ws://127.0.0.1:${origin.port}/start`, {
    followRedirects: true,
    headers: { ...secret, Host: 'custom.example' },
  });
  assert.is(await opened(ws), 'hello');
  assert.is(ws.url, `ws://localhost:${target.port}/landed`);
  assert.equal(origin.requests[0].headers.host, 'custom.example');
  assert.is(origin.requests[0].headers.authorization, 'Bearer secret');
  const landed = target.requests[0].headers;
  assert.is(landed.authorization, undefined);
  assert.is(landed.cookie, undefined);
  assert.is(landed.host, `localhost:${target.port}`);
  assert.is(landed['x-custom'], 'kept');
  await origin.close();
  await target.close();
});

follow('credentials from the URL or auth go to the first origin only; back at the first origin they return', async () => {
  const origin = await httpPeer((url) => (url === '/' ? `ws://localhost:${away.port}/` : null));
  const away = await httpPeer(() => `ws://127.0.0.1:${origin.port}/home`);
  const basic = `Basic ${Buffer.from('user:pass').toString('base64')}`;
  const ws = new WebSocket(`ws://user:pass@127.0.0.1:${origin.port}/`, { followRedirects: true });
  assert.is(await opened(ws), 'hello');
  assert.equal(
    origin.requests.map((r) => [r.url, r.headers.authorization]),
    [
      ['/', basic],
      ['/home', basic],
    ],
  );
  assert.is(away.requests[0].headers.authorization, undefined);
  const viaAuth = new WebSocket(`ws://127.0.0.1:${origin.port}/`, { followRedirects: true, auth: 'user:pass' });
  assert.is(await opened(viaAuth), 'hello');
  assert.is(away.requests[1].headers.authorization, undefined);
  assert.is(origin.requests[3].headers.authorization, basic);
  await origin.close();
  await away.close();
});

follow("with a 'redirect' listener nothing is dropped; the listener may change the request", async () => {
  const target = await httpPeer();
  const origin = await httpPeer(() => `ws://localhost:${target.port}/x`);
  const ws = new WebSocket(`ws://127.0.0.1:${origin.port}/`, { followRedirects: true, headers: secret });
  ws.on('redirect', (_url, req) => {
    const request = req as http.ClientRequest;
    assert.is(request.getHeader('authorization'), 'Bearer secret');
    request.removeHeader('cookie');
  });
  assert.is(await opened(ws), 'hello');
  assert.is(target.requests[0].headers.authorization, 'Bearer secret');
  assert.is(target.requests[0].headers.cookie, undefined);
  await origin.close();
  await target.close();
});

follow('maxRedirects: a loop fails with "Maximum redirects exceeded" after maxRedirects redirects; 0 allows none', async () => {
  const loop = await httpPeer((url) => `/${Number(url.slice(1)) + 1}`);
  for (const [maxRedirects, requests] of [
    [3, 4],
    [0, 1],
    [undefined, 11],
  ] as const) {
    loop.requests.length = 0;
    const ws = new WebSocket(`ws://127.0.0.1:${loop.port}/0`, { followRedirects: true, maxRedirects });
    const closed = waitFor<[number]>(ws, 'close');
    const [error] = await waitFor<[Error]>(ws, 'error');
    assert.is(error.message, 'Maximum redirects exceeded');
    const [code] = await closed;
    assert.is(code, 1006);
    assert.is(loop.requests.length, requests, `maxRedirects ${maxRedirects}`);
  }
  await loop.close();
});

follow('a redirect to a server that is down: ECONNREFUSED, close 1006', async () => {
  const down = await rawPeer();
  const port = down.port;
  await down.close();
  const origin = await httpPeer(() => `ws://127.0.0.1:${port}/`);
  const ws = new WebSocket(`ws://127.0.0.1:${origin.port}/`, { followRedirects: true });
  const closed = waitFor<[number]>(ws, 'close');
  const [error] = await waitFor<[NodeJS.ErrnoException]>(ws, 'error');
  assert.is(error.code, 'ECONNREFUSED');
  assert.is((await closed)[0], 1006);
  await origin.close();
});

follow('a redirect to an invalid URL or scheme fails with a SyntaxError event (not a throw)', async () => {
  for (const [location, message] of [
    ['ftp://127.0.0.1/', 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"'],
    ['http://[', 'Invalid URL: http://['],
    ['/#fragment', 'The URL contains a fragment identifier'],
  ]) {
    const origin = await httpPeer(() => location);
    const ws = new WebSocket(`ws://127.0.0.1:${origin.port}/`, { followRedirects: true });
    const closed = waitFor(ws, 'close');
    const [error] = await waitFor<[Error]>(ws, 'error');
    assert.ok(error instanceof SyntaxError, location);
    assert.is(error.message, message);
    await closed;
    await origin.close();
  }
});

follow('a 3xx without Location is an unexpected response even with followRedirects', async () => {
  const peer = await rawPeer((_head, socket) => socket.end('HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n'));
  const ws = new WebSocket(`ws://127.0.0.1:${peer.port}/`, { followRedirects: true });
  const closed = waitFor(ws, 'close');
  const [error] = await waitFor<[Error]>(ws, 'error');
  assert.is(error.message, 'Unexpected server response: 302');
  await closed;
  await peer.close();
});

follow('the handshake timeout starts again with each request (as in ws)', async () => {
  const target = await httpPeer();
  // Each hop answers after 200 ms: 400 ms in all, against a 300 ms timeout per request.
  const slow = await rawPeer((_head, socket) => {
    setTimeout(() => socket.end(`HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:${target.port}/\r\nContent-Length: 0\r\n\r\n`), 200);
  });
  const delayed = target.http.listeners('upgrade')[0] as (...args: unknown[]) => void;
  target.http.removeAllListeners('upgrade');
  target.http.on('upgrade', (...args) => setTimeout(() => delayed(...args), 200));
  const ws = new WebSocket(`ws://127.0.0.1:${slow.port}/`, { followRedirects: true, handshakeTimeout: 300 });
  assert.is(await opened(ws), 'hello');
  await slow.close();
  await target.close();
});

follow("close() from a 'redirect' listener: no further request is sent", async () => {
  const target = await httpPeer();
  const origin = await httpPeer(() => `ws://127.0.0.1:${target.port}/`);
  const ws = new WebSocket(`ws://127.0.0.1:${origin.port}/`, { followRedirects: true });
  ws.on('redirect', () => ws.close());
  const closed = waitFor(ws, 'close');
  const [error] = await waitFor<[{ code?: string }]>(ws, 'error');
  assert.is(error.code, 'WS_ERR_CLOSED_BEFORE_CONNECT');
  await closed;
  await sleep(30);
  assert.is(target.requests.length, 0);
  await origin.close();
  await target.close();
});

follow('finishRequest runs for every request of the handshake', async () => {
  const peer = await httpPeer((url) => (url === '/a' ? '/b' : null));
  const paths: string[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${peer.port}/a`, {
    followRedirects: true,
    finishRequest: (request) => {
      paths.push(request.path);
      request.end();
    },
  });
  assert.is(await opened(ws), 'hello');
  assert.equal(paths, ['/a', '/b']);
  await peer.close();
});

follow(
  'createConnection throwing, for the first request or a later one: the handshake fails with its error (node:http reports it)',
  async () => {
    const peer = await httpPeer((url) => (url === '/a' ? '/b' : null));
    let calls = 0;
    const broken = new Error('no more connections');
    const createConnection = (options: http.ClientRequestArgs) => {
      if (++calls > 1) throw broken;
      return net.connect(Number(options.port), options.host!);
    };
    const ws = new WebSocket(`ws://127.0.0.1:${peer.port}/a`, { followRedirects: true, createConnection });
    const closed = waitFor(ws, 'close');
    const [error] = await waitFor<[Error]>(ws, 'error');
    assert.is(error, broken);
    await closed;
    const first = new WebSocket(`ws://127.0.0.1:${peer.port}/a`, { createConnection });
    const firstClosed = waitFor(first, 'close');
    assert.is((await waitFor<[Error]>(first, 'error'))[0], broken);
    await firstClosed;
    await peer.close();
  },
);

rule.run();
follow(
  "a redirect node:http refuses (an http: agent given a wss: URL) fails the WebSocket; nothing is thrown from node's 'response' event",
  async () => {
    const server = http.createServer();
    server.on('upgrade', (_request, socket) =>
      socket.end('HTTP/1.1 302 Found\r\nLocation: wss://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const uncaught: Error[] = [];
    const onUncaught = (error: Error): number => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`, {
        followRedirects: true,
        agent: new http.Agent(),
      });
      const closed = waitFor<[number]>(ws, 'close');
      const [error] = await waitFor<[Error & { code?: string }]>(ws, 'error');
      assert.is(error.code, 'ERR_INVALID_PROTOCOL');
      assert.equal(await closed, [1006, Buffer.alloc(0), false]);
      assert.equal(uncaught, []);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      server.close();
    }
  },
);

follow.run();
