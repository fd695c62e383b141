import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  formatExtensions,
  isToken,
  isTokenChar,
  parseExtensions,
  parseSubprotocols,
  parseTokenList,
  tokenListIncludes,
  type ExtensionOffer,
} from '../../src/protocol/headers.ts';

/** Offers as plain data for deep comparison. */
function plain(offers: ExtensionOffer[] | null): unknown {
  if (offers === null) return null;
  return offers.map((o) => ({ name: o.name, params: [...o.params], duplicateParams: o.duplicateParams }));
}

function elapsed(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

// ------------------------------------------------------------------ isToken

test('7230 3.2.6: isToken accepts tchar runs', () => {
  for (const t of ['websocket', 'Upgrade', 'permessage-deflate', 'x', "!#$%&'*+-.^_`|~", 'A0z9', 'chat.v2']) {
    assert.ok(isToken(t), t);
  }
});

test('7230 3.2.6: isToken refuses empty, separators, whitespace, controls and non-ASCII', () => {
  for (const t of [
    '',
    ' ',
    'a b',
    'a,b',
    'a;b',
    'a=b',
    '"a"',
    'a/b',
    'a:b',
    'a@b',
    '(a)',
    '[a]',
    '{a}',
    '<a>',
    'a?',
    'a\\b',
    'a\tb',
    'a\u0000',
    'a\u007f',
    'é',
    'a\u0100',
    'κ',
  ]) {
    assert.not.ok(isToken(t), JSON.stringify(t));
  }
});

test('isTokenChar over the whole ASCII range and beyond', () => {
  const expected = new Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
  for (let c = 0; c < 300; c++) {
    assert.is(isTokenChar(c), c < 128 && expected.has(String.fromCharCode(c)), `char ${c}`);
  }
});

// ------------------------------------------------------------ parseTokenList

test('parseTokenList: a simple list', () => {
  assert.equal(parseTokenList('a,b,c'), ['a', 'b', 'c']);
  assert.equal(parseTokenList('Upgrade'), ['Upgrade']);
});

test('parseTokenList: optional whitespace (SP and HTAB) around elements', () => {
  assert.equal(parseTokenList('  a ,\tb\t, c  '), ['a', 'b', 'c']);
});

test('7230 7: empty list elements are allowed and skipped', () => {
  assert.equal(parseTokenList(''), []);
  assert.equal(parseTokenList('   '), []);
  assert.equal(parseTokenList(','), []);
  assert.equal(parseTokenList(', ,'), []);
  assert.equal(parseTokenList(',a,,b,'), ['a', 'b']);
  assert.equal(parseTokenList(' , a , , b , '), ['a', 'b']);
});

test('parseTokenList: bad syntax gives null', () => {
  for (const v of ['a b', 'a;b', 'a, b c', 'a=b', '"a"', 'a, é', 'a,/', 'a\u0000', 'a ,b;']) {
    assert.is(parseTokenList(v), null, JSON.stringify(v));
  }
});

test('tokenListIncludes: case-insensitive membership', () => {
  assert.ok(tokenListIncludes('Upgrade', 'upgrade'));
  assert.ok(tokenListIncludes('keep-alive, Upgrade', 'upgrade'));
  assert.ok(tokenListIncludes('WebSocket', 'websocket'));
  assert.ok(tokenListIncludes('websocket', 'WEBSOCKET'));
  assert.ok(tokenListIncludes(',, upgrade ,', 'Upgrade'));
});

test('tokenListIncludes: absent header, other tokens, substrings and bad syntax are false', () => {
  assert.not.ok(tokenListIncludes(undefined, 'upgrade'));
  assert.not.ok(tokenListIncludes('', 'upgrade'));
  assert.not.ok(tokenListIncludes('keep-alive', 'upgrade'));
  assert.not.ok(tokenListIncludes('upgraded', 'upgrade'), 'no prefix match');
  assert.not.ok(tokenListIncludes('xupgrade', 'upgrade'), 'no suffix match');
  assert.not.ok(tokenListIncludes('upgrade;q=1', 'upgrade'), 'unparsable list');
});

// ---------------------------------------------------------- parseSubprotocols

test('4.1: parseSubprotocols keeps the order of the offer', () => {
  assert.equal(parseSubprotocols('chat, superchat'), ['chat', 'superchat']);
  assert.equal(parseSubprotocols('v2.json.example.com'), ['v2.json.example.com']);
  assert.equal(parseSubprotocols(''), []);
});

test('4.1: duplicate subprotocols ("unique strings") give null', () => {
  assert.is(parseSubprotocols('chat, chat'), null);
  assert.is(parseSubprotocols('a, b, a'), null);
});

test('subprotocols are case-sensitive: "chat" and "Chat" are distinct', () => {
  assert.equal(parseSubprotocols('chat, Chat'), ['chat', 'Chat']);
});

test('parseSubprotocols: bad syntax gives null', () => {
  assert.is(parseSubprotocols('chat superchat'), null);
  assert.is(parseSubprotocols('chat; q=1'), null);
  assert.is(parseSubprotocols('"chat"'), null);
});

// ------------------------------------------------------------ parseExtensions

test('9.1: a single extension without parameters', () => {
  assert.equal(plain(parseExtensions('permessage-deflate')), [{ name: 'permessage-deflate', params: [], duplicateParams: [] }]);
});

test('9.1: several offers, in order, with parameters with and without values', () => {
  const offers = parseExtensions('permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate, x-foo;a=1;b');
  assert.equal(plain(offers), [
    {
      name: 'permessage-deflate',
      params: [
        ['client_max_window_bits', true],
        ['server_max_window_bits', '10'],
      ],
      duplicateParams: [],
    },
    { name: 'permessage-deflate', params: [], duplicateParams: [] },
    {
      name: 'x-foo',
      params: [
        ['a', '1'],
        ['b', true],
      ],
      duplicateParams: [],
    },
  ]);
});

test('9.1: whitespace around ";", "=" and ","', () => {
  assert.equal(plain(parseExtensions('  foo \t;\t a \t=\t 1 ; b ,  bar  ')), [
    {
      name: 'foo',
      params: [
        ['a', '1'],
        ['b', true],
      ],
      duplicateParams: [],
    },
    { name: 'bar', params: [], duplicateParams: [] },
  ]);
});

test('9.1 / 7230 7: empty list elements are skipped', () => {
  assert.equal(parseExtensions(''), []);
  assert.equal(parseExtensions(' , ,'), []);
  assert.equal(plain(parseExtensions(', foo ,, bar,')), [
    { name: 'foo', params: [], duplicateParams: [] },
    { name: 'bar', params: [], duplicateParams: [] },
  ]);
});

test('9.1: quoted parameter values are unquoted', () => {
  assert.equal(plain(parseExtensions('foo; a="10"; b = "x-y"')), [
    {
      name: 'foo',
      params: [
        ['a', '10'],
        ['b', 'x-y'],
      ],
      duplicateParams: [],
    },
  ]);
});

test('9.1: escaped characters in a quoted value are unescaped', () => {
  assert.equal(plain(parseExtensions('foo; a="\\1\\0"')), [{ name: 'foo', params: [['a', '10']], duplicateParams: [] }]);
  assert.equal(plain(parseExtensions('foo; a="a\\-b"')), [{ name: 'foo', params: [['a', 'a-b']], duplicateParams: [] }]);
});

test('9.1: a quoted value that is not a token once unquoted gives null', () => {
  for (const v of ['foo; a=""', 'foo; a="a b"', 'foo; a="a,b"', 'foo; a="a;b"', 'foo; a="\\""', 'foo; a="é"', 'foo; a="a\\ b"']) {
    assert.is(parseExtensions(v), null, v);
  }
});

test('an unterminated quoted value gives null', () => {
  assert.is(parseExtensions('foo; a="10'), null);
  assert.is(parseExtensions('foo; a="'), null);
  assert.is(parseExtensions('foo; a="10\\"'), null, 'the closing quote is escaped');
  assert.is(parseExtensions('foo; a="10\\'), null, 'backslash at the very end');
});

test('9.1: bad extension syntax gives null', () => {
  const bad = [
    ';', // no name
    '; a', // no name
    'foo;', // empty parameter
    'foo; ', // empty parameter
    'foo;;a', // empty parameter
    'foo; =1', // no parameter name
    'foo; a=', // no value
    'foo; a= ', // no value
    'foo; a=,bar', // no value
    'foo; a=/', // value not a token
    'foo bar', // two names
    'foo; a b', // two tokens
    'foo; a=1 2', // two value tokens
    'foo; a="1" 2',
    'foo=1', // a value on the extension name
    '"foo"',
    'foo, é',
    'foo; a=1; b=2 x, bar',
  ];
  for (const v of bad) assert.is(parseExtensions(v), null, JSON.stringify(v));
});

test('7692 7: duplicate parameters are recorded in duplicateParams; the first value is kept', () => {
  assert.equal(plain(parseExtensions('permessage-deflate; server_no_context_takeover; server_no_context_takeover')), [
    {
      name: 'permessage-deflate',
      params: [['server_no_context_takeover', true]],
      duplicateParams: ['server_no_context_takeover'],
    },
  ]);
  assert.equal(plain(parseExtensions('foo; a=1; b; a=2; a; b')), [
    {
      name: 'foo',
      params: [
        ['a', '1'],
        ['b', true],
      ],
      duplicateParams: ['a', 'a', 'b'],
    },
  ]);
});

test('parameter names are case-sensitive map keys (A and a are different)', () => {
  assert.equal(plain(parseExtensions('foo; a=1; A=2')), [
    {
      name: 'foo',
      params: [
        ['a', '1'],
        ['A', '2'],
      ],
      duplicateParams: [],
    },
  ]);
});

test('prototype names (__proto__, constructor, hasOwnProperty) as extension and param names are plain names', () => {
  const names = ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'prototype'];
  for (const name of names) {
    const offers = parseExtensions(`${name}; ${name}=polluted; __proto__; constructor=1`)!;
    assert.ok(offers !== null, name);
    assert.is(offers.length, 1);
    assert.is(offers[0].name, name);
    assert.ok(offers[0].params instanceof Map);
    assert.is(offers[0].params.get(name), 'polluted');
    assert.ok(offers[0].params.has('__proto__'));
    assert.ok(offers[0].params.has('constructor'));
  }
  const probe: Record<string, unknown> = {};
  assert.is(probe.polluted, undefined, 'Object.prototype untouched');
  assert.is(Object.hasOwn(Object.prototype, 'polluted'), false);
  assert.is(typeof ({} as { hasOwnProperty: unknown }).hasOwnProperty, 'function');
  assert.is(({} as { constructor: unknown }).constructor, Object);
  assert.is(Object.getPrototypeOf({}), Object.prototype);
});

