/**
 * Drives the Autobahn|Testsuite fuzzing server (`wstest -m fuzzingserver`)
 * with the netws client: asks for the case count, runs every case (or the
 * selected ones) as an echo client, then asks the server to write its reports.
 *
 *   npx tsx autobahn/client.ts [--url ws://127.0.0.1:9001] [--agent netws]
 *                              [--cases 1,2,10-20] [--case-timeout 120]
 *                              [--shutdown] [--http2 [--ca cert.pem]]
 *
 * --cases takes 1-based case indexes (positions in the server's case list,
 * as /runCase?case=N expects), with ranges; the default is all of them.
 * --shutdown asks wstest to stop once the reports are written.
 * --http2 opens every WebSocket with `http2: true` (RFC 8441: a stream of an
 * HTTP/2 connection; needs a wss: URL, here autobahn/h2-bridge.ts in front
 * of wstest), trusting --ca; a WebSocket that did not open as an HTTP/2
 * stream (a fallback to HTTP/1.1) stops the run with an error.
 * Exits non-zero if the server cannot be reached or the reports fail; a
 * case that misbehaves is the report's business, not this script's.
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { WebSocket } from '../src/index.ts';

export interface ClientRunOptions {
  /** Base URL of the fuzzing server, e.g. ws://127.0.0.1:9001 */
  url: string;
  agent: string;
  /** 1-based case indexes; undefined = all. */
  cases?: number[];
  /** Milliseconds before a single case is abandoned (socket destroyed). */
  caseTimeout: number;
  /** Ask wstest to stop after the reports are written. */
  shutdown: boolean;
  /** Open every WebSocket over HTTP/2 (`http2: true`), trusting this CA. */
  http2?: { ca: Buffer };
  log?: (line: string) => void;
}

function endpoint(base: string, path: string, params: Record<string, string | number>): string {
  const url = new URL(base);
  url.pathname = path;
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
  return url.toString();
}

/** Set when a WebSocket did not open over the transport asked for: the run stops. */
let fatal: Error | undefined;

interface SessionResult {
  opened: boolean;
  code: number;
  wasClean: boolean;
  timedOut: boolean;
  error?: Error;
}

/** How the WebSockets connect: over HTTP/1.1 (the default) or as HTTP/2 streams. */
export interface Transport {
  http2?: { ca: Buffer };
}

/** Opens a connection, lets `wire` add handlers, resolves on 'close' (or destroys it after `timeout` ms). */
function session(address: string, timeout: number, transport: Transport, wire: (ws: WebSocket) => void): Promise<SessionResult> {
  return new Promise((resolve) => {
    let opened = false;
    let timedOut = false;
    let error: Error | undefined;
    const ws = new WebSocket(address, {
      handshakeTimeout: 10_000,
      maxPayload: 64 * 1024 * 1024,
      // Context takeover unless the server asks otherwise: the harder path (see echo-server.ts).
      perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false },
      ...(transport.http2 ? { http2: true, ca: transport.http2.ca } : {}),
    });
    const timer = setTimeout(() => {
      timedOut = true;
      ws.terminate();
    }, timeout);
    ws.on('open', () => {
      opened = true;
      const kind = ws._socket?.constructor.name;
      if (transport.http2 && kind !== 'ClientHttp2Stream') {
        error = new Error(`the WebSocket opened on a ${kind}, not an HTTP/2 stream: the run would not test HTTP/2`);
        fatal = error;
        ws.terminate();
      }
    });
    ws.on('error', (err) => {
      error ??= err;
    });
    ws.on('close', (code, _reason, wasClean) => {
      clearTimeout(timer);
      resolve({ opened, code, wasClean, timedOut, error });
    });
    wire(ws);
  });
}

export async function getCaseCount(url: string, transport: Transport = {}, timeout = 30_000): Promise<number> {
  let count: number | undefined;
  const result = await session(endpoint(url, '/getCaseCount', {}), timeout, transport, (ws) => {
    ws.on('message', (data) => {
      count = Number(JSON.parse(data.toString('utf8')));
    });
  });
  if (count === undefined || !Number.isInteger(count) || count < 0) {
    throw new Error(`getCaseCount failed (close ${result.code}${result.error ? `, ${result.error.message}` : ''})`);
  }
  return count;
}

export async function runCase(url: string, index: number, agent: string, timeout: number, transport: Transport = {}): Promise<string> {
  const result = await session(endpoint(url, '/runCase', { case: index, agent }), timeout, transport, (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  if (!result.opened) throw new Error(`runCase ${index}: no connection (${result.error?.message ?? `close ${result.code}`})`);
  if (result.timedOut) return `timed out after ${timeout} ms, connection destroyed`;
  // wstest drops TCP with SO_LINGER 0 after the closing handshake, so a
  // trailing ECONNRESET is normal and only noise here.
  const error = result.error && !/ECONNRESET/.test(result.error.message) ? `, error: ${result.error.message}` : '';
  return `closed ${result.code} wasClean=${result.wasClean}${error}`;
}

export async function updateReports(
  url: string,
  agent: string,
  shutdown: boolean,
  transport: Transport = {},
  timeout = 120_000,
): Promise<void> {
  const params: Record<string, string> = { agent };
  if (shutdown) params.shutdownOnComplete = 'true';
  // The server closes after writing the reports (1005, no status); with
  // shutdownOnComplete it stops its reactor right away (1006). Either is fine.
  const result = await session(endpoint(url, '/updateReports', params), timeout, transport, () => {});
  if (!result.opened || result.timedOut) {
    throw new Error(`updateReports failed (${result.timedOut ? 'timed out' : (result.error?.message ?? `close ${result.code}`)})`);
  }
}

export async function runClient(options: ClientRunOptions): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const transport: Transport = options.http2 ? { http2: options.http2 } : {};
  const count = await getCaseCount(options.url, transport);
  if (fatal !== undefined) throw fatal;
  const cases = options.cases ?? Array.from({ length: count }, (_, i) => i + 1);
  for (const index of cases) {
    if (index < 1 || index > count) throw new Error(`case index ${index} out of range 1..${count}`);
  }
  log(`[client] ${cases.length} of ${count} cases against ${options.url}`);
  for (const index of cases) {
    const started = Date.now();
    const outcome = await runCase(options.url, index, options.agent, options.caseTimeout, transport);
    log(`[client] case ${index}/${count}: ${outcome}, ${Date.now() - started} ms`);
    if (fatal !== undefined) throw fatal;
  }
  await updateReports(options.url, options.agent, options.shutdown, transport);
  log('[client] reports updated');
}

/** "1,2,10-12" → [1, 2, 10, 11, 12] */
export function parseIndexList(text: string): number[] {
  const out: number[] = [];
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (match === null) throw new Error(`bad case index: ${part}`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (to < from) throw new Error(`bad case range: ${part}`);
    for (let i = from; i <= to; i++) out.push(i);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'ws://127.0.0.1:9001' },
      agent: { type: 'string', default: 'netws' },
      cases: { type: 'string' },
      'case-timeout': { type: 'string', default: '120' },
      shutdown: { type: 'boolean', default: false },
      http2: { type: 'boolean', default: false },
      ca: { type: 'string', default: new URL('../spec/fixtures/cert.pem', import.meta.url).pathname },
    },
  });
  await runClient({
    url: values.url,
    agent: values.agent,
    cases: values.cases === undefined ? undefined : parseIndexList(values.cases),
    caseTimeout: Number(values['case-timeout']) * 1000,
    shutdown: values.shutdown,
    http2: values.http2 ? { ca: readFileSync(values.ca) } : undefined,
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`[client] ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
