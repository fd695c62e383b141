import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HeadError, HeadReader, parseRequestHead, parseResponseHead, type HeadLimits } from '../../src/http/head.ts';

const LIMITS: HeadLimits = { maxHeaderSize: 16384, maxHeaderCount: 100 };

const REQUEST = [
  'GET /chat?x=1 HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
].join('\r\n');

const head = (text: string): Buffer => Buffer.from(text, 'latin1');

function expectHeadError(fn: () => unknown, status: number, label = ''): HeadError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, HeadError, label);
    const e = error as HeadError;
    assert.is(e.status, status, `${label}: ${e.message}`);
    assert.is(e.name, 'HeadError');
    return e;
  }
  assert.unreachable(`${label}: expected HeadError ${status}`);
  throw new Error('unreachable');
}

/**
 * Pushes chunks until the head completes, as a socket handler would; chunks
 * arriving after that are appended to `rest` (they no longer go to the reader).
 */
function feed(reader: HeadReader, chunks: Buffer[]): { head: Buffer; rest: Buffer } | null {
  for (let i = 0; i < chunks.length; i++) {
    const result = reader.push(chunks[i]);
    if (result !== null) return { head: result.head, rest: Buffer.concat([result.rest, ...chunks.slice(i + 1)]) };
  }
  return null;
}

// ---------------------------------------------------------------- HeadReader

test('HeadReader: a head in one chunk', () => {
  const reader = new HeadReader(LIMITS);
  const result = reader.push(head(REQUEST + '\r\n\r\n'));
  assert.ok(result);
  assert.is(result!.head.toString('latin1'), REQUEST);
  assert.is(result!.rest.length, 0);
});

test('HeadReader: null while the head is incomplete', () => {
  const reader = new HeadReader(LIMITS);
  assert.is(reader.push(head('GET / HTTP/1.1\r\n')), null);
  assert.is(reader.push(head('Host: x\r\n')), null);
  const result = reader.push(head('\r\n'));
  assert.is(result!.head.toString(), 'GET / HTTP/1.1\r\nHost: x');
});

test('HeadReader: a head fed byte by byte', () => {
  const bytes = head(REQUEST + '\r\n\r\n');
  const reader = new HeadReader(LIMITS);
  for (let i = 0; i < bytes.length - 1; i++) assert.is(reader.push(bytes.subarray(i, i + 1)), null, `byte ${i}`);
  const result = reader.push(bytes.subarray(bytes.length - 1));
  assert.is(result!.head.toString('latin1'), REQUEST);
  assert.is(result!.rest.length, 0);
});

test('HeadReader: the terminator split across two chunks at each position', () => {
  const bytes = head(REQUEST + '\r\n\r\nBODY');
  const terminatorAt = REQUEST.length;
  for (let cut = terminatorAt - 2; cut <= terminatorAt + 6; cut++) {
    const reader = new HeadReader(LIMITS);
    const result = feed(reader, [bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.ok(result, `cut ${cut}`);
    assert.is(result!.head.toString('latin1'), REQUEST, `cut ${cut}`);
    assert.is(result!.rest.toString(), 'BODY', `cut ${cut}`);
  }
});

test('HeadReader: the terminator spread over four one-byte chunks', () => {
  const reader = new HeadReader(LIMITS);
  assert.is(reader.push(head('GET / HTTP/1.1')), null);
  assert.is(reader.push(head('\r')), null);
  assert.is(reader.push(head('\n')), null);
  assert.is(reader.push(head('\r')), null);
  const result = reader.push(head('\nrest'));
  assert.is(result!.head.toString(), 'GET / HTTP/1.1');
  assert.is(result!.rest.toString(), 'rest');
});

test('HeadReader: every split into three chunks finds the same head and rest', () => {
  const bytes = head('GET / HTTP/1.1\r\nA: b\r\n\r\nxyz');
  for (let a = 0; a <= bytes.length; a++) {
    for (let b = a; b <= bytes.length; b++) {
      const reader = new HeadReader(LIMITS);
      const result = feed(reader, [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]);
      assert.ok(result, `cuts ${a}, ${b}`);
      assert.is(result!.head.toString(), 'GET / HTTP/1.1\r\nA: b', `cuts ${a}, ${b}`);
      assert.is(result!.rest.toString(), 'xyz', `cuts ${a}, ${b}`);
    }
  }
});

test('HeadReader: "\\r\\n\\r" then "\\r\\n" is not a terminator (no false match across the tail)', () => {
  const reader = new HeadReader(LIMITS);
  assert.is(reader.push(head('GET / HTTP/1.1\r\nA: b\r\n\r')), null);
  assert.is(reader.push(head('X\r\n')), null, '\\r\\n\\rX is not a terminator');
  const result = reader.push(head('\r\n'));
  assert.is(result!.head.toString(), 'GET / HTTP/1.1\r\nA: b\r\n\rX');
});

test('HeadReader: bytes after the head (the first frame) are preserved in rest', () => {
  const frame = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, 0x0d, 0x0a, 0x0d, 0x0a]);
  const bytes = Buffer.concat([head(REQUEST + '\r\n\r\n'), frame]);
  const result = new HeadReader(LIMITS).push(bytes);
  assert.ok(result!.rest.equals(frame), 'a second CRLFCRLF inside the rest is left alone');
  // Split: the head in one chunk, the frame arriving with the terminator's last byte.
  const reader = new HeadReader(LIMITS);
  assert.is(reader.push(bytes.subarray(0, REQUEST.length + 3)), null);
  const split = reader.push(bytes.subarray(REQUEST.length + 3));
  assert.ok(split!.rest.equals(frame));
  assert.is(split!.head.toString('latin1'), REQUEST);
});

