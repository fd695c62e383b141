/**
 * Target `head`: the HTTP/1.1 head reader and parser (src/http/head.ts).
 * Input: 2 option bytes (request or response, limits, how to cut the
 * bytes), then the bytes a peer sends. Invariants: only a HeadError (400 or
 * 431) comes out; the reader finds the same head whole or cut into chunks,
 * never holds more than maxHeaderSize plus one chunk, and gives back
 * exactly the bytes after the blank line; a parsed head has token names,
 * no control character in a value, at most maxHeaderCount lines, a
 * prototype-free header object whose values are the raw values joined.
 */

import { HeadError, HeadReader, TARGET_FILES, parseRequestHead, parseResponseHead, type HeadLimits } from '../../targets-glue.ts';
import { mutateLines } from '../lines.ts';
import { bytes, check, type FuzzTarget } from '../target.ts';
import { chunks } from './frames.ts';

const OPTION_BYTES = 2;
const LIMITS: HeadLimits[] = [
  { maxHeaderSize: 16 * 1024, maxHeaderCount: 100 },
  { maxHeaderSize: 64, maxHeaderCount: 3 },
  { maxHeaderSize: 1024, maxHeaderCount: 40 },
  { maxHeaderSize: 4, maxHeaderCount: 0 },
];
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TERMINATOR = Buffer.from('\r\n\r\n');

type Read = { head: Buffer; rest: Buffer } | { status: number } | null;

function read(limits: HeadLimits, pieces: Buffer[]): Read {
  const reader = new HeadReader(limits);
  try {
    for (let i = 0; i < pieces.length; i++) {
      const result = reader.push(pieces[i]);
      if (result !== null) return { head: result.head, rest: Buffer.concat([result.rest, ...pieces.slice(i + 1)]) };
      const held = (reader as unknown as { length: number }).length;
      check(held <= limits.maxHeaderSize, () => `the reader holds ${held} bytes over maxHeaderSize ${limits.maxHeaderSize}`);
    }
    return null;
  } catch (error) {
    check(error instanceof HeadError, () => `the reader threw ${String(error)}`);
    check((error as HeadError).status === 431, () => `the reader refused with ${(error as HeadError).status}`);
    return { status: 431 };
  }
}

function describe(result: Read): string {
  if (result === null) return 'incomplete';
  if ('status' in result) return `status ${result.status}`;
  return `head ${result.head.toString('hex')} rest ${result.rest.toString('hex')}`;
}

