/** RFC 7692 section 7: permessage-deflate offers, answers and their checks. */
import { resolveDeflateConfig } from '../../src/compression/settings.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketError } from '../../src/protocol/errors.ts';
import { parseExtensions } from '../../src/protocol/headers.ts';
import {
  acceptDeflateOffer,
  acceptDeflateResponse,
  buildDeflateOffer,
  type PerMessageDeflateOptions,
} from '../../src/protocol/permessage-deflate.ts';
import { isError } from '../helpers.ts';

/** Context takeover allowed, so each parameter shows on its own (the defaults turn it off). */
const TAKEOVER: PerMessageDeflateOptions = { serverNoContextTakeover: false, clientNoContextTakeover: false };

function serverAnswer(offer: string, options: PerMessageDeflateOptions = {}) {
  return acceptDeflateOffer(parseExtensions(offer)!, { ...TAKEOVER, ...options });
}

function clientParams(response: string, options: PerMessageDeflateOptions = {}) {
  return acceptDeflateResponse(parseExtensions(response)!, { ...TAKEOVER, ...options });
}

test('server: by default both sides reset their context per message', () => {
  const accepted = acceptDeflateOffer(parseExtensions('permessage-deflate; client_max_window_bits')!, {})!;
  assert.is(accepted.header, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  assert.equal(accepted.params, {
    sendNoContextTakeover: true,
    sendWindowBits: 15,
    receiveNoContextTakeover: true,
    receiveWindowBits: 15,
  });
});

test('client: by default the offer asks for no context takeover both ways, and needs the server to agree', () => {
  assert.is(buildDeflateOffer({}), 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits');
  assert.equal(acceptDeflateResponse(parseExtensions('permessage-deflate; server_no_context_takeover')!, {}), {
    sendNoContextTakeover: true,
    sendWindowBits: 15,
    receiveNoContextTakeover: true,
    receiveWindowBits: 15,
  });
  assert.throws(() => acceptDeflateResponse(parseExtensions('permessage-deflate')!, {}), isError(WebSocketError));
});

// Server side: which offers are accepted, and the answer.
const answers: Array<[string, string, PerMessageDeflateOptions, string | null]> = [
  ['a bare offer is accepted as is', 'permessage-deflate', {}, 'permessage-deflate'],
  [
    'a browser offer (client_max_window_bits without value) needs no answer for it',
    'permessage-deflate; client_max_window_bits',
    {},
    'permessage-deflate',
  ],
  [
    'server_no_context_takeover offered is accepted',
    'permessage-deflate; server_no_context_takeover',
    {},
    'permessage-deflate; server_no_context_takeover',
  ],
  [
    'client_no_context_takeover offered is echoed (we can then reset our inflater)',
    'permessage-deflate; client_no_context_takeover',
    {},
    'permessage-deflate; client_no_context_takeover',
  ],
  [
    'server_max_window_bits offered is answered with the same value',
    'permessage-deflate; server_max_window_bits=10',
    {},
    'permessage-deflate; server_max_window_bits=10',
  ],
  [
    'server_max_window_bits: the smaller of offer and option',
    'permessage-deflate; server_max_window_bits=12',
    { serverMaxWindowBits: 9 },
    'permessage-deflate; server_max_window_bits=9',
  ],
  [
    'server_max_window_bits: the option never raises the offered value',
    'permessage-deflate; server_max_window_bits=9',
    { serverMaxWindowBits: 12 },
    'permessage-deflate; server_max_window_bits=9',
  ],
  [
    'server_max_window_bits=8 is answered as 8',
    'permessage-deflate; server_max_window_bits=8',
    {},
    'permessage-deflate; server_max_window_bits=8',
  ],
  [
    'the server may limit its own window without an offer',
    'permessage-deflate',
    { serverMaxWindowBits: 11 },
    'permessage-deflate; server_max_window_bits=11',
  ],
  [
    'client_max_window_bits without value: the option sets it',
    'permessage-deflate; client_max_window_bits',
    { clientMaxWindowBits: 10 },
    'permessage-deflate; client_max_window_bits=10',
  ],
  [
    'client_max_window_bits with value: the smaller one',
    'permessage-deflate; client_max_window_bits=9',
    { clientMaxWindowBits: 12 },
    'permessage-deflate; client_max_window_bits=9',
  ],
  [
    'client_max_window_bits not offered: the option cannot be sent (7.1.2.2)',
    'permessage-deflate',
    { clientMaxWindowBits: 10 },
    'permessage-deflate',
  ],
  [
    'serverNoContextTakeover option is answered without an offer',
    'permessage-deflate',
    { serverNoContextTakeover: true },
    'permessage-deflate; server_no_context_takeover',
  ],
  [
    'clientNoContextTakeover option is answered without an offer',
    'permessage-deflate',
    { clientNoContextTakeover: true },
    'permessage-deflate; client_no_context_takeover',
  ],
  [
    'all four parameters',
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15',
    {},
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15',
  ],
  [
    'a quoted value counts as its token',
    'permessage-deflate; server_max_window_bits="10"',
    {},
    'permessage-deflate; server_max_window_bits=10',
  ],
  ['an unknown parameter declines the offer', 'permessage-deflate; foo', {}, null],
  ['a repeated parameter declines the offer', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, null],
  ['server_max_window_bits without value declines the offer', 'permessage-deflate; server_max_window_bits', {}, null],
  ['server_max_window_bits=7 declines the offer', 'permessage-deflate; server_max_window_bits=7', {}, null],
  ['server_max_window_bits=16 declines the offer', 'permessage-deflate; server_max_window_bits=16', {}, null],
  ['a window value with a leading zero declines the offer', 'permessage-deflate; client_max_window_bits=09', {}, null],
  ['a window value that is not a number declines the offer', 'permessage-deflate; client_max_window_bits=abc', {}, null],
  ['server_no_context_takeover with a value declines the offer', 'permessage-deflate; server_no_context_takeover=1', {}, null],
  ['client_no_context_takeover with a value declines the offer', 'permessage-deflate; client_no_context_takeover=1', {}, null],
  ['other extensions are ignored', 'x-webkit-deflate-frame, foo; bar=1', {}, null],
  [
    'a declined offer falls back to the next one',
    'permessage-deflate; server_max_window_bits=20, permessage-deflate; client_no_context_takeover',
    {},
    'permessage-deflate; client_no_context_takeover',
  ],
  [
    'the first acceptable offer wins',
    'permessage-deflate; server_max_window_bits=9, permessage-deflate',
    {},
    'permessage-deflate; server_max_window_bits=9',
  ],
  ['names of Object.prototype are plain names', 'permessage-deflate; __proto__; constructor', {}, null],
];

for (const [name, offer, options, expected] of answers) {
  test(`server: ${name}`, () => {
    const accepted = serverAnswer(offer, options);
    assert.is(accepted === null ? null : accepted.header, expected);
  });
}

test('server: negotiated parameters, seen from the server', () => {
  const accepted = serverAnswer('permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11')!;
  assert.equal(accepted.params, {
    sendNoContextTakeover: true,
    sendWindowBits: 10,
    receiveNoContextTakeover: false,
    receiveWindowBits: 11,
  });
  assert.equal(serverAnswer('permessage-deflate')!.params, {
    sendNoContextTakeover: false,
    sendWindowBits: 15,
    receiveNoContextTakeover: false,
    receiveWindowBits: 15,
  });
});

// Client side: the offer.
test('client: with context takeover allowed, the offer only allows a smaller client window', () => {
  assert.is(buildDeflateOffer(TAKEOVER), 'permessage-deflate; client_max_window_bits');
});

test('client: offer with every option', () => {
  assert.is(
    buildDeflateOffer({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 }),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
  );
});

// Client side: checking the answer.
test('client: no permessage-deflate in the answer means no compression', () => {
  assert.is(clientParams(''), null);
});

test('client: a bare answer keeps context takeover and 15-bit windows', () => {
  assert.equal(clientParams('permessage-deflate'), {
    sendNoContextTakeover: false,
    sendWindowBits: 15,
    receiveNoContextTakeover: false,
    receiveWindowBits: 15,
  });
});

test('client: every parameter of an answer is applied', () => {
  assert.equal(
    clientParams(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10',
    ),
    { sendNoContextTakeover: true, sendWindowBits: 10, receiveNoContextTakeover: true, receiveWindowBits: 9 },
  );
});

test('client: our own clientNoContextTakeover holds even if the answer omits it', () => {
  assert.is(clientParams('permessage-deflate', { clientNoContextTakeover: true })!.sendNoContextTakeover, true);
});

const badAnswers: Array<[string, string, PerMessageDeflateOptions]> = [
  ['accepted twice', 'permessage-deflate, permessage-deflate', {}],
  ['a repeated parameter', 'permessage-deflate; client_no_context_takeover; client_no_context_takeover', {}],
  ['an unknown parameter', 'permessage-deflate; foo', {}],
  ['server_no_context_takeover with a value', 'permessage-deflate; server_no_context_takeover=1', {}],
  ['client_max_window_bits without value', 'permessage-deflate; client_max_window_bits', {}],
  ['server_max_window_bits out of range', 'permessage-deflate; server_max_window_bits=16', {}],
  ['client_max_window_bits above what we offered', 'permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }],
  ['server_max_window_bits above what we asked', 'permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }],
  ['server_max_window_bits asked for but missing', 'permessage-deflate', { serverMaxWindowBits: 10 }],
  ['server_no_context_takeover asked for but missing', 'permessage-deflate', { serverNoContextTakeover: true }],
];
for (const [name, response, options] of badAnswers) {
  test(`client: an answer with ${name} fails the connection`, () => {
    assert.throws(() => clientParams(response, options), isError(WebSocketError));
  });
}

test('options: window bits outside 8-15 and bad numbers are RangeErrors', () => {
  for (const options of [
    { serverMaxWindowBits: 7 },
    { clientMaxWindowBits: 16 },
    { serverMaxWindowBits: 9.5 },
    { threshold: -1 },
    { level: 10 },
    { memLevel: 0 },
    { concurrency: 0 },
  ]) {
    assert.throws(() => resolveDeflateConfig(options, true), isError(RangeError), JSON.stringify(options));
  }
  resolveDeflateConfig({ serverMaxWindowBits: 8, clientMaxWindowBits: 15, threshold: 0, level: 0, memLevel: 9, concurrency: 1 }, true);
});

test.run();
