/** src/http2/stream.ts: what both ends do to a WebSocket's stream (the PING round trips behind closeAfterEnd, CANCEL resets). */

import http2 from 'node:http2';
import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { afterRoundTrip } from '../../src/http2/stream.ts';
import { waitFor } from '../helpers.ts';
import { cert, FRAME, h2Frame, h2Server, key, listen, rawRequest, type RawFrame } from './peer.ts';
import { WebSocket, WebSocketServer } from '../../src/index.ts';

const stream = suite('http2 streams');

async function sessionPair() {
  const fixture = await listen(http2.createSecureServer({ cert, key }), new WebSocketServer({ noServer: true }));
  const session = http2.connect(`https://localhost:${fixture.port}`, { ca: cert });
  session.on('error', () => {});
  await waitFor(session, 'remoteSettings');
  return { fixture, session };
}

stream('afterRoundTrip: one PING in flight per session; callers arriving meanwhile wait for the next one', async () => {
  const { fixture, session } = await sessionPair();
  let pings = 0;
  fixture.sessions[0].on('ping', () => pings++);
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    afterRoundTrip(session, () => order.push('a'));
    afterRoundTrip(session, () => order.push('b'));
    afterRoundTrip(session, () => {
      order.push('c');
      resolve();
    });
  });
  assert.equal(order, ['a', 'b', 'c']);
  assert.is(pings, 2, 'a, then b and c together');
  session.close();
  await fixture.close();
});

stream('afterRoundTrip: a session destroyed with a PING out answers everyone waiting, without another PING', async () => {
  const { fixture, session } = await sessionPair();
  const answered: string[] = [];
  afterRoundTrip(session, () => answered.push('in flight'));
  afterRoundTrip(session, () => answered.push('next'));
  session.destroy();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(answered, ['in flight', 'next']);
  afterRoundTrip(session, () => answered.push('after'));
  assert.equal(answered, ['in flight', 'next', 'after'], 'a destroyed session answers at once');
  await fixture.close();
});

const END_STREAM = 0x1;

/** The frames on stream 1 up to its RST_STREAM, as names: 'DATA+END_STREAM', 'RST_STREAM(8)', ... */
function streamOneEnd(frames: RawFrame[]): string[] {
  return frames
    .filter((frame) => frame.streamId === 1 && (frame.type === FRAME.DATA || frame.type === FRAME.RST_STREAM))
    .map((frame) =>
      frame.type === FRAME.RST_STREAM
        ? `RST_STREAM(${frame.payload.readUInt32BE(0)})`
        : `DATA${frame.flags & END_STREAM ? '+END_STREAM' : ''}`,
    );
}

stream(
  'terminate() of a server WebSocket outside nghttp2 callbacks (a timer): RST_STREAM(CANCEL) alone, no END_STREAM before it',
  async () => {
    // close(CANCEL) alone would end the writable side first, and node:http2 sends that END_STREAM
    // ahead of the reset when the call comes from outside its callbacks: the peer saw a clean end, then the abort.
    const fixture = await h2Server();
    fixture.wss.on('connection', (ws) => setImmediate(() => ws.terminate()));
    try {
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
        (received) => received.some((frame) => frame.type === FRAME.RST_STREAM),
      );
      assert.equal(streamOneEnd(frames), [`RST_STREAM(${http2.constants.NGHTTP2_CANCEL})`]);
    } finally {
      await fixture.close();
    }
  },
);

stream(
  'terminate() of a client WebSocket outside nghttp2 callbacks (a timer): RST_STREAM(CANCEL) alone, no END_STREAM before it',
  async () => {
    // A hand-made h2c server: SETTINGS with ENABLE_CONNECT_PROTOCOL, a 200 for stream 1, then it records what comes.
    const frames: RawFrame[] = [];
    let sawReset: () => void;
    const reset = new Promise<void>((resolve) => (sawReset = resolve));
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      let buffer = Buffer.alloc(0);
      let prefaceRead = false;
      socket.write(h2Frame(FRAME.SETTINGS, 0, 0, Buffer.from([0x00, 0x08, 0, 0, 0, 1])));
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        if (!prefaceRead) {
          if (buffer.length < 24) return;
          buffer = buffer.subarray(24);
          prefaceRead = true;
        }
        while (buffer.length >= 9 && buffer.length >= 9 + buffer.readUIntBE(0, 3)) {
          const length = buffer.readUIntBE(0, 3);
          const frame = {
            type: buffer[3]!,
            flags: buffer[4]!,
            streamId: buffer.readUInt32BE(5) & 0x7fffffff,
            payload: buffer.subarray(9, 9 + length),
          };
          buffer = buffer.subarray(9 + length);
          frames.push(frame);
          if (frame.type === FRAME.SETTINGS && (frame.flags & 1) === 0) socket.write(h2Frame(FRAME.SETTINGS, 1, 0, Buffer.alloc(0)));
          // :status 200 is entry 8 of HPACK's static table (RFC 7541 appendix A): one byte, 0x88.
          if (frame.type === FRAME.HEADERS && frame.streamId === 1) socket.write(h2Frame(FRAME.HEADERS, 0x4, 1, Buffer.from([0x88])));
          if (frame.type === FRAME.RST_STREAM) sawReset();
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    const session = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    session.on('error', () => {});
    try {
      const ws = new WebSocket(`ws://127.0.0.1/`, { http2: session, perMessageDeflate: false });
      ws.on('error', () => {});
      await waitFor(ws, 'open');
      setImmediate(() => ws.terminate());
      await reset;
      assert.equal(streamOneEnd(frames), [`RST_STREAM(${http2.constants.NGHTTP2_CANCEL})`]);
    } finally {
      session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  },
);

stream.run();
