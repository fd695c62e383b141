import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { WebSocketError } from '../../src/protocol/errors.ts';
import {
  WEBSOCKET_GUID,
  WEBSOCKET_VERSION,
  acceptResponseLines,
  buildRejectResponse,
  buildUpgradeRequest,
  checkUpgradeRequest,
  checkUpgradeResponse,
  computeAccept,
  generateKey,
  isRejection,
  isValidKey,
  type AcceptedRequest,
  type HandshakeRejection,
  type HeaderRecord,
  type UpgradeRequestLike,
} from '../../src/protocol/handshake.ts';

const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const isTypeError = (e: unknown): boolean => e instanceof TypeError;

function request(headers: HeaderRecord = {}, extra: Partial<UpgradeRequestLike> = {}): UpgradeRequestLike {
  return {
    method: 'GET',
    httpVersion: '1.1',
    headers: {
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': SAMPLE_KEY,
      'sec-websocket-version': '13',
      ...headers,
    },
    ...extra,
  };
}

function without(name: string): UpgradeRequestLike {
  const req = request();
  delete req.headers[name];
  return req;
}

function rejected(req: UpgradeRequestLike, status: number, ownListener = false): HandshakeRejection {
  const result = checkUpgradeRequest(req, ownListener);
  assert.ok(isRejection(result), `expected a ${status} rejection, got an acceptance`);
  const rejection = result as HandshakeRejection;
  assert.is(rejection.status, status, rejection.message);
  assert.type(rejection.message, 'string');
  assert.ok(rejection.message.length > 0);
  return rejection;
}

function accepted(req: UpgradeRequestLike): AcceptedRequest {
  const result = checkUpgradeRequest(req);
  assert.not.ok(isRejection(result), `rejected: ${(result as HandshakeRejection).message}`);
  return result as AcceptedRequest;
}

function responseHeaders(overrides: HeaderRecord = {}): HeaderRecord {
  return {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': SAMPLE_ACCEPT,
    ...overrides,
  };
}

function expectWsError(fn: () => unknown, code: string, statusCode: number): WebSocketError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, WebSocketError);
    const e = error as WebSocketError;
    assert.is(e.code, code, e.message);
    assert.is(e.statusCode, statusCode);
    assert.is(e.closeCode, undefined);
    return e;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}

// ----------------------------------------------------------------- keys

test('4.2.2: the RFC 6455 sample key gives the sample accept value', () => {
  assert.is(computeAccept(SAMPLE_KEY), SAMPLE_ACCEPT);
});

test('4.2.2: computeAccept is base64(SHA-1(key + GUID))', () => {
  assert.is(WEBSOCKET_GUID, '258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
  const key = generateKey();
  assert.is(
    computeAccept(key),
    createHash('sha1')
      .update(key + WEBSOCKET_GUID)
      .digest('base64'),
  );
  assert.is(WEBSOCKET_VERSION, '13');
});

test('4.1: generateKey is 16 random bytes in base64 and valid', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const key = generateKey();
    assert.is(key.length, 24);
    assert.is(Buffer.from(key, 'base64').length, 16);
    assert.is(Buffer.from(key, 'base64').toString('base64'), key, 'canonical base64');
    assert.ok(isValidKey(key), key);
    seen.add(key);
  }
  assert.is(seen.size, 200, 'keys repeat');
});

test('isValidKey accepts 16-byte base64 values, including every alphabet character', () => {
  assert.ok(isValidKey(SAMPLE_KEY));
  assert.ok(isValidKey('AAAAAAAAAAAAAAAAAAAAAA=='));
  assert.ok(isValidKey('/////////////////////w=='));
  assert.ok(isValidKey('+++++++++++++++++++++Q=='));
  assert.ok(isValidKey('abcdefghijklmnopqrstug=='));
  assert.ok(isValidKey('0123456789ABCDEFGHIJKw=='));
  for (const last of 'AQgw') assert.ok(isValidKey('x'.repeat(21) + last + '=='), last);
});

