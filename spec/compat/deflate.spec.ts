/**
 * permessage-deflate: what each side offers and answers (the
 * Sec-WebSocket-Extensions values), ws's option names, and the bytes on
 * the wire, netws against ws.
 */

import zlib from 'node:zlib';
import { suite } from 'uvu';
import { compat, errorShape, type CaseOptions, type Loose, type Run } from './harness.ts';
import { bothEnds, rawPeer } from './connection.ts';
import { OP, closePayload, describeFrame, headerValue, inflater, switchingProtocols, upgradeRequest, type RawSocket } from './wire.ts';

const CHROME_OFFER = 'permessage-deflate; client_max_window_bits';
const TEXT = 'compress me, '.repeat(100); // 1300 bytes: above the default threshold of both

/** Raw deflate of `text` as a client of a fresh context sends it (sync flush, trailer removed). */
function deflated(text: string | Buffer, options: zlib.ZlibOptions = {}): Buffer {
  const out = zlib.deflateRawSync(text, { finishFlush: zlib.constants.Z_SYNC_FLUSH, ...options });
  return out.subarray(0, out.length - 4);
}

/** Offers `offer` to a server of the library under test with `options`; notes the status line and extensions answer. */
async function negotiate(t: Run, options: unknown, offer: string | null, params?: string[]): Promise<{ raw: RawSocket; ws: Loose | null }> {
  const wss = await t.server({ perMessageDeflate: options });
  let ws: Loose | null = null;
  wss.on('connection', (connection: Loose) => (ws = connection));
  const raw = await t.raw(wss.address().port);
  raw.write(upgradeRequest({ headers: offer === null ? [] : [`Sec-WebSocket-Extensions: ${offer}`] }));
  const head = await raw.readHead();
  let answer = headerValue(head, 'sec-websocket-extensions') ?? 'none';
  if (params !== undefined && answer !== 'none') {
    answer = answer
      .split(';')
      .map((part) => part.trim())
      .filter((part, i) => i === 0 || params.some((name) => part.startsWith(name)))
      .join('; ');
  }
  t.note(head.start, answer);
  if (head.start.includes(' 101 ')) await t.until(() => ws !== null, 1000, 'the connection');
  return { raw, ws };
}

// ---------------------------------------------------------------------------
const serverNegotiation = suite('compat: permessage-deflate, what a server answers');

compat(serverNegotiation, 'perMessageDeflate: false (the default) answers no extension', async (lib, t) => {
  await negotiate(t, undefined, CHROME_OFFER);
  await negotiate(t, false, CHROME_OFFER);
});