function run(data: Buffer): void {
  const [o0 = 0, o1 = 0] = data;
  const input = data.subarray(OPTION_BYTES);
  const limits = LIMITS[o0 & 3];
  const whole = read(limits, [input]);
  const cut = read(limits, chunks(input, o1));
  check(describe(whole) === describe(cut), () => `whole: ${describe(whole).slice(0, 80)}; in chunks: ${describe(cut).slice(0, 80)}`);
  if (whole === null || 'status' in whole) return;
  const end = input.indexOf(TERMINATOR);
  check(end === whole.head.length && whole.head.equals(input.subarray(0, end)), 'the head is not the bytes before the first blank line');
  check(end + 4 <= limits.maxHeaderSize, 'a head over maxHeaderSize was taken');
  check(whole.rest.equals(input.subarray(end + 4)), 'the bytes after the head are not what followed it');
  const isRequest = (o0 & 4) === 0;
  let parsed: ReturnType<typeof parseRequestHead> | ReturnType<typeof parseResponseHead>;
  try {
    parsed = isRequest ? parseRequestHead(whole.head, limits) : parseResponseHead(whole.head, limits);
  } catch (error) {
    check(error instanceof HeadError, () => `the parser threw ${String(error)}`);
    check([400, 431].includes((error as HeadError).status), () => `the parser refused with ${(error as HeadError).status}`);
    return;
  }
  const lines = whole.head.toString('latin1').split('\r\n');
  check(!whole.head.includes('\n') || lines.every((l) => !l.includes('\n') && !l.includes('\r')), 'a bare CR or LF was taken');
  check(lines.length - 1 <= limits.maxHeaderCount, 'more header lines than maxHeaderCount were taken');
  check(Object.getPrototypeOf(parsed.headers) === null, 'the header object has a prototype');
  check(parsed.rawHeaders.length === 2 * (lines.length - 1), 'rawHeaders is not one name and value per line');
  const joined = new Map<string, string>();
  for (let i = 0; i < parsed.rawHeaders.length; i += 2) {
    const name = parsed.rawHeaders[i];
    const value = parsed.rawHeaders[i + 1];
    check(TOKEN.test(name), () => `header name ${JSON.stringify(name)} is not a token`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is about control characters
    check(!/[\x00-\x08\x0a-\x1f\x7f]/.test(value), () => `control character in the value of ${name}`);
    check(!/^[ \t]|[ \t]$/.test(value), () => `whitespace around the value of ${name}`);
    const key = name.toLowerCase();
    joined.set(key, joined.has(key) ? `${joined.get(key)}, ${value}` : value);
  }
  check(Object.keys(parsed.headers).length === joined.size, 'the header object has other names than the lines');
  for (const [key, value] of joined) check(parsed.headers[key] === value, () => `headers[${key}] is not the values joined`);
  if ('method' in parsed) {
    check(TOKEN.test(parsed.method), 'the method is not a token');
    check(/^[\x21-\x7e]+$/.test(parsed.url), 'the request target has a space or control character');
    check(/^\d\.\d$/.test(parsed.httpVersion), 'the version is not d.d');
    check(lines[0] === `${parsed.method} ${parsed.url} HTTP/${parsed.httpVersion}`, 'the request line is not what was parsed');
  } else {
    check(parsed.statusCode >= 0 && parsed.statusCode <= 999 && Number.isInteger(parsed.statusCode), 'a status that is not 3 digits');
  }
}

export const HEAD_WORDS = [
  'Host',
  'Upgrade',
  'Connection',
  'Sec-WebSocket-Key',
  'Sec-WebSocket-Version',
  'Sec-WebSocket-Protocol',
  'Sec-WebSocket-Extensions',
  'Sec-WebSocket-Accept',
  'Origin',
  'Content-Length',
  'Transfer-Encoding',
  '__proto__',
  'constructor',
  'websocket',
  'Upgrade, keep-alive',
  'dGhlIHNhbXBsZSBub25jZQ==',
  's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
  '13',
  '8',
  'chat, superchat',
  'permessage-deflate',
  'permessage-deflate; client_max_window_bits; server_max_window_bits=10',
  'x-foo; a="b"',
  'GET / HTTP/1.1',
  'HTTP/1.1 101 Switching Protocols',
];

export function headSeeds(): Buffer[] {
  const request =
    'GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nOrigin: http://example.com\r\n\r\n';
  const response =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n\x81\x02hi';
  return [
    Buffer.concat([Buffer.from([0, 3]), bytes(request)]),
    Buffer.concat([Buffer.from([4, 1]), bytes(response)]),
    Buffer.concat([Buffer.from([2, 0]), bytes(request.slice(0, 40))]),
  ];
}

/** Options kept, the text mutated line by line. */
export function mutateHead(random: import('../../random.ts').Random, data: Buffer, optionBytes: number): Buffer | null {
  if (data.length < optionBytes) return null;
  const text = data.subarray(optionBytes).toString('latin1');
  return Buffer.concat([data.subarray(0, optionBytes), bytes(mutateLines(random, text, HEAD_WORDS))]);
}

export const head: FuzzTarget = {
  name: 'head',
  files: TARGET_FILES.head,
  maxLength: 8192,
  dictionary: [...HEAD_WORDS, '\r\n', '\r\n\r\n', ': ', ' HTTP/1.1', 'HTTP/1.1 ', 'HTTP/9.9'].map(bytes),
  seeds: headSeeds,
  run,
  mutate: (random, data) => mutateHead(random, data, OPTION_BYTES),
};
