/**
 * A byte-transparent bridge between WebSocket over HTTP/1.1 (the RFC 6455
 * upgrade) and WebSocket over HTTP/2 (the RFC 8441 extended CONNECT), so
 * that wstest, which speaks only HTTP/1.1, can judge netws over HTTP/2:
 *
 *   h1-to-h2 (server mode): wstest fuzzingclient ─HTTP/1.1 upgrade─▶ bridge ─CONNECT stream─▶ netws WebSocketServer
 *   h2-to-h1 (client mode): netws WebSocket ─CONNECT stream─▶ bridge ─HTTP/1.1 upgrade─▶ wstest fuzzingserver
 *
 *   npx tsx autobahn/h2-bridge.ts --direction h1-to-h2 --target https://127.0.0.1:9002 [--ca cert.pem] [--port 0]
 *   npx tsx autobahn/h2-bridge.ts --direction h2-to-h1 --target 127.0.0.1:9001 [--cert cert.pem --key key.pem] [--port 0]
 *
 * Prints `listening on <port>`, then one line per WebSocket when it is over
 * (what went each way and how each side ended). Listens on 127.0.0.1.
 *
 * The handshake is the only thing the bridge speaks: it translates the
 * request (Host → :authority, and the target's address as Host the other
 * way, as a reverse proxy does; the path, every end-to-end field, the
 * Sec-WebSocket-Extensions offer and the subprotocols unchanged) and
 * mirrors the answer (the subprotocol and Sec-WebSocket-Extensions the
 * other side chose), so permessage-deflate is negotiated by netws and
 * wstest, never by the bridge. It makes its own Sec-WebSocket-Key and
 * -Accept, which exist only on the HTTP/1.1 side (RFC 8441 section 5).
 *
 * After the handshake it never parses a frame: bytes go through unchanged,
 * masks, RSV bits, bad opcodes, split frames and all, in the order they came
 * and as soon as they came (TCP_NODELAY on its TCP sockets), with
 * backpressure (a side that does not read stops the other: HTTP/2 flow
 * control one way, TCP's window the other). The ends map as follows
 * (splice() below):
 *
 *   TCP FIN                ──▶ END_STREAM, after every byte received before it
 *   END_STREAM             ──▶ TCP FIN, after every byte received before it
 *   TCP RST (or an error)  ──▶ RST_STREAM(CANCEL) (RFC 8441 section 5), after the bytes received before it
 *   RST_STREAM(≠NO_ERROR)  ──▶ TCP RST (SO_LINGER 0), after the bytes received before it
 *   RST_STREAM(NO_ERROR) after END_STREAM (netws' closeAfterEnd: "I read no more")
 *                          ──▶ the TCP socket is closed (FIN already sent; later data from wstest gets an RST from the kernel)
 *   the HTTP/2 session failing (GOAWAY with an error, the TLS connection lost) is a reset of its streams: TCP RST
 *
 * Where the mapping loses information, and why no verdict can change:
 *
 * - Segmentation: TCP segments and HTTP/2 DATA frames are cut differently
 *   (and TLS records below them). RFC 6455 frames are a byte stream on both,
 *   and neither wstest nor netws may depend on where reads split. Timing is
 *   kept to within a loopback hop: each chunk is forwarded in the event-loop
 *   turn it arrives in, so wstest's pauses between the parts of a frame
 *   (6.4.x: "fail fast" on invalid UTF-8 before the rest comes) reach netws
 *   as pauses.
 * - RST after data: a TCP RST makes the receiver's kernel drop what it had
 *   not yet sent, and an RST_STREAM makes nghttp2 drop DATA its flow-control
 *   window had not yet let out. The bridge hands on what it received before
 *   the reset (waiting at most RESET_FLUSH_MS for the receiver's window),
 *   then resets; bytes that were still beyond the receiver's window are lost
 *   either way, as they would be on one direct TCP connection whose peer
 *   aborted. wstest tells a reset from a FIN in no verdict: its
 *   connectionLost() judges the closing handshake (wasClean, the codes) and
 *   who dropped the connection, not how.
 * - RST_STREAM(NO_ERROR) after END_STREAM has no TCP counterpart; closing
 *   the socket once our FIN went is what a TCP endpoint that stops reading
 *   does. It comes only after netws ended its side, so wstest has its FIN.
 * - The HTTP/2 session is shared by the WebSockets of the bridge (one at a
 *   time in wstest's runs); one connection per WebSocket on the TCP side.
 *   A session-level failure resets every stream on it: the TCP connections
 *   see resets, which wstest reports as drops.
 *
 * What the bridge cannot show (the honest limits):
 *
 * - Who ends first, and when, is preserved both ways (FIN ↔ END_STREAM), so
 *   wstest's close-behaviour checks (closedByMe, wasClean, the 1 s within
 *   which a server must drop the connection, FAILED BY CLIENT) judge netws'
 *   own END_STREAM. But netws' HTTP/2-only close steps are invisible to
 *   wstest: RST_STREAM(NO_ERROR) after a PING round trip when the peer never
 *   ends (closeAfterEnd), RST_STREAM(CANCEL) as netws' terminate() (wstest
 *   sees a TCP RST, which it judges as any drop), and a netws client ending
 *   first (allowed over HTTP/2: no TIME_WAIT; wstest as a server does not
 *   judge who ends first). spec/http2/ covers those.
 * - The bridge's own HTTP/2 client (node:http2) is not netws: in server
 *   mode, frames netws sends are checked by wstest, but flow-control and
 *   stream-state errors netws might make would be seen by node:http2 first
 *   (as a session or stream error: then a TCP reset here, a drop in wstest's
 *   report, so not hidden, but not named either).
 * - Timing adds one loopback hop per direction (well under a millisecond):
 *   wstest's timeouts are a second and more.
 */

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http, { STATUS_CODES } from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Writable } from 'node:stream';
import tls from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