test('__proto__ twice as a parameter is a duplicate, not a prototype write', () => {
  const offers = parseExtensions('x; __proto__=a; __proto__=b')!;
  assert.equal([...offers[0].params], [['__proto__', 'a']]);
  assert.equal(offers[0].duplicateParams, ['__proto__']);
  assert.is(({} as Record<string, unknown>).a, undefined);
});

// ----------------------------------------------------------- formatExtensions

test('formatExtensions formats names and parameters', () => {
  assert.is(formatExtensions([]), '');
  assert.is(
    formatExtensions([
      {
        name: 'permessage-deflate',
        params: new Map<string, string | true>([
          ['server_no_context_takeover', true],
          ['client_max_window_bits', '10'],
        ]),
      },
      { name: 'x-foo', params: new Map() },
    ]),
    'permessage-deflate; server_no_context_takeover; client_max_window_bits=10, x-foo',
  );
});

test('formatExtensions and parseExtensions round-trip', () => {
  for (const value of [
    'permessage-deflate',
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; server_no_context_takeover; client_max_window_bits=10, x-foo; a=1; b',
    'a, b, c',
  ]) {
    const parsed = parseExtensions(value)!;
    assert.is(formatExtensions(parsed), value);
    assert.equal(plain(parseExtensions(formatExtensions(parsed))), plain(parsed));
  }
  // Quoted input comes back in token form, which parses to the same offers.
  const quoted = parseExtensions('foo ;a="10";  b')!;
  assert.is(formatExtensions(quoted), 'foo; a=10; b');
  assert.equal(plain(parseExtensions(formatExtensions(quoted))), plain(quoted));
});

