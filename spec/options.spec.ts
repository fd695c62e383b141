/**
 * The adversarial checklist for options, table-driven: for every option,
 * `undefined` (the default), 0, a negative number and a wrong type, on the
 * server and (where the option exists there) the client.
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveDeflateConfig } from '../src/compression/settings.ts';
import { WebSocket, WebSocketServer } from '../src/index.ts';
import {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BUFFERED_AMOUNT,
  DEFAULT_MAX_BUFFERED_CHUNKS,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_MAX_PENDING_AUTO_PONGS,
  DEFAULT_MAX_STREAM_PAYLOAD,
  MAX_MESSAGE_SIZE,
  resolveConnectionOptions,
} from '../src/options/connection.ts';
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_HEADER_COUNT,
  DEFAULT_MAX_HEADER_SIZE,
  resolveServerOptions,
} from '../src/options/server.ts';
import { isError } from './helpers.ts';

const test = suite('options: undefined, 0, negative, wrong type');

type Row = {
  name: string;
  /** What undefined resolves to. */
  fallback: unknown;
  /** What 0 resolves to, or the error class 0 throws. */
  zero: unknown;
  /** Also a client option. */
  client: boolean;
};

const numbers: Row[] = [
  { name: 'maxPayload', fallback: DEFAULT_MAX_PAYLOAD, zero: MAX_MESSAGE_SIZE, client: true },
  { name: 'maxFragments', fallback: DEFAULT_MAX_FRAGMENTS, zero: Number.MAX_SAFE_INTEGER, client: true },
  { name: 'maxBufferedChunks', fallback: DEFAULT_MAX_BUFFERED_CHUNKS, zero: Number.MAX_SAFE_INTEGER, client: true },
  { name: 'maxPendingAutoPongs', fallback: DEFAULT_MAX_PENDING_AUTO_PONGS, zero: Number.MAX_SAFE_INTEGER, client: true },
  { name: 'maxBufferedAmount', fallback: DEFAULT_MAX_BUFFERED_AMOUNT, zero: 0, client: true },
  // 0 is Node's meaning: send() returns false at once, an iterator reads one message at a time.
  { name: 'maxStreamPayload', fallback: DEFAULT_MAX_STREAM_PAYLOAD, zero: Number.MAX_SAFE_INTEGER, client: true },
  { name: 'highWaterMark', fallback: DEFAULT_HIGH_WATER_MARK, zero: 0, client: true },
  { name: 'closeTimeout', fallback: DEFAULT_CLOSE_TIMEOUT, zero: RangeError, client: true },
  { name: 'handshakeTimeout', fallback: DEFAULT_HANDSHAKE_TIMEOUT, zero: RangeError, client: true },
  { name: 'maxHeaderSize', fallback: DEFAULT_MAX_HEADER_SIZE, zero: RangeError, client: true },
  { name: 'maxHeaderCount', fallback: DEFAULT_MAX_HEADER_COUNT, zero: RangeError, client: false },
];

function resolved(options: Record<string, unknown>): Record<string, unknown> {
  return resolveServerOptions({ noServer: true, ...options }) as unknown as Record<string, unknown>;
}

for (const row of numbers) {
  test(`${row.name}: undefined is the default, 0 ${typeof row.zero === 'function' ? 'throws' : 'is "no limit"'}; as ws, a fraction is truncated and a numeric string is its number; -1, NaN and null throw`, () => {
    assert.is(resolved({ [row.name]: undefined })[row.name], row.fallback);
    assert.is(resolved({})[row.name], row.fallback);
    if (typeof row.zero === 'function') {
      assert.throws(() => resolved({ [row.name]: 0 }), isError(row.zero as typeof RangeError));
    } else {
      assert.is(resolved({ [row.name]: 0 })[row.name], row.zero);
    }
    assert.is(resolved({ [row.name]: 10.9 })[row.name], 10, 'truncated, as ws truncates');
    assert.is(resolved({ [row.name]: '10' })[row.name], 10, 'a numeric string, as ws coerces it');
    assert.is(resolved({ [row.name]: ' 12 ' })[row.name], 12);
    // Where ws reads these as "no limit" by accident, netws refuses: a limit must not vanish silently.
    assert.throws(() => resolved({ [row.name]: -1 }), isError(RangeError));
    assert.throws(() => resolved({ [row.name]: NaN }), isError(TypeError));
    assert.throws(() => resolved({ [row.name]: null }), isError(TypeError));
    assert.throws(() => resolved({ [row.name]: 'ten' }), isError(TypeError));
    assert.throws(() => resolved({ [row.name]: '' }), isError(TypeError));
    assert.throws(() => resolved({ [row.name]: true }), isError(TypeError));
    if (row.client) {
      assert.throws(() => new WebSocket('ws://127.0.0.1:1', { [row.name]: -1 }), isError(RangeError), 'client');
      assert.throws(() => new WebSocket('ws://127.0.0.1:1', { [row.name]: 'x' } as never), isError(TypeError), 'client');
    }
  });
}

