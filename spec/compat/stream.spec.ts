/** createWebSocketStream(ws, options): the Duplex over a WebSocket, netws against ws. */

import type { Duplex } from 'node:stream';
import { suite } from 'uvu';
import { compat, errorShape, type Lib, type Loose, type Run } from './harness.ts';
import { bothEnds, rawPeer } from './connection.ts';
import { OP, closePayload, describeFrame } from './wire.ts';

function createStream(lib: Lib, ws: Loose, options?: Record<string, unknown>): Duplex {
  if (typeof lib.createWebSocketStream !== 'function') throw new Error(`createWebSocketStream is not exported by ${lib.name}`);
  return lib.createWebSocketStream(ws, options);
}

/** Notes the stream's events; 'data' chunks shaped. */
function recordStream(t: Run, duplex: Duplex, events = ['data', 'end', 'finish', 'close', 'error']): void {
  for (const event of events) duplex.on(event, (...args: unknown[]) => t.note('stream', event, ...args));
}

const test = suite('compat: createWebSocketStream()');

bothEnds(test, 'data both ways: writes become binary messages, messages become chunks', async (lib, t, end) => {
  const { local, peer } = await t.pair(end);
  const duplex = createStream(lib, local);
  recordStream(t, duplex, ['data', 'error']);
  t.record(peer, 'peer', ['message']);
  duplex.write('from the stream', (error?: Error | null) => t.note('write callback', error ?? 'no error'));
  await t.wait(peer, 'message');
  peer.send('text from the peer');
  peer.send(Buffer.from([1, 2]));
  await t.until(() => t.log.filter((entry) => Array.isArray(entry) && entry[1] === 'data').length === 2, 1000, 'two chunks');
});

bothEnds(test, 'decodeStrings: false sends strings as text messages', async (lib, t, end) => {
  const { local, peer } = await t.pair(end);
  const duplex = createStream(lib, local, { decodeStrings: false });
  t.record(peer, 'peer', ['message']);
  duplex.write('as text');
  await t.wait(peer, 'message');
});

bothEnds(test, "encoding: 'utf8' gives string chunks", async (lib, t, end) => {
  const { local, peer } = await t.pair(end);
  const duplex = createStream(lib, local, { encoding: 'utf8' });
  recordStream(t, duplex, ['data']);
  peer.send('héllo');
  peer.send(Buffer.from('binary'));
  await t.until(() => t.log.length === 2, 1000, 'two chunks');
});

bothEnds(test, 'readableObjectMode: a chunk per message, text as strings; objectMode itself is not honoured', async (lib, t, end) => {
  const { local, peer } = await t.pair(end);
  const duplex = createStream(lib, local, { readableObjectMode: true, objectMode: true });
  t.note('modes', duplex.readableObjectMode, duplex.writableObjectMode);
  recordStream(t, duplex, ['data']);
  peer.send('text');
  peer.send(Buffer.from([7]));
  peer.send('');
  await t.until(() => t.log.length === 4, 1000, 'three chunks');
});

bothEnds(test, 'backpressure: the socket is paused while the readable side is full, resumed when read', async (lib, t, end) => {
  const { local, peer } = await t.pair(end);
  const duplex = createStream(lib, local, { readableHighWaterMark: 16 });
  const received = new Promise<void>((resolve) => {
    let count = 0;
    local.on('message', () => {
      if (++count === 4) resolve();
    });
  });
  for (let i = 0; i < 4; i++) peer.send(Buffer.alloc(10, i));
  await received;
  t.note('isPaused with 40 bytes unread', local.isPaused);
  const chunks: Buffer[] = [];
  duplex.on('data', (chunk: Buffer) => chunks.push(chunk));
  await t.until(() => chunks.length === 4, 1000, 'four chunks');
  t.note('isPaused once read', local.isPaused);
  t.note('bytes read', Buffer.concat(chunks).toString('hex'));
});

/** A netws client waits for the server to close TCP after the closing handshake (decided in issue 11), so the server's close event comes later. */
const CLIENT_CLOSES_LATER =
  "a netws client waits for the server to close TCP after the closing handshake (RFC 6455 7.1.1); ws's client ends TCP itself, so the server's close event comes before the stream's close there";

bothEnds(
  test,
  'end(): the WebSocket closes (1005), then finish, end and close on the stream',
  async (lib, t, end) => {
    const { local, peer } = await t.pair(end);
    const duplex = createStream(lib, local);
    recordStream(t, duplex);
    duplex.resume();
    const peerClosed = t.wait(peer, 'close');
    peer.on('close', (code: number) => t.note('peer close', code));
    duplex.end();
    await t.wait(duplex, 'close');
    t.note('readyState', local.readyState);
    await peerClosed;
  },
  (end) =>
    end === 'client'
      ? {
          differs: {
            reason: CLIENT_CLOSES_LATER,
            ws: [
              ['stream', 'finish'],
              ['peer close', 1005],
              ['stream', 'end'],
              ['stream', 'close'],
              ['readyState', 3],
            ],
            netws: [
              ['stream', 'finish'],
              ['stream', 'end'],
              ['stream', 'close'],
              ['readyState', 3],
              ['peer close', 1005],
            ],
          },
        }
      : {},
);

