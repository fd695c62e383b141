/**
 * Test tools for RFC 8441: an HTTPS server speaking HTTP/2 (and HTTP/1.1)
 * with a netws WebSocketServer on it, node:http2 sessions and raw extended
 * CONNECT streams as the peer, and a hand-made HTTP/2 client for requests
 * node:http2's own client will not send.
 */

import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { WebSocketServer, type ServerOptions } from '../../src/index.ts';
import { waitFor } from '../helpers.ts';

export const cert = readFileSync(new URL('../fixtures/cert.pem', import.meta.url));
export const key = readFileSync(new URL('../fixtures/key.pem', import.meta.url));

export interface Http2Fixture {
  server: http2.Http2SecureServer;
  wss: WebSocketServer;
  port: number;
  /** The server side of every HTTP/2 session, in order. */
  sessions: http2.ServerHttp2Session[];
  close(): Promise<void>;
}

/** An HTTP/2 + HTTP/1.1 TLS server on loopback with a WebSocketServer in `{ server }` mode. */
export async function h2Server(
  wssOptions: Omit<ServerOptions, 'server' | 'port' | 'noServer'> = {},
  serverOptions: http2.SecureServerOptions = {},
): Promise<Http2Fixture> {
  const server = http2.createSecureServer({ cert, key, allowHTTP1: true, ...serverOptions });
  const wss = new WebSocketServer({ server, ...wssOptions });
  return listen(server, wss);
}

/** Listens on loopback and returns the fixture for `server` and `wss`. */
export async function listen(server: http2.Http2SecureServer, wss: WebSocketServer): Promise<Http2Fixture> {
  const sessions: http2.ServerHttp2Session[] = [];
  server.on('session', (session) => sessions.push(session));
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    wss,
    port,
    sessions,
    close: async () => {
      for (const ws of wss.clients ?? []) ws.terminate();
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client session to the fixture, once the server's SETTINGS arrived. */
export async function h2Session(port: number, scheme = 'https'): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`${scheme}://localhost:${port}`, { ca: cert });
  session.on('error', () => {});
  await waitFor(session, 'remoteSettings');
  return session;
}

export interface ConnectAnswer {
  stream: http2.ClientHttp2Stream;
  status: number;
  headers: http2.IncomingHttpHeaders;
  /** The response body, once the stream ended (refusals). */
  body(): Promise<string>;
}

/** Sends an extended CONNECT (or whatever `headers` say) and waits for the response headers. */
export async function connectStream(
  session: http2.ClientHttp2Session,
  path = '/',
  headers: http2.OutgoingHttpHeaders = {},
): Promise<ConnectAnswer> {
  const stream = session.request(
    {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':path': path,
      ':scheme': 'https',
      ':authority': 'localhost',
      'sec-websocket-version': '13',
      ...headers,
    },
    { endStream: false },
  );
  stream.on('error', () => {});
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolve) => stream.on('close', () => resolve()));
  const [response] = await waitFor<[http2.IncomingHttpHeaders]>(stream, 'response');
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return {
    stream,
    status: Number(response[':status']),
    headers: response,
    body: async () => {
      await ended;
      return Buffer.concat(chunks).toString();
    },
  };
}

/** Collects what a raw stream receives (unmasked server frames, for decodeFrames). */
export function collect(stream: http2.ClientHttp2Stream): () => Buffer {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks);
}

/** HPACK integer with an N-bit prefix (RFC 7541 section 5.1). */
function hpackInteger(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** One header field as "literal without indexing, new name", no Huffman (RFC 7541 section 6.2.2). */
function hpackField(name: string, value: string): number[] {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  return [0x00, ...hpackInteger(n.length, 7, 0), ...n, ...hpackInteger(v.length, 7, 0), ...v];
}

/** One HTTP/2 frame (RFC 9113 section 4.1). */
export function h2Frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7 } as const;

/**
 * Sends one HEADERS frame (stream 1, END_HEADERS, no END_STREAM) built by
 * hand, for requests node:http2's client refuses to make, over TLS with
 * ALPN h2; resolves with the frames received until `until` says enough (or
 * the connection closes or `ms` pass).
 */
export async function rawRequest(
  port: number,
  fields: Array<[string, string]>,
  until: (frames: RawFrame[]) => boolean,
  ms = 3000,
): Promise<RawFrame[]> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost', ALPNProtocols: ['h2'] });
  socket.on('error', () => {});
  await waitFor(socket, 'secureConnect');
  const block = Buffer.from(fields.flatMap(([name, value]) => hpackField(name, value)));
  socket.write(
    Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      h2Frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0)),
      h2Frame(FRAME.HEADERS, 0x4, 1, block),
    ]),
  );
  const frames: RawFrame[] = [];
  let buffer = Buffer.alloc(0);
  return new Promise<RawFrame[]>((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(frames);
    };
    const timer = setTimeout(finish, ms);
    socket.on('close', finish);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 9 && buffer.length >= 9 + buffer.readUIntBE(0, 3)) {
        const length = buffer.readUIntBE(0, 3);
        const frame = {
          type: buffer[3],
          flags: buffer[4],
          streamId: buffer.readUInt32BE(5) & 0x7fffffff,
          payload: buffer.subarray(9, 9 + length),
        };
        buffer = buffer.subarray(9 + length);
        frames.push(frame);
        // Acknowledge the server's SETTINGS, as a client must.
        if (frame.type === FRAME.SETTINGS && (frame.flags & 1) === 0) socket.write(h2Frame(FRAME.SETTINGS, 1, 0, Buffer.alloc(0)));
      }
      if (until(frames)) finish();
    });
  });
}
