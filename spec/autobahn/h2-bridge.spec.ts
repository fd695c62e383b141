/**
 * autobahn/h2-bridge.ts is transparent: what goes in on one side comes out
 * on the other byte for byte, ends map to ends and resets to resets, and a
 * netws peer behind it sends exactly the bytes it sends over a direct
 * HTTP/1.1 connection, for frames a fuzzer would send (masked, fragmented,
 * RSV bits, bad opcodes, invalid UTF-8, compressed, one byte at a time).
 * Otherwise the Autobahn runs over HTTP/2 would judge the bridge, not netws.
 */

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { acceptFor, startConnectToUpgrade, startUpgradeToConnect, type Bridge } from '../../autobahn/h2-bridge.ts';
import { cancelStream } from '../../src/http2/stream.ts';
import { WebSocket, WebSocketServer } from '../../src/index.ts';
import { closePayload, decodeFrames, frame, portOf, waitFor } from '../helpers.ts';
import { cert, key } from '../http2/peer.ts';
import { except } from '../runtime.ts';

const bridge = suite('autobahn h2-bridge');

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A blob bigger than node:http2's 64 KiB windows and a socket's buffers, so backpressure is crossed both ways. */
const BLOB_SIZE = 600 * 1024;

// ---- raw HTTP/1.1 ends -------------------------------------------------------

interface RawResult {
  /** The response head, up to the blank line. */
  head: string;
  /** Every byte after the head. */
  body: Buffer;
  /** 'fin': the peer ended; 'reset': ECONNRESET. */
  ended: 'fin' | 'reset';
}

/** A connected socket's split of the first head and what follows it, as bytes arrive. */
function headAndBody(socket: net.Socket): { head: Promise<string>; body: () => Buffer } {
  let buffered = Buffer.alloc(0);
  let split = -1;
  let resolveHead: (head: string) => void;
  const head = new Promise<string>((resolve) => (resolveHead = resolve));
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    if (split === -1) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end !== -1) {
        split = end + 4;
        resolveHead(buffered.subarray(0, end).toString('latin1'));
      }
    }
  });
  return { head, body: () => (split === -1 ? Buffer.alloc(0) : buffered.subarray(split)) };
}

/**
 * An HTTP/1.1 WebSocket client that sends `chunks` as they are (one write
 * each, a turn of the event loop apart) after the 101, ends when the peer
 * ends, and returns what came back.
 */
