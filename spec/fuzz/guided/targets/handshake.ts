/**
 * Target `handshake`: the opening handshake and permessage-deflate
 * negotiation (RFC 6455 4.1-4.2, 9.1; RFC 7692 7). Input: 2 option bytes
 * (the server's and the client's permessage-deflate options), then an
 * upgrade request or a 101 response as a peer sends it.
 *
 * Invariants: a request is refused only with 400, 405 or 426, and accepted
 * only with a key of 16 base64 bytes, distinct token subprotocols and
 * extensions that format and parse back to themselves; the server's
 * permessage-deflate answer parses back to one offer with valid window
 * bits within what was offered, and the whole 101 built for the request
 * passes the client's checks; a response is refused only with a
 * WebSocketError, and its permessage-deflate answer is either refused
 * with WS_ERR_INVALID_EXTENSION or within what the client offered. And,
 * for the two option bytes alone: when a server
 * accepts a client's offer, that client accepts the answer, and neither
 * side resets a context the other keeps, nor deflates with a window larger
 * than the other inflates with.
 */

import { createHash } from 'node:crypto';
import {
  HeadError,
  HeadReader,
  TARGET_FILES,
  WebSocketError,
  acceptDeflateOffer,
  acceptDeflateResponse,
  acceptResponseLines,
  buildDeflateOffer,
  checkUpgradeRequest,
  checkUpgradeResponse,
  formatExtensions,
  isRejection,
  parseExtensions,
  parseRequestHead,
  parseResponseHead,
  type ExtensionOffer,
  type PerMessageDeflateOptions,
} from '../../targets-glue.ts';
import { InvariantError, bytes, check, type FuzzTarget } from '../target.ts';
import { HEAD_WORDS, headSeeds, mutateHead } from './head.ts';

const OPTION_BYTES = 2;
const LIMITS = { maxHeaderSize: 8192, maxHeaderCount: 64 };
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const WINDOW_CHOICES: Array<number | boolean | undefined> = [undefined, true, false, 8, 9, 10, 12, 15];
const TAKEOVER_CHOICES: Array<boolean | undefined> = [undefined, true, false, undefined];

export function deflateOptions(byte: number): PerMessageDeflateOptions {
  return {
    serverNoContextTakeover: TAKEOVER_CHOICES[byte & 3],
    clientNoContextTakeover: TAKEOVER_CHOICES[(byte >> 2) & 3],
    serverMaxWindowBits: WINDOW_CHOICES[(byte >> 4) & 7],
    clientMaxWindowBits: WINDOW_CHOICES[((byte >> 7) | (byte << 1)) & 7],
  };
}

function sameExtensions(a: ExtensionOffer[], b: ExtensionOffer[]): boolean {
  return (
    a.length === b.length && a.every((x, i) => x.name === b[i].name && JSON.stringify([...x.params]) === JSON.stringify([...b[i].params]))
  );
}

function acceptValue(key: string): string {
  return createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');
}

function checkRequest(head: Buffer, serverOptions: PerMessageDeflateOptions): void {
  let request: ReturnType<typeof parseRequestHead>;
  try {
    request = parseRequestHead(head, LIMITS);
  } catch (error) {
    check(error instanceof HeadError, () => `parseRequestHead threw ${String(error)}`);
    return;
  }
  const result = checkUpgradeRequest(request);
  if (isRejection(result)) {
    check([400, 405, 426].includes(result.status), () => `refused with ${result.status}`);
    return;
  }
  check(request.method === 'GET', 'accepted a method other than GET');
  const raw = Buffer.from(result.key, 'base64');
  check(raw.length === 16 && raw.toString('base64') === result.key, () => `accepted the key ${JSON.stringify(result.key)}`);
  check(new Set(result.protocols).size === result.protocols.length, 'accepted repeated subprotocols');
  check(
    result.protocols.every((p) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(p)),
    'accepted a subprotocol that is not a token',
  );
  const reparsed = parseExtensions(formatExtensions(result.extensions));
  check(
    reparsed !== null && sameExtensions(reparsed, result.extensions),
    'the offered extensions do not format and parse back to themselves',
  );
  const accepted = acceptDeflateOffer(result.extensions, serverOptions);
  let extensionHeader: string | undefined;
  if (accepted !== null) {
    const answer = parseExtensions(accepted.header);
    check(
      answer !== null && answer.length === 1 && answer[0].name === 'permessage-deflate',
      () => `the answer ${accepted.header} does not parse`,
    );
    check(answer![0].duplicateParams.length === 0, 'the answer repeats a parameter');
    const p = accepted.params;
    for (const bits of [p.sendWindowBits, p.receiveWindowBits])
      check(Number.isInteger(bits) && bits >= 8 && bits <= 15, `window bits ${bits}`);
    const offer = result.extensions.find((e) => e.name === 'permessage-deflate' && acceptDeflateOffer([e], serverOptions) !== null)!;
    const offeredServerBits = offer.params.get('server_max_window_bits');
    if (typeof offeredServerBits === 'string')
      check(p.sendWindowBits <= Number(offeredServerBits), 'the server deflates with a larger window than the client allowed');
    if (!offer.params.has('client_max_window_bits'))
      check(
        p.receiveWindowBits === 15 && !answer![0].params.has('client_max_window_bits'),
        'client_max_window_bits answered without being offered',
      );
    extensionHeader = accepted.header;
  }
  // The 101 this request gets passes the client's checks.
  const lines = acceptResponseLines(result.key, result.protocols[0], extensionHeader);
  const response = parseResponseHead(bytes(lines.join('\r\n')), LIMITS);
  const checked = checkUpgradeResponse(response.statusCode, response.headers, result.key, result.protocols, ['permessage-deflate']);
  check(checked.protocol === (result.protocols[0] ?? ''), 'the client saw another subprotocol');
}