// --------------------------------------------------------------- linear time

const LIMIT_MS = 200;
const K64 = 65536;

const hostile: Array<[string, string]> = [
  ['"a;" x 32768', 'a;'.repeat(K64 / 2)],
  ['"a; " x 21845', 'a; '.repeat(Math.floor(K64 / 3))],
  ['64 KiB of spaces then x', ' '.repeat(K64) + 'x'],
  ['64 KiB of tabs then ;', '\t'.repeat(K64) + ';'],
  ['64 KiB of commas', ','.repeat(K64)],
  ['", " x 32768 then a bad char', ', '.repeat(K64 / 2) + '/'],
  ['a= then 64 KiB of quotes', 'a=' + '"'.repeat(K64)],
  ['a;b= then 64 KiB of quotes', 'a;b=' + '"'.repeat(K64)],
  ['unterminated quoted value of 64 KiB', 'a;b="' + 'x'.repeat(K64)],
  ['64 KiB of escapes, unterminated', 'a;b="' + '\\x'.repeat(K64 / 2)],
  ['64 KiB of escaped quotes', 'a;b="' + '\\"'.repeat(K64 / 2)],
  ['a long quoted token value', 'a;b="' + 'x'.repeat(K64) + '"'],
  ['many params', 'a' + ';b=1'.repeat(K64 / 4)],
  ['many duplicate params', 'a' + ';b'.repeat(K64 / 2)],
  ['many extensions', 'a;b=1, '.repeat(K64 / 7)],
  ['one 64 KiB token', 'x'.repeat(K64)],
  ['whitespace runs between params', ('a' + ' '.repeat(100) + ';' + ' '.repeat(100)).repeat(300) + 'b'],
  ['"a=" x 32768', 'a='.repeat(K64 / 2)],
  ['quote after equals, repeated', 'a;b="c";'.repeat(K64 / 8)],
];

