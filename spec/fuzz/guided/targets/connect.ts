/**
 * Target `connect`: RFC 8441's extended CONNECT (src/protocol/extended-connect.ts).
 * Input: 1 option byte (how names and repeated fields arrive), then header
 * fields, one "name: value" per line, pseudo-headers included.
 *
 * Invariants: checkConnectRequest never throws and refuses only with 400,
 * 405 or 426; it accepts only `:method` CONNECT, a `:protocol` of
 * websocket, a non-empty `:path` and `:authority`, version 13 or 8, and
 * then isWebSocketConnect agrees; checkConnectResponse accepts only a 2xx
 * and throws nothing but a WebSocketError; and what a client builds from
 * the same fields (buildConnectHeaders) a server accepts, with the same
 * subprotocols, whose 200 (connectResponseHeaders) the client accepts.
 */

import {
  TARGET_FILES,
  WebSocketError,
  buildConnectHeaders,
  checkConnectRequest,
  checkConnectResponse,
  connectResponseHeaders,
  isRejection,
  isWebSocketConnect,
  type Http2HeaderRecord,
} from '../../targets-glue.ts';
import { mutateLines } from '../lines.ts';
import { bytes, check, type FuzzTarget } from '../target.ts';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function fields(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of text.split('\r\n')) {
    if (line === '') continue;
    let colon = line.indexOf(': ');
    if (colon === -1) colon = line.indexOf(':', 1);
    if (colon <= 0) out.push([line, '']);
    else out.push([line.slice(0, colon), line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1))]);
  }
  return out;
}

function headerRecord(list: Array<[string, string]>, flags: number): Http2HeaderRecord {
  const headers: Http2HeaderRecord = {};
  for (const [rawName, value] of list) {
    const name = (flags & 1) === 0 ? rawName.toLowerCase() : rawName;
    // node:http2 gives every field as a string but :status, a number.
    const typed: string | number = name === ':status' && (flags & 4) !== 0 && /^\d{1,6}$/.test(value) ? Number(value) : value;
    const previous = headers[name];
    if (previous === undefined || (flags & 2) === 0) headers[name] = typed;
    else headers[name] = [...(Array.isArray(previous) ? previous : [String(previous)]), String(typed)];
  }
  return headers;
}

function run(data: Buffer): void {
  const flags = data[0] ?? 0;
  const list = fields(data.subarray(1).toString('latin1'));
  const headers = headerRecord(list, flags);

  const request = checkConnectRequest(headers);
  if (isRejection(request)) {
    check([400, 405, 426].includes(request.status), () => `refused with ${request.status}`);
  } else {
    check(headers[':method'] === 'CONNECT', 'accepted a :method other than CONNECT');
    check(String(headers[':protocol']).toLowerCase() === 'websocket', 'accepted a :protocol other than websocket');
    check(String(headers[':path'] ?? '') !== '' && String(headers[':authority'] ?? '') !== '', 'accepted without :path or :authority');
    // Read as ws reads it (a number: '13', ' 13', '0xd' are all 13), so a harness sending 13 is served.
    const version = Number(headers['sec-websocket-version']);
    check(version === 13 || version === 8, 'accepted another version than 13 or 8');
    check(isWebSocketConnect(headers), 'accepted, but isWebSocketConnect says it is no WebSocket request');
  }

  try {
    checkConnectResponse(headers, ['chat', 'superchat'], ['permessage-deflate']);
    const status = Number(headers[':status']);
    check(status >= 200 && status <= 299, () => `accepted the status ${String(headers[':status'])}`);
  } catch (error) {
    check(error instanceof WebSocketError && /^WS_ERR_/.test(error.code), () => `checkConnectResponse threw ${String(error)}`);
  }

  // A client's request from these fields, and the server's answer to it.
  const protocols = [...new Set(list.map(([, v]) => v).filter((v) => TOKEN.test(v)))].slice(0, (flags >> 3) & 3);
  const userFields = list.filter(([name]) => !/^sec-websocket-/i.test(name));
  const hosts = userFields.filter(([name]) => name.toLowerCase() === 'host');
  const authority = hosts.length > 0 ? hosts[hosts.length - 1][1] : 'example.com:8443';
  if (authority === '') return;
  const path = list.find(([name]) => name === ':path')?.[1] ?? '/chat';
  const extensions = (flags & 32) !== 0 ? 'permessage-deflate; client_max_window_bits' : undefined;
  const built = buildConnectHeaders({ path, authority, scheme: 'https', version: 13, protocols, extensions, fields: userFields });
  const accepted = checkConnectRequest(built);
  check(
    !isRejection(accepted),
    () => `a server refuses what the client built (${(accepted as { message: string }).message}): ${JSON.stringify(built).slice(0, 200)}`,
  );
  if (isRejection(accepted)) return;
  check(JSON.stringify(accepted.protocols) === JSON.stringify(protocols), 'the server saw other subprotocols than the client offered');
  const key = (flags & 64) !== 0 ? 'dGhlIHNhbXBsZSBub25jZQ==' : undefined;
  const response = connectResponseHeaders(key, protocols[0], extensions === undefined ? undefined : 'permessage-deflate');
  const answer = checkConnectResponse(response, protocols, extensions === undefined ? [] : ['permessage-deflate']);
  check(answer.protocol === (protocols[0] ?? ''), 'the client saw another subprotocol');
}

const WORDS = [
  ':method',
  ':protocol',
  ':path',
  ':authority',
  ':scheme',
  ':status',
  'CONNECT',
  'connect',
  'GET',
  'websocket',
  'WebSocket',
  'h2c',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'sec-websocket-key',
  'host',
  'origin',
  '13',
  '8',
  '200',
  '299',
  '300',
  'chat',
  'chat, superchat',
  'permessage-deflate',
  'x-unknown',
  '/',
  '',
  'example.com',
  '__proto__',
  'constructor',
];

export const connect: FuzzTarget = {
  name: 'connect',
  files: TARGET_FILES.connect,
  maxLength: 4096,
  dictionary: WORDS.filter((w) => w !== '').map(bytes),
  seeds: () => [
    Buffer.concat([
      Buffer.from([0x08]),
      bytes(
        ':method: CONNECT\r\n:protocol: websocket\r\n:scheme: https\r\n:path: /chat\r\n:authority: example.com\r\nsec-websocket-version: 13\r\nsec-websocket-protocol: chat, superchat\r\nsec-websocket-extensions: permessage-deflate; client_max_window_bits\r\norigin: https://example.com',
      ),
    ]),
    Buffer.concat([
      Buffer.from([0x04]),
      bytes(':status: 200\r\nsec-websocket-protocol: chat\r\nsec-websocket-extensions: permessage-deflate'),
    ]),
    Buffer.concat([Buffer.from([0x22]), bytes(':method: GET\r\n:path: /\r\nhost: a\r\nhost: b')]),
  ],
  run,
  mutate(random, data) {
    if (data.length < 1) return null;
    if (random.chance(0.1)) return Buffer.concat([Buffer.from([random.next() & 0xff]), data.subarray(1)]);
    return Buffer.concat([data.subarray(0, 1), bytes(mutateLines(random, data.subarray(1).toString('latin1'), WORDS))]);
  },
};