test('a size past what netws can hold is clamped to it, never refused: maxPayload 1e10 (engine.io passes maxHttpBufferSize through)', () => {
  // What a Buffer holds is the runtime's: 4 GiB on Node 20 and Bun (1e10 is clamped), 2^53 - 1 on Node 22+ and Deno.
  const clamped = Math.min(1e10, MAX_MESSAGE_SIZE);
  assert.is(resolved({ maxPayload: 1e10 }).maxPayload, clamped);
  assert.is(resolved({ maxPayload: Infinity }).maxPayload, MAX_MESSAGE_SIZE);
  assert.is(resolved({ maxPayload: MAX_MESSAGE_SIZE * 2 }).maxPayload, MAX_MESSAGE_SIZE);
  assert.is(resolved({ maxStreamPayload: 1e20 }).maxStreamPayload, Number.MAX_SAFE_INTEGER);
  assert.is(resolveConnectionOptions({ maxPayload: 1e10 }).maxPayload, clamped);
});

test('timeouts past what setTimeout can wait are the longest it can (they would fire at once)', () => {
  for (const name of ['closeTimeout', 'handshakeTimeout']) {
    assert.is(resolved({ [name]: 2 ** 31 })[name], 2 ** 31 - 1, name);
    assert.is(resolved({ [name]: 2 ** 31 - 1 })[name], 2 ** 31 - 1);
  }
});

for (const [name, fallback] of [
  ['autoPong', true],
  ['allowSynchronousEvents', true],
  ['skipUTF8Validation', false],
  ['clientTracking', true],
] as const) {
  test(`${name}: undefined is ${fallback}; 0 and 1 are false and true (as ws's truthiness); other non-booleans throw TypeError`, () => {
    assert.is(resolved({ [name]: undefined })[name], fallback);
    assert.is(resolved({ [name]: !fallback })[name], !fallback);
    assert.is(resolved({ [name]: 0 })[name], false);
    assert.is(resolved({ [name]: 1 })[name], true);
    // The string 'false' is true to ws; for skipUTF8Validation that would switch a safety check off.
    for (const wrong of [2, 'true', 'false', null, {}]) {
      assert.throws(() => resolved({ [name]: wrong }), isError(TypeError), JSON.stringify(wrong));
    }
  });
}

for (const name of ['handleProtocols', 'verifyClient', 'generateMask']) {
  test(`${name}: undefined and null are "none"; anything but a function throws TypeError`, () => {
    assert.is(resolved({ [name]: undefined })[name] ?? undefined, undefined);
    assert.is(resolved({ [name]: null })[name] ?? undefined, undefined);
    for (const wrong of [true, 'fn', 0, {}]) {
      assert.throws(() => resolved({ [name]: wrong }), isError(TypeError), JSON.stringify(wrong));
    }
  });
}

test('host and path: strings; anything else throws TypeError', () => {
  assert.is(resolved({ path: '/ws' }).path, '/ws');
  assert.throws(() => resolved({ path: 1 }), isError(TypeError));
  assert.throws(() => resolved({ host: ['a'] }), isError(TypeError));
});

test('exactly one of port, server and noServer; null counts as not given (as in ws); a port may be a numeric string', () => {
  assert.throws(() => resolveServerOptions({}), isError(TypeError));
  assert.throws(() => resolveServerOptions({ port: 1, noServer: true }), isError(TypeError));
  assert.throws(() => resolveServerOptions(undefined as never), isError(TypeError));
  assert.is(resolveServerOptions({ port: null, noServer: true } as never).port, undefined);
  assert.is(resolveServerOptions({ port: '8080' } as never).port, 8080);
  assert.throws(() => resolveServerOptions({ port: 70_000 }), isError(RangeError));
  assert.throws(() => resolveServerOptions({ port: 'http' } as never), isError(TypeError));
  assert.throws(() => resolveServerOptions({ server: {} as never }), isError(TypeError));
  assert.is(resolveServerOptions({ noServer: true, backlog: 0 }).backlog, undefined);
});

