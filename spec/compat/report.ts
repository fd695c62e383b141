/**
 * Writes STATUS.md from a run of the compat suite:
 *
 *   COMPAT_DUMP=/tmp/compat.jsonl node --import tsx node_modules/uvu/bin.js spec/compat "\.spec\.ts$"
 *   node --import tsx spec/compat/report.ts /tmp/compat.jsonl > spec/compat/STATUS.md
 *
 * Every failing case is listed under the first cause whose rule matches its
 * title (or, failing that, its first differing transcript entry), with the
 * first entry where ws and netws part ways. A case no rule matches is listed
 * under "Unclassified": add a rule.
 */

import { readFileSync } from 'node:fs';

interface Case {
  file: string;
  title: string;
  passed: boolean;
  declared: string | null;
  ws: unknown[];
  netws: unknown[];
  expected: unknown[];
}

interface Cause {
  id: string;
  title: string;
  /** One line: where the fix probably goes in src/. */
  fix: string;
  /** Matched against "file: title" and the first differing entries. */
  rule: RegExp;
}

const causes: Cause[] = [
  {
    id: 'stream',
    title: 'createWebSocketStream() is not exported',
    fix: 'add src/streams/duplex.ts (ws semantics: autoDestroy false, objectMode forced off, pause on push() false, ws.close() in _final, terminate in _destroy) and export it from src/index.ts',
    rule: /^stream\.spec|createWebSocketStream/,
  },
  {
    id: 'module',
    title: 'Module shape: no default export, no createWebSocketStream',
    fix: 'src/index.ts: `export default WebSocket`, export createWebSocketStream (the CJS statics belong to the package build, spec/package/)',
    rule: /^module\.spec/,
  },
  {
    id: 'engineio',
    title: "engine.io contract: no `_sender.sendFrame(frames, cb)`, no `_socket`",
    fix: 'websocket.ts: a `_sender` object whose sendFrame writes the given frames as they are (through the ordered queue when an extension or a pending send is in the way) and a `_socket` getter',
    rule: /^engineio\.spec/,
  },
  {
    id: 'undefined-options',
    title: 'An option set to undefined is not the default (declared: ws gets this wrong too)',
    fix: 'options.ts (issue 11, defect 1): resolve every option in one place, undefined → default, before anything uses it',
    rule: /undefined is the default|undefined means the default \(30 s\)/,
  },
  {
    id: 'redirects',
    title: 'Client: followRedirects, maxRedirects and the redirect event are not implemented',
    fix: 'client.ts: on 3xx with Location and followRedirects, re-run the handshake (count against maxRedirects, emit redirect(url, request) before), dropping Authorization/Cookie/Host across origins unless a redirect listener exists',
    rule: /redirect/i,
  },
  {
    id: 'http-request-options',
    title: "Client: ws's http.request options are ignored (agent, auth, lookup, finishRequest, createConnection's signature, ws+unix:)",
    fix: 'client.ts: either build the request on node:http (http.request/https.request with the options, as ws does) or honour each option: agent.createConnection, auth → Authorization, lookup, socketPath for ws+unix:, finishRequest(req) before end(), createConnection(requestOptions)',
    rule: /agent|auth \(|lookup|finishRequest|createConnection|ws\+unix|credentials in the URL/,
  },
  {
    id: 'client-request',
    title: 'Client: the request headers (protocol list, array values, Host override, protocolVersion 8)',
    fix: 'client.ts/handshake.ts: join subprotocols with "," (no space), send array header values as repeated lines, let headers.Host replace the generated Host, accept protocolVersion 8 (Sec-WebSocket-Origin) and throw a RangeError for others',
    rule: /protocols: a string|headers: |protocolVersion|the opening request/,
  },
  {
    id: 'client-response',
    title: "Client: reading the server's response (unexpected-response, upgrade headers, garbage status line, missing subprotocol)",
    fix: "client.ts: emit 'unexpected-response'(req, res) with a readable IncomingMessage-like body and no error when listened to; headers like node:http (set-cookie an array); fail as soon as the status line is invalid; fail when a requested subprotocol is not answered",
    rule: /unexpected-response|'upgrade' gets|garbage status line|no subprotocol/,
  },
  {
    id: 'generate-mask',
    title: 'Client: generateMask is ignored',
    fix: 'protocol/frame writer: take the masking key from options.generateMask(buffer) when given',
    rule: /generateMask/,
  },
  {
    id: 'syntax-error',
    title: 'Constructor errors are DOMException SyntaxError, not SyntaxError',
    fix: "client.ts: throw SyntaxError (ws) — or declare the browser behaviour a difference (netws's README documents it)",
    rule: /invalid address|invalid subprotocols/,
  },
  {
    id: 'error-class',
    title: "Receiver errors: ws's RangeError and documented WS_ERR_* codes",
    fix: 'protocol/errors.ts: ProtocolError for limits and framing errors should be a RangeError with ws\'s codes (WS_ERR_UNSUPPORTED_MESSAGE_LENGTH, WS_ERR_TOO_MANY_BUFFERED_PARTS, WS_ERR_UNEXPECTED_RSV_1, WS_ERR_UNEXPECTED_RSV_2_3, WS_ERR_INVALID_OPCODE, WS_ERR_EXPECTED_FIN, WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH, WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH), maxFragments closing 1008, a 2^53+ length closing 1009; zlib errors keep their Z_* code',
    rule: /RangeError|WS_ERR_|Z_DATA_ERROR|maxPayload: a|maxPayload counts|maxPayload default|maxFragments: one|masked frame from the server|maxFragments on the client|a 64-bit length/,
  },
  {
    id: 'options-ignored',
    title: "Options of ws that netws ignores (autoPong, allowSynchronousEvents, skipUTF8Validation, maxPayload 0, maxBufferedChunks, WebSocket, clientTracking: false, maxFragments' default)",
    fix: 'options.ts: resolve every ws option in one place; websocket.ts/protocol.ts: honour autoPong, skipUTF8Validation, allowSynchronousEvents (defer the next event to a later tick), maxPayload 0 = no limit, maxBufferedChunks, maxFragments default 16384 as ws; server.ts: construct options.WebSocket, no `clients` without clientTracking',
    rule: /autoPong|allowSynchronousEvents|skipUTF8Validation|maxPayload: 0|maxBufferedChunks|WebSocket option|clientTracking|maxFragments default/,
  },
  {
    id: 'port-mode',
    title: "Standalone (port) mode is not node:http: the request object and the answers to non-upgrade requests",
    fix: "server.ts: run port mode on http.createServer (a real IncomingMessage: set-cookie array, cookie joined with '; ', duplicate singletons dropped, httpVersionMajor/Minor; 426 keep-alive answer to plain requests) — measure the cost first",
    rule: /port mode|plain GET|Upgrade without Connection|a garbage request line/,
  },
  {
    id: 'strict-request',
    title: 'netws refuses requests ws accepts (HTTP/1.0, no Host)',
    fix: 'handshake.ts: accept them as ws does, or declare the RFC-strict behaviour a deliberate difference',
    rule: /HTTP\/1\.0|missing Host/,
  },
  {
    id: 'version-8',
    title: 'Sec-WebSocket-Version 8 is refused; other versions answered 426 instead of 400 "13, 8"',
    fix: "handshake.ts: accept versions 13 and 8; refuse others with 400 and `Sec-WebSocket-Version: 13, 8`; verifyClient's origin from Sec-WebSocket-Origin for version 8",
    rule: /Version: 8|Version: 12|missing Sec-WebSocket-Version|version 8/,
  },
  {
    id: 'wsclienterror',
    title: 'wsClientError is emitted for refusals ws answers itself (verifyClient, path)',
    fix: 'server.ts: verifyClient refusals and path mismatches always write the answer (with the verifyClient headers); only request validation errors go to wsClientError',
    rule: /wsClientError/,
  },
  {
    id: 'path',
    title: 'A path mismatch (or shouldHandle() false) is answered 404, ws answers 400',
    fix: 'server.ts: abort with 400 "Bad Request" (after the request checks, as ws orders them)',
    rule: /path|shouldHandle/,
  },
  {
    id: 'refusal-answer',
    title: "Refusal answers: ws's Content-Type (text/html), bodies and headers",
    fix: "handshake.ts buildRejectResponse: `Connection: close`, `Content-Type: text/html`, Content-Length, ws's messages (\"Invalid HTTP method\", \"Invalid Upgrade header\", ...), no Allow header; or declare the wording a difference",
    rule: /POST with|Upgrade: foo|Sec-WebSocket-Key|Sec-WebSocket-Protocol|duplicate subprotocols|verifyClient/,
  },
  {
    id: 'server-close',
    title: 'WebSocketServer close() and address(): 503 after close, close event again, address() in noServer mode and after close, listeners removed by the user',
    fix: 'server.ts: refuse handleUpgrade with 503 once closing; close() when closed emits close again (and calls back with the error); drop the server reference on close; do not keep clients in a user-removable listener (port mode: rely on the listener closing)',
    rule: /close\(\) twice, then|handleUpgrade\(\) after close|removed all listeners|address\(\)/,
  },
  {
    id: 'deflate-negotiation',
    title: 'permessage-deflate negotiation differs from ws (unacceptable offers refused with 400, clientMaxWindowBits true/false, which offer wins, ws.extensions)',
    fix: "protocol/permessage-deflate.ts: ws's accept rules (an offer the options cannot honour is skipped; none acceptable → 400), boolean clientMaxWindowBits, the first acceptable offer; websocket.ts: extensions as ws formats it (the names)",
    rule: /^deflate\.spec.*(answer|offer|extensions)/,
  },
  {
    id: 'deflate-threshold',
    title: 'With context takeover ws compresses every message whatever the threshold',
    fix: 'websocket.ts sendCompressible: apply threshold only when our side has no context takeover (as ws)',
    rule: /threshold with context takeover|close\(\) right after compressed/,
  },
  {
    id: 'zlib-options',
    title: 'zlibDeflateOptions / zlibInflateOptions are ignored',
    fix: 'compression.ts: spread options.zlibDeflateOptions / zlibInflateOptions into createDeflateRaw / createInflateRaw (windowBits still from the negotiation)',
    rule: /zlib/,
  },
  {
    id: 'ordering-at-close',
    title: 'Data lost or reordered at close (Blob reads, compression queue), unreadable Blob',
    fix: 'websocket.ts: one outgoing queue for messages, Blob reads, compressed frames and the close frame, flushed before the close frame; an unreadable Blob fails the queued sends and emits error, then closes (ws)',
    rule: /send\(blob\) then close|unreadable Blob|before the close echo/,
  },
  {
    id: 'binary-type',
    title: "binaryType does not shape Node-style 'message' data; 'fragments' unsupported",
    fix: "websocket.ts receive(): convert binary data per binaryType before emitting 'message' (arraybuffer, blob, fragments = the frames' payloads); accept 'fragments'",
    rule: /binaryType/,
  },
  {
    id: 'send-data',
    title: "send()/ping()/pong(): data ws accepts, ws's argument shapes (ping(cb), mask), TypeError codes",
    fix: 'websocket.ts toBuffer(): fall back to Buffer.from(data) (arrays, array-likes, boxed strings; null/undefined → empty); ping/pong: (cb) alone, Blob data, honour the mask argument; send(): honour options.mask',
    rule: /send\(|send options: mask|ping\(|pong\(/,
  },
  {
    id: 'close-arguments',
    title: "close() argument checks: ws's TypeError/RangeError, 1000.5, reasons that are not strings, close(undefined, reason)",
    fix: "browser-api.ts checkCloseArguments: throw TypeError (code) and RangeError (reason) as ws — or declare the DOMExceptions a difference (netws's README documents them)",
    rule: /close\(\) with|close\(undefined/,
  },
  {
    id: 'buffered-amount',
    title: "bufferedAmount does not count what ws counts",
    fix: 'websocket.ts: do not count bytes corked for this tick (or write small frames at once), add data passed to send()/ping()/pong() after close and after a failed handshake',
    rule: /bufferedAmount/,
  },
  {
    id: 'pause',
    title: 'isPaused/pause(): true while CONNECTING/CLOSED or while inflating',
    fix: 'websocket.ts: isPaused returns the user flag; pause()/resume() are no-ops while CONNECTING or CLOSED',
    rule: /pause|isPaused/,
  },
  {
    id: 'event-target',
    title: 'addEventListener accepts any event type',
    fix: "browser-api.ts addEventListener: ignore types other than open, message, close, error (ws)",
    rule: /addEventListener ignores/,
  },
  {
    id: 'class-surface',
    title: "Class surface: property descriptors (constants, prototype accessors), own properties, server-side url",
    fix: 'websocket.ts: constants non-writable/non-configurable on class and prototype; protocol/extensions/url as enumerable prototype getters; enumerable accessors and addEventListener/removeEventListener; url undefined on the server side',
    rule: /descriptors|methods on the prototype|the server side: url/,
  },
  {
    id: 'client-tcp-close',
    title: 'A client waits for the server to close TCP after the closing handshake; ws ends it itself',
    fix: 'websocket.ts: after sending and receiving close frames, end() the socket on the client too (or declare the RFC 7.1.1 wait a difference; closeTimeout still bounds it)',
    rule: /closes TCP itself/,
  },
];

const file = process.argv[2];
if (!file) {
  console.error('usage: node --import tsx spec/compat/report.ts <COMPAT_DUMP file>');
  process.exit(2);
}
const cases: Case[] = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Case);

function firstDifference(a: unknown[], b: unknown[]): [string, string] {
  let i = 0;
  while (i < Math.min(a.length, b.length) && JSON.stringify(a[i]) === JSON.stringify(b[i])) i++;
  const show = (entries: unknown[]): string => (i < entries.length ? JSON.stringify(entries[i]) : '(nothing more)');
  return [show(a), show(b)];
}

const cell = (text: string): string => {
  const short = text.length > 160 ? `${text.slice(0, 157)}…` : text;
  return '`' + short.replace(/`/g, "'").replace(/\|/g, '\\|') + '`';
};

const failing = cases.filter((c) => !c.passed);
const byCause = new Map<string, Case[]>();
for (const c of failing) {
  const [wsEntry, netwsEntry] = firstDifference(c.expected, c.netws);
  const subject = `${c.file}: ${c.title}`;
  const cause = causes.find((candidate) => candidate.rule.test(subject)) ?? causes.find((candidate) => candidate.rule.test(`${wsEntry} ${netwsEntry}`));
  const id = cause?.id ?? 'unclassified';
  if (!byCause.has(id)) byCause.set(id, []);
  byCause.get(id)!.push(c);
}

const out: string[] = [];
const passed = cases.length - failing.length;
const perFile = new Map<string, [number, number]>();
for (const c of cases) {
  const [p, f] = perFile.get(c.file) ?? [0, 0];
  perFile.set(c.file, c.passed ? [p + 1, f] : [p, f + 1]);
}
out.push('# spec/compat status');
out.push('');
out.push('Generated by `spec/compat/report.ts` from a run of the compat suite (see its header for the commands);');
out.push('regenerate it after changing src/ or the cases. "ws" is the first transcript entry where the two');
out.push("libraries part ways as ws has it (or as the declared difference expects it), \"netws\" is netws's entry there.");
out.push('');
out.push(`**${cases.length} cases: ${passed} pass, ${failing.length} fail on netws.**`);
out.push('');
out.push('| file | pass | fail |');
out.push('| --- | ---: | ---: |');
for (const [name, [p, f]] of [...perFile].sort()) out.push(`| ${name} | ${p} | ${f} |`);
out.push('');
out.push('## Failing cases by cause');
out.push('');
out.push('| cause | cases | fix (a guess at where in src/) |');
out.push('| --- | ---: | --- |');
for (const cause of [...causes, { id: 'unclassified', title: 'Unclassified', fix: 'add a rule to report.ts', rule: /$^/ }]) {
  const list = byCause.get(cause.id);
  if (list) out.push(`| [${cause.title}](#${cause.id}) | ${list.length} | ${cause.fix} |`);
}
out.push('');
const timedOut = failing.filter((c) => c.netws.some((entry) => Array.isArray(entry) && entry[0] === 'threw' && String(entry[1]).includes('timed out')));
const leaked = cases.filter((c) => c.netws.some((entry) => Array.isArray(entry) && entry[0] === 'leaked'));
const uncaught = cases.filter((c) => c.netws.some((entry) => Array.isArray(entry) && entry[0] === 'uncaught'));
out.push('## Hangs, leaks and uncaught exceptions on netws');
out.push('');
out.push('None of these hangs the suite: a netws run gets ten times what the ws run took (at least 300 ms), what it');
out.push('leaves open is reported as `leaked` and force-closed, an exception escaping a socket handler is caught.');
out.push('');
out.push(`- Waited in vain (timed out): ${timedOut.length} cases, each listed below with \`threw … timed out\`.`);
out.push(`- Leaked handles or timers after cleanup: ${leaked.length === 0 ? 'none' : leaked.map((c) => `${c.file}: ${c.title}`).join('; ')}.`);
out.push(`- Uncaught exceptions: ${uncaught.length === 0 ? 'none' : uncaught.map((c) => `${c.file}: ${c.title}`).join('; ')}.`);
out.push('');
for (const cause of [...causes, { id: 'unclassified', title: 'Unclassified', fix: 'add a rule to report.ts', rule: /$^/ }]) {
  const list = byCause.get(cause.id);
  if (!list) continue;
  out.push(`### ${cause.title}`);
  out.push(`<a id="${cause.id}"></a>`);
  out.push('');
  out.push(`Fix: ${cause.fix}.`);
  out.push('');
  out.push('| case | ws | netws |');
  out.push('| --- | --- | --- |');
  for (const c of list) {
    const [wsEntry, netwsEntry] = firstDifference(c.expected, c.netws);
    const declared = c.declared ? ' (declared difference)' : '';
    out.push(`| ${c.file.replace('.spec.ts', '')}: ${c.title.replace(/\|/g, '\\|')}${declared} | ${cell(wsEntry)} | ${cell(netwsEntry)} |`);
  }
  out.push('');
}
process.stdout.write(out.join('\n'));