compat(
  serverNegotiation,
  'perMessageDeflate: true answers a browser offer with the default parameters',
  async (lib, t) => {
    await negotiate(t, true, CHROME_OFFER);
    await negotiate(t, true, 'permessage-deflate');
  },
  {
    differs: {
      reason: 'netws defaults both context-takeover options to no takeover (lean memory: zlib streams pooled between messages)',
      ws: [
        ['HTTP/1.1 101 Switching Protocols', 'permessage-deflate'],
        ['HTTP/1.1 101 Switching Protocols', 'permessage-deflate'],
      ],
      netws: [
        ['HTTP/1.1 101 Switching Protocols', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
        ['HTTP/1.1 101 Switching Protocols', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
      ],
    },
  },
);

const TAKEOVER = { serverNoContextTakeover: false, clientNoContextTakeover: false };

/**
 * Offers and server options, and the answer compared. Context takeover is
 * asked for explicitly (`TAKEOVER`) where the case is about something else,
 * so netws's different default (asserted above) does not hide the point.
 */
const answers: Array<[string, unknown, string, string[]?]> = [
  ['context takeover both ways, a browser offer', TAKEOVER, CHROME_OFFER],
  [
    'context takeover both ways, the client asks for none',
    TAKEOVER,
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  ],
  ['serverNoContextTakeover: true', { serverNoContextTakeover: true }, CHROME_OFFER, ['server_no_context_takeover']],
  ['clientNoContextTakeover: true', { clientNoContextTakeover: true }, CHROME_OFFER, ['client_no_context_takeover']],
  [
    'serverNoContextTakeover: false against an offer that asks for it',
    { serverNoContextTakeover: false },
    'permessage-deflate; server_no_context_takeover',
  ],
  ['serverMaxWindowBits: 10', { ...TAKEOVER, serverMaxWindowBits: 10 }, CHROME_OFFER],
  [
    'serverMaxWindowBits: 12 against an offer of server_max_window_bits=10',
    { ...TAKEOVER, serverMaxWindowBits: 12 },
    'permessage-deflate; server_max_window_bits=10',
  ],
  [
    'serverMaxWindowBits: 10 against an offer of server_max_window_bits=12',
    { ...TAKEOVER, serverMaxWindowBits: 10 },
    'permessage-deflate; server_max_window_bits=12',
  ],
  ['clientMaxWindowBits: 10', { ...TAKEOVER, clientMaxWindowBits: 10 }, CHROME_OFFER],
  [
    'clientMaxWindowBits: 10 against an offer without client_max_window_bits',
    { ...TAKEOVER, clientMaxWindowBits: 10 },
    'permessage-deflate',
  ],
  ['clientMaxWindowBits: true', { ...TAKEOVER, clientMaxWindowBits: true }, CHROME_OFFER],
  [
    'clientMaxWindowBits: 12 against an offer of client_max_window_bits=10',
    { ...TAKEOVER, clientMaxWindowBits: 12 },
    'permessage-deflate; client_max_window_bits=10',
  ],
  ['an offer of server_max_window_bits=8', TAKEOVER, 'permessage-deflate; server_max_window_bits=8'],
  [
    'the first acceptable of two offers',
    { ...TAKEOVER, serverMaxWindowBits: 12 },
    'permessage-deflate; server_max_window_bits=10, permessage-deflate',
  ],
  ['an offer with an unknown parameter', TAKEOVER, 'permessage-deflate; foo=1'],
  ['an offer with an invalid window size', TAKEOVER, 'permessage-deflate; client_max_window_bits=7'],
  ['an offer with a repeated parameter', TAKEOVER, 'permessage-deflate; server_no_context_takeover; server_no_context_takeover'],
  ['an unknown extension only', TAKEOVER, 'x-webkit-deflate-frame'],
  ['an unknown extension, then permessage-deflate', TAKEOVER, 'x-foo, permessage-deflate'],
  ['a malformed extensions header', TAKEOVER, 'permessage-deflate;; ='],
];

/**
 * Where netws negotiates as RFC 7692 has it and ws does not (decided in
 * issue 11): an offer ws refuses the whole handshake over is declined by
 * netws (no extension, the connection opens), or, where the client asks for
 * less than the server's options (no context takeover, a smaller window),
 * taken as asked; of several offers, the first one netws can take wins.
 */
const NEGOTIATION =
  'netws negotiates permessage-deflate as RFC 7692 7.1 has it: it takes an offer asking for less than its options as asked and declines one it cannot take; ws refuses the handshake with 400';
const REFUSED = [['HTTP/1.1 400 Bad Request', 'none']];
const declaredAnswers: Record<string, CaseOptions['differs']> = {
  'context takeover both ways, the client asks for none': {
    reason: NEGOTIATION,
    ws: REFUSED,
    netws: [['HTTP/1.1 101 Switching Protocols', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover']],
  },
  'serverNoContextTakeover: false against an offer that asks for it': {
    reason: NEGOTIATION,
    ws: REFUSED,
    netws: [['HTTP/1.1 101 Switching Protocols', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover']],
  },
  'serverMaxWindowBits: 12 against an offer of server_max_window_bits=10': {
    reason: NEGOTIATION,
    ws: REFUSED,
    netws: [['HTTP/1.1 101 Switching Protocols', 'permessage-deflate; server_max_window_bits=10']],
  },
  'clientMaxWindowBits: 10 against an offer without client_max_window_bits': {
    reason: NEGOTIATION,
    ws: REFUSED,
    netws: [['HTTP/1.1 101 Switching Protocols', 'permessage-deflate']],
  },
  'clientMaxWindowBits: 12 against an offer of client_max_window_bits=10': {
    reason: NEGOTIATION,
    ws: REFUSED,
    netws: [['HTTP/1.1 101 Switching Protocols', 'permessage-deflate; client_max_window_bits=10']],
  },
  'the first acceptable of two offers': {
    reason: NEGOTIATION,
    ws: [['HTTP/1.1 101 Switching Protocols', 'permessage-deflate; server_max_window_bits=12']],
    netws: [['HTTP/1.1 101 Switching Protocols', 'permessage-deflate; server_max_window_bits=10']],
  },
  'an offer with an unknown parameter': { reason: NEGOTIATION, ws: REFUSED, netws: [['HTTP/1.1 101 Switching Protocols', 'none']] },
  'an offer with an invalid window size': { reason: NEGOTIATION, ws: REFUSED, netws: [['HTTP/1.1 101 Switching Protocols', 'none']] },
  'an offer with a repeated parameter': { reason: NEGOTIATION, ws: REFUSED, netws: [['HTTP/1.1 101 Switching Protocols', 'none']] },
};

for (const [title, options, offer, params] of answers) {
  compat(
    serverNegotiation,
    `answer: ${title}`,
    async (lib, t) => {
      await negotiate(t, options, offer, params);
    },
    { differs: declaredAnswers[title] },
  );
}

const EXTENSIONS = "netws's ws.extensions is the negotiated header value with its parameters (as browsers report it); ws's the names only";

compat(
  serverNegotiation,
  'the connection reports the negotiated extensions in ws.extensions',
  async (lib, t) => {
    const { ws } = await negotiate(t, TAKEOVER, 'permessage-deflate; client_max_window_bits; server_max_window_bits=11');
    t.note('extensions', ws.extensions);
  },
  {
    differs: {
      reason: EXTENSIONS,
      ws: [
        ['HTTP/1.1 101 Switching Protocols', 'permessage-deflate; server_max_window_bits=11'],
        ['extensions', 'permessage-deflate'],
      ],
      netws: [
        ['HTTP/1.1 101 Switching Protocols', 'permessage-deflate; server_max_window_bits=11'],
        ['extensions', 'permessage-deflate; server_max_window_bits=11'],
      ],
    },
  },
);

// ---------------------------------------------------------------------------
const clientNegotiation = suite('compat: permessage-deflate, what a client offers and accepts');

async function offerOf(t: Run, options: Record<string, unknown>): Promise<void> {
  const server = await t.rawServer();
  const ws = t.client(`ws://127.0.0.1:${server.port}`, options);
  ws.on('error', () => {});
  const raw = await server.connection();
  t.note('offer', headerValue(await raw.readHead(), 'sec-websocket-extensions') ?? 'none');
}

compat(
  clientNegotiation,
  'the default offer',
  async (lib, t) => {
    await offerOf(t, {});
    await offerOf(t, { perMessageDeflate: true });
  },
  {
    differs: {
      reason: 'netws asks for no context takeover both ways by default (lean memory)',
      ws: [
        ['offer', 'permessage-deflate; client_max_window_bits'],
        ['offer', 'permessage-deflate; client_max_window_bits'],
      ],
      netws: [
        ['offer', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits'],
        ['offer', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits'],
      ],
    },
  },
);

for (const [title, options] of [
  ['context takeover both ways', TAKEOVER],
  ['every parameter', { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 }],
  ['clientMaxWindowBits: true', { ...TAKEOVER, clientMaxWindowBits: true }],
  ['clientMaxWindowBits: false', { ...TAKEOVER, clientMaxWindowBits: false }],
] as Array<[string, Record<string, unknown>]>) {
  compat(clientNegotiation, `the offer with ${title}`, async (lib, t) => {
    await offerOf(t, { perMessageDeflate: options });
  });
}

/** Server answers a netws client takes or refuses as RFC 7692 has it, unlike ws (decided in issue 11). */
const declaredAcceptances: Record<string, CaseOptions['differs']> = {
  'client_no_context_takeover when the client wants takeover': {
    reason:
      'a netws client accepts a server answer with client_no_context_takeover (RFC 7692 7.1.1.2 lets the server ask it); ws fails the connection',
    ws: [['error', { error: 'Error' }], 'close'],
    netws: ['open'],
  },
  'permessage-deflate twice': {
    reason:
      'a netws client fails the connection when the server answers permessage-deflate twice (RFC 7692 7.1: one per response); ws takes it',
    ws: ['open'],
    netws: [['error', { error: 'Error' }], 'close'],
  },
};

/** A client of the library under test; the raw server answers with `extensions`; notes the outcome. */
async function accepts(t: Run, clientOptions: Record<string, unknown>, extensions: string): Promise<void> {
  const server = await t.rawServer();
  const ws = t.client(`ws://127.0.0.1:${server.port}`, clientOptions);
  ws.on('error', (error: Error) => t.note('error', errorShape(error)));
  const raw = await server.connection();
  raw.write(switchingProtocols(await raw.readHead(), [`Sec-WebSocket-Extensions: ${extensions}`]));
  const [event] = await Promise.race([t.wait(ws, 'open').then(() => ['open']), t.wait(ws, 'close').then(() => ['close'])]);
  t.note(event);
}

compat(
  clientNegotiation,
  "a client's ws.extensions once negotiated",
  async (lib, t) => {
    const server = await t.rawServer();
    const ws = t.client(`ws://127.0.0.1:${server.port}`, { perMessageDeflate: TAKEOVER });
    const raw = await server.connection();
    raw.write(switchingProtocols(await raw.readHead(), ['Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10']));
    await t.wait(ws, 'open');
    t.note('extensions', ws.extensions);
  },
  {
    differs: {
      reason: EXTENSIONS,
      ws: [['extensions', 'permessage-deflate']],
      netws: [['extensions', 'permessage-deflate; server_max_window_bits=10']],
    },
  },
);

for (const [title, options, answer] of [
  ['no parameters', { perMessageDeflate: TAKEOVER }, 'permessage-deflate'],
  ['server_max_window_bits=10', { perMessageDeflate: TAKEOVER }, 'permessage-deflate; server_max_window_bits=10'],
  ['client_max_window_bits=9', { perMessageDeflate: TAKEOVER }, 'permessage-deflate; client_max_window_bits=9'],
  [
    'client_no_context_takeover when the client wants takeover',
    { perMessageDeflate: TAKEOVER },
    'permessage-deflate; client_no_context_takeover',
  ],
  [
    'client_max_window_bits=12 when the client offered 10',
    { perMessageDeflate: { ...TAKEOVER, clientMaxWindowBits: 10 } },
    'permessage-deflate; client_max_window_bits=12',
  ],
  ['an invalid value', { perMessageDeflate: TAKEOVER }, 'permessage-deflate; server_max_window_bits=16'],
  ['permessage-deflate twice', { perMessageDeflate: TAKEOVER }, 'permessage-deflate, permessage-deflate'],
  ['an extension when none was offered', { perMessageDeflate: false }, 'permessage-deflate'],
] as Array<[string, Record<string, unknown>, string]>) {
  compat(
    clientNegotiation,
    `a server answer with ${title}`,
    async (lib, t) => {
      await accepts(t, options, answer);
    },
    { differs: declaredAcceptances[title] },
  );
}

// ---------------------------------------------------------------------------
const wire = suite('compat: permessage-deflate, the bytes on the wire');

/**
 * The library under test on `end` with permessage-deflate negotiated
 * against a raw peer; `response` is what the raw server answers (client end),
 * `offer` what the raw client offers (server end).
 */
async function deflatePeer(
  t: Run,
  end: 'client' | 'server',
  options: Record<string, unknown>,
  offer = CHROME_OFFER,
  response = 'permessage-deflate',
) {
  return end === 'server'
    ? rawPeer(t, 'server', { perMessageDeflate: options }, [`Sec-WebSocket-Extensions: ${offer}`])
    : rawPeer(
        t,
        'client',
        { perMessageDeflate: options, generateMask: (mask: Buffer) => mask.fill(0x5a) },
        [],
        [`Sec-WebSocket-Extensions: ${response}`],
      );
}

// Payloads are compared unmasked: the masking key is generateMask's business (client.spec.ts).

bothEnds(wire, 'the first compressed message: the exact frame', async (lib, t, end) => {
  const { local, raw } = await deflatePeer(t, end, TAKEOVER);
  local.send(TEXT);
  const [frame] = await raw.readFrames(1);
  t.note(
    'rsv1',
    frame.rsv1,
    'payload',
    frame.payload.toString('hex'),
    'inflates to the text',
    inflater()(frame.payload).toString() === TEXT,
  );
});

bothEnds(wire, 'a second identical message with context takeover: back-references to the first', async (lib, t, end) => {
  const { local, raw } = await deflatePeer(t, end, TAKEOVER);
  local.send(TEXT);
  local.send(TEXT);
  const frames = await raw.readFrames(2);
  t.note('second payload', frames[1].payload.toString('hex'));
});

/** Options without context takeover for the tested end's own compressor only. */
const noTakeover = (end: 'client' | 'server'): Record<string, unknown> =>
  end === 'server' ? { ...TAKEOVER, serverNoContextTakeover: true } : { ...TAKEOVER, clientNoContextTakeover: true };

bothEnds(wire, 'a second identical message without context takeover: compressed afresh', async (lib, t, end) => {
  const options = noTakeover(end);
  const { local, raw } = await deflatePeer(
    t,
    end,
    options,
    `${CHROME_OFFER}; server_no_context_takeover`,
    'permessage-deflate; client_no_context_takeover',
  );
  local.send(TEXT);
  local.send(TEXT);
  const frames = await raw.readFrames(2);
  t.note('the two payloads are identical', frames[0].payload.equals(frames[1].payload));
});

bothEnds(wire, 'threshold with context takeover: a small message', async (lib, t, end) => {
  const { local, raw } = await deflatePeer(t, end, { ...TAKEOVER, threshold: 1024 });
  local.send('tiny');
  t.note((await raw.readFrames(1)).map((frame) => describeFrame(frame, inflater())));
});

bothEnds(wire, 'threshold without context takeover: smaller messages go uncompressed', async (lib, t, end) => {
  const options = { ...noTakeover(end), threshold: 100 };
  const { local, raw } = await deflatePeer(
    t,
    end,
    options,
    `${CHROME_OFFER}; server_no_context_takeover`,
    'permessage-deflate; client_no_context_takeover',
  );
  local.send('x'.repeat(99));
  local.send('y'.repeat(100));
  t.note((await raw.readFrames(2)).map((frame) => describeFrame(frame, inflater())));
});

bothEnds(wire, 'threshold: 0 compresses every message', async (lib, t, end) => {
  const options = { ...noTakeover(end), threshold: 0 };
  const { local, raw } = await deflatePeer(
    t,
    end,
    options,
    `${CHROME_OFFER}; server_no_context_takeover`,
    'permessage-deflate; client_no_context_takeover',
  );
  local.send('a');
  t.note((await raw.readFrames(1)).map((frame) => `rsv1 ${frame.rsv1} ${frame.payload.toString('hex')}`));
});

bothEnds(wire, 'send(data, { compress: false }) goes uncompressed', async (lib, t, end) => {
  const { local, raw } = await deflatePeer(t, end, TAKEOVER);
  local.send(TEXT, { compress: false });
  t.note((await raw.readFrames(1)).map((frame) => `rsv1 ${frame.rsv1}`));
});

bothEnds(wire, 'a fragmented compressed send: RSV1 on the first frame only', async (lib, t, end) => {
  const { local, raw } = await deflatePeer(t, end, TAKEOVER);
  local.send(TEXT, { fin: false });
  local.send(TEXT, { fin: true });
  const frames = await raw.readFrames(2);
  t.note(frames.map((frame) => `${frame.opcode} fin ${frame.fin} rsv1 ${frame.rsv1} ${frame.payload.toString('hex').slice(0, 16)}`));
});

bothEnds(wire, 'zlibDeflateOptions: level 0 stores the data', async (lib, t, end) => {
  const { local, raw } = await deflatePeer(t, end, { ...TAKEOVER, zlibDeflateOptions: { level: 0 } });
  local.send(TEXT);
  const [frame] = await raw.readFrames(1);
  t.note('payload', frame.payload.length, 'contains the text', frame.payload.includes(TEXT));
});

bothEnds(wire, 'zlibDeflateOptions and zlibInflateOptions reach zlib', async (lib, t, end) => {
  const created: unknown[] = [];
  const { createDeflateRaw, createInflateRaw } = zlib;
  // zlib's factories are read-only but configurable: replaced for this case, restored after it.
  const replace = (name: string, value: unknown): void => {
    Object.defineProperty(zlib, name, { value, writable: false, enumerable: true, configurable: true });
  };
  const restore = (): void => {
    replace('createDeflateRaw', createDeflateRaw);
    replace('createInflateRaw', createInflateRaw);
  };
  replace('createDeflateRaw', (options: Loose) => {
    created.push([
      'deflate',
      { level: options?.level, memLevel: options?.memLevel, strategy: options?.strategy, windowBits: options?.windowBits },
    ]);
    return createDeflateRaw(options);
  });
  replace('createInflateRaw', (options: Loose) => {
    created.push(['inflate', { chunkSize: options?.chunkSize, windowBits: options?.windowBits }]);
    return createInflateRaw(options);
  });
  t.defer(restore);
  const { local, raw, frame } = await deflatePeer(t, end, {
    ...TAKEOVER,
    zlibDeflateOptions: { level: 3, memLevel: 5, strategy: zlib.constants.Z_FILTERED },
    zlibInflateOptions: { chunkSize: 32 * 1024 },
  });
  local.send(TEXT);
  await raw.readFrames(1);
  raw.write(frame({ opcode: OP.text, rsv1: true, payload: deflated(TEXT) }));
  await t.wait(local, 'message');
  restore();
  // Which settings reached zlib, once each: netws also makes one stream of each
  // kind when the options are given, so that zlib checks them at construction.
  t.note([...new Set(created.map((entry) => JSON.stringify(entry)))].map((entry) => JSON.parse(entry)));
});

bothEnds(wire, 'receiving: a compressed message, and one in two fragments', async (lib, t, end) => {
  const { local, raw, frame } = await deflatePeer(t, end, TAKEOVER);
  t.record(local, 'local', ['message', 'error']);
  raw.write(frame({ opcode: OP.text, rsv1: true, payload: deflated('hello') }));
  await t.wait(local, 'message');
  const payload = deflated(Buffer.from('fragmented hello'), {});
  raw.write(
    Buffer.concat([
      frame({ opcode: OP.binary, rsv1: true, fin: false, payload: payload.subarray(0, 5) }),
      frame({ opcode: OP.cont, payload: payload.subarray(5) }),
    ]),
  );
  await t.wait(local, 'message');
});

bothEnds(wire, 'receiving: RSV1 on a continuation frame fails with 1002', async (lib, t, end) => {
  const { local, raw, frame } = await deflatePeer(t, end, TAKEOVER);
  t.record(local, 'local', ['message', 'error']);
  raw.write(
    Buffer.concat([
      frame({ opcode: OP.text, rsv1: true, fin: false, payload: deflated('a') }),
      frame({ opcode: OP.cont, rsv1: true, payload: deflated('b') }),
    ]),
  );
  t.note((await raw.readFrames(1)).map((f) => describeFrame(f)));
});

bothEnds(wire, 'receiving: data that does not inflate fails the connection', async (lib, t, end) => {
  const { local, raw, frame } = await deflatePeer(t, end, TAKEOVER);
  t.record(local, 'local', ['message', 'error']);
  raw.write(frame({ opcode: OP.text, rsv1: true, payload: Buffer.from([0xff, 0xff, 0xff, 0xff]) }));
  t.note((await raw.readFrames(1)).map((f) => describeFrame(f)));
});

bothEnds(wire, 'maxPayload counts the inflated size', async (lib, t, end) => {
  const options = end === 'server' ? { maxPayload: 100 } : { maxPayload: 100 };
  const { local, raw, frame } =
    end === 'server'
      ? await rawPeer(t, 'server', { perMessageDeflate: TAKEOVER, ...options }, [`Sec-WebSocket-Extensions: ${CHROME_OFFER}`])
      : await rawPeer(t, 'client', { perMessageDeflate: TAKEOVER, ...options }, [], ['Sec-WebSocket-Extensions: permessage-deflate']);
  t.record(local, 'local', ['message', 'error']);
  raw.write(frame({ opcode: OP.binary, rsv1: true, payload: deflated(Buffer.alloc(100)) }));
  await t.wait(local, 'message');
  raw.write(frame({ opcode: OP.binary, rsv1: true, payload: deflated(Buffer.alloc(101)) }));
  t.note((await raw.readFrames(1)).map((f) => describeFrame(f)));
});

bothEnds(wire, 'isPaused stays false while a compressed message is being inflated', async (lib, t, end) => {
  const { local, raw, frame } = await deflatePeer(t, end, TAKEOVER);
  local.on('message', () => t.note('isPaused in the message handler', local.isPaused));
  raw.write(frame({ opcode: OP.text, rsv1: true, payload: deflated(TEXT) }));
  await t.wait(local, 'message');
});

bothEnds(wire, 'a reply from the message handler goes out before the close echo (message and close in one chunk)', async (lib, t, end) => {
  const { local, raw, frame, serverCloses } = await deflatePeer(t, end, TAKEOVER);
  local.on('message', (data: Buffer) =>
    local.send(`reply to ${data} `.repeat(80), (error?: Error) => t.note('reply callback', error ? errorShape(error) : 'ok')),
  );
  raw.write(
    Buffer.concat([
      frame({ opcode: OP.text, rsv1: true, payload: deflated('question') }),
      frame({ opcode: OP.close, payload: closePayload(1000) }),
    ]),
  );
  const frames = await raw.readFrames(2);
  t.note(
    'frames',
    frames.map((f) => describeFrame(f, inflater())),
  );
  serverCloses();
  await t.wait(local, 'close');
});

bothEnds(wire, 'close() right after compressed sends: they all go out first', async (lib, t, end) => {
  const { local, raw } = await deflatePeer(t, end, TAKEOVER);
  const inflate = inflater();
  local.send(TEXT);
  local.send('second');
  local.close(1000, 'done');
  const frames = await raw.readFrames(3);
  t.note(frames.map((frame) => describeFrame(frame, (payload) => Buffer.from(inflate(payload).subarray(0, 20)))));
});

compat(wire, 'concurrencyLimit is accepted and messages still flow', async (lib, t) => {
  const { local, raw, frame } = await rawPeer(t, 'server', { perMessageDeflate: { ...TAKEOVER, concurrencyLimit: 1 } }, [
    `Sec-WebSocket-Extensions: ${CHROME_OFFER}`,
  ]);
  local.on('message', (data: Buffer) => local.send(data));
  raw.write(frame({ opcode: OP.text, rsv1: true, payload: deflated(TEXT) }));
  const [echo] = await raw.readFrames(1);
  t.note('echo inflates to the text', inflater()(echo.payload).toString() === TEXT);
});

for (const s of [serverNegotiation, clientNegotiation, wire]) s.run();
