// Browser code, run unchanged in Chromium (its native WebSocketStream) and
// in Node (netws's): the caller passes the WebSocketStream and
// WebSocketError classes. It talks to spec/browser/echo-server.ts and
// returns a report of what it saw; both runs must produce the same report
// (spec/browser/expected-stream-report.ts).

const STEP_TIMEOUT = 5000;

function within(promise, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), STEP_TIMEOUT);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** An error as the report shows it: its kind, name, and closeCode/reason for a WebSocketError. */
function describe(error) {
  if (error === null || typeof error !== 'object') return `not an error: ${String(error)}`;
  const kind = error instanceof DOMException ? 'DOMException' : 'other';
  const close = 'closeCode' in error ? ` closeCode=${error.closeCode} reason=${JSON.stringify(error.reason)}` : '';
  return `${kind} ${error.name}${close}`;
}

/** How a promise settles, as data. */
function settle(promise, what) {
  return within(promise, what).then(
    (value) => ['resolved', value === undefined ? 'undefined' : JSON.parse(JSON.stringify(value))],
    (error) => ['rejected', describe(error)],
  );
}

function thrown(fn) {
  try {
    fn();
    return 'no exception';
  } catch (error) {
    return describe(error);
  }
}

/** A short fingerprint of bytes: length and a rolling sum. */
function digest(buffer) {
  const bytes = new Uint8Array(buffer);
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) >>> 0;
  return `${bytes.length}:${sum}`;
}

function typeOf(value) {
  return typeof value === 'string' ? 'string' : Object.prototype.toString.call(value);
}