/** RFC 6455 section 1.3. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** How long a reset waits for the receiver's window to take the bytes received before it. */
export const RESET_FLUSH_MS = 1000;

/** The largest HTTP/1.1 response head accepted from wstest. */
const MAX_HEAD = 64 * 1024;

/**
 * Fields that belong to one HTTP/1.1 connection or to the HTTP/1.1
 * handshake only (RFC 9113 section 8.2.2 forbids the first kind in
 * HTTP/2; Sec-WebSocket-Key/-Accept do not exist in RFC 8441).
 */
const HOP_BY_HOP = new Set([
  'connection',
  'upgrade',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'host',
  'http2-settings',
  'sec-websocket-key',
  'sec-websocket-accept',
  'content-length',
]);

export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** RFC 9113 section 7, for the log. */
const HTTP2_CODE_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

// ---- the byte pipe ---------------------------------------------------------

/**
 * RST_STREAM(CANCEL), and nothing before it. Outside nghttp2's callbacks,
 * `stream.close(CANCEL)` ends the writable side first and node sends that
 * END_STREAM ahead of the reset: the peer would see a clean end, then an
 * abort, where TCP had only the abort. With _final a no-op the reset goes
 * alone (netws' cancelStream in src/http2/stream.ts does the same).
 */
function cancel(stream: http2.Http2Stream): void {
  if (stream.destroyed) return;
  (stream as unknown as { _final(callback: () => void): void })._final = (callback) => callback();
  stream.close(NGHTTP2_CANCEL);
  stream.destroy();
}

/** Writes to one side, counting the writes it has not yet taken. */
class Forwarder {
  bytes = 0;
  private pending = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly to: Writable) {}

  /** false: the receiver's buffer is full (pause the source until 'drain'). */
  write(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    this.pending++;
    return this.to.write(chunk, () => {
      if (--this.pending === 0) this.release();
    });
  }

  /**
   * Calls back once every write so far was taken by the receiver (node:http2:
   * packed into DATA frames; net: handed to the kernel), or after `limit` ms
   * if its window stays shut.
   */
  flushed(limit: number, callback: () => void): void {
    if (this.pending === 0) {
      callback();
      return;
    }
    let done = false;
    const once = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      callback();
    };
    const timer = setTimeout(once, limit);
    this.waiters.push(once);
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}

export interface SpliceSummary {
  /** Bytes from the TCP side to the stream. */
  tcpToStream: number;
  /** Bytes from the stream to the TCP side. */
  streamToTcp: number;
  /** How the ends went, in order, with milliseconds since the splice began. */
  events: string[];
}