test('HeadReader: an empty head (a blank line first) is found', () => {
  const result = new HeadReader(LIMITS).push(head('\r\n\r\nx'));
  assert.is(result!.head.length, 0);
  assert.is(result!.rest.toString(), 'x');
});

test('HeadReader: empty chunks are harmless', () => {
  const reader = new HeadReader(LIMITS);
  assert.is(reader.push(Buffer.alloc(0)), null);
  assert.is(reader.push(head('GET / HTTP/1.1\r\n\r')), null);
  assert.is(reader.push(Buffer.alloc(0)), null);
  assert.is(reader.push(head('\n'))!.head.toString(), 'GET / HTTP/1.1');
});

test('HeadReader: 431 as soon as more than maxHeaderSize bytes arrive without a terminator', () => {
  const limits = { maxHeaderSize: 100, maxHeaderCount: 100 };
  const reader = new HeadReader(limits);
  assert.is(reader.push(Buffer.alloc(60, 0x61)), null);
  assert.is(reader.push(Buffer.alloc(40, 0x61)), null, 'exactly 100 bytes is still allowed to continue');
  expectHeadError(() => reader.push(Buffer.alloc(1, 0x61)), 431);
  expectHeadError(() => new HeadReader(limits).push(Buffer.alloc(101, 0x61)), 431, 'one big chunk');
});

test('HeadReader: 431 byte by byte without a terminator, at the limit', () => {
  const reader = new HeadReader({ maxHeaderSize: 50, maxHeaderCount: 100 });
  for (let i = 0; i < 50; i++) assert.is(reader.push(Buffer.from('a')), null);
  expectHeadError(() => reader.push(Buffer.from('a')), 431);
});

test('HeadReader: 431 when the terminator arrives but the head is over the limit', () => {
  const text = 'GET / HTTP/1.1\r\nA: ' + 'b'.repeat(100) + '\r\n\r\n';
  const limits = { maxHeaderSize: text.length - 1, maxHeaderCount: 100 };
  expectHeadError(() => new HeadReader(limits).push(head(text)), 431, 'one chunk');
  const reader = new HeadReader(limits);
  assert.is(reader.push(head(text.slice(0, text.length - 2))), null);
  expectHeadError(() => reader.push(head('\r\n')), 431, 'terminator in a second chunk');
});

test('HeadReader: a head of exactly maxHeaderSize bytes (terminator included) is accepted, with any rest', () => {
  const text = 'GET / HTTP/1.1\r\nA: b\r\n\r\n';
  const limits = { maxHeaderSize: text.length, maxHeaderCount: 100 };
  const result = new HeadReader(limits).push(head(text + 'x'.repeat(1000)));
  assert.is(result!.head.toString(), 'GET / HTTP/1.1\r\nA: b');
  assert.is(result!.rest.length, 1000, 'bytes after the head do not count toward the limit');
});