async function rawClient(socket: net.Socket, extraHeaders: string[], chunks: Buffer[]): Promise<RawResult> {
  let ended: 'fin' | 'reset' = 'fin';
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET') ended = 'reset';
  });
  socket.on('end', () => socket.end());
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const { head, body } = headAndBody(socket);
  socket.write(
    [
      `GET /echo HTTP/1.1`,
      'Host: localhost',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${KEY}`,
      'Sec-WebSocket-Version: 13',
      ...extraHeaders,
      '',
      '',
    ].join('\r\n'),
  );
  const responseHead = await head;
  for (const chunk of chunks) {
    if (socket.destroyed || socket.writableEnded) break;
    socket.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await closed;
  return { head: responseHead, body: body(), ended };
}

function headerOf(head: string, name: string): string | undefined {
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(line.indexOf(':') + 1).trim();
}

// ---- fixtures -------------------------------------------------------------------

async function listening<T extends net.Server | http2.Http2SecureServer>(server: T): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return portOf(server);
}

function closeServer(server: net.Server | http2.Http2SecureServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** One write per byte. */
function byteByByte(bytes: Buffer): Buffer[] {
  return [...bytes].map((byte) => Buffer.from([byte]));
}

/** Raw masked client frames, as wstest's fuzzing client sends them. */
const close1000 = frame({ opcode: 8, payload: closePayload(1000, 'bye') });

/** permessage-deflate's compressed form of `text` (RFC 7692 section 7.2.1: no trailing 00 00 ff ff). */
function deflated(text: string): Buffer {
  const out = zlib.deflateRawSync(Buffer.from(text), { flush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

const SERVER_SCENARIOS: Array<{ name: string; headers?: string[]; chunks: Buffer[] }> = [
  { name: 'a masked text message, then close', chunks: [frame({ opcode: 1, payload: 'hello' }), close1000] },
  {
    name: 'a fragmented message with a ping between its fragments',
    chunks: [
      frame({ opcode: 1, payload: 'frag', fin: false }),
      frame({ opcode: 9, payload: 'ping!' }),
      frame({ opcode: 0, payload: 'ment', fin: false }),
      frame({ opcode: 0, payload: 'ed', fin: true }),
      close1000,
    ],
  },
  { name: 'a frame one byte at a time', chunks: [...byteByByte(frame({ opcode: 2, payload: Buffer.from([0, 1, 2, 255]) })), close1000] },
  { name: 'RSV1 without an extension (1002)', chunks: [frame({ opcode: 1, payload: 'x', rsv: 4 }), close1000] },
  { name: 'RSV2 and RSV3 (1002)', chunks: [frame({ opcode: 2, payload: 'x', rsv: 3 })] },
  { name: 'a reserved data opcode, 3 (1002)', chunks: [frame({ opcode: 3, payload: 'x' })] },
  { name: 'a reserved control opcode, 0xB (1002)', chunks: [frame({ opcode: 0xb })] },
  { name: 'an unmasked client frame (1002)', chunks: [frame({ opcode: 1, payload: 'x', mask: false })] },
  {
    name: 'invalid UTF-8 in a text message (1007)',
    chunks: [frame({ opcode: 1, payload: Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xf4, 0x90, 0x80, 0x80]) })],
  },
  { name: 'a continuation with nothing to continue (1002)', chunks: [frame({ opcode: 0, payload: 'x' })] },
  { name: 'close code 999 (1002)', chunks: [frame({ opcode: 8, payload: closePayload(999) })] },
  {
    name: 'permessage-deflate with context takeover: compressed messages, echoed compressed',
    headers: ['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'],
    chunks: [frame({ opcode: 1, payload: deflated('hello hello hello'), rsv: 4 }), frame({ opcode: 1, payload: 'plain' }), close1000],
  },
];

/** A netws echo server on node:http2 that also takes HTTP/1.1 upgrades on the same port (allowHTTP1), so both transports reach one WebSocketServer. */
async function netwsEcho(): Promise<{ port: number; close(): Promise<void>; transports: string[] }> {
  const server = http2.createSecureServer({ cert, key, allowHTTP1: true });
  const wss = new WebSocketServer({ server, perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false } });
  const transports: string[] = [];
  wss.on('connection', (ws, req) => {
    transports.push(String(req.httpVersion));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const port = await listening(server);
  return {
    port,
    transports,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await closeServer(server);
    },
  };
}

// ---- server mode: HTTP/1.1 upgrade → extended CONNECT ---------------------------

bridge(
  'h1-to-h2: the CONNECT carries the offer and the fields, the 101 mirrors the 200, bytes pass unchanged both ways, FIN ↔ END_STREAM',
  async () => {
    const server = http2.createSecureServer({ cert, key, settings: { enableConnectProtocol: true } });
    const fromClient = randomBytes(BLOB_SIZE);
    const toClient = randomBytes(BLOB_SIZE);
    const seen: { headers?: http2.IncomingHttpHeaders; received?: Buffer; ended?: boolean } = {};
    server.on('stream', (stream, headers) => {
      seen.headers = headers;
      stream.respond({
        ':status': 200,
        'sec-websocket-protocol': 'chat',
        'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
      });
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        seen.received = Buffer.concat(chunks);
        seen.ended = true;
        // Our side ends after theirs: the client must see all of it, then FIN.
        stream.end(toClient);
      });
    });
    const port = await listening(server);
    let h1: Bridge | undefined;
    try {
      h1 = await startUpgradeToConnect({ target: `https://127.0.0.1:${port}`, ca: cert });
      const socket = net.connect(h1.port, '127.0.0.1');
      // Split at odd places, the last part after a pause: the receiver must see the bytes, not the writes.
      const parts = [fromClient.subarray(0, 1), fromClient.subarray(1, 70_001), fromClient.subarray(70_001)];
      const result = rawClientHalfClose(
        socket,
        [
          'Sec-WebSocket-Protocol: chat, superchat',
          'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
          'Origin: http://example.test',
          'X-Custom: yes',
        ],
        parts,
      );
      const { head, body, ended } = await result;
      assert.match(head, /^HTTP\/1\.1 101 /);
      assert.is(headerOf(head, 'sec-websocket-accept'), acceptFor(KEY));
      assert.is(headerOf(head, 'sec-websocket-protocol'), 'chat');
      assert.is(headerOf(head, 'sec-websocket-extensions'), 'permessage-deflate; server_no_context_takeover');
      assert.ok(seen.received!.equals(fromClient), 'the server got every byte, in order');
      assert.ok(body.equals(toClient), 'the client got every byte, in order');
      assert.is(ended, 'fin');
      const headers = seen.headers!;
      assert.equal(
        [headers[':method'], headers[':protocol'], headers[':path'], headers[':authority'], headers[':scheme']],
        ['CONNECT', 'websocket', '/echo', 'localhost', 'https'],
      );
      assert.is(headers['sec-websocket-extensions'], 'permessage-deflate; client_max_window_bits');
      assert.is(headers['sec-websocket-protocol'], 'chat, superchat');
      assert.is(headers['sec-websocket-version'], '13');
      assert.is(headers.origin, 'http://example.test');
      assert.is(headers['x-custom'], 'yes');
      for (const name of ['sec-websocket-key', 'connection', 'upgrade', 'host']) assert.is(headers[name], undefined, name);
    } finally {
      await h1?.close();
      await closeServer(server);
    }
  },
);