/**
 * Joins a TCP socket and an HTTP/2 stream after the handshake, both ways,
 * without looking at the bytes; `head` is what the TCP side sent after its
 * handshake (already read). Resolves when both are closed.
 */
export function splice(socket: net.Socket, stream: http2.Http2Stream, head: Buffer): Promise<SpliceSummary> {
  const started = Date.now();
  const events: string[] = [];
  const note = (event: string): void => {
    events.push(`${event} @${Date.now() - started}ms`);
  };
  const toStream = new Forwarder(stream);
  const toTcp = new Forwarder(socket);
  let socketClosed = false;
  let streamClosed = false;
  let socketError: NodeJS.ErrnoException | undefined;
  // Set when the bridge itself destroys or resets a side: its 'close' is then no news from that side.
  let resettingSocket = false;
  let resettingStream = false;

  socket.setNoDelay(true);

  return new Promise((resolve) => {
    const maybeDone = (): void => {
      if (socketClosed && streamClosed) resolve({ tcpToStream: toStream.bytes, streamToTcp: toTcp.bytes, events });
    };

    // TCP → stream
    if (head.length > 0) toStream.write(head);
    socket.on('data', (chunk: Buffer) => {
      if (!toStream.write(chunk)) socket.pause();
    });
    stream.on('drain', () => socket.resume());
    socket.on('end', () => {
      if (resettingSocket) return;
      note('TCP FIN → END_STREAM');
      if (!stream.destroyed) stream.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      socketError ??= error;
    });
    socket.on('close', (hadError) => {
      socketClosed = true;
      if (!resettingSocket && !streamClosed) {
        if (hadError || !socket.readableEnded) {
          // A reset (ECONNRESET), or the connection lost otherwise (EPIPE): an abort.
          note(`TCP ${socketError?.code ?? 'close'} → RST_STREAM(CANCEL)`);
          resettingStream = true;
          toStream.flushed(RESET_FLUSH_MS, () => cancel(stream));
        }
        // Otherwise both FINs went through: the stream is ended both ways and closes by itself.
      }
      maybeDone();
    });

    // stream → TCP
    stream.on('data', (chunk: Buffer) => {
      if (!toTcp.write(chunk)) stream.pause();
    });
    socket.on('drain', () => stream.resume());
    stream.on('end', () => {
      // node ends the readable side of a reset stream too ('aborted', then 'end'): that is no END_STREAM.
      // (An END_STREAM the reset overtook before 'end' was emitted counts as the reset alone: TCP
      // would have had a FIN and then an RST, of which the receiver acts on the RST.)
      if (resettingStream || stream.rstCode !== NGHTTP2_NO_ERROR) return;
      note('END_STREAM → TCP FIN');
      if (!socket.destroyed) socket.end();
    });
    // Errors come with 'close' (rstCode says what happened); node:http2 throws unhandled ones.
    stream.on('error', () => {});
    stream.on('close', () => {
      streamClosed = true;
      const code = stream.rstCode ?? NGHTTP2_NO_ERROR;
      if (!resettingStream && !socketClosed) {
        if (code !== NGHTTP2_NO_ERROR) {
          note(`RST_STREAM(${HTTP2_CODE_NAMES[code] ?? code}) → TCP RST`);
          resettingSocket = true;
          toTcp.flushed(RESET_FLUSH_MS, () => {
            if (!socket.destroyed) socket.resetAndDestroy();
          });
        } else if (!socket.readableEnded) {
          // netws ended its side and then closed the stream (RST_STREAM(NO_ERROR): it reads no more)
          // before wstest ended its side: our FIN follows its data; then the socket is closed.
          note('RST_STREAM(NO_ERROR) → TCP close');
          resettingSocket = true;
          const close = (): void => {
            if (!socket.destroyed) socket.destroy();
          };
          if (socket.writableFinished) close();
          else {
            socket.end();
            socket.once('finish', close);
          }
        }
      }
      maybeDone();
    });
  });
}

function describe(summary: SpliceSummary): string {
  return `tcp→stream ${summary.tcpToStream} B, stream→tcp ${summary.streamToTcp} B; ${summary.events.join(', ') || 'no end seen'}`;
}

// ---- common ------------------------------------------------------------------

export interface Bridge {
  port: number;
  /** WebSockets bridged so far (handshakes answered 2xx/101). */
  readonly bridged: number;
  close(): Promise<void>;
}