for (const [label, value] of hostile) {
  test(`linear time (ReDoS): ${label}`, () => {
    // Warm up once so the JIT does not count against the budget.
    parseExtensions(value.slice(0, 1000));
    // The best of three runs: a busy machine only ever adds time, while a
    // quadratic parse of 64 KiB would take seconds on every run.
    const best = (fn: () => unknown): number => Math.min(elapsed(fn), elapsed(fn), elapsed(fn));
    const times = [
      best(() => parseExtensions(value)),
      best(() => parseTokenList(value)),
      best(() => parseSubprotocols(value)),
      best(() => tokenListIncludes(value, 'websocket')),
    ];
    for (const ms of times) assert.ok(ms < LIMIT_MS, `${label}: ${ms.toFixed(1)} ms`);
  });
}

test('lists of more than MAX_LIST_ELEMENTS (256) elements are refused: no object per offer for a flood', () => {
  assert.is(parseSubprotocols(Array.from({ length: 256 }, (_, i) => `p${i}`).join(','))?.length, 256);
  assert.is(parseSubprotocols(Array.from({ length: 257 }, (_, i) => `p${i}`).join(',')), null);
  assert.is(parseExtensions('x, '.repeat(256))?.length, 256);
  assert.is(parseExtensions('x, '.repeat(257)), null);
  // Empty elements are skipped, not counted.
  assert.is(parseTokenList(',,,'.repeat(1000) + 'a')?.length, 1);
});

test('linear time: many distinct subprotocols (256, the most a list may hold)', () => {
  const value = Array.from({ length: 256 }, (_, i) => `p${'x'.repeat(200)}${i}`).join(', ');
  let result: string[] | null = null;
  const ms = elapsed(() => (result = parseSubprotocols(value)));
  assert.ok(ms < LIMIT_MS, `${ms} ms`);
  assert.is(result!.length, 256);
});

test('linear time: 4x the input takes about 4x the time, not 16x', () => {
  const make = (n: number): string => 'a;b="' + '\\x'.repeat(n);
  const small = make(1 << 15);
  const large = make(1 << 17);
  parseExtensions(make(1000));
  // Interleaved and best of nine, so that a pause of a shared machine (or a
  // garbage collection) lands in some runs of both sizes, not in all of one.
  let bestSmall = Infinity;
  let bestLarge = Infinity;
  for (let i = 0; i < 9; i++) {
    bestSmall = Math.min(
      bestSmall,
      elapsed(() => parseExtensions(small)),
    );
    bestLarge = Math.min(
      bestLarge,
      elapsed(() => parseExtensions(large)),
    );
  }
  assert.ok(bestLarge < Math.max(bestSmall, 0.5) * 10 + 5, `32K: ${bestSmall.toFixed(2)} ms, 128K: ${bestLarge.toFixed(2)} ms`);
});

test.run();