export async function streamRoundTrip(WebSocketStream, WebSocketError, baseUrl) {
  const report = {};

  const error = new WebSocketError('message', { closeCode: 4000, reason: 'why' });
  const bare = new WebSocketError();
  report.errorClass = {
    full: [error instanceof DOMException, error.name, error.message, error.closeCode, error.reason],
    bare: [bare.name, bare.message, bare.closeCode, bare.reason],
    reasonOnly: new WebSocketError('', { reason: 'r' }).closeCode,
    invalid: [
      thrown(() => new WebSocketError('', { closeCode: 1006 })),
      thrown(() => new WebSocketError('', { closeCode: 4000, reason: 'x'.repeat(124) })),
    ],
  };

  report.constructorErrors = [
    thrown(() => new WebSocketStream('ftp://example.com/')),
    thrown(() => new WebSocketStream(`${baseUrl}/echo`, { protocols: ['chat', 'chat'] })),
    thrown(() => new WebSocketStream(`${baseUrl}/echo`, { protocols: ['has space'] })),
  ];

  // Messages both ways.
  const wss = new WebSocketStream(`${baseUrl}/echo?id=s1`, { protocols: ['chat.v2', 'chat.v1'] });
  report.url = wss.url === `${baseUrl}/echo?id=s1`;
  report.toStringTag = Object.prototype.toString.call(wss);
  const opened = await within(wss.opened, 'opened');
  report.opened = {
    keys: Object.keys(opened).sort(),
    protocol: opened.protocol,
    compressed: opened.extensions.startsWith('permessage-deflate'),
    readable: opened.readable instanceof ReadableStream,
    writable: opened.writable instanceof WritableStream,
    same: (await wss.opened) === opened,
  };
  const writer = opened.writable.getWriter();
  const reader = opened.readable.getReader();
  report.desiredSize = writer.desiredSize;
  const next = async () => (await within(reader.read(), 'read')).value;

  await writer.write('héllo 👋');
  const text = await next();
  report.text = [typeOf(text), text];
  await writer.write(Uint8Array.from({ length: 256 }, (_, i) => i));
  const bytes = await next();
  report.uint8Array = [typeOf(bytes), digest(bytes)];
  await writer.write(Uint8Array.from([1, 2, 3, 4]).buffer);
  report.arrayBuffer = digest(await next());
  await writer.write(new DataView(Uint8Array.from([5, 6, 7]).buffer, 1));
  report.dataView = digest(await next());
  await writer.write(42);
  await writer.write({});
  report.notBufferSources = [await next(), await next()];

  // The write promise of a big message, then its echo.
  const big = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7) & 0xff);
  await writer.write(big);
  report.big = digest(await next());
  await writer.write('send 1048576');
  report.bigFromServer = digest(await next());

  // Many writes without waiting arrive in order.
  const writes = [];
  for (let i = 0; i < 20; i++) writes.push(writer.write(`m${i}`));
  await within(Promise.all(writes), 'writes');
  const order = [];
  for (let i = 0; i < 20; i++) order.push(await next());
  report.order = order.join(',');

  report.closeErrors = [
    thrown(() => wss.close({ closeCode: 999 })),
    thrown(() => wss.close({ closeCode: 1001 })),
    thrown(() => wss.close({ closeCode: 1000, reason: 'x'.repeat(124) })),
  ];

  // The server closes: the readable ends, `closed` resolves, writing is an InvalidStateError.
  await writer.write('close 4001 bye from server');
  report.serverClose = {
    read: await settle(reader.read(), 'read at close'),
    closed: await settle(wss.closed, 'closed'),
    writerClosed: await settle(writer.closed, 'writer.closed'),
    write: await settle(writer.write('late'), 'late write'),
  };

  // Each way the client can close, and what the server saw.
  const closes = {};
  const ways = {
    closeWithCode: (stream) => stream.close({ closeCode: 4002, reason: 'bye from client' }),
    closeNoArguments: (stream) => stream.close(),
    reasonOnly: (stream) => stream.close({ reason: 'only a reason' }),
    writerClose: (stream, info) => info.writable.getWriter().close(),
    writerAbortWithError: (stream, info) => info.writable.abort(new WebSocketError('', { closeCode: 4003, reason: 'aborted' })),
    writerAbortPlain: (stream, info) => info.writable.abort(new Error('plain')),
    readableCancelWithError: (stream, info) => info.readable.cancel(new WebSocketError('', { closeCode: 4004, reason: 'cancelled' })),
    readableCancelPlain: (stream, info) => info.readable.cancel(),
  };
  for (const [name, close] of Object.entries(ways)) {
    const stream = new WebSocketStream(`${baseUrl}/echo?id=${name}`);
    const info = await within(stream.opened, `${name} opened`);
    await close(stream, info);
    closes[name] = { closed: await settle(stream.closed, `${name} closed`) };
  }
  const reporter = new WebSocketStream(`${baseUrl}/echo?id=reporter`);
  const reporterInfo = await within(reporter.opened, 'reporter opened');
  const reporterWriter = reporterInfo.writable.getWriter();
  const reporterReader = reporterInfo.readable.getReader();
  for (const name of Object.keys(ways)) {
    await reporterWriter.write(`report ${name}`);
    closes[name].serverSaw = JSON.parse((await within(reporterReader.read(), 'report')).value);
  }
  report.clientCloses = closes;

  // The server cuts the connection: everything fails with a WebSocketError, closeCode 1006.
  await reporterWriter.write('terminate now');
  report.unclean = {
    read: await settle(reporterReader.read(), 'read at terminate'),
    closed: await settle(reporter.closed, 'closed'),
    writerClosed: await settle(reporterWriter.closed, 'writer.closed'),
    write: await settle(reporterWriter.write('late'), 'late write'),
  };

  // Cancelled before the handshake completes.
  const controller = new AbortController();
  controller.abort();
  const abortedBefore = new WebSocketStream(`${baseUrl}/echo?id=aborted`, { signal: controller.signal });
  report.abortedBeforeConstruction = {
    opened: await settle(abortedBefore.opened, 'opened'),
    closed: await settle(abortedBefore.closed, 'closed'),
  };
  const later = new AbortController();
  const abortedSoon = new WebSocketStream(`${baseUrl}/echo?id=aborted-soon`, { signal: later.signal });
  later.abort(new Error('a reason of its own'));
  report.abortedWhileConnecting = {
    opened: await settle(abortedSoon.opened, 'opened'),
    closed: await settle(abortedSoon.closed, 'closed'),
  };
  const afterOpen = new AbortController();
  const notAborted = new WebSocketStream(`${baseUrl}/echo?id=abort-after-open`, { signal: afterOpen.signal });
  await within(notAborted.opened, 'opened');
  afterOpen.abort();
  notAborted.close({ closeCode: 1000 });
  report.abortAfterOpen = await settle(notAborted.closed, 'closed');

  const early = new WebSocketStream(`${baseUrl}/echo?id=early`);
  early.close({ closeCode: 4005, reason: 'early' });
  report.closedBeforeOpen = { opened: await settle(early.opened, 'opened'), closed: await settle(early.closed, 'closed') };

  const refused = new WebSocketStream('ws://127.0.0.1:1/');
  report.refused = { opened: await settle(refused.opened, 'opened'), closed: await settle(refused.closed, 'closed') };

  return report;
}
