/** examples/h2/server.ts run as its README says: one HTTPS port, a page, an echo WebSocket on HTTP/2 and HTTP/1.1, /stats. */

import http2 from 'node:http2';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from '../../src/index.ts';
import { waitFor } from '../helpers.ts';
import { cert } from '../http2/peer.ts';
import { startExample } from './h2-process.ts';

const example = suite('examples/h2');

/** GET over the session; resolves with the status, content type and body. */
async function get(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; type: string; body: string }> {
  const request = session.request({ ':path': path });
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  // Listened for from the start: on Deno the body may end before the awaited 'response' resumes this.
  const ended = waitFor(request, 'end');
  const [headers] = await waitFor<[http2.IncomingHttpHeaders]>(request, 'response');
  await ended;
  return { status: Number(headers[':status']), type: String(headers['content-type']), body: Buffer.concat(chunks).toString() };
}

example(
  'the page and /stats over HTTP/2; /echo echoes over HTTP/2 (a stream) and HTTP/1.1, with permessage-deflate; /stats counts each',
  async () => {
    const { port, child } = await startExample();
    try {
      const session = http2.connect(`https://localhost:${port}`, { ca: cert });
      const page = await get(session, '/');
      assert.equal([page.status, page.type], [200, 'text/html; charset=utf-8']);
      assert.match(page.body, /wss:\/\/' \+ location\.host \+ '\/echo/);
      assert.equal(JSON.parse((await get(session, '/stats')).body), { websockets: { h2: 0, http1: 0 } });
      assert.is((await get(session, '/nothing')).status, 404);
      for (const [http2Option, transport] of [
        [session, 'ClientHttp2Stream'],
        [false, 'TLSSocket'],
      ] as const) {
        const ws = new WebSocket(`wss://localhost:${port}/echo`, { ca: cert, http2: http2Option });
        await waitFor(ws, 'open');
        assert.is(ws._socket!.constructor.name, transport);
        assert.match(ws.extensions, /^permessage-deflate/);
        ws.send('ping over the example');
        assert.is(String((await waitFor<[Buffer]>(ws, 'message'))[0]), 'ping over the example');
        ws.close(1000);
        assert.is((await waitFor<[number]>(ws, 'close'))[0], 1000);
      }
      assert.equal(JSON.parse((await get(session, '/stats')).body), { websockets: { h2: 1, http1: 1 } });
      const elsewhere = new WebSocket(`wss://localhost:${port}/other`, { ca: cert, http2: session });
      const [error] = await waitFor<[{ statusCode?: number }]>(elsewhere, 'error');
      assert.is(error.statusCode, 400);
      session.close();
    } finally {
      child.kill('SIGTERM');
      await waitFor(child, 'exit');
    }
  },
);

example.run();
