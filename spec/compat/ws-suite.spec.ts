/**
 * What ws's own public-API tests (8.21: websocket, websocket-server,
 * create-websocket-stream) found when run against netws
 * (scripts/ws-suite.ts), each failure that is neither a row of
 * DIFFERENCES.md nor a test of ws's internals, restated as a case of our own:
 * the error's words where only they differ, and the undeclared gaps.
 */

import { suite } from 'uvu';
import { bothEnds } from './connection.ts';
import { compat, errorShape, type Loose, type Run } from './harness.ts';
import { refusalShape, upgradeRequest } from './wire.ts';

/** A send's callback as a transcript entry: the error (or 'ok') and the ready state it saw. */
function noteCallback(t: Run, label: string, ws: Loose): (error?: Error | null) => void {
  return (error) => t.note(label, error ? errorShape(error) : 'ok', ws.readyState);
}

// ---------------------------------------------------------------------------
const words = suite("compat: ws's own tests, the error's words");

compat(words, 'new WebSocketServer() without an options object: the TypeError of a missing mode', (lib, t) => {
  for (const options of [undefined, null, 42, 'port']) {
    t.attempt(`new WebSocketServer(${String(options)})`, () => new lib.WebSocketServer(options), true);
  }
});

bothEnds(words, 'terminate() while a Blob is read: every queued send fails with the reason', async (lib, t, end) => {
  const { local, peer } = await t.pair(end);
  local.send(new Blob(['from a blob']), noteCallback(t, 'blob send', local));
  local.send('queued behind the blob', noteCallback(t, 'second send', local));
  local.terminate();
  await t.until(() => t.log.length >= 2, 1000, 'both callbacks');
  // (The peer's close may take a while with either library: not what is compared.)
  await t.wait(peer, 'close', 500).catch(() => {});
});

/** Above netws's limit for deflating on the main thread (64 KiB), so zlib's thread pool has it when terminate() comes. */
const LARGE = Buffer.alloc(128 * 1024, 'a compressible message. ');
const DEFLATE_ALWAYS = { perMessageDeflate: { threshold: 0 } };

bothEnds(words, 'terminate() while zlib compresses a message: every queued send fails with the reason', async (lib, t, end) => {
  const { local, peer } = await t.pair(end, DEFLATE_ALWAYS, DEFLATE_ALWAYS);
  local.send(LARGE, noteCallback(t, 'large send', local));
  local.send('queued behind it', noteCallback(t, 'second send', local));
  local.terminate();
  await t.until(() => t.log.length >= 2, 1000, 'both callbacks');
  // (The peer's close may take a while with either library: not what is compared.)
  await t.wait(peer, 'close', 500).catch(() => {});
});

// ---------------------------------------------------------------------------
const gaps = suite("compat: ws's own tests, undeclared gaps");

compat(
  gaps,
  'new WebSocket(url, null): null is one subprotocol, and not a valid one',
  (lib, t) => {
    t.attempt(
      'new WebSocket(url, null)',
      () => {
        const ws = t.client('ws://127.0.0.1:1', null);
        ws.on('error', () => {});
        return ws;
      },
      true,
    );
  },
  {
    // Thrown as every constructor error is (DIFFERENCES.md: a DOMException named SyntaxError in netws).
    differs: {
      reason: 'browser semantics: a DOMException named SyntaxError, where ws throws a SyntaxError',
      ws: [['new WebSocket(url, null)', 'threw', { error: 'SyntaxError', message: 'An invalid or duplicated subprotocol was specified' }]],
      netws: [
        [
          'new WebSocket(url, null)',
          'threw',
          { error: 'DOMException', name: 'SyntaxError', message: 'An invalid or duplicated subprotocol was specified' },
        ],
      ],
    },
  },
);

compat(gaps, 'handleUpgrade() of a request without an Upgrade header: 400 Invalid Upgrade header', async (lib, t) => {
  const server = await t.httpServer();
  const wss = new lib.WebSocketServer({ noServer: true });
  t.trackServer(wss);
  t.record(wss, 'wss', ['connection'], { connection: 1 });
  server.on('upgrade', (req, socket, head) => {
    // As a request whose Upgrade field node did not keep (maxHeadersCount) reaches handleUpgrade().
    delete req.headers.upgrade;
    wss.handleUpgrade(req, socket, head, (ws: Loose) => {
      t.note('callback');
      t.track(ws);
    });
  });
  const raw = await t.raw(server.port);
  raw.write(upgradeRequest());
  t.note('answer', refusalShape(await raw.readHead()));
});

// netws deflates a message of up to 64 KiB at once on the main thread, and the
// frame is handed to the socket before terminate() destroys it; ws deflates on
// zlib's thread pool and terminate() cuts the message: a row of DIFFERENCES.md.
bothEnds(
  gaps,
  'terminate() right after send() of a small compressed message',
  async (lib, t, end) => {
    const { local, peer } = await t.pair(end, DEFLATE_ALWAYS, DEFLATE_ALWAYS);
    peer.on('message', (data: Buffer) => t.note('peer message', String(data)));
    local.send('hi', noteCallback(t, 'send', local));
    local.terminate();
    await t.until(() => t.log.length >= 1, 1000, 'the callback');
    await t.wait(peer, 'close', 500).catch(() => {});
  },
  {
    differs: {
      reason:
        'netws deflates a message up to 64 KiB at once on the main thread, so it was handed to the socket before terminate(); ws deflates on the thread pool and the message is cut',
      ws: [['send', { error: 'Error', name: 'Error', message: 'The socket was closed while data was being compressed' }, 2]],
      netws: [
        ['send', 'ok', 2],
        ['peer message', 'hi'],
      ],
    },
  },
);

words.run();
gaps.run();