type Log = (line: string) => void;

/** Header fields of one side, as the other side gets them: hop-by-hop fields and pseudo-headers left out. */
function endToEndFields(headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':') || HOP_BY_HOP.has(name)) continue;
    for (const one of Array.isArray(value) ? value : [value]) fields.push([name, String(one)]);
  }
  return fields;
}

function optional(name: string, value: string | string[] | undefined): Record<string, string> {
  if (value === undefined) return {};
  return { [name]: Array.isArray(value) ? value.join(', ') : value };
}

// ---- h1-to-h2: wstest's upgrades become CONNECT streams to netws -------------

export interface UpgradeToConnectOptions {
  /** The netws HTTP/2 server: https://host:port (TLS, ALPN h2) or http://host:port (h2c). */
  target: string;
  /** The CA to trust for the target's certificate. */
  ca?: Buffer;
  /** Default 0 (any free port). */
  port?: number;
  log?: Log;
}

/**
 * The server-mode bridge: an HTTP/1.1 server taking WebSocket upgrades, each
 * one a CONNECT stream (`:protocol websocket`) on one HTTP/2 session to the
 * target; the 101 is written once the target answered 200, with what it chose.
 */
export async function startUpgradeToConnect(options: UpgradeToConnectOptions): Promise<Bridge> {
  const log = options.log ?? (() => {});
  const target = new URL(options.target);
  const scheme = target.protocol === 'http:' ? 'http' : 'https';
  let session: http2.ClientHttp2Session | null = null;
  let settled: Promise<http2.ClientHttp2Session> | null = null;
  let bridged = 0;
  let serial = 0;
  const sockets = new Set<net.Socket>();

  /** The shared session, once its SETTINGS arrived and allowed extended CONNECT. */
  const connected = (): Promise<http2.ClientHttp2Session> => {
    if (session !== null && !session.closed && !session.destroyed && settled !== null) return settled;
    const opened = http2.connect(target.origin, {
      ...(options.ca ? { ca: options.ca } : {}),
      // TCP_NODELAY: a two-byte close frame must not wait for an ACK (Nagle's algorithm).
      createConnection: () => {
        const socket =
          scheme === 'https'
            ? tls.connect({
                host: target.hostname,
                port: Number(target.port),
                ca: options.ca,
                ...(net.isIP(target.hostname) === 0 ? { servername: target.hostname } : {}),
                ALPNProtocols: ['h2'],
              })
            : net.connect({ host: target.hostname, port: Number(target.port) });
        socket.setNoDelay(true);
        return socket;
      },
    });
    session = opened;
    opened.on('error', (error) => log(`[bridge] session error: ${error.message}`));
    // A session told to go away takes no new stream: the next WebSocket gets a new one.
    opened.once('goaway', () => {
      if (session === opened) session = null;
    });
    settled = new Promise((resolve, reject) => {
      opened.once('remoteSettings', (settings) => {
        if (settings.enableConnectProtocol === true) resolve(opened);
        else reject(new Error('the target did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL'));
      });
      opened.once('close', () => reject(new Error('the HTTP/2 session closed before its SETTINGS')));
    });
    settled.catch(() => {});
    return settled;
  };

  const refuse = (socket: net.Socket, status: number, message: string): void => {
    const body = Buffer.from(`${message}\n`);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    res.end('WebSocket upgrades only\n');
  });
  // node:http's server sockets are half-open capable (allowHalfOpen): wstest's FIN ends only its direction.
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const id = ++serial;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    socket.on('error', () => {});
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
      refuse(socket, 400, 'bridge: a Sec-WebSocket-Key of 16 bytes, base64, is required');
      return;
    }
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': scheme,
      ':path': req.url ?? '/',
      ':authority': req.headers.host ?? target.host,
    };
    for (const [name, value] of endToEndFields(req.headers)) headers[name] = value;

    let stream: http2.ClientHttp2Stream | null = null;
    let answered = false;
    // wstest gave up before the answer: the CONNECT is cancelled.
    const onEarlyClose = (): void => {
      if (!answered && stream !== null) cancel(stream);
    };
    socket.once('close', onEarlyClose);

    connected().then(
      (h2) => {
        if (socket.destroyed) return;
        try {
          stream = h2.request(headers, { endStream: false });
        } catch (error) {
          refuse(socket, 502, `bridge: ${(error as Error).message}`);
          return;
        }
        stream.on('error', () => {});
        stream.once('close', () => {
          if (answered || socket.destroyed) return;
          answered = true;
          refuse(socket, 502, `bridge: the stream was reset before an answer (code ${stream!.rstCode})`);
        });
        stream.once('response', (response) => {
          if (answered) return;
          answered = true;
          socket.removeListener('close', onEarlyClose);
          const status = Number(response[':status']);
          if (status >= 200 && status < 300) {
            bridged++;
            socket.write(
              [
                'HTTP/1.1 101 Switching Protocols',
                'Upgrade: websocket',
                'Connection: Upgrade',
                `Sec-WebSocket-Accept: ${acceptFor(key)}`,
                ...Object.entries({
                  ...optional('Sec-WebSocket-Protocol', response['sec-websocket-protocol']),
                  ...optional('Sec-WebSocket-Extensions', response['sec-websocket-extensions']),
                }).map(([name, value]) => `${name}: ${value}`),
                '',
                '',
              ].join('\r\n'),
            );
            const extensions = response['sec-websocket-extensions'];
            splice(socket, stream!, head).then((summary) =>
              log(`[bridge] #${id} ${req.url} 200${extensions ? ` (${extensions})` : ''}: ${describe(summary)}`),
            );
            return;
          }
          // A refusal: the same status and body as HTTP/1.1, then the connection closes.
          const chunks: Buffer[] = [];
          stream!.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream!.once('close', () => {
            const body = Buffer.concat(chunks);
            const fields = endToEndFields(response)
              .map(([name, value]) => `${name}: ${value}\r\n`)
              .join('');
            socket.end(
              Buffer.concat([
                Buffer.from(
                  `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${fields}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
                ),
                body,
              ]),
            );
            log(`[bridge] #${id} ${req.url} refused ${status}`);
          });
        });
      },
      (error: Error) => {
        if (!socket.destroyed) refuse(socket, 502, `bridge: ${error.message}`);
      },
    );
  });

  server.listen(options.port ?? 0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get bridged() {
      return bridged;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      (session as http2.ClientHttp2Session | null)?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- h2-to-h1: netws' CONNECT streams become upgrades to wstest ---------------

export interface ConnectToUpgradeOptions {
  /** wstest fuzzingserver (or any HTTP/1.1 WebSocket server). */
  target: { host: string; port: number };
  /** The bridge's TLS certificate and key (the client must trust it). */
  cert: Buffer;
  key: Buffer;
  /** Default 0 (any free port). */
  port?: number;
  log?: Log;
}

interface ResponseHead {
  status: number;
  headers: Map<string, string>;
  /** Bytes after the head (frames the server sent at once). */
  rest: Buffer;
  text: string;
}

/** Reads an HTTP/1.1 response head from `socket`; null if the connection ended first or the head is malformed. */
function readResponseHead(socket: net.Socket): Promise<ResponseHead | null> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const finish = (head: ResponseHead | null): void => {
      socket.pause();
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      resolve(head);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buffered.length > MAX_HEAD) finish(null);
        return;
      }
      const text = buffered.subarray(0, end).toString('latin1');
      const [statusLine, ...lines] = text.split('\r\n');
      const match = /^HTTP\/1\.1 (\d{3})(?: .*)?$/.exec(statusLine!);
      if (match === null) {
        finish(null);
        return;
      }
      const headers = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
      }
      finish({ status: Number(match[1]), headers, rest: buffered.subarray(end + 4), text });
    };
    const onClose = (): void => finish(null);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/**
 * The client-mode bridge: an HTTP/2 server (TLS, ALPN h2 only, so a client
 * cannot fall back to HTTP/1.1 unnoticed) advertising extended CONNECT; each
 * WebSocket CONNECT becomes an HTTP/1.1 upgrade on a TCP connection of its
 * own to the target, and the 101's choices are the 200's.
 */
export async function startConnectToUpgrade(options: ConnectToUpgradeOptions): Promise<Bridge> {
  const log = options.log ?? (() => {});
  let bridged = 0;
  let serial = 0;
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();

  const server = http2.createSecureServer({ cert: options.cert, key: options.key, settings: { enableConnectProtocol: true } });
  server.on('secureConnection', (socket: tls.TLSSocket) => socket.setNoDelay(true));
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on('error', () => {});
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 404, 'content-type': 'text/plain' });
      stream.end('WebSocket CONNECTs only\n');
      return;
    }
    const id = ++serial;
    const path = headers[':path'] ?? '/';
    const key = randomBytes(16).toString('base64');
    const lines = [
      `GET ${path} HTTP/1.1`,
      // The target's own address, as a reverse proxy sends it (wstest refuses a Host whose port is not the one it listens on).
      `Host: ${options.target.host}:${options.target.port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      ...endToEndFields(headers).map(([name, value]) => `${name}: ${value}`),
      '',
      '',
    ];
    const socket = net.connect({ host: options.target.host, port: options.target.port, allowHalfOpen: true, noDelay: true });
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let answered = false;
    const onEarlyClose = (): void => {
      if (!answered) socket.destroy();
    };
    stream.once('close', onEarlyClose);
    const fail = (status: number, message: string): void => {
      answered = true;
      socket.destroy();
      if (stream.destroyed || stream.headersSent) return;
      stream.respond({ ':status': status, 'content-type': 'text/plain' });
      stream.end(`${message}\n`);
    };
    socket.once('connect', () => socket.write(lines.join('\r\n')));
    readResponseHead(socket).then((head) => {
      if (answered || stream.destroyed) {
        socket.destroy();
        return;
      }
      if (head === null) {
        fail(502, 'bridge: no HTTP/1.1 response from the target');
        return;
      }
      if (head.status !== 101) {
        // Not opened: the status (and the head as text, to say why), then the connection is dropped.
        fail(head.status >= 200 && head.status < 600 ? head.status : 502, head.text);
        log(`[bridge] #${id} ${path} refused ${head.status}`);
        return;
      }
      if (head.headers.get('sec-websocket-accept') !== acceptFor(key)) {
        fail(502, 'bridge: the target answered with a wrong Sec-WebSocket-Accept');
        return;
      }
      answered = true;
      stream.removeListener('close', onEarlyClose);
      bridged++;
      const protocol = head.headers.get('sec-websocket-protocol');
      const extensions = head.headers.get('sec-websocket-extensions');
      stream.respond({
        ':status': 200,
        ...optional('sec-websocket-protocol', protocol),
        ...optional('sec-websocket-extensions', extensions),
      });
      splice(socket, stream, head.rest).then((summary) =>
        log(`[bridge] #${id} ${path} 101${extensions ? ` (${extensions})` : ''}: ${describe(summary)}`),
      );
      socket.resume();
    });
  });

  server.listen(options.port ?? 0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get bridged() {
      return bridged;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- command line ------------------------------------------------------------

async function main(): Promise<void> {
  const fixtures = new URL('../spec/fixtures/', import.meta.url);
  const { values } = parseArgs({
    options: {
      direction: { type: 'string' },
      target: { type: 'string' },
      port: { type: 'string', default: '0' },
      ca: { type: 'string', default: fileURLToPath(new URL('cert.pem', fixtures)) },
      cert: { type: 'string', default: fileURLToPath(new URL('cert.pem', fixtures)) },
      key: { type: 'string', default: fileURLToPath(new URL('key.pem', fixtures)) },
    },
  });
  if (values.target === undefined) throw new Error('--target is required');
  const log: Log = (line) => console.log(line);
  let bridge: Bridge;
  if (values.direction === 'h1-to-h2') {
    bridge = await startUpgradeToConnect({ target: values.target, ca: readFileSync(values.ca), port: Number(values.port), log });
  } else if (values.direction === 'h2-to-h1') {
    const [host, port] = values.target.split(':');
    bridge = await startConnectToUpgrade({
      target: { host: host!, port: Number(port) },
      cert: readFileSync(values.cert),
      key: readFileSync(values.key),
      port: Number(values.port),
      log,
    });
  } else {
    throw new Error('--direction must be h1-to-h2 or h2-to-h1');
  }
  console.log(`listening on ${bridge.port}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      console.log(`[bridge] ${bridge.bridged} WebSockets bridged`);
      process.exit(0);
    });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(`[bridge] ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