/** rawClient, but the client half-closes (FIN) after its last chunk and reads on until the peer ends. */
async function rawClientHalfClose(socket: net.Socket, extraHeaders: string[], chunks: Buffer[]): Promise<RawResult> {
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let ended: 'fin' | 'reset' = 'fin';
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET') ended = 'reset';
  });
  const { head, body } = headAndBody(socket);
  socket.write(
    [
      `GET /echo HTTP/1.1`,
      'Host: localhost',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${KEY}`,
      'Sec-WebSocket-Version: 13',
      ...extraHeaders,
      '',
      '',
    ].join('\r\n'),
  );
  const responseHead = await head;
  for (const chunk of chunks) {
    socket.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  socket.end();
  await closed;
  return { head: responseHead, body: body(), ended };
}

// The bridge is the Autobahn harness's, run on Node by autobahn/run.ts whatever runtime netws is tested on.
except(bridge, {
  bun:
    "Bun 1.4.5's node:http 'upgrade' socket reports the peer's TCP reset as a clean end ('end', then 'close' without an " +
    'error), so the bridge cannot tell it from a FIN; a net.Server socket reports ECONNRESET (related: oven-sh/bun#39600)',
})(
  'h1-to-h2: a TCP reset is RST_STREAM(CANCEL) after the bytes before it; RST_STREAM(CANCEL) is a TCP reset after the bytes before it',
  async () => {
    const server = http2.createSecureServer({ cert, key, settings: { enableConnectProtocol: true } });
    const streams: http2.ServerHttp2Stream[] = [];
    server.on('stream', (stream) => {
      streams.push(stream);
      stream.respond({ ':status': 200 });
    });
    const port = await listening(server);
    let h1: Bridge | undefined;
    try {
      h1 = await startUpgradeToConnect({ target: `https://127.0.0.1:${port}`, ca: cert });

      // The client resets: the server gets the bytes sent before, then CANCEL.
      const first = net.connect(h1.port, '127.0.0.1');
      first.on('error', () => {});
      const firstHead = headAndBody(first);
      first.write(
        `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      await firstHead.head;
      const stream = streams[0]!;
      const got: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => got.push(chunk));
      // node emits 'end' on a reset stream too, after 'aborted': the order tells an END_STREAM from a reset.
      const order: string[] = [];
      stream.on('end', () => order.push('end'));
      stream.on('aborted', () => order.push('aborted'));
      stream.on('error', () => {});
      first.write('before the reset');
      await waitFor(stream, 'data');
      first.resetAndDestroy();
      await waitFor(stream, 'close');
      assert.is(Buffer.concat(got).toString(), 'before the reset');
      assert.is(stream.rstCode, http2.constants.NGHTTP2_CANCEL);
      assert.is(order[0], 'aborted', 'no END_STREAM before the reset');

      // The server resets: the client gets the bytes sent before, then ECONNRESET.
      const second = net.connect(h1.port, '127.0.0.1');
      const secondResult = rawClient(second, [], []);
      await waitFor(server, 'stream');
      const serverStream = streams[1]!;
      serverStream.on('error', () => {});
      await new Promise((resolve) => serverStream.write('last words', resolve));
      // A reset alone, as netws sends it (node's close(CANCEL) on its own would send END_STREAM first).
      cancelStream(serverStream);
      const { body, ended } = await secondResult;
      assert.is(body.toString(), 'last words');
      assert.is(ended, 'reset');
    } finally {
      await h1?.close();
      await closeServer(server);
    }
  },
);

bridge('h1-to-h2: a refusal is mirrored as the same HTTP/1.1 status and body', async () => {
  const echo = await netwsEcho();
  let h1: Bridge | undefined;
  try {
    h1 = await startUpgradeToConnect({ target: `https://127.0.0.1:${echo.port}`, ca: cert });
    const socket = net.connect(h1.port, '127.0.0.1');
    const { head, body } = headAndBody(socket);
    socket.write(
      'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ' +
        KEY +
        '\r\nSec-WebSocket-Version: 7\r\n\r\n',
    );
    await once(socket, 'close');
    const responseHead = await head;
    assert.match(responseHead, /^HTTP\/1\.1 426 /);
    assert.is(headerOf(responseHead, 'sec-websocket-version'), '13, 8');
    assert.ok(body().length > 0);
    assert.equal(echo.transports, []);
  } finally {
    await h1?.close();
    await echo.close();
  }
});