test('heartbeat: an object of two timeouts, each 1 ms to 2^31 - 1 ms', () => {
  assert.is(resolveConnectionOptions({}).heartbeat, null);
  assert.equal(resolveConnectionOptions({ heartbeat: { interval: 1, timeout: 1 } }).heartbeat, { interval: 1, timeout: 1 });
  assert.throws(() => resolveConnectionOptions({ heartbeat: { interval: 0, timeout: 1 } }), isError(RangeError));
  assert.throws(() => resolveConnectionOptions({ heartbeat: 5 as never }), isError(TypeError));
  assert.throws(() => resolveConnectionOptions({ heartbeat: { interval: 1 } as never }), isError(TypeError));
});

test('perMessageDeflate: booleans, an object; each field checked; windowBits true/false allowed, 7 and 16 not', () => {
  assert.is(resolveDeflateConfig(false, true), null);
  assert.is(resolveDeflateConfig(true, true)!.threshold, 1024);
  assert.throws(() => new WebSocketServer({ noServer: true, perMessageDeflate: 'yes' as never }), isError(TypeError));
  assert.throws(() => new WebSocketServer({ noServer: true, perMessageDeflate: 0 as never }), isError(TypeError));
  const bad: Array<[Record<string, unknown>, typeof Error]> = [
    [{ threshold: -1 }, RangeError],
    [{ threshold: '1' }, RangeError],
    [{ level: 10 }, RangeError],
    [{ level: -1 }, RangeError],
    [{ memLevel: 0 }, RangeError],
    [{ concurrency: 0 }, RangeError],
    [{ concurrencyLimit: -1 }, RangeError],
    [{ serverMaxWindowBits: 7 }, RangeError],
    [{ clientMaxWindowBits: 16 }, RangeError],
    [{ clientMaxWindowBits: '15' }, RangeError],
    [{ serverNoContextTakeover: 'no' }, TypeError],
    [{ zlibDeflateOptions: 5 }, TypeError],
    // zlib's own checks run at construction, not inside a later send().
    [{ zlibDeflateOptions: { strategy: 99 } }, RangeError],
    [{ zlibInflateOptions: { chunkSize: 1 } }, RangeError],
    [{ zlibDeflateOptions: { level: 'high' } }, TypeError],
  ];
  for (const [options, type] of bad) {
    assert.throws(() => resolveDeflateConfig(options, true), isError(type), JSON.stringify(options));
    assert.throws(
      () => new WebSocket('ws://127.0.0.1:1', { perMessageDeflate: options }),
      isError(type),
      `client ${JSON.stringify(options)}`,
    );
  }
  for (const good of [{ clientMaxWindowBits: true }, { serverMaxWindowBits: false }, { threshold: 0 }, { concurrencyLimit: 1 }]) {
    assert.ok(resolveDeflateConfig(good, true), JSON.stringify(good));
  }
  // zlib options pass through; windowBits is negotiated, so the user's is dropped.
  const config = resolveDeflateConfig({ zlibDeflateOptions: { level: 1, windowBits: 9, strategy: 1 }, level: undefined }, true)!;
  assert.equal(config.deflateOptions, { level: 1, strategy: 1, memLevel: 8 });
});

test('the WebSocket class option: WebSocket or a subclass, anything else throws TypeError', () => {
  class Custom extends WebSocket {}
  assert.ok(new WebSocketServer({ noServer: true, WebSocket: Custom }));
  assert.throws(() => new WebSocketServer({ noServer: true, WebSocket: class {} as never }), isError(TypeError));
});

test('the adapter option: undefined and null for none; 0, negative, wrong types and incomplete objects throw TypeError', () => {
  assert.is(resolveServerOptions({ noServer: true }).adapter, null);
  assert.is(resolveServerOptions({ noServer: true, adapter: null }).adapter, null);
  for (const bad of [0, -1, 'redis', true, () => {}, {}, { attach() {}, detach() {}, subscribe() {}, unsubscribe() {} }]) {
    assert.throws(() => resolveServerOptions({ noServer: true, adapter: bad as never }), isError(TypeError), String(bad));
  }
  const adapter = { attach() {}, detach() {}, subscribe() {}, unsubscribe() {}, publish() {} };
  assert.is(resolveServerOptions({ noServer: true, adapter }).adapter, adapter);
});

test('unknown options are ignored, as ws ignores them (frameworks pass their own keys through)', () => {
  assert.ok(new WebSocketServer({ noServer: true, errorHandler: () => {} } as never));
});

test.run();