/** The client's reading of a server's permessage-deflate answer: refused with a WebSocketError, or within the offer. */
function checkDeflateAnswer(extensions: ExtensionOffer[], client: PerMessageDeflateOptions): void {
  let params: ReturnType<typeof acceptDeflateResponse>;
  try {
    params = acceptDeflateResponse(extensions, client);
  } catch (error) {
    check(
      error instanceof WebSocketError && error.code === 'WS_ERR_INVALID_EXTENSION',
      () => `acceptDeflateResponse threw ${String(error)}`,
    );
    return;
  }
  check((params === null) === !extensions.some((e) => e.name === 'permessage-deflate'), 'an answer taken or ignored wrongly');
  if (params === null) return;
  for (const bits of [params.sendWindowBits, params.receiveWindowBits])
    check(Number.isInteger(bits) && bits >= 8 && bits <= 15, `window bits ${bits}`);
  if (typeof client.clientMaxWindowBits === 'number')
    check(params.sendWindowBits <= client.clientMaxWindowBits, 'the client deflates with a larger window than it offered');
  if (typeof client.serverMaxWindowBits === 'number')
    check(params.receiveWindowBits <= client.serverMaxWindowBits, 'the server may use a larger window than the client asked for');
  if (client.serverNoContextTakeover !== false)
    check(params.receiveNoContextTakeover, 'server_no_context_takeover was asked for and not agreed, yet accepted');
  if (client.clientNoContextTakeover !== false) check(params.sendNoContextTakeover, 'the client keeps a context it said it would not');
}

function checkResponse(head: Buffer, client: PerMessageDeflateOptions): void {
  let response: ReturnType<typeof parseResponseHead>;
  try {
    response = parseResponseHead(head, LIMITS);
  } catch (error) {
    check(error instanceof HeadError, () => `parseResponseHead threw ${String(error)}`);
    return;
  }
  try {
    const accepted = checkUpgradeResponse(response.statusCode, response.headers, KEY, ['chat', 'superchat'], ['permessage-deflate']);
    check(response.statusCode === 101, 'accepted a status other than 101');
    check(response.headers['sec-websocket-accept'] === acceptValue(KEY), 'accepted a wrong Sec-WebSocket-Accept');
    check(['', 'chat', 'superchat'].includes(accepted.protocol), 'accepted a subprotocol that was not offered');
    check(
      accepted.extensions.every((e) => e.name === 'permessage-deflate'),
      'accepted an extension that was not offered',
    );
    checkDeflateAnswer(accepted.extensions, client);
  } catch (error) {
    check(error instanceof WebSocketError && /^WS_ERR_/.test(error.code), () => `checkUpgradeResponse threw ${String(error)}`);
  }
}

/** Server and client options alone: an accepted offer is an answer the client accepts, with compatible parameters. */
function checkNegotiation(server: PerMessageDeflateOptions, client: PerMessageDeflateOptions): void {
  const offer = parseExtensions(buildDeflateOffer(client));
  check(offer !== null, 'the client offer does not parse');
  const accepted = acceptDeflateOffer(offer!, server);
  if (accepted === null) return;
  const answer = parseExtensions(accepted.header)!;
  let clientParams: ReturnType<typeof acceptDeflateResponse>;
  try {
    clientParams = acceptDeflateResponse(answer, client);
  } catch (error) {
    throw new InvariantError(
      `the client refuses the answer ${accepted.header} to its offer ${buildDeflateOffer(client)}: ${(error as Error).message}`,
    );
  }
  check(clientParams !== null, 'the client ignores an accepted offer');
  const s = accepted.params;
  const c = clientParams!;
  check(!c.receiveNoContextTakeover || s.sendNoContextTakeover, 'the client resets a context the server keeps');
  check(!s.receiveNoContextTakeover || c.sendNoContextTakeover, 'the server resets a context the client keeps');
  check(s.sendWindowBits <= c.receiveWindowBits, 'the server deflates with a larger window than the client inflates with');
  check(c.sendWindowBits <= s.receiveWindowBits, 'the client deflates with a larger window than the server inflates with');
}

function run(data: Buffer): void {
  const [o0 = 0, o1 = 0] = data;
  const serverOptions = deflateOptions(o0);
  checkNegotiation(serverOptions, deflateOptions(o1));
  const reader = new HeadReader(LIMITS);
  let received: ReturnType<typeof reader.push>;
  try {
    received = reader.push(data.subarray(OPTION_BYTES));
  } catch (error) {
    check(error instanceof HeadError, () => `HeadReader threw ${String(error)}`);
    return;
  }
  if (received === null) return;
  if (received.head.subarray(0, 5).toString('latin1') === 'HTTP/') checkResponse(received.head, deflateOptions(o1));
  else checkRequest(received.head, serverOptions);
}

export const handshake: FuzzTarget = {
  name: 'handshake',
  files: TARGET_FILES.handshake,
  maxLength: 8192,
  dictionary: [
    ...HEAD_WORDS,
    'server_no_context_takeover',
    'client_no_context_takeover',
    'server_max_window_bits',
    'client_max_window_bits',
    '=8',
    '=15',
    '=16',
    '="10"',
    '; ',
    ', ',
  ].map(bytes),
  seeds: () => [
    ...headSeeds(),
    Buffer.concat([
      Buffer.from([0x00, 0x9a]),
      bytes(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
          'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12\r\n\r\n',
      ),
    ]),
  ],
  run,
  mutate: (random, data) => mutateHead(random, data, OPTION_BYTES),
};