test('HeadReader: a large head in many small chunks completes quickly (linear scanning)', () => {
  const text = 'GET / HTTP/1.1\r\n' + 'X-Filler: abcdefghij\r\n'.repeat(3000) + '\r\n';
  const bytes = head(text);
  const reader = new HeadReader({ maxHeaderSize: 1 << 20, maxHeaderCount: 10000 });
  const start = process.hrtime.bigint();
  let result = null;
  for (let i = 0; i < bytes.length && result === null; i += 3) result = reader.push(bytes.subarray(i, i + 3));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  assert.ok(result);
  assert.is(result!.head.length, bytes.length - 4);
  assert.ok(ms < 1000, `${ms} ms`);
});

// ----------------------------------------------------------- parseRequestHead

test('parseRequestHead: method, url, httpVersion and headers', () => {
  const req = parseRequestHead(head(REQUEST), LIMITS);
  assert.is(req.method, 'GET');
  assert.is(req.url, '/chat?x=1');
  assert.is(req.httpVersion, '1.1');
  assert.is(req.headers.host, 'server.example.com');
  assert.is(req.headers.upgrade, 'websocket');
  assert.is(req.headers['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
  assert.is(req.headers['sec-websocket-version'], '13');
});

test('parseRequestHead: other versions and methods are reported as given', () => {
  const req = parseRequestHead(head('POST * HTTP/1.0'), LIMITS);
  assert.is(req.method, 'POST');
  assert.is(req.url, '*');
  assert.is(req.httpVersion, '1.0');
  assert.is(parseRequestHead(head('M-SEARCH http://a.example/x HTTP/2.0'), LIMITS).httpVersion, '2.0');
});

test('parseRequestHead: a head without header lines', () => {
  const req = parseRequestHead(head('GET / HTTP/1.1'), LIMITS);
  assert.equal(req.rawHeaders, []);
  assert.equal(Object.keys(req.headers), []);
});

test('7230 3.2.2: repeated header fields are joined with ", " in order', () => {
  const req = parseRequestHead(
    head('GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nX-A: 3\r\nConnection: keep-alive\r\nConnection: Upgrade'),
    LIMITS,
  );
  assert.is(req.headers['x-a'], '1, 2, 3');
  assert.is(req.headers.connection, 'keep-alive, Upgrade');
});

test('header names are lowercased; values keep their case; OWS around values is trimmed', () => {
  const req = parseRequestHead(head('GET / HTTP/1.1\r\nUpGrade:\t WebSocket \t\r\nX-Empty:\r\nX-Inner: a  \t b'), LIMITS);
  assert.is(req.headers.upgrade, 'WebSocket');
  assert.is(req.headers['x-empty'], '');
  assert.is(req.headers['x-inner'], 'a  \t b');
  assert.not.ok('UpGrade' in req.headers);
});

test('rawHeaders keeps names and values as received, alternating', () => {
  const req = parseRequestHead(head('GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2'), LIMITS);
  assert.equal(req.rawHeaders, ['Host', 'a', 'X-A', '1', 'x-a', '2']);
});

test('the headers object has a null prototype: "__proto__" and "constructor" are plain keys', () => {
  const req = parseRequestHead(head('GET / HTTP/1.1\r\n__proto__: polluted\r\nconstructor: c\r\nhasOwnProperty: h\r\ntoString: t'), LIMITS);
  assert.is(Object.getPrototypeOf(req.headers), null);
  // biome-ignore lint/suspicious/noProto: the point: a header named __proto__ is a plain key
  assert.is(req.headers.__proto__, 'polluted');
  assert.ok(Object.hasOwn(req.headers, '__proto__'));
  assert.is(req.headers.constructor, 'c');
  assert.is(req.headers.hasownproperty, 'h');
  assert.is(req.headers.tostring, 't');
  assert.is(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
  assert.is(Object.getPrototypeOf({}), Object.prototype);
  // An absent header reads as undefined, not as an Object.prototype member.
  assert.is(parseRequestHead(head('GET / HTTP/1.1'), LIMITS).headers.constructor, undefined);
});

test('a repeated __proto__ header is joined like any other', () => {
  const req = parseRequestHead(head('GET / HTTP/1.1\r\n__proto__: a\r\n__PROTO__: b'), LIMITS);
  // biome-ignore lint/suspicious/noProto: the point: a header named __proto__ is a plain key
  assert.is(req.headers.__proto__, 'a, b');
});

test('7230 3.1.1: a malformed request line is refused with 400', () => {
  for (const line of [
    '',
    'GET',
    'GET /',
    'GET / HTTP/1.1 extra',
    'GET  / HTTP/1.1',
    'GET /  HTTP/1.1',
    ' GET / HTTP/1.1',
    'GET\t/\tHTTP/1.1',
    'GET / HTTP/1.1 ',
  ]) {
    expectHeadError(() => parseRequestHead(head(line), LIMITS), 400, JSON.stringify(line));
  }
});

test('7230 3.1.1: an empty method or target is refused with 400', () => {
  expectHeadError(() => parseRequestHead(head(' / HTTP/1.1'), LIMITS), 400, 'empty method');
  expectHeadError(() => parseRequestHead(head('GET  HTTP/1.1'), LIMITS), 400, 'empty target');
});

test('7230 3.1.1: a method with non-token characters is refused with 400', () => {
  for (const method of ['G(T', 'GE/T', 'GET:', 'G"T', 'GÉT', 'G\u0000T', 'G\u007fT', 'G,T']) {
    expectHeadError(() => parseRequestHead(head(`${method} / HTTP/1.1`), LIMITS), 400, JSON.stringify(method));
  }
});

test('7230 3.1.1: a target with control, DEL or non-ASCII characters is refused with 400', () => {
  for (const target of ['/a\u0000b', '/a\u0001', '/a\tb', '/a\u007f', '/é', '/a\u00ff']) {
    expectHeadError(() => parseRequestHead(head(`GET ${target} HTTP/1.1`), LIMITS), 400, JSON.stringify(target));
  }
});

test('7230 2.6: a malformed HTTP version is refused with 400', () => {
  for (const version of [
    'HTTP/1',
    'HTTP/1.',
    'HTTP/1.1.1',
    'HTTP/11.1',
    'HTTP/1.10',
    'http/1.1',
    'HTTPS/1.1',
    'HTTP 1.1',
    'HTTP/a.b',
    'HTTP/1.1x',
    'xHTTP/1.1',
    'HTTP/１.1',
  ]) {
    expectHeadError(() => parseRequestHead(head(`GET / ${version}`), LIMITS), 400, version);
  }
});

test('7230 3.2.4: an obs-fold continuation line is refused with 400', () => {
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\nX-A: 1\r\n 2'), LIMITS), 400, 'space fold');
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\nX-A: 1\r\n\t2'), LIMITS), 400, 'tab fold');
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\nX-A: 1\r\n X-B: 2'), LIMITS), 400, 'fold with a colon');
});

test('7230 3.2.4: whitespace between the field name and the colon is refused with 400', () => {
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\nHost : x'), LIMITS), 400, 'space');
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\nHost\t: x'), LIMITS), 400, 'tab');
});

test('a header line without a colon or with an empty name is refused with 400', () => {
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\nHost x'), LIMITS), 400, 'no colon');
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\n: x'), LIMITS), 400, 'empty name');
});

test('a header name with non-token characters is refused with 400', () => {
  for (const name of ['X(A)', 'X"A', 'X/A', 'Hösten', 'X\u0000A', 'X@A']) {
    expectHeadError(() => parseRequestHead(head(`GET / HTTP/1.1\r\n${name}: v`), LIMITS), 400, JSON.stringify(name));
  }
});

test('7230 3.2: control characters in a header value are refused with 400 (HTAB and obs-text are allowed)', () => {
  for (const c of [0x00, 0x01, 0x08, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f]) {
    const text = `GET / HTTP/1.1\r\nX-A: a${String.fromCharCode(c)}b`;
    expectHeadError(() => parseRequestHead(head(text), LIMITS), 400, `char ${c}`);
  }
  const ok = parseRequestHead(head('GET / HTTP/1.1\r\nX-A: a\tb\u00e9\u00ff'), LIMITS);
  assert.is(ok.headers['x-a'], 'a\tb\u00e9\u00ff');
});

test('7230 3.5: a bare LF or bare CR is refused with 400', () => {
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\nHost: x'), LIMITS), 400, 'bare LF after the request line');
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\nHost: x\nX-A: 1'), LIMITS), 400, 'bare LF between headers');
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\nHost: x\rX-A: 1'), LIMITS), 400, 'bare CR');
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\nHost: x\r'), LIMITS), 400, 'trailing CR');
  expectHeadError(() => parseResponseHead(head('HTTP/1.1 101 OK\nUpgrade: websocket'), LIMITS), 400, 'response');
});

test('more than maxHeaderCount header lines are refused with 431; exactly the maximum is fine', () => {
  const limits = { maxHeaderSize: 1 << 20, maxHeaderCount: 5 };
  const lines = (n: number): string => ['GET / HTTP/1.1', ...Array.from({ length: n }, (_, i) => `X-${i}: ${i}`)].join('\r\n');
  assert.is(Object.keys(parseRequestHead(head(lines(5)), limits).headers).length, 5);
  expectHeadError(() => parseRequestHead(head(lines(6)), limits), 431);
  expectHeadError(() => parseResponseHead(head('HTTP/1.1 101 OK\r\n' + lines(6).split('\r\n').slice(1).join('\r\n')), limits), 431);
});

test('the header count limit applies before any line is parsed (a flood of bad lines is still 431)', () => {
  const limits = { maxHeaderSize: 1 << 20, maxHeaderCount: 2 };
  expectHeadError(() => parseRequestHead(head('GET / HTTP/1.1\r\nbad\r\nbad\r\nbad'), limits), 431);
});

// ---------------------------------------------------------- parseResponseHead

test('parseResponseHead: status code, message, version and headers', () => {
  const res = parseResponseHead(
    head(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    ),
    LIMITS,
  );
  assert.is(res.httpVersion, '1.1');
  assert.is(res.statusCode, 101);
  assert.is(res.statusMessage, 'Switching Protocols');
  assert.is(res.headers.upgrade, 'websocket');
  assert.is(res.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  assert.equal(res.rawHeaders.slice(0, 2), ['Upgrade', 'websocket']);
  assert.is(Object.getPrototypeOf(res.headers), null);
});

test('7230 3.1.2: the reason phrase may be empty or absent, and may contain spaces', () => {
  assert.is(parseResponseHead(head('HTTP/1.1 404 '), LIMITS).statusMessage, '');
  const bare = parseResponseHead(head('HTTP/1.1 404'), LIMITS);
  assert.is(bare.statusCode, 404);
  assert.is(bare.statusMessage, '');
  assert.is(parseResponseHead(head('HTTP/1.0 500 Internal  Server Error'), LIMITS).statusMessage, 'Internal  Server Error');
  assert.is(parseResponseHead(head('HTTP/1.0 500 Internal Server Error'), LIMITS).httpVersion, '1.0');
});

test('7230 3.1.2: malformed status lines are refused with 400', () => {
  const bad = [
    '',
    'HTTP/1.1',
    'HTTP/1.1 ',
    'HTTP/1.1 10',
    'HTTP/1.1 1011 Switching',
    'HTTP/1.1 1011',
    'HTTP/1.1 abc OK',
    'HTTP/1.1 10a OK',
    'HTTP/1.1  101 OK',
    'HTTP/1.1\t101 OK',
    'HTTP/1.1 101\tOK',
    'HTTP/1.1 -01 OK',
    'HTTP/1.1 +01 OK',
    'HTTP/1.1 1 1 OK',
    'http/1.1 101 OK',
    'HTTP/1 101 OK',
    'HTTP/1.1x 101 OK',
    'ICY 200 OK',
    '101 Switching Protocols',
  ];
  for (const line of bad) expectHeadError(() => parseResponseHead(head(line), LIMITS), 400, JSON.stringify(line));
});

test('parseResponseHead: malformed header lines are refused like in requests', () => {
  expectHeadError(() => parseResponseHead(head('HTTP/1.1 101 OK\r\nUpgrade : websocket'), LIMITS), 400);
  expectHeadError(() => parseResponseHead(head('HTTP/1.1 101 OK\r\nUpgrade: web\u0000socket'), LIMITS), 400);
  expectHeadError(() => parseResponseHead(head('HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n folded'), LIMITS), 400);
});

test('end to end: HeadReader output parses as a request', () => {
  const reader = new HeadReader(LIMITS);
  const result = reader.push(head(REQUEST + '\r\n\r\n'));
  const req = parseRequestHead(result!.head, LIMITS);
  assert.is(req.headers.connection, 'Upgrade');
});

test.run();