test('isValidKey refuses missing, wrong length, missing padding and non-base64 keys', () => {
  const bad: Array<string | undefined> = [
    undefined,
    '',
    'dGhlIHNhbXBsZSBub25jZQ=', // 23 chars
    'dGhlIHNhbXBsZSBub25jZQ===', // 25 chars
    'dGhlIHNhbXBsZSBub25jZQAA', // no padding
    'dGhlIHNhbXBsZSBub25jZ===', // 3 padding chars
    'dGhlIHNhbXBsZSBub25jZQ=A', // padding not at the end
    'dGhlIHNhbXBsZSBub25j-Q==', // base64url alphabet
    'dGhlIHNhbXBsZSBub25j_Q==',
    'dGhlIHNhbXBsZSBub25j Q==', // space
    'dGhlIHNhbXBsZSBub25jé Q=',
    ' dGhlIHNhbXBsZSBub25jZQ==', // leading space (25 chars)
    'dGhlIHNhbXBsZSBub25j.Q==',
    'dGhlIHNhbXBsZSBub25j\u0000Q==',
    'AAAAAAAAAAAAAAAAAAAAAAAA', // 18 bytes, not 16
    'AAAAAAAAAAAAAAAAAAAAAAA=', // 17 bytes
    'YWFhYWFhYWFhYWFhYWFhYQ==\r\n',
  ];
  for (const key of bad) assert.not.ok(isValidKey(key), JSON.stringify(key));
});

test('isValidKey refuses a key whose last significant character has non-zero padding bits', () => {
  for (const last of 'BCDEFPRSfhvxyz019+/') {
    assert.not.ok(isValidKey('x'.repeat(21) + last + '=='), last);
  }
});

// --------------------------------------------------------- checkUpgradeRequest

test('4.2.1: the RFC sample request is accepted', () => {
  const result = accepted(
    request({
      origin: 'http://example.com',
      'sec-websocket-protocol': 'chat, superchat',
    }),
  );
  assert.is(result.key, SAMPLE_KEY);
  assert.equal(result.protocols, ['chat', 'superchat']);
  assert.equal(result.extensions, []);
});

test('4.2.1: minimal request: no protocols, no extensions', () => {
  const result = accepted(request());
  assert.equal(result, { key: SAMPLE_KEY, protocols: [], extensions: [] });
});