bridge('h1-to-h2: netws over HTTP/2 through the bridge sends the same bytes as netws over a direct HTTP/1.1 connection', async () => {
  const echo = await netwsEcho();
  let h1: Bridge | undefined;
  try {
    h1 = await startUpgradeToConnect({ target: `https://127.0.0.1:${echo.port}`, ca: cert });
    for (const scenario of SERVER_SCENARIOS) {
      const direct = await rawClient(
        tls.connect({ host: '127.0.0.1', port: echo.port, ca: cert, ALPNProtocols: ['http/1.1'] }),
        scenario.headers ?? [],
        scenario.chunks,
      );
      const bridged = await rawClient(net.connect(h1.port, '127.0.0.1'), scenario.headers ?? [], scenario.chunks);
      assert.match(direct.head, /^HTTP\/1\.1 101 /, scenario.name);
      assert.match(bridged.head, /^HTTP\/1\.1 101 /, scenario.name);
      assert.is(headerOf(bridged.head, 'sec-websocket-extensions'), headerOf(direct.head, 'sec-websocket-extensions'), scenario.name);
      assert.ok(direct.body.length > 0, `${scenario.name}: netws answered`);
      assert.is(bridged.body.toString('hex'), direct.body.toString('hex'), scenario.name);
      assert.is(bridged.ended, direct.ended, `${scenario.name}: how it ended`);
    }
    assert.equal(
      echo.transports,
      SERVER_SCENARIOS.flatMap(() => ['1.1', '2.0']),
      'each scenario ran once over each transport',
    );
  } finally {
    await h1?.close();
    await echo.close();
  }
});

// ---- client mode: extended CONNECT → HTTP/1.1 upgrade ---------------------------

/** Raw unmasked server frames, as wstest's fuzzing server sends them. */
const serverClose = frame({ opcode: 8, payload: closePayload(1000, 'done'), mask: false });

const CLIENT_SCENARIOS: Array<{ name: string; chunks: Buffer[] }> = [
  { name: 'a text message, then close', chunks: [frame({ opcode: 1, payload: 'hello', mask: false }), serverClose] },
  {
    name: 'a fragmented message with a ping between its fragments',
    chunks: [
      frame({ opcode: 2, payload: Buffer.from([1, 2]), fin: false, mask: false }),
      frame({ opcode: 9, payload: 'p', mask: false }),
      frame({ opcode: 0, payload: Buffer.from([3]), mask: false }),
      serverClose,
    ],
  },
  { name: 'a frame one byte at a time', chunks: [...byteByByte(frame({ opcode: 1, payload: 'bytes', mask: false })), serverClose] },
  { name: 'RSV1 without an extension (1002)', chunks: [frame({ opcode: 1, payload: 'x', rsv: 4, mask: false })] },
  { name: 'a reserved opcode, 0xB (1002)', chunks: [frame({ opcode: 0xb, mask: false })] },
  { name: 'a masked server frame (1002)', chunks: [frame({ opcode: 1, payload: 'x' })] },
  { name: 'invalid UTF-8 (1007)', chunks: [frame({ opcode: 1, payload: Buffer.from([0xff, 0xfe]), mask: false })] },
];

