// Browser code, run unchanged in Chromium (against the browser's own
// WebSocket) and in Node (against netws' WebSocket): the caller passes the
// WebSocket class, the way `import { WebSocket } from 'netws'` would bind it.
// It talks to the echo server of spec/browser/echo-server.ts and returns a
// report of what it saw; both runs must produce the same report.

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

function opened(ws) {
  return within(
    new Promise((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error('error before open'));
    }),
    'open',
  );
}

function nextMessage(ws) {
  return within(new Promise((resolve) => ws.addEventListener('message', resolve, { once: true })), 'message');
}

function closed(ws) {
  return within(
    new Promise((resolve) => {
      ws.onclose = resolve;
    }),
    'close',
  );
}

async function bytesOf(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  return null;
}

/** A short fingerprint of a byte array: length and a rolling sum. */
function digest(bytes) {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) >>> 0;
  return `${bytes.length}:${sum}`;
}

function thrownName(fn) {
  try {
    fn();
    return 'no exception';
  } catch (error) {
    return `${error instanceof DOMException ? 'DOMException' : 'other'} ${error.name}`;
  }
}

export async function roundTrip(WebSocket, baseUrl) {
  const report = {};

  report.constructorErrors = [
    thrownName(() => new WebSocket('ftp://example.com/')),
    thrownName(() => new WebSocket('ws://example.com:99999/')),
    thrownName(() => new WebSocket(`${baseUrl}/echo`, ['chat', 'chat'])),
    thrownName(() => new WebSocket(`${baseUrl}/echo`, 'has space')),
  ];

  const ws = new WebSocket(`${baseUrl}/echo?id=first`, ['chat.v2', 'chat.v1']);
  report.initial = { readyState: ws.readyState, bufferedAmount: ws.bufferedAmount, url: ws.url === `${baseUrl}/echo?id=first` };
  await opened(ws);
  report.opened = { readyState: ws.readyState, protocol: ws.protocol, constants: [ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED] };

  // Text, with a character outside the BMP.
  ws.send('héllo 👋');
  const textEvent = await nextMessage(ws);
  report.text = {
    data: textEvent.data,
    isMessageEvent: textEvent instanceof MessageEvent,
    targetIsSocket: textEvent.target === ws,
    type: textEvent.type,
  };

  // Binary as ArrayBuffer, and a view that must send only its own bytes.
  ws.binaryType = 'arraybuffer';
  const pattern = new Uint8Array(256).map((_, i) => i);
  ws.send(pattern.buffer);
  const arrayBufferEvent = await nextMessage(ws);
  report.arrayBuffer = {
    isArrayBuffer: arrayBufferEvent.data instanceof ArrayBuffer,
    digest: digest(await bytesOf(arrayBufferEvent.data)),
  };
  ws.send(pattern.subarray(10, 20));
  report.view = digest(await bytesOf((await nextMessage(ws)).data));

  // Binary as Blob, both ways: a Blob sent, a Blob received.
  ws.binaryType = 'blob';
  report.binaryType = ws.binaryType;
  ws.send(new Blob([pattern.subarray(0, 100), 'tail']));
  const blobEvent = await nextMessage(ws);
  report.blob = { isBlob: blobEvent.data instanceof Blob, digest: digest(await bytesOf(blobEvent.data)) };

  // A Blob and the text after it arrive in the order sent.
  const order = [];
  const collect = (event) => order.push(typeof event.data === 'string' ? event.data : 'binary');
  ws.addEventListener('message', collect);
  ws.send(new Blob(['first']));
  ws.send('second');
  await within(
    new Promise((resolve) => {
      const poll = setInterval(() => {
        if (order.length === 2) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    }),
    'ordered pair',
  );
  ws.removeEventListener('message', collect);
  report.order = order;

  // A 1 MiB message, each way.
  ws.binaryType = 'arraybuffer';
  const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) & 0xff);
  ws.send(big);
  report.big = digest(await bytesOf((await nextMessage(ws)).data));
  ws.send(`send ${1024 * 1024}`);
  report.bigFromServer = digest(await bytesOf((await nextMessage(ws)).data));

  // Listener styles: attribute, handleEvent object, once, duplicates ignored.
  const calls = [];
  const handler = {
    handleEvent(event) {
      calls.push(`object:${event.data}`);
    },
  };
  function plain(event) {
    calls.push(`plain:${event.data}`);
  }
  ws.addEventListener('message', handler);
  ws.addEventListener('message', plain);
  ws.addEventListener('message', plain);
  ws.addEventListener('message', (event) => calls.push(`once:${event.data}`), { once: true });
  ws.onmessage = (event) => calls.push(`attribute:${event.data}`);
  ws.send('a');
  await nextMessage(ws);
  ws.removeEventListener('message', plain);
  ws.onmessage = null;
  ws.send('b');
  await nextMessage(ws);
  ws.removeEventListener('message', handler);
  report.listeners = calls;

  // close() argument checks.
  report.closeErrors = [
    thrownName(() => ws.close(999)),
    thrownName(() => ws.close(1000, 'x'.repeat(124))),
    thrownName(() => ws.close(undefined, 'a reason needs a code')),
  ];

  // The server closes with a code and reason.
  ws.send('close 4001 bye from server');
  const serverClose = await closed(ws);
  report.serverClose = { code: serverClose.code, reason: serverClose.reason, wasClean: serverClose.wasClean, readyState: ws.readyState };

  // The client closes with a code and reason; the server saw them.
  const second = new WebSocket(`${baseUrl}/echo?id=second`);
  await opened(second);
  second.close(4002, 'bye from client');
  report.closingState = second.readyState;
  const clientClose = await closed(second);
  report.clientClose = { code: clientClose.code, reason: clientClose.reason, wasClean: clientClose.wasClean };
  const observer = new WebSocket(`${baseUrl}/echo?id=observer`);
  await opened(observer);
  observer.send('report second');
  report.serverSaw = JSON.parse((await nextMessage(observer)).data);
  observer.close();
  await closed(observer);

  return report;
}
