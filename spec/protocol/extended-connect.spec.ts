/** RFC 8441's handshake as pure functions: the request's checks and statuses, the answers, the client's request and its checks. */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketError } from '../../src/protocol/errors.ts';
import {
  buildConnectHeaders,
  checkConnectRequest,
  checkConnectResponse,
  connectResponseHeaders,
  isWebSocketConnect,
  linesToHeaders,
  refusalBody,
  refusalHeaders,
  responseLines,
  type Http2HeaderRecord,
  hasUnsendableField,
} from '../../src/protocol/extended-connect.ts';
import { isRejection, type HandshakeRejection } from '../../src/protocol/handshake.ts';
import { SAMPLE_KEY } from '../helpers.ts';

const connect = suite('extended CONNECT (RFC 8441)');

const request = (extra: Http2HeaderRecord = {}): Http2HeaderRecord => ({
  ':method': 'CONNECT',
  ':protocol': 'websocket',
  ':scheme': 'https',
  ':path': '/chat?room=1',
  ':authority': 'example.com',
  'sec-websocket-version': '13',
  ...extra,
});

function rejection(headers: Http2HeaderRecord): HandshakeRejection {
  const result = checkConnectRequest(headers);
  assert.ok(isRejection(result), 'expected a rejection');
  return result as HandshakeRejection;
}

connect('a valid request: offered subprotocols and extensions, no key needed', () => {
  const result = checkConnectRequest(request({ 'sec-websocket-protocol': 'chat, json', 'sec-websocket-extensions': 'permessage-deflate' }));
  assert.not.ok(isRejection(result));
  if (isRejection(result)) return;
  assert.equal(result.protocols, ['chat', 'json']);
  assert.is(result.extensions[0].name, 'permessage-deflate');
  assert.is(result.key, undefined);
});

connect('a field given as a list (as a user may build the headers) is read joined', () => {
  const result = checkConnectRequest(request({ 'sec-websocket-protocol': ['a', 'b'] }));
  assert.equal((result as { protocols: string[] }).protocols, ['a', 'b']);
});

connect('undici sends a key: it is kept for the answer', () => {
  const result = checkConnectRequest(request({ 'sec-websocket-key': SAMPLE_KEY }));
  assert.is((result as { key?: string }).key, SAMPLE_KEY);
});

connect('the statuses: the same as an HTTP/1.1 upgrade gets for the same mistake', () => {
  const wrongMethod = rejection(request({ ':method': 'GET' }));
  assert.is(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers, { Allow: 'CONNECT' });
  assert.is(rejection({ ...request(), ':protocol': undefined }).status, 400, 'missing :protocol');
  assert.match(rejection({ ...request(), ':protocol': undefined }).message, /Missing :protocol/);
  assert.is(rejection(request({ ':protocol': 'connect-udp' })).status, 400, ':protocol other than websocket');
  assert.is(rejection({ ...request(), ':path': undefined }).status, 400, 'no :path');
  assert.is(rejection({ ...request(), ':authority': '' }).status, 400, 'empty :authority');
  assert.is(rejection({ ...request(), 'sec-websocket-version': undefined }).status, 400, 'no version');
  const wrongVersion = rejection(request({ 'sec-websocket-version': '12' }));
  assert.is(wrongVersion.status, 426, 'wrong version');
  assert.equal(wrongVersion.headers, { 'Sec-WebSocket-Version': '13, 8' });
  assert.is(rejection(request({ 'sec-websocket-protocol': 'a b' })).status, 400, 'bad subprotocol list');
  assert.is(rejection(request({ 'sec-websocket-extensions': 'x;;' })).status, 400, 'bad extensions');
});

connect(':protocol is compared without case; isWebSocketConnect says which streams are ours', () => {
  assert.not.ok(isRejection(checkConnectRequest(request({ ':protocol': 'WebSocket' }))));
  assert.ok(isWebSocketConnect(request({ ':protocol': 'WebSocket' })));
  assert.not.ok(isWebSocketConnect(request({ ':protocol': 'connect-udp' })));
  assert.not.ok(isWebSocketConnect({ ...request(), ':protocol': undefined }));
  assert.not.ok(isWebSocketConnect(request({ ':method': 'GET' })));
});

connect('the 200: subprotocol and extensions when chosen; Sec-WebSocket-Accept only when a key came (undici 7)', () => {
  assert.equal(connectResponseHeaders(undefined, undefined, ''), { ':status': 200 });
  assert.equal(connectResponseHeaders(SAMPLE_KEY, 'chat', 'permessage-deflate'), {
    ':status': 200,
    'sec-websocket-protocol': 'chat',
    'sec-websocket-extensions': 'permessage-deflate',
    // RFC 6455 section 1.3's example.
    'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
  });
});