bothEnds(test, 'the peer closes: end on the stream, the writable side stays open; writing then fails', async (lib, t, end) => {
  const { local, peer } = await t.pair(end);
  const duplex = createStream(lib, local);
  recordStream(t, duplex);
  duplex.resume();
  peer.send('last');
  peer.close(1000, 'bye');
  await t.wait(duplex, 'end');
  await t.wait(local, 'close').catch(() => {});
  t.note('writable after end', duplex.writable, 'destroyed', duplex.destroyed);
  duplex.write('too late');
  await t.wait(duplex, 'close');
});

bothEnds(test, 'destroy(): the WebSocket is terminated (1006 at the peer), close on the stream', async (lib, t, end) => {
  const { local, peer } = await t.pair(end);
  const duplex = createStream(lib, local);
  recordStream(t, duplex);
  peer.on('close', (code: number) => t.note('peer close', code));
  duplex.destroy();
  await Promise.all([t.wait(duplex, 'close'), t.wait(peer, 'close')]);
  t.note('readyState', local.readyState);
});

bothEnds(test, 'destroy(error): error, then close on the stream', async (lib, t, end) => {
  const { local, peer } = await t.pair(end);
  const duplex = createStream(lib, local);
  recordStream(t, duplex);
  peer.on('close', (code: number) => t.note('peer close', code));
  duplex.destroy(new TypeError('user error'));
  await Promise.all([t.wait(duplex, 'close'), t.wait(peer, 'close')]);
});

bothEnds(test, "a WebSocket error: the stream's error, the close frame still sent", async (lib, t, end) => {
  const { local, raw, frame } = await rawPeer(t, end);
  const duplex = createStream(lib, local);
  recordStream(t, duplex, ['error', 'close']);
  raw.write(frame({ opcode: OP.text, payload: Buffer.from([0xff]) }));
  t.note(
    'on the wire',
    (await raw.readFrames(1)).map((f) => describeFrame(f)),
  );
  await t.wait(duplex, 'close');
});

bothEnds(test, 'a WebSocket error and no error listener on the stream: thrown', async (lib, t, end) => {
  const { local, raw, frame } = await rawPeer(t, end);
  const duplex = createStream(lib, local);
  duplex.on('close', () => t.note('stream close'));
  raw.write(frame({ opcode: OP.text, payload: Buffer.from([0xff]) }));
  await t.wait(duplex, 'close');
});

bothEnds(test, "the peer's close frame: the stream's readable side ends; end() then closes it", async (lib, t, end) => {
  const { local, raw, frame, serverCloses } = await rawPeer(t, end);
  const duplex = createStream(lib, local);
  recordStream(t, duplex);
  duplex.resume();
  raw.write(
    Buffer.concat([
      frame({ opcode: OP.binary, payload: Buffer.from('tail') }),
      frame({ opcode: OP.close, payload: closePayload(4000, 'done') }),
    ]),
  );
  t.note(
    'echo',
    (await raw.readFrames(1)).map((f) => describeFrame(f)),
  );
  serverCloses();
  await t.wait(duplex, 'end');
  duplex.end();
  await t.wait(duplex, 'close');
});

compat(
  test,
  'write() and end() while CONNECTING wait for open',
  async (lib, t) => {
    const server = await t.refServer();
    server.on('connection', (ws: Loose) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => t.note('server got', data, isBinary));
      ws.on('close', (code: number) => t.note('server close', code));
    });
    const client = t.client(`ws://127.0.0.1:${server.address().port}`);
    const duplex = createStream(lib, client);
    recordStream(t, duplex, ['finish', 'close', 'error']);
    duplex.resume();
    duplex.write('early');
    duplex.end('and last');
    t.note('readyState while writing', client.readyState);
    await t.wait(duplex, 'close');
    await t.until(() => t.log.some((entry) => Array.isArray(entry) && entry[0] === 'server close'), 1000, 'the server close');
  },
  {
    differs: {
      reason: CLIENT_CLOSES_LATER,
      ws: [
        ['readyState while writing', 0],
        ['server got', 'Buffer "early"', true],
        ['server got', 'Buffer "and last"', true],
        ['stream', 'finish'],
        ['server close', 1005],
        ['stream', 'close'],
      ],
      netws: [
        ['readyState while writing', 0],
        ['server got', 'Buffer "early"', true],
        ['server got', 'Buffer "and last"', true],
        ['stream', 'finish'],
        ['stream', 'close'],
        ['server close', 1005],
      ],
    },
  },
);

compat(test, 'a failed handshake: error, then close on the stream', async (lib, t) => {
  const server = await t.rawServer();
  const port = server.port;
  await server.close();
  const client = t.client(`ws://127.0.0.1:${port}`);
  const duplex = createStream(lib, client);
  duplex.on('error', (error: Error) => t.note('stream error', errorShape(error)));
  duplex.on('close', () => t.note('stream close'));
  await t.wait(duplex, 'close');
});

test.run();