/**
 * An HTTP/1.1 WebSocket server that answers the upgrade, sends a
 * scenario's chunks (picked by the path), records what the client sends
 * after the 101 and ends once the client's close frame came.
 */
async function rawServer(): Promise<{ port: number; close(): Promise<void>; records: Array<{ request: string; received: Buffer }> }> {
  const records: Array<{ request: string; received: Buffer }> = [];
  const server = net.createServer({ allowHalfOpen: true }, async (socket) => {
    socket.on('error', () => {});
    const { head, body } = headAndBody(socket);
    const request = await head;
    const record = { request, received: Buffer.alloc(0) };
    records.push(record);
    const scenario = CLIENT_SCENARIOS[Number(/^GET \/(\d+)/.exec(request)![1])]!;
    const key = headerOf(request, 'sec-websocket-key')!;
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`,
    );
    const done = (): void => {
      record.received = Buffer.from(body());
      if (!socket.writableEnded) socket.end();
    };
    socket.on('data', () => {
      if (decodeFrames(body()).some((f) => f.opcode === 8)) done();
    });
    socket.on('end', done);
    for (const chunk of scenario.chunks) {
      socket.write(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
  const port = await listening(server);
  return {
    port,
    records,
    close: () => closeServer(server),
  };
}

/** A netws client echoing every message, with a fixed mask so that runs can be compared byte for byte. */
async function netwsClient(url: string, options: Record<string, unknown>): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false, generateMask: (mask: Buffer) => mask.fill(0x5a), ...options });
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
  await waitFor(ws, 'close');
}

bridge(
  'h2-to-h1: the upgrade carries the offer, the 200 mirrors the 101, and the netws client sends the same bytes as over a direct HTTP/1.1 connection',
  async () => {
    const target = await rawServer();
    let h2: Bridge | undefined;
    try {
      h2 = await startConnectToUpgrade({ target: { host: '127.0.0.1', port: target.port }, cert, key });
      for (const [index, scenario] of CLIENT_SCENARIOS.entries()) {
        await netwsClient(`ws://127.0.0.1:${target.port}/${index}`, {});
        const direct = target.records.at(-1)!;
        await netwsClient(`wss://127.0.0.1:${h2.port}/${index}`, { http2: true, ca: cert });
        const bridged = target.records.at(-1)!;
        assert.is.not(bridged, direct);
        assert.ok(direct.received.length > 0, `${scenario.name}: netws answered`);
        assert.is(bridged.received.toString('hex'), direct.received.toString('hex'), scenario.name);
      }
      assert.is(h2.bridged, CLIENT_SCENARIOS.length, 'every bridged WebSocket was an HTTP/2 stream');
      // The request the bridge made: the target's address as Host, a key of its own, the client's fields.
      const request = target.records.at(-1)!.request;
      assert.is(headerOf(request, 'host'), `127.0.0.1:${target.port}`);
      assert.is(headerOf(request, 'sec-websocket-version'), '13');
      assert.match(headerOf(request, 'sec-websocket-key') ?? '', /^[A-Za-z0-9+/]{22}==$/);
    } finally {
      await h2?.close();
      await target.close();
    }
  },
);

bridge('h2-to-h1: the permessage-deflate offer reaches the target and its answer reaches the client', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  await waitFor(wss, 'listening');
  const offers: string[] = [];
  wss.on('connection', (ws, req) => {
    offers.push(String(req.headers['sec-websocket-extensions']));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  let h2: Bridge | undefined;
  try {
    h2 = await startConnectToUpgrade({ target: { host: '127.0.0.1', port: portOf(wss) }, cert, key });
    const ws = new WebSocket(`wss://127.0.0.1:${h2.port}/`, ['chat'], {
      http2: true,
      ca: cert,
      perMessageDeflate: { clientMaxWindowBits: 10 },
    });
    await waitFor(ws, 'open');
    assert.is(ws._socket!.constructor.name, 'ClientHttp2Stream');
    assert.match(offers[0] ?? '', /^permessage-deflate; .*client_max_window_bits=10/);
    assert.match(ws.extensions, /^permessage-deflate/);
    ws.send('compressed both ways');
    const [data] = await waitFor<[Buffer]>(ws, 'message');
    assert.is(data.toString(), 'compressed both ways');
    ws.close();
    await waitFor(ws, 'close');
  } finally {
    await h2?.close();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
});

bridge.run();
