/**
 * The RFC 8441 server: WebSocketServer taking extended CONNECTs from a
 * node:http2 server, against node:http2's client (and a hand-made one)
 * writing WebSocket frames on the stream.
 */

import http2 from 'node:http2';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer } from '../../src/index.ts';
import { closePayload, decodeFrames, sleep, text, waitFor } from '../helpers.ts';
import { cert, collect, connectStream, FRAME, h2Server, h2Session, key, listen, rawRequest } from './peer.ts';

const server = suite('http2 server');

server(
  '{ server }: the sessions advertise extended CONNECT; a WebSocket is a stream: echo, then a close handshake ending in END_STREAM',
  async () => {
    const fixture = await h2Server();
    const session = await h2Session(fixture.port);
    assert.is(session.remoteSettings.enableConnectProtocol, true);
    const connected = waitFor<[WebSocket]>(fixture.wss, 'connection');
    const answer = await connectStream(session, '/chat');
    assert.is(answer.status, 200);
    assert.is(answer.headers['sec-websocket-accept'], undefined, 'no accept without a key (RFC 8441)');
    const [ws] = await connected;
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    const received = collect(answer.stream);
    answer.stream.write(text('over a stream'));
    while (decodeFrames(received()).length < 1) await sleep(5);
    assert.equal(decodeFrames(received())[0].payload.toString(), 'over a stream');
    assert.is(decodeFrames(received())[0].masked, false);

    const serverClosed = waitFor<[number, Buffer, boolean]>(ws, 'close');
    const ended = waitFor(answer.stream, 'end');
    const streamClosed = waitFor(answer.stream, 'close');
    answer.stream.write(Buffer.from(text(closePayload(4000, 'done'), { opcode: 8 })));
    await ended; // the server's END_STREAM after its close frame (RFC 8441 section 5: TCP's FIN)
    const frames = decodeFrames(received());
    assert.is(frames.at(-1)!.opcode, 8);
    assert.is(frames.at(-1)!.payload.readUInt16BE(0), 4000);
    answer.stream.end();
    const [code, reason, wasClean] = await serverClosed;
    assert.equal([code, reason.toString(), wasClean], [4000, 'done', true]);
    await streamClosed;
    assert.is(answer.stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    session.close();
    await fixture.close();
  },
);

server("the request given to verifyClient, handleProtocols and 'connection' is node's Http2ServerRequest", async () => {
  const seen: Record<string, unknown> = {};
  const fixture = await h2Server({
    verifyClient: (info: { origin: string | undefined; secure: boolean; req: unknown }) => {
      seen.origin = info.origin;
      seen.secure = info.secure;
      seen.verifyReq = info.req;
      return true;
    },
    handleProtocols: (protocols, req) => {
      seen.protocolsReq = req;
      return protocols.has('json') ? 'json' : false;
    },
  });
  const session = await h2Session(fixture.port);
  const connected = waitFor<[WebSocket, http2.Http2ServerRequest]>(fixture.wss, 'connection');
  const answer = await connectStream(session, '/room?id=7', {
    origin: 'https://app.example',
    'sec-websocket-protocol': 'chat, json',
    cookie: 'a=1',
  });
  assert.is(answer.headers['sec-websocket-protocol'], 'json');
  const [ws, req] = await connected;
  assert.instance(req, http2.Http2ServerRequest);
  assert.is(seen.verifyReq, req);
  assert.is(seen.protocolsReq, req);
  assert.equal([seen.origin, seen.secure], ['https://app.example', true]);
  assert.equal([req.method, req.url, req.httpVersion, req.authority], ['CONNECT', '/room?id=7', '2.0', 'localhost']);
  assert.is(req.headers[':protocol'], 'websocket');
  assert.is(req.headers.cookie, 'a=1');
  assert.ok(req.rawHeaders.includes('cookie'));
  assert.is(req.socket.remoteAddress, '127.0.0.1');
  assert.is(ws.protocol, 'json');
  assert.is(ws._socket!.constructor.name, 'ServerHttp2Stream');
  session.close();
  await fixture.close();
});

/** A server whose streams the test routes to handleStream itself. */
async function routedServer(wssOptions: Record<string, unknown> = {}) {
  const h2 = http2.createSecureServer({ cert, key, settings: { enableConnectProtocol: true } });
  const wss = new WebSocketServer({ noServer: true, ...wssOptions });
  h2.on('stream', (stream, headers) => wss.handleStream(stream, headers));
  return listen(h2, wss);
}

server('handleStream refuses with HTTP/2 responses, the statuses HTTP/1.1 gets, then resets the request with NO_ERROR', async () => {
  const fixture = await routedServer();
  const session = await h2Session(fixture.port);
  const websocket = { ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/', ':scheme': 'https', ':authority': 'localhost' };
  const cases: Array<[string, http2.OutgoingHttpHeaders, number, Record<string, string>?]> = [
    ['missing :protocol (a plain CONNECT)', { ':method': 'CONNECT', ':authority': 'localhost', 'sec-websocket-version': '13' }, 400],
    [':protocol other than websocket', { ...websocket, ':protocol': 'connect-udp', 'sec-websocket-version': '13' }, 400],
    ['no Sec-WebSocket-Version', websocket, 400],
    ['a wrong version', { ...websocket, 'sec-websocket-version': '12' }, 426, { 'sec-websocket-version': '13, 8' }],
    ['a bad subprotocol list', { ...websocket, 'sec-websocket-version': '13', 'sec-websocket-protocol': 'a b' }, 400],
    ['a GET', { ':path': '/' }, 405, { allow: 'CONNECT' }],
  ];
  for (const [name, headers, status, fields] of cases) {
    const stream = session.request(headers, { endStream: false });
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    // Listened for from the start: on Deno the stream may close before the awaited 'response' resumes this.
    const closed = waitFor(stream, 'close');
    const [response] = await waitFor<[http2.IncomingHttpHeaders]>(stream, 'response');
    assert.is(response[':status'], status, name);
    assert.is(response['content-type'], 'text/plain; charset=utf-8', name);
    for (const [field, value] of Object.entries(fields ?? {})) assert.is(response[field], value, name);
    await closed;
    assert.ok(Buffer.concat(chunks).length > 0, `${name}: a text body`);
    assert.is(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR, name);
  }
  assert.is(fixture.wss.clients.size, 0);
  session.close();
  await fixture.close();
});

server('CONNECT with :protocol where the setting is off: nghttp2 resets the stream (PROTOCOL_ERROR), nothing reaches netws', async () => {
  const h2 = http2.createSecureServer({ cert, key });
  const wss = new WebSocketServer({ noServer: true });
  let streams = 0;
  h2.on('stream', (stream, headers) => {
    streams++;
    wss.handleStream(stream, headers);
  });
  const fixture = await listen(h2, wss);
  const frames = await rawRequest(
    fixture.port,
    [
      [':method', 'CONNECT'],
      [':protocol', 'websocket'],
      [':scheme', 'https'],
      [':path', '/'],
      [':authority', 'localhost'],
      ['sec-websocket-version', '13'],
    ],
    (received) => received.some((frame) => frame.type === FRAME.RST_STREAM || frame.type === FRAME.HEADERS || frame.type === FRAME.GOAWAY),
  );
  // nghttp2 (Node, Bun) resets the stream; Deno's node:http2 ends the whole connection with GOAWAY. Either way
  // the request is refused as malformed (RFC 8441 section 4) before netws sees it.
  const reset = frames.find((frame) => frame.type === FRAME.RST_STREAM && frame.streamId === 1);
  const goaway = frames.find((frame) => frame.type === FRAME.GOAWAY);
  assert.ok(reset ?? goaway, 'RST_STREAM on the request, or GOAWAY');
  assert.is(reset ? reset.payload.readUInt32BE(0) : goaway!.payload.readUInt32BE(4), http2.constants.NGHTTP2_PROTOCOL_ERROR);
  assert.not.ok(frames.some((frame) => frame.type === FRAME.HEADERS));
  assert.is(streams, 0);
  await fixture.close();
});

server('the same request where the setting is on gets its 200 from netws (the raw client above works)', async () => {
  const fixture = await h2Server();
  const frames = await rawRequest(
    fixture.port,
    [
      [':method', 'CONNECT'],
      [':protocol', 'websocket'],
      [':scheme', 'https'],
      [':path', '/'],
      [':authority', 'localhost'],
      ['sec-websocket-version', '13'],
    ],
    (received) => received.some((frame) => frame.type === FRAME.RST_STREAM || frame.type === FRAME.HEADERS),
  );
  assert.ok(frames.some((frame) => frame.type === FRAME.HEADERS && frame.streamId === 1));
  await fixture.close();
});

server('{ server } with path: another path is 400; streams other than WebSocket CONNECTs are left to the server', async () => {
  const fixture = await h2Server({ path: '/ws' });
  fixture.server.on('stream', (stream, headers) => {
    if (headers[':method'] === 'GET') stream.respond({ ':status': 204 });
    else if (headers[':protocol'] === 'connect-udp') stream.respond({ ':status': 501 });
    if (headers[':method'] === 'GET' || headers[':protocol'] === 'connect-udp') stream.end();
  });
  const session = await h2Session(fixture.port);
  assert.is((await connectStream(session, '/elsewhere')).status, 400);
  assert.is((await connectStream(session, '/ws?x=1')).status, 200);
  assert.is((await connectStream(session, '/ws', { ':protocol': 'connect-udp' })).status, 501);
  const get = session.request({ ':path': '/' });
  const [response] = await waitFor<[http2.IncomingHttpHeaders]>(get, 'response');
  assert.is(response[':status'], 204);
  session.close();
  await fixture.close();
});

server(
  'verifyClient refusing with a status HTTP/2 cannot refuse with (4001, 101, 204, 1.5) is 500; 304 has no body; fields node:http2 refuses: 500',
  async () => {
    let refusal: [boolean, number, string?, Record<string, string>?] = [false, 401];
    let async = false;
    const thrown: unknown[] = [];
    const fixture = await h2Server({
      handshakeTimeout: 2000,
      verifyClient: (_info: unknown, callback: (...args: typeof refusal) => void) => {
        const answer = (): void => {
          try {
            callback(...refusal);
          } catch (error) {
            thrown.push(error);
          }
        };
        if (async) setTimeout(answer, 5);
        else answer();
      },
    });
    const session = await h2Session(fixture.port);
    const cases: Array<[typeof refusal, boolean, number, string]> = [
      [[false, 4001, 'Unauthorized'], false, 500, 'Unauthorized'],
      [[false, 4001, 'Unauthorized'], true, 500, 'Unauthorized'],
      [[false, 101], false, 500, 'Internal Server Error'],
      [[false, 204], false, 500, 'Internal Server Error'],
      [[false, 1.5], true, 500, 'Internal Server Error'],
      [[false, 304, 'not modified'], false, 304, ''],
      [[false, 401, 'no', { 'x y': '1' }], false, 500, 'Internal Server Error'],
      [[false, 401, 'no', { 'x y': '1' }], true, 500, 'Internal Server Error'],
    ];
    for (const [given, isAsync, status, body] of cases) {
      refusal = given;
      async = isAsync;
      const started = Date.now();
      const answer = await connectStream(session);
      assert.equal([answer.status, await answer.body()], [status, body], `${given.join(' ')}${isAsync ? ' (async)' : ''}`);
      assert.ok(Date.now() - started < 1000, 'answered at once, not at the handshake timeout');
    }
    assert.equal(thrown, []);
    session.close();
    await fixture.close();
  },
);

server('verifyClient: its refusal as given (status, message, headers); a throw is 500 and an error event; no answer is 408', async () => {
  let mode = 'refuse';
  const fixture = await h2Server({
    handshakeTimeout: 200,
    verifyClient: (_info: unknown, callback: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void) => {
      if (mode === 'refuse') setTimeout(() => callback(false, 403, 'not you', { 'X-Reason': 'test', Connection: 'close' }), 5);
      else if (mode === 'throw') throw new Error('verifyClient broke');
    },
  });
  const errors: Error[] = [];
  fixture.wss.on('error', (error) => errors.push(error));
  const session = await h2Session(fixture.port);
  const refused = await connectStream(session);
  assert.equal([refused.status, refused.headers['x-reason'], refused.headers.connection], [403, 'test', undefined]);
  assert.is(await refused.body(), 'not you');
  mode = 'throw';
  const thrown = await connectStream(session);
  assert.is(thrown.status, 500);
  assert.equal(
    errors.map((error) => error.message),
    ['verifyClient broke'],
  );
  mode = 'silent';
  const started = Date.now();
  const late = await connectStream(session);
  assert.is(late.status, 408);
  assert.ok(Date.now() - started >= 150);
  assert.is(fixture.wss.clients.size, 0);
  session.close();
  await fixture.close();
});

server('a client that resets its stream while verifyClient decides: no connection, and the server goes on', async () => {
  let decide = null as ((ok: boolean) => void) | null;
  const fixture = await h2Server({
    verifyClient: (_info: unknown, callback: (ok: boolean) => void) => {
      decide = callback;
    },
  });
  const session = await h2Session(fixture.port);
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
  stream.on('error', () => {});
  while (decide === null) await sleep(5);
  stream.close(http2.constants.NGHTTP2_CANCEL);
  await waitFor(stream, 'close');
  await sleep(20);
  decide!(true);
  await sleep(20);
  assert.is(fixture.wss.clients.size, 0);
  session.close();
  await fixture.close();
});

server("'headers' listeners: lines added reach the 200 (Set-Cookie twice); a line node:http2 refuses is a 500", async () => {
  const fixture = await h2Server();
  let bad = false;
  let badName = false;
  fixture.wss.on('headers', (lines) => {
    assert.is(lines[0], 'HTTP/2 200');
    lines.push('Set-Cookie: a=1', 'Set-Cookie: b=2');
    // Two values for a field HTTP/2 allows once: node:http2 throws ERR_HTTP2_HEADER_SINGLE_VALUE.
    if (bad) lines.push('Content-Type: a', 'Content-Type: b');
    if (badName) lines.push('X Y: 1');
  });
  const session = await h2Session(fixture.port);
  try {
    const answer = await connectStream(session);
    assert.equal(answer.headers['set-cookie'], ['a=1', 'b=2']);
    bad = true;
    assert.is((await connectStream(session)).status, 500);
    bad = false;
    badName = true;
    assert.is((await connectStream(session)).status, 500);
    badName = false;
    // The session still answers: on Bun 1.4.5 a respond() that threw on a field name broke it for every later stream.
    assert.is((await connectStream(session)).status, 200);
  } finally {
    session.close();
    await fixture.close();
  }
});

server('handleStream on a stream already answered throws, as handleUpgrade does for a socket used twice', async () => {
  const h2 = http2.createSecureServer({ cert, key, settings: { enableConnectProtocol: true } });
  const wss = new WebSocketServer({ noServer: true });
  const thrown: unknown[] = [];
  h2.on('stream', (stream, headers) => {
    wss.handleStream(stream, headers, () => {
      try {
        wss.handleStream(stream, headers);
      } catch (error) {
        thrown.push(error);
      }
    });
  });
  const fixture = await listen(h2, wss);
  const session = await h2Session(fixture.port);
  assert.is((await connectStream(session)).status, 200);
  assert.is(thrown.length, 1);
  assert.match((thrown[0] as Error).message, /already answered/);
  session.close();
  await fixture.close();
});

server('handleStream without a callback emits connection', async () => {
  const fixture = await routedServer();
  const connected = waitFor<[WebSocket, http2.Http2ServerRequest]>(fixture.wss, 'connection');
  const session = await h2Session(fixture.port);
  await connectStream(session, '/x');
  const [, req] = await connected;
  assert.is(req.url, '/x');
  assert.ok(req.rawHeaders.includes(':path'), 'rawHeaders rebuilt from the headers');
  session.close();
  await fixture.close();
});

server('a reset stream is 1006 on its WebSocket; the other WebSockets of the session go on', async () => {
  const fixture = await h2Server();
  fixture.wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
  const session = await h2Session(fixture.port);
  const [a, b] = [await connectStream(session, '/a'), await connectStream(session, '/b')];
  const [wsA, wsB] = [...fixture.wss.clients];
  const closed = waitFor<[number, Buffer, boolean]>(wsA, 'close');
  a.stream.close(http2.constants.NGHTTP2_CANCEL);
  const [code, , wasClean] = await closed;
  assert.equal([code, wasClean], [1006, false]);
  assert.is(wsB.readyState, WebSocket.OPEN);
  const received = collect(b.stream);
  b.stream.write(text('still here'));
  while (decodeFrames(received()).length < 1) await sleep(5);
  assert.is(decodeFrames(received())[0].payload.toString(), 'still here');
  session.close();
  await fixture.close();
});

server('terminate() resets the stream with CANCEL (RFC 8441 section 5: TCP RST); the session stays', async () => {
  const fixture = await h2Server();
  const session = await h2Session(fixture.port);
  const connected = waitFor<[WebSocket]>(fixture.wss, 'connection');
  const answer = await connectStream(session);
  const [ws] = await connected;
  const serverClosed = waitFor<[number]>(ws, 'close');
  ws.terminate();
  await waitFor(answer.stream, 'close');
  assert.is(answer.stream.rstCode, http2.constants.NGHTTP2_CANCEL);
  assert.equal((await serverClosed)[0], 1006);
  assert.is((await connectStream(session)).status, 200, 'the session still takes WebSockets');
  session.close();
  await fixture.close();
});

server('the closing timeout resets the stream too when the client never answers the close frame', async () => {
  const fixture = await h2Server({ closeTimeout: 50 });
  const session = await h2Session(fixture.port);
  const connected = waitFor<[WebSocket]>(fixture.wss, 'connection');
  const answer = await connectStream(session);
  const [ws] = await connected;
  const serverClosed = waitFor<[number, Buffer, boolean]>(ws, 'close');
  ws.close(1000);
  await waitFor(answer.stream, 'close');
  assert.is(answer.stream.rstCode, http2.constants.NGHTTP2_CANCEL);
  const [code, , wasClean] = await serverClosed;
  assert.equal([code, wasClean], [1006, false]);
  session.close();
  await fixture.close();
});

server('the session goes away (GOAWAY with an error, or destroyed): every WebSocket on it is 1006', async () => {
  const fixture = await h2Server();
  const session = await h2Session(fixture.port);
  for (let i = 0; i < 3; i++) await connectStream(session, `/${i}`);
  const closes = [...fixture.wss.clients].map((ws) => waitFor<[number]>(ws, 'close'));
  fixture.sessions[0].goaway(http2.constants.NGHTTP2_INTERNAL_ERROR);
  fixture.sessions[0].destroy();
  assert.equal(
    (await Promise.all(closes)).map(([code]) => code),
    [1006, 1006, 1006],
  );
  session.destroy();
  await fixture.close();
});

server('bufferedAmount is HTTP/2 flow control: a reader that stops holds the sends back; they drain when it reads', async () => {
  const fixture = await h2Server();
  const session = await h2Session(fixture.port);
  const connected = waitFor<[WebSocket]>(fixture.wss, 'connection');
  const answer = await connectStream(session);
  answer.stream.pause();
  const [ws] = await connected;
  const payload = Buffer.alloc(256 * 1024, 1);
  ws.send(payload);
  await sleep(100);
  // The stream's window (64 KiB) is all the client takes while it does not read.
  assert.ok(ws.bufferedAmount > 128 * 1024, `bufferedAmount ${ws.bufferedAmount}`);
  const drained = waitFor(ws, 'drain');
  let received = 0;
  answer.stream.on('data', (chunk: Buffer) => (received += chunk.length));
  answer.stream.resume();
  await drained;
  assert.is(ws.bufferedAmount, 0);
  while (received < payload.length + 4) await sleep(5);
  session.close();
  await fixture.close();
});

server('heartbeat over HTTP/2: pings go on the stream; a peer that answers nothing is cut off (stream reset with CANCEL)', async () => {
  const fixture = await h2Server({ heartbeat: { interval: 20, timeout: 60 } });
  const session = await h2Session(fixture.port);
  const connected = waitFor<[WebSocket]>(fixture.wss, 'connection');
  const answer = await connectStream(session);
  const [ws] = await connected;
  const received = collect(answer.stream);
  const closed = waitFor<[number]>(ws, 'close', 2000);
  await waitFor(answer.stream, 'close', 2000);
  assert.ok(
    decodeFrames(received()).some((frame) => frame.opcode === 9),
    'a ping came',
  );
  assert.is(answer.stream.rstCode, http2.constants.NGHTTP2_CANCEL);
  assert.is((await closed)[0], 1006);
  session.close();
  await fixture.close();
});

server('limits hold over HTTP/2: a message past maxPayload is 1009 and the stream ends', async () => {
  const fixture = await h2Server({ maxPayload: 100 });
  const session = await h2Session(fixture.port);
  const connected = waitFor<[WebSocket]>(fixture.wss, 'connection');
  const answer = await connectStream(session);
  const [ws] = await connected;
  const closed = waitFor<[number]>(ws, 'close');
  const received = collect(answer.stream);
  const ended = waitFor(answer.stream, 'end');
  answer.stream.write(text('x'.repeat(101)));
  await ended;
  assert.is(decodeFrames(received()).at(-1)!.payload.readUInt16BE(0), 1009);
  answer.stream.end();
  assert.is((await closed)[0], 1009);
  session.close();
  await fixture.close();
});

server(
  "node's compatibility API in use (a 'request' handler): GETs are its own, WebSocket CONNECTs netws', other CONNECTs get node's 405",
  async () => {
    const fixture = await h2Server();
    fixture.server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => res.end(`hello ${req.url}`));
    const session = await h2Session(fixture.port);
    const get = session.request({ ':path': '/page' });
    const chunks: Buffer[] = [];
    get.on('data', (chunk: Buffer) => chunks.push(chunk));
    await waitFor(get, 'end');
    assert.is(Buffer.concat(chunks).toString(), 'hello /page');
    assert.is((await connectStream(session)).status, 200);
    assert.is(fixture.wss.clients.size, 1);
    const proxy = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' });
    proxy.on('error', () => {});
    const [response] = await waitFor<[http2.IncomingHttpHeaders]>(proxy, 'response');
    assert.is(response[':status'], 405);
    // A 'connect' listener of the user's answers instead.
    fixture.server.on('connect', (_req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      res.writeHead(200);
      res.end();
    });
    const tunnel = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' });
    tunnel.on('error', () => {});
    assert.is((await waitFor<[http2.IncomingHttpHeaders]>(tunnel, 'response'))[0][':status'], 200);
    session.close();
    await fixture.close();
  },
);

server('allowHTTP1: one port takes HTTP/1.1 upgrades and HTTP/2 CONNECTs; an HTTP/1.1 CONNECT is closed as node closes it', async () => {
  const fixture = await h2Server();
  const versions: string[] = [];
  fixture.wss.on('connection', (ws, req) => {
    versions.push(req.httpVersion!);
    ws.on('message', (data) => ws.send(data));
  });
  const h1 = new WebSocket(`wss://localhost:${fixture.port}/`, { ca: cert });
  await waitFor(h1, 'open');
  const session = await h2Session(fixture.port);
  await connectStream(session);
  assert.equal(versions, ['1.1', '2.0']);
  const tls = await import('node:tls');
  const socket = tls.connect({ host: '127.0.0.1', port: fixture.port, ca: cert, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
  socket.on('error', () => {});
  await waitFor(socket, 'secureConnect');
  socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  await waitFor(socket, 'close');
  h1.terminate();
  session.close();
  await fixture.close();
});

server(
  '{ server, path } servers sharing one http2 server: each takes its path, another path is one 400; a stream a listener answered first is left alone',
  async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', record);
    const h2 = http2.createSecureServer({ cert, key });
    // A catch-all answering first (the README asks not to): netws steps aside, as for any answered stream.
    h2.on('stream', (stream, headers) => {
      if (headers[':path'] !== '/mine') return;
      stream.respond({ ':status': 404 });
      stream.end();
    });
    const a = new WebSocketServer({ server: h2, path: '/a' });
    const b = new WebSocketServer({ server: h2, path: '/b' });
    const paths: string[] = [];
    for (const [name, wss] of [
      ['a', a],
      ['b', b],
    ] as const)
      wss.on('connection', (_ws, req) => paths.push(`${name} ${req.url}`));
    const fixture = await listen(h2, a);
    const session = await h2Session(fixture.port);
    assert.is((await connectStream(session, '/b')).status, 200);
    assert.is((await connectStream(session, '/a')).status, 200);
    const other = await connectStream(session, '/c');
    assert.equal([other.status, await other.body()], [400, 'Bad Request']);
    assert.is((await connectStream(session, '/mine')).status, 404);
    await sleep(20);
    assert.equal(paths, ['b /b', 'a /a']);
    assert.equal(uncaught, []);
    process.removeListener('uncaughtException', record);
    for (const ws of b.clients) ws.terminate();
    b.close();
    session.close();
    await fixture.close();
  },
);

server('handleStream twice on one stream throws the second time, and the first handshake goes on', async () => {
  const h2 = http2.createSecureServer({ cert, key, settings: { enableConnectProtocol: true } });
  const wss = new WebSocketServer({
    noServer: true,
    verifyClient: (_info: unknown, callback: (ok: boolean) => void) => setTimeout(() => callback(true), 5),
  });
  const thrown: unknown[] = [];
  h2.on('stream', (stream, headers) => {
    wss.handleStream(stream, headers);
    try {
      wss.handleStream(stream, headers);
    } catch (error) {
      thrown.push(error);
    }
  });
  const fixture = await listen(h2, wss);
  const session = await h2Session(fixture.port);
  const connected = waitFor<[WebSocket]>(wss, 'connection');
  assert.is((await connectStream(session)).status, 200);
  const [ws] = await connected;
  await sleep(20);
  assert.is(ws.readyState, WebSocket.OPEN);
  assert.is(thrown.length, 1);
  assert.match((thrown[0] as Error).message, /more than once/);
  session.close();
  await fixture.close();
});

server('close(): listeners removed and new sessions no longer advertise extended CONNECT', async () => {
  const fixture = await h2Server();
  const before = fixture.server.listenerCount('stream');
  await new Promise<void>((resolve) => fixture.wss.close(() => resolve()));
  assert.is(fixture.server.listenerCount('stream'), before - 1);
  assert.is(fixture.server.listenerCount('connect'), 0);
  const session = await h2Session(fixture.port);
  assert.is(session.remoteSettings.enableConnectProtocol, false);
  session.close();
  await new Promise<void>((resolve) => fixture.server.close(() => resolve()));
});

server(
  'after close(), a session told of extended CONNECT before gets 503 (a listener after netws may answer instead); the listeners go when it closes',
  async () => {
    const fixture = await h2Server();
    const before = fixture.server.listenerCount('stream');
    const session = await h2Session(fixture.port);
    await new Promise<void>((resolve) => fixture.wss.close(() => resolve()));
    const refused = await connectStream(session);
    assert.equal([refused.status, await refused.body()], [503, 'Service Unavailable']);
    fixture.server.on('stream', (stream, headers) => {
      if (headers[':path'] !== '/gone') return;
      stream.respond({ ':status': 410 });
      stream.end();
    });
    const gone = await connectStream(session, '/gone');
    assert.is(gone.status, 410);
    const closed = waitFor(fixture.sessions[0], 'close');
    // The client's halves of the streams end first: on Bun 1.4.5, the server's session did not close while they were open.
    refused.stream.close();
    gone.stream.close();
    session.close();
    await closed;
    assert.is(fixture.server.listenerCount('stream'), before);
    assert.is(fixture.server.listenerCount('connect'), 0);
    await new Promise<void>((resolve) => fixture.server.close(() => resolve()));
  },
);

server("close() leaves the owner's own enableConnectProtocol on; WebSocket CONNECTs then get 503", async () => {
  const fixture = await h2Server({}, { settings: { enableConnectProtocol: true } });
  await new Promise<void>((resolve) => fixture.wss.close(() => resolve()));
  const session = await h2Session(fixture.port);
  assert.is(session.remoteSettings.enableConnectProtocol, true);
  assert.is((await connectStream(session)).status, 503);
  session.close();
  await fixture.close();
});

server('a handshake that verifyClient accepts after close() is 503', async () => {
  let decide = null as ((ok: boolean) => void) | null;
  const fixture = await h2Server({
    verifyClient: (_info: unknown, callback: (ok: boolean) => void) => {
      decide = callback;
    },
  });
  const session = await h2Session(fixture.port);
  const pending = connectStream(session);
  while (decide === null) await sleep(5);
  fixture.wss.close();
  decide!(true);
  assert.is((await pending).status, 503);
  session.close();
  await new Promise<void>((resolve) => fixture.server.close(() => resolve()));
});

server('handleStream after close() is 503; a verifyClient that throws a non-Error: 500, and an Error on the error event', async () => {
  const fixture = await routedServer({
    verifyClient: () => {
      throw 'not an Error';
    },
  });
  const errors: Error[] = [];
  fixture.wss.on('error', (error) => errors.push(error));
  const session = await h2Session(fixture.port);
  assert.is((await connectStream(session)).status, 500);
  assert.equal(
    errors.map((error) => [error instanceof Error, error.message]),
    [[true, 'not an Error']],
  );
  await new Promise<void>((resolve) => fixture.wss.close(() => resolve()));
  assert.is((await connectStream(session)).status, 503);
  session.close();
  await fixture.close();
});

server('headers handed to handleStream by hand: lists and undefined values as rawHeaders take them', async () => {
  const h2 = http2.createSecureServer({ cert, key, settings: { enableConnectProtocol: true } });
  const wss = new WebSocketServer({ noServer: true });
  h2.on('stream', (stream, headers) =>
    wss.handleStream(stream, { ...headers, 'x-list': ['a', 'b'], 'x-none': undefined } as http2.IncomingHttpHeaders),
  );
  const fixture = await listen(h2, wss);
  const connected = waitFor<[WebSocket, http2.Http2ServerRequest]>(wss, 'connection');
  const session = await h2Session(fixture.port);
  await connectStream(session);
  const [, req] = await connected;
  const raw = req.rawHeaders;
  assert.equal(raw.slice(raw.indexOf('x-list'), raw.indexOf('x-list') + 4), ['x-list', 'a', 'x-list', 'b']);
  assert.not.ok(raw.includes('x-none'));
  session.close();
  await fixture.close();
});

server('verifyClient refusing after the client reset its stream: nothing is sent, nothing breaks', async () => {
  let decide = null as ((ok: boolean, code?: number) => void) | null;
  const fixture = await h2Server({
    verifyClient: (_info: unknown, callback: (ok: boolean, code?: number) => void) => {
      if (decide === null) decide = callback;
      else callback(true);
    },
  });
  const session = await h2Session(fixture.port);
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
  stream.on('error', () => {});
  while (decide === null) await sleep(5);
  stream.close(http2.constants.NGHTTP2_CANCEL);
  await waitFor(stream, 'close');
  await sleep(20);
  decide!(false, 403);
  assert.is((await connectStream(session)).status, 200, 'the session still takes WebSockets');
  session.close();
  await fixture.close();
});

server(
  'peers that never end their side after the closing handshake (as undici 7): RST_STREAM(NO_ERROR) after one PING round trip, not closeTimeout',
  async () => {
    const fixture = await h2Server();
    const session = await h2Session(fixture.port);
    const streams = await Promise.all(Array.from({ length: 3 }, (_, i) => connectStream(session, `/${i}`)));
    const sockets = [...fixture.wss.clients];
    // The peer answers close frames and never ends its side.
    for (const { stream } of streams) {
      const received = collect(stream);
      stream.on('data', () => {
        if (decodeFrames(received()).some((frame) => frame.opcode === 8)) stream.write(text(closePayload(1000), { opcode: 8 }));
      });
    }
    const started = Date.now();
    const closes = sockets.map((ws) => waitFor<[number, Buffer, boolean]>(ws, 'close', 2000));
    for (const ws of sockets) ws.close(1000); // in one tick: the PINGs are batched
    const results = await Promise.all(closes);
    assert.ok(results.every(([code, , wasClean]) => code === 1000 && wasClean));
    for (const { stream } of streams) {
      if (!stream.closed) await waitFor(stream, 'close');
      assert.is(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    }
    assert.ok(Date.now() - started < 2000);
    session.close();
    await fixture.close();
  },
);

server.run();