connect('refusals: lowercase names, connection-specific fields dropped, a text body', () => {
  assert.equal(
    refusalHeaders(426, 10, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13, 8', 'X-Twice': ['a', 'b'] }),
    {
      ':status': 426,
      'sec-websocket-version': '13, 8',
      'x-twice': ['a', 'b'],
      'content-type': 'text/plain; charset=utf-8',
      'content-length': 10,
    },
  );
  assert.is(refusalBody(404, undefined), 'Not Found');
  assert.is(refusalBody(599, ''), 'Error');
  assert.is(refusalBody(403, 'go away'), 'go away');
});

connect("'headers' lines: written as on HTTP/1.1, read back into HTTP/2 fields (repeated ones as a list)", () => {
  const lines = responseLines({ ':status': 200, 'sec-websocket-protocol': 'chat' });
  assert.equal(lines, ['HTTP/2 200', 'sec-websocket-protocol: chat']);
  lines.push(
    'Set-Cookie: a=1',
    'set-cookie: b=2',
    'no colon here',
    ': empty name',
    'Connection: keep-alive',
    ':status: 500',
    'X-Spaced :  v ',
  );
  assert.equal(linesToHeaders(200, lines), {
    ':status': 200,
    'sec-websocket-protocol': 'chat',
    'set-cookie': ['a=1', 'b=2'],
    'x-spaced': 'v',
  });
  const three = linesToHeaders(200, ['HTTP/2 200', 'a: 1', 'a: 2', 'a: 3']);
  assert.equal(three.a, ['1', '2', '3']);
});

connect("the client's request: pseudo-headers, version, offers; Host becomes :authority; the handshake's fields win", () => {
  const headers = buildConnectHeaders({
    path: '/x?y=1',
    authority: 'example.com:8443',
    scheme: 'https',
    version: 13,
    protocols: ['chat', 'json'],
    extensions: 'permessage-deflate',
    fields: [
      ['X-Custom', 'yes'],
      ['X-Multi', ['a', 'b']],
      ['Sec-WebSocket-Version', '99'],
      ['Connection', 'Upgrade'],
      ['HOST', 'front.example'],
      ['Origin', 'https://app.example'],
    ],
  });
  assert.equal(headers, {
    'x-custom': 'yes',
    'x-multi': ['a', 'b'],
    origin: 'https://app.example',
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': '/x?y=1',
    ':authority': 'front.example',
    'sec-websocket-version': '13',
    'sec-websocket-protocol': 'chat, json',
    'sec-websocket-extensions': 'permessage-deflate',
  });
  const bare = buildConnectHeaders({
    path: '',
    authority: 'h',
    scheme: 'http',
    version: 8,
    protocols: [],
    extensions: undefined,
    fields: [],
  });
  assert.equal(bare, {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'http',
    ':path': '/',
    ':authority': 'h',
    'sec-websocket-version': '8',
  });
  const hostList = buildConnectHeaders({
    path: '/',
    authority: 'h',
    scheme: 'https',
    version: 13,
    protocols: [],
    extensions: undefined,
    fields: [['Host', ['a', 'b']]],
  });
  assert.is(hostList[':authority'], 'a');
});

connect("the server's answer: any 2xx opens; others, or an unoffered subprotocol or extension, throw with the status", () => {
  assert.equal(checkConnectResponse({ ':status': 200 }, [], []), { protocol: '', extensions: [] });
  assert.is(checkConnectResponse({ ':status': 204, 'sec-websocket-protocol': 'b' }, ['a', 'b'], []).protocol, 'b');
  for (const [headers, code] of [
    [{ ':status': 403 }, 'WS_ERR_UNEXPECTED_RESPONSE'],
    [{ ':status': 101 }, 'WS_ERR_UNEXPECTED_RESPONSE'],
    [{ ':status': 200, 'sec-websocket-protocol': 'c' }, 'WS_ERR_INVALID_SUBPROTOCOL'],
    [{ ':status': 200, 'sec-websocket-extensions': 'x-foo' }, 'WS_ERR_INVALID_EXTENSION'],
    [{ ':status': 200, 'sec-websocket-extensions': ';;' }, 'WS_ERR_INVALID_EXTENSION'],
  ] as const) {
    try {
      checkConnectResponse(headers, ['a'], ['permessage-deflate']);
      assert.unreachable(JSON.stringify(headers));
    } catch (error) {
      assert.instance(error, WebSocketError);
      assert.is((error as WebSocketError).code, code);
      assert.is((error as WebSocketError).statusCode, headers[':status']);
    }
  }
});

connect('hasUnsendableField: a field name that is no token (what node:http2 refuses); pseudo-headers and any value pass', () => {
  assert.is(hasUnsendableField({ ':status': 401, 'x-reason': 'a\u0001b', 'set-cookie': ['a=1', 'b=2'] }), false);
  assert.is(hasUnsendableField({ ':status': 401, 'x y': '1' }), true);
  assert.is(hasUnsendableField({ 'x:y': '1' }), true);
  assert.is(hasUnsendableField({ '': '1' }), true);
});

connect.run();