test('4.2.1: extension offers are parsed', () => {
  const result = accepted(request({ 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits, x-foo' }));
  assert.is(result.extensions.length, 2);
  assert.is(result.extensions[0].name, 'permessage-deflate');
  assert.is(result.extensions[0].params.get('client_max_window_bits'), true);
  assert.is(result.extensions[1].name, 'x-foo');
});

test('4.2.1: header tokens are case-insensitive ("Upgrade: WebSocket", "Connection: keep-alive, Upgrade")', () => {
  accepted(request({ upgrade: 'WebSocket', connection: 'keep-alive, Upgrade' }));
  accepted(request({ upgrade: 'WEBSOCKET', connection: 'UPGRADE' }));
  accepted(request({ upgrade: 'websocket', connection: 'upgrade' }));
  accepted(request({ connection: 'Upgrade, keep-alive' }));
});

test('repeated Connection/Upgrade headers (joined by node:http or given as arrays) are accepted', () => {
  accepted(request({ connection: ['keep-alive', 'Upgrade'] }));
  accepted(request({ upgrade: ['websocket'] }));
  accepted(request({ 'sec-websocket-protocol': ['chat', 'superchat'] }));
});

test('4.2.1 (1): a non-GET request is refused with 405 and "Allow: GET"', () => {
  for (const method of ['POST', 'PUT', 'HEAD', 'CONNECT', 'get', undefined]) {
    const rejection = rejected(request({}, { method }), 405);
    assert.equal(rejection.headers, { Allow: 'GET' });
  }
});

test('as ws: the HTTP version is not checked (RFC 6455 asks for 1.1; nothing here depends on it)', () => {
  for (const httpVersion of ['1.0', '0.9', undefined, '1.1']) {
    assert.not.ok(isRejection(checkUpgradeRequest(request({}, { httpVersion }))), String(httpVersion));
  }
});

test('4.2.1 (3): no Upgrade header at all: 426 Upgrade Required on our own port, 400 through handleUpgrade() (as ws)', () => {
  const rejection = rejected(without('upgrade'), 426, true);
  assert.equal(rejection.headers, { Upgrade: 'websocket', Connection: 'Upgrade' });
  assert.is(rejected(without('upgrade'), 400).message, 'Invalid Upgrade header');
});

test('4.2.1 (3): an Upgrade header without "websocket" is refused with 400', () => {
  for (const upgrade of ['h2c', '', 'websockets', 'web socket', 'websocket/13 x', 'TLS/1.0, h2c']) {
    rejected(request({ upgrade }), 400);
  }
});

test('4.2.1 (4): a Connection header without "Upgrade" (or missing) is refused with 400', () => {
  for (const connection of ['keep-alive', 'close', '', 'upgraded', 'Upgrade;x', 'keep-alive Upgrade']) {
    rejected(request({ connection }), 400);
  }
  rejected(without('connection'), 400);
});

test("as ws: a request without Host is accepted (test harnesses such as fastify's injectWS send none)", () => {
  assert.not.ok(isRejection(checkUpgradeRequest(without('host'))));
});

test('4.2.1 (5): a missing or invalid Sec-WebSocket-Key is refused with 400', () => {
  rejected(without('sec-websocket-key'), 400);
  for (const key of ['', 'short', 'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25jZR==', 'AAAAAAAAAAAAAAAAAAAAAAAA']) {
    rejected(request({ 'sec-websocket-key': key }), 400);
  }
});

test('4.2.1 (5): a duplicated Sec-WebSocket-Key is refused with 400 (joined with ", " or as an array)', () => {
  rejected(request({ 'sec-websocket-key': `${SAMPLE_KEY}, ${SAMPLE_KEY}` }), 400);
  rejected(request({ 'sec-websocket-key': [SAMPLE_KEY, SAMPLE_KEY] }), 400);
  rejected(request({ 'sec-websocket-key': [SAMPLE_KEY, 'AAAAAAAAAAAAAAAAAAAAAA=='] }), 400);
});

test('4.2.1 (6): a missing Sec-WebSocket-Version is refused with 400 and advertises 13 and 8', () => {
  const rejection = rejected(without('sec-websocket-version'), 400);
  assert.equal(rejection.headers, { 'Sec-WebSocket-Version': '13, 8' });
});

test('4.2.2 / 4.4: an unsupported version gets 426 with Sec-WebSocket-Version: 13, 8', () => {
  for (const version of ['7', '0', '14', '', '13, 8', '13a']) {
    const rejection = rejected(request({ 'sec-websocket-version': version }), 426);
    assert.equal(rejection.headers, { 'Sec-WebSocket-Version': '13, 8' }, JSON.stringify(version));
  }
  rejected(request({ 'sec-websocket-version': ['13', '8'] }), 426);
});

test('version 8 (the last hybi draft, framed as 13) is accepted, as ws accepts it; the field is read as a number, as ws reads it', () => {
  for (const version of ['8', ' 13', 13 as unknown as string, '13.0']) {
    assert.not.ok(isRejection(checkUpgradeRequest(request({ 'sec-websocket-version': version }))), JSON.stringify(version));
  }
});

test('4.1 (10): a malformed or repeating Sec-WebSocket-Protocol list is refused with 400', () => {
  for (const protocol of ['chat superchat', 'chat, chat', 'chat; q=1', '"chat"', 'chat, é']) {
    rejected(request({ 'sec-websocket-protocol': protocol }), 400);
  }
  rejected(request({ 'sec-websocket-protocol': ['chat', 'chat'] }), 400);
});

test('9.1: a malformed Sec-WebSocket-Extensions header is refused with 400', () => {
  for (const extensions of ['foo;', 'foo; a="b c"', 'foo; a="1', 'foo bar', '; x']) {
    rejected(request({ 'sec-websocket-extensions': extensions }), 400);
  }
});

test("checks run in order: method before Upgrade before key; the words are ws's", () => {
  assert.is(rejected({ method: 'POST', httpVersion: '1.0', headers: {} }, 405).message, 'Invalid HTTP method');
  rejected({ method: 'GET', httpVersion: '1.0', headers: {} }, 426, true);
  assert.is(rejected(request({ upgrade: 'h2c' }), 400).message, 'Invalid Upgrade header');
  assert.is(rejected(without('sec-websocket-key'), 400).message, 'Missing or invalid Sec-WebSocket-Key header');
  assert.is(rejected(request({ 'sec-websocket-version': '7' }), 426).message, 'Missing or invalid Sec-WebSocket-Version header');
});

test('isRejection tells rejections from acceptances', () => {
  assert.ok(isRejection({ status: 400, message: 'x' }));
  assert.not.ok(isRejection({ key: SAMPLE_KEY, protocols: [], extensions: [] }));
});

// ------------------------------------------------------- acceptResponseLines

test('4.2.2: acceptResponseLines for the RFC sample', () => {
  assert.equal(acceptResponseLines(SAMPLE_KEY, undefined, undefined), [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}`,
  ]);
});

test('4.2.2: acceptResponseLines with a protocol and extensions', () => {
  assert.equal(acceptResponseLines(SAMPLE_KEY, 'chat', 'permessage-deflate; server_no_context_takeover'), [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}`,
    'Sec-WebSocket-Protocol: chat',
    'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover',
  ]);
});

test('acceptResponseLines leaves out an empty protocol or extension value', () => {
  assert.is(acceptResponseLines(SAMPLE_KEY, '', '').length, 4);
  assert.is(acceptResponseLines(SAMPLE_KEY, undefined, 'x').length, 5);
  assert.is(acceptResponseLines(SAMPLE_KEY, 'chat', undefined)[4], 'Sec-WebSocket-Protocol: chat');
});

// -------------------------------------------------------- buildRejectResponse

test('buildRejectResponse: status line, Connection: close, type, length and body', () => {
  const text = buildRejectResponse(400, 'Missing Host header');
  assert.is(
    text,
    [
      'HTTP/1.1 400 Bad Request',
      'Connection: close',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Length: 19',
      '',
      'Missing Host header',
    ].join('\r\n'),
  );
});

test('buildRejectResponse: reason phrases for known statuses and a fallback', () => {
  const phrases: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    408: 'Request Timeout',
    426: 'Upgrade Required',
    431: 'Request Header Fields Too Large',
    500: 'Internal Server Error',
    503: 'Service Unavailable',
  };
  for (const [status, phrase] of Object.entries(phrases)) {
    assert.ok(buildRejectResponse(Number(status), '').startsWith(`HTTP/1.1 ${status} ${phrase}\r\n`), status);
  }
  assert.ok(buildRejectResponse(418, 'teapot').startsWith("HTTP/1.1 418 I'm a Teapot\r\n"));
  assert.ok(buildRejectResponse(499, 'unknown').startsWith('HTTP/1.1 499 Error\r\n'), 'fallback for unknown statuses');
});

test('buildRejectResponse: Content-Length counts UTF-8 bytes of the body', () => {
  const message = 'Größe überschritten: κόσμε 🎉';
  const text = buildRejectResponse(400, message);
  const [head, body] = text.split('\r\n\r\n');
  assert.ok(head.includes(`Content-Length: ${Buffer.byteLength(message)}`));
  assert.ok(Buffer.byteLength(message) > message.length);
  assert.is(body, message);
});

test('buildRejectResponse: extra headers go between Connection and Content-Type', () => {
  const text = buildRejectResponse(426, 'x', { 'Sec-WebSocket-Version': '13', Upgrade: 'websocket' });
  assert.equal(text.split('\r\n').slice(0, 5), [
    'HTTP/1.1 426 Upgrade Required',
    'Connection: close',
    'Sec-WebSocket-Version: 13',
    'Upgrade: websocket',
    'Content-Type: text/plain; charset=utf-8',
  ]);
});

test('buildRejectResponse: header injection through a value or a name is refused with TypeError', () => {
  for (const value of ['a\r\nSet-Cookie: x=1', 'a\nX: y', 'a\rX: y', 'a\u0000b']) {
    assert.throws(() => buildRejectResponse(400, 'x', { 'X-Reason': value }), isTypeError, JSON.stringify(value));
  }
  for (const name of ['', 'X Reason', 'X:Reason', 'X-Reason\r\nSet-Cookie', 'Ünicode', 'a\u0000']) {
    assert.throws(() => buildRejectResponse(400, 'x', { [name]: 'v' }), isTypeError, JSON.stringify(name));
  }
});

test('buildRejectResponse: the body may contain CR/LF (it is counted, not parsed)', () => {
  const text = buildRejectResponse(400, 'line1\r\nline2');
  assert.ok(text.includes('Content-Length: 12\r\n'));
  assert.ok(text.endsWith('\r\n\r\nline1\r\nline2'));
});

// -------------------------------------------------------- buildUpgradeRequest

const baseOptions = { path: '/chat', host: 'server.example.com', key: SAMPLE_KEY, protocols: [] as string[] };

test('4.1: buildUpgradeRequest produces the required lines and ends with a blank line', () => {
  assert.is(
    buildUpgradeRequest(baseOptions),
    [
      'GET /chat HTTP/1.1',
      'Host: server.example.com',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${SAMPLE_KEY}`,
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n'),
  );
});

test('4.1: buildUpgradeRequest lists protocols, extensions, origin and custom headers', () => {
  const text = buildUpgradeRequest({
    ...baseOptions,
    path: '/chat?room=1',
    host: 'server.example.com:8080',
    protocols: ['chat', 'superchat'],
    extensions: 'permessage-deflate; client_max_window_bits',
    origin: 'http://example.com',
    headers: new Map([
      ['Authorization', 'Bearer abc'],
      ['X-Custom', 'v'],
    ]),
  });
  const lines = text.split('\r\n');
  assert.is(lines[0], 'GET /chat?room=1 HTTP/1.1');
  assert.is(lines[1], 'Host: server.example.com:8080');
  assert.ok(lines.includes('Sec-WebSocket-Protocol: chat, superchat'));
  assert.ok(lines.includes('Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'));
  assert.ok(lines.includes('Origin: http://example.com'));
  assert.ok(lines.includes('Authorization: Bearer abc'));
  assert.ok(lines.includes('X-Custom: v'));
  assert.ok(text.endsWith('\r\n\r\n'));
  assert.not.ok(text.slice(0, -4).includes('\r\n\r\n'), 'exactly one blank line');
});

test('buildUpgradeRequest: empty protocol list and empty extensions are left out; empty origin is kept', () => {
  const text = buildUpgradeRequest({ ...baseOptions, extensions: '', origin: '' });
  assert.not.ok(text.includes('Sec-WebSocket-Protocol'));
  assert.not.ok(text.includes('Sec-WebSocket-Extensions'));
  assert.ok(text.includes('\r\nOrigin: \r\n'));
});

test('buildUpgradeRequest: CR, LF or NUL in a header value throws TypeError', () => {
  for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\u0000b']) {
    assert.throws(() => buildUpgradeRequest({ ...baseOptions, headers: [['X-Custom', value]] }), isTypeError);
    assert.throws(() => buildUpgradeRequest({ ...baseOptions, origin: value }), isTypeError, `origin ${JSON.stringify(value)}`);
  }
});

test('buildUpgradeRequest: a header name that is not a token throws TypeError', () => {
  for (const name of ['', 'X Custom', 'X:Custom', 'X\r\nInjected', '(x)', 'é']) {
    assert.throws(() => buildUpgradeRequest({ ...baseOptions, headers: [[name, 'v']] }), isTypeError, JSON.stringify(name));
  }
});

// ------------------------------------------------------- checkUpgradeResponse

test('4.1: a correct 101 response is accepted (no protocol, no extensions)', () => {
  assert.equal(checkUpgradeResponse(101, responseHeaders(), SAMPLE_KEY, []), { protocol: '', extensions: [] });
});

test('4.1: header tokens in the response are case-insensitive', () => {
  checkUpgradeResponse(101, responseHeaders({ upgrade: 'WebSocket', connection: 'keep-alive, UPGRADE' }), SAMPLE_KEY, []);
});

test('4.1 (1): a status other than 101 fails with WS_ERR_UNEXPECTED_RESPONSE and the status code', () => {
  for (const status of [200, 204, 301, 400, 401, 403, 404, 426, 500, 100]) {
    const error = expectWsError(
      () => checkUpgradeResponse(status, responseHeaders(), SAMPLE_KEY, []),
      'WS_ERR_UNEXPECTED_RESPONSE',
      status,
    );
    assert.ok(error.message.includes(String(status)));
  }
});

test('4.1 (2): a missing or wrong Upgrade header fails', () => {
  expectWsError(() => checkUpgradeResponse(101, responseHeaders({ upgrade: undefined }), SAMPLE_KEY, []), 'WS_ERR_INVALID_UPGRADE', 101);
  expectWsError(() => checkUpgradeResponse(101, responseHeaders({ upgrade: 'h2c' }), SAMPLE_KEY, []), 'WS_ERR_INVALID_UPGRADE', 101);
});

test('4.1 (3): a missing or wrong Connection header fails', () => {
  expectWsError(() => checkUpgradeResponse(101, responseHeaders({ connection: undefined }), SAMPLE_KEY, []), 'WS_ERR_INVALID_UPGRADE', 101);
  expectWsError(
    () => checkUpgradeResponse(101, responseHeaders({ connection: 'keep-alive' }), SAMPLE_KEY, []),
    'WS_ERR_INVALID_UPGRADE',
    101,
  );
});

test('4.1 (4): a missing or wrong Sec-WebSocket-Accept fails', () => {
  const wrong = [undefined, '', computeAccept(generateKey()), SAMPLE_ACCEPT.toLowerCase(), ` ${SAMPLE_ACCEPT}`, SAMPLE_KEY];
  for (const accept of wrong) {
    expectWsError(
      () => checkUpgradeResponse(101, responseHeaders({ 'sec-websocket-accept': accept }), SAMPLE_KEY, []),
      'WS_ERR_INVALID_ACCEPT',
      101,
    );
  }
  expectWsError(
    () => checkUpgradeResponse(101, responseHeaders({ 'sec-websocket-accept': [SAMPLE_ACCEPT, SAMPLE_ACCEPT] }), SAMPLE_KEY, []),
    'WS_ERR_INVALID_ACCEPT',
    101,
  );
});

test('4.1 (6): the selected protocol must be one that was offered', () => {
  assert.equal(checkUpgradeResponse(101, responseHeaders({ 'sec-websocket-protocol': 'superchat' }), SAMPLE_KEY, ['chat', 'superchat']), {
    protocol: 'superchat',
    extensions: [],
  });
  for (const protocol of ['other', 'Chat', '', 'chat, superchat']) {
    expectWsError(
      () => checkUpgradeResponse(101, responseHeaders({ 'sec-websocket-protocol': protocol }), SAMPLE_KEY, ['chat', 'superchat']),
      'WS_ERR_INVALID_SUBPROTOCOL',
      101,
    );
  }
  expectWsError(
    () => checkUpgradeResponse(101, responseHeaders({ 'sec-websocket-protocol': 'chat' }), SAMPLE_KEY, []),
    'WS_ERR_INVALID_SUBPROTOCOL',
    101,
  );
  expectWsError(
    () => checkUpgradeResponse(101, responseHeaders({ 'sec-websocket-protocol': ['chat', 'chat'] }), SAMPLE_KEY, ['chat']),
    'WS_ERR_INVALID_SUBPROTOCOL',
    101,
  );
});

test('4.1 (5): an accepted extension must be one that was offered', () => {
  const result = checkUpgradeResponse(
    101,
    responseHeaders({ 'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover' }),
    SAMPLE_KEY,
    [],
    ['permessage-deflate'],
  );
  assert.is(result.extensions.length, 1);
  assert.is(result.extensions[0].name, 'permessage-deflate');
  assert.is(result.extensions[0].params.get('server_no_context_takeover'), true);
  expectWsError(
    () => checkUpgradeResponse(101, responseHeaders({ 'sec-websocket-extensions': 'x-foo' }), SAMPLE_KEY, [], ['permessage-deflate']),
    'WS_ERR_INVALID_EXTENSION',
    101,
  );
  expectWsError(
    () => checkUpgradeResponse(101, responseHeaders({ 'sec-websocket-extensions': 'permessage-deflate' }), SAMPLE_KEY, []),
    'WS_ERR_INVALID_EXTENSION',
    101,
  );
  expectWsError(
    () =>
      checkUpgradeResponse(
        101,
        responseHeaders({ 'sec-websocket-extensions': 'permessage-deflate, x-foo' }),
        SAMPLE_KEY,
        [],
        ['permessage-deflate'],
      ),
    'WS_ERR_INVALID_EXTENSION',
    101,
  );
});

test('9.1: an invalid Sec-WebSocket-Extensions header in the response fails', () => {
  for (const value of ['permessage-deflate;', 'permessage-deflate; a="b c"', 'a b']) {
    expectWsError(
      () => checkUpgradeResponse(101, responseHeaders({ 'sec-websocket-extensions': value }), SAMPLE_KEY, [], ['permessage-deflate']),
      'WS_ERR_INVALID_EXTENSION',
      101,
    );
  }
});

test('an empty Sec-WebSocket-Extensions header in the response accepts no extension', () => {
  const result = checkUpgradeResponse(101, responseHeaders({ 'sec-websocket-extensions': '' }), SAMPLE_KEY, [], ['permessage-deflate']);
  assert.equal(result.extensions, []);
});

test('client round trip: buildUpgradeRequest → checkUpgradeRequest → acceptResponseLines → checkUpgradeResponse', () => {
  const key = generateKey();
  const text = buildUpgradeRequest({
    path: '/',
    host: 'localhost',
    key,
    protocols: ['a', 'b'],
    extensions: 'permessage-deflate',
  });
  const headers: HeaderRecord = {};
  for (const line of text.split('\r\n').slice(1, -2)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const req = accepted({ method: 'GET', httpVersion: '1.1', headers });
  assert.equal(req.protocols, ['a', 'b']);
  const lines = acceptResponseLines(req.key, 'b', 'permessage-deflate');
  const resHeaders: HeaderRecord = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    resHeaders[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const res = checkUpgradeResponse(101, resHeaders, key, ['a', 'b'], ['permessage-deflate']);
  assert.is(res.protocol, 'b');
  assert.is(res.extensions[0].name, 'permessage-deflate');
});

test('4.1: an Upgrade list with other products ("HTTP/2.0, websocket") and HTTP/1.2 are accepted', () => {
  const req = request({ upgrade: 'HTTP/2.0, websocket' }, { httpVersion: '1.2' });
  const result = checkUpgradeRequest(req);
  assert.not.ok(isRejection(result));
});

test.run();
