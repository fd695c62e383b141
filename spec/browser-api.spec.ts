import { getEventListeners } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocket, WebSocketServer } from '../src/index.ts';
import { isError, pair, portOf, sleep, waitFor } from './helpers.ts';
import { roundTrip } from './browser/roundtrip.js';
import { startEchoServer } from './browser/echo-server.ts';
import { expectedReport } from './browser/expected-report.ts';

const shared = suite('browser api: the shared browser script, in Node');

shared('roundtrip.js runs unchanged against netws and sees what a browser sees', async () => {
  const server = await startEchoServer();
  try {
    const report = await roundTrip(WebSocket, server.url);
    assert.equal(report, expectedReport());
  } finally {
    await server.close();
  }
});

shared.run();

const api = suite('browser api: events and attributes');

api('onopen fires with an Event whose target is the socket; Node-style open still fires', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await waitFor(wss, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}`);
  const seen: string[] = [];
  client.on('open', () => seen.push('node'));
  client.onopen = function (event) {
    seen.push(`${event.type}:${event.target === client}:${this === client}`);
  };
  assert.is(typeof client.onopen, 'function');
  await waitFor(client, 'open');
  assert.equal(seen, ['node', 'open:true:true']);
  client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

api('Node-style and WHATWG message listeners see the same message, in the order added', async () => {
  const { client, server, stop } = await pair();
  const seen: unknown[] = [];
  client.on('message', (data, isBinary) => seen.push(['node', Buffer.isBuffer(data), isBinary]));
  client.addEventListener('message', (event) => seen.push(['web', Buffer.isBuffer(event.data)]));
  server.send(Buffer.from([1, 2, 3]));
  await waitFor(client, 'message');
  await sleep(10);
  assert.equal(
    seen,
    [
      ['node', true, true],
      ['web', true],
    ],
    "binaryType 'nodebuffer' hands out the Buffer",
  );
  await stop();
});

api('binaryType: an invalid value is ignored; arraybuffer copies out only the message bytes', async () => {
  const { client, server, stop } = await pair();
  assert.is(client.binaryType, 'nodebuffer');
  client.binaryType = 'bogus' as never;
  assert.is(client.binaryType, 'nodebuffer');
  client.binaryType = 'arraybuffer';
  const received = new Promise<MessageEvent>((resolve) => {
    client.onmessage = resolve;
  });
  // A small message arrives as a view into a larger chunk.
  server.send(Buffer.from([9, 8, 7]));
  const event = await received;
  assert.instance(event.data, ArrayBuffer);
  assert.equal([...new Uint8Array(event.data)], [9, 8, 7]);
  await stop();
});

api('an attribute handler keeps its place when replaced, and setting null or a non-function removes it', async () => {
  const { client, server, stop } = await pair();
  const seen: string[] = [];
  client.onmessage = () => seen.push('first handler');
  client.addEventListener('message', () => seen.push('listener'));
  client.onmessage = () => seen.push('second handler');
  server.send('one');
  await waitFor(client, 'message');
  assert.equal(seen, ['second handler', 'listener']);
  client.onmessage = 'not a function' as never;
  assert.is(client.onmessage, null);
  client.onmessage = null; // nothing to remove
  server.send('two');
  await waitFor(client, 'message');
  assert.equal(seen, ['second handler', 'listener', 'listener']);
  await stop();
});

api('addEventListener: null listener ignored, AbortSignal removes, an aborted signal adds nothing', async () => {
  const { client, server, stop } = await pair();
  const seen: string[] = [];
  client.addEventListener('message', null);
  const controller = new AbortController();
  client.addEventListener('message', () => seen.push('signalled'), { signal: controller.signal });
  client.addEventListener('message', () => seen.push('never'), { signal: AbortSignal.abort() });
  client.addEventListener('message', () => seen.push('capture flag'), true);
  server.send('one');
  await waitFor(client, 'message');
  controller.abort();
  server.send('two');
  await waitFor(client, 'message');
  assert.equal(seen, ['signalled', 'capture flag', 'capture flag']);
  client.removeEventListener('message', () => {}); // unknown listener: no-op
  await stop();
});

api('a signal holds no listener of ours once the listener is removed, has run once, or its connection closed', async () => {
  const { client, server, stop } = await pair();
  const signal = new AbortController().signal; // lives longer than the connection, as an app's shutdown signal
  const abortListeners = () => getEventListeners(signal, 'abort').length;
  const removed = () => {};
  client.addEventListener('message', removed, { signal });
  client.removeEventListener('message', removed);
  assert.is(abortListeners(), 0, 'removeEventListener');
  client.addEventListener('message', () => {}, { signal, once: true });
  server.send('one');
  await waitFor(client, 'message');
  assert.is(abortListeners(), 0, 'a once listener that ran');
  client.addEventListener('message', () => {}, { signal });
  client.addEventListener('close', () => {}, { signal });
  assert.is(abortListeners(), 2);
  client.close();
  await waitFor(client, 'close');
  assert.is(abortListeners(), 0, 'the connection closed: the signal no longer holds it');
  await stop();
});

api('stopImmediatePropagation() holds when a listener makes another event fire in the middle of the dispatch', async () => {
  // The client fails over maxBufferedAmount inside its first listener: its 'error' (with a WHATWG listener) fires nested.
  const { client, server, stop } = await pair({}, { maxBufferedAmount: 10 });
  try {
    const seen: string[] = [];
    let firstEvent: Event | null = null;
    client.addEventListener('error', () => seen.push('error'));
    client.addEventListener('message', (event) => {
      firstEvent = event;
      seen.push(`first ${event.data}`);
      if (event.data === 'stop') event.stopImmediatePropagation();
      client.send(Buffer.alloc(100)); // over the cap: 'error' now, within this listener
    });
    client.addEventListener('message', (event) => seen.push(`second same ${event === firstEvent}`));
    server.send('stop');
    await waitFor(client, 'close');
    assert.equal(seen, ['first stop', 'error'], 'the second listener did not run: the outer event stayed stopped');
  } finally {
    await stop();
  }
});

api('listeners of an event keep sharing it across an event nested in its dispatch', async () => {
  const { client, server, stop } = await pair({}, { maxBufferedAmount: 10 });
  try {
    const seen: string[] = [];
    let firstEvent: Event | null = null;
    client.addEventListener('error', () => seen.push('error'));
    client.addEventListener('message', (event) => {
      firstEvent = event;
      client.send(Buffer.alloc(100));
    });
    client.addEventListener('message', (event) => seen.push(`same ${event === firstEvent}`));
    server.send('go');
    await waitFor(client, 'close');
    assert.equal(seen, ['error', 'same true']);
  } finally {
    await stop();
  }
});

api(
  "one event per dispatch: listeners share it, stopImmediatePropagation() stops the rest, a listener removed meanwhile is skipped; origin is the URL's",
  async () => {
    const { wss, client, server, stop } = await pair();
    try {
      const seen: string[] = [];
      let firstEvent: Event | null = null;
      const removed = () => seen.push('removed ran');
      client.addEventListener('message', (event) => {
        firstEvent = event;
        seen.push(`A ${event.data} origin ${event.origin}`);
        client.removeEventListener('message', removed);
        if (event.data === 'stop') event.stopImmediatePropagation();
      });
      client.addEventListener('message', (event) => seen.push(`B ${event.data} same ${event === firstEvent}`));
      client.addEventListener('message', removed);
      client.addEventListener('message', () => seen.push('once'), { once: true });
      server.send('stop');
      await waitFor(client, 'message');
      const origin = `ws://127.0.0.1:${portOf(wss)}`;
      assert.equal(seen, [`A stop origin ${origin}`], 'stopped: B, the removed listener and the once listener did not run');
      seen.length = 0;
      client.addEventListener('message', removed);
      server.send('go');
      await waitFor(client, 'message');
      assert.equal(seen, [`A go origin ${origin}`, 'B go same true', 'once'], 'a once listener not reached before stays');
      seen.length = 0;
      const dispatched = new Event('message');
      client.addEventListener('message', (event) => event.stopImmediatePropagation());
      client.addEventListener('message', () => seen.push('after the stop'));
      client.dispatchEvent(dispatched);
      assert.equal(seen.length, 2, 'a dispatched foreign Event stops too (A and B ran, nothing after)');
      const serverSide = new Promise<string>((resolve) => server.addEventListener('message', (event) => resolve(event.origin)));
      client.send('to the server');
      assert.is(await serverSide, '', 'no URL on the server side');
    } finally {
      await stop();
    }
  },
);

api('onclose gets a CloseEvent with the reason as a string; onerror an ErrorEvent with the error', async () => {
  const { client, server, stop } = await pair();
  const errors: ErrorEvent[] = [];
  client.onerror = (event) => errors.push(event);
  const closed = new Promise<CloseEvent>((resolve) => {
    client.onclose = resolve;
  });
  assert.is(typeof client.onclose, 'function');
  assert.is(typeof client.onerror, 'function');
  // A frame with RSV2 set fails the connection from the client side.
  server._socket!.write(Buffer.from([0xa1, 0x00]));
  const event = await closed;
  assert.instance(event, CloseEvent);
  assert.is(event.code, 1002);
  assert.is(event.reason, '');
  assert.is(event.wasClean, false);
  assert.is(errors.length, 1);
  assert.instance(errors[0], ErrorEvent);
  assert.instance(errors[0].error, Error);
  assert.is(errors[0].message, (errors[0].error as Error).message);
  assert.is(errors[0].target, client);
  await stop();
});

api('dispatchEvent calls only the WHATWG listeners, sets the target and reports preventDefault', async () => {
  const { client, stop } = await pair();
  const seen: string[] = [];
  client.on('message', () => seen.push('node'));
  client.addEventListener('message', (event) => seen.push(`web:${(event as MessageEvent).data}`), { once: true });
  client.addEventListener('close', (event) => {
    seen.push(`close:${event.target === client}`);
    event.preventDefault();
  });
  assert.is(client.dispatchEvent(new MessageEvent('message', { data: 'synthetic' })), true);
  assert.is(client.dispatchEvent(new MessageEvent('message', { data: 'again' })), true, 'once: removed');
  assert.is(client.dispatchEvent(new Event('close', { cancelable: true })), false);
  assert.equal(seen, ['web:synthetic', 'close:true']);
  assert.throws(
    () => client.dispatchEvent({ type: 'message' } as never),
    (error: unknown) => error instanceof TypeError,
  );
  await stop();
});

api('addEventListener ignores types other than open, message, close and error (as ws does)', async () => {
  const { client, server, stop } = await pair();
  const seen: string[] = [];
  client.addEventListener('ping', () => seen.push('ping'));
  client.addEventListener('custom', () => seen.push('custom'));
  assert.is(client.listenerCount('ping'), 0);
  server.ping();
  await waitFor(client, 'ping');
  assert.is(client.dispatchEvent(new Event('custom')), true);
  assert.equal(seen, []);
  await stop();
});

api.run();

const events = suite('browser api: event classes');

events('CloseEvent and ErrorEvent take the init dictionary, with WHATWG defaults', () => {
  const close = new CloseEvent('close', { code: 4000, reason: 'r', wasClean: true, cancelable: true });
  assert.equal([close.type, close.code, close.reason, close.wasClean, close.cancelable], ['close', 4000, 'r', true, true]);
  const bare = new CloseEvent('close');
  assert.equal([bare.code, bare.reason, bare.wasClean], [0, '', false]);
  const cause = new Error('boom');
  const error = new ErrorEvent('error', { message: 'm', filename: 'f', lineno: 1, colno: 2, error: cause });
  assert.equal([error.message, error.filename, error.lineno, error.colno, error.error], ['m', 'f', 1, 2, cause]);
  const empty = new ErrorEvent('error');
  assert.equal([empty.message, empty.filename, empty.lineno, empty.colno, empty.error], ['', '', 0, 0, undefined]);
  const message = new MessageEvent('message', { data: 'd' });
  assert.instance(message, globalThis.MessageEvent, "an instance of Node's own MessageEvent too");
  assert.is(message.data, 'd');
  assert.is(message.target, null, 'no target until a WebSocket fires it');
});

events.run();

const blobs = suite('browser api: sending Blobs');

blobs('a Blob is sent as binary, and later sends wait for it', async () => {
  const { client, server, stop } = await pair();
  const got: Array<[string, boolean]> = [];
  server.on('message', (data, isBinary) => got.push([data.toString(), isBinary]));
  client.send(new Blob(['blob one']));
  client.send('text after');
  client.send(new Blob(['blob as text']), { binary: false });
  const sent = new Promise<Error | null | undefined>((resolve) => client.send(Buffer.from('last'), resolve));
  assert.not.ok(await sent);
  await sleep(20);
  assert.equal(got, [
    ['blob one', true],
    ['text after', false],
    ['blob as text', false],
    ['last', true],
  ]);
  await stop();
});

blobs('data of a wrong type throws at send(), even behind a queued Blob (as in ws)', async () => {
  const { client, stop } = await pair();
  client.send(new Blob(['queued']));
  assert.throws(() => client.send({} as never), isError(TypeError));
  await stop();
});

blobs('a Blob that cannot be read: its callback and an error event get the error, later sends fail, TCP is closed (as in ws)', async () => {
  const { client, server, stop } = await pair();
  const broken = new Blob(['x']);
  broken.arrayBuffer = () => Promise.reject(new Error('unreadable'));
  const errors: string[] = [];
  client.on('error', (error) => errors.push(error.message));
  const readError = new Promise<Error | null | undefined>((resolve) => client.send(broken, resolve));
  const after = new Promise<Error | null | undefined>((resolve) => client.send('after', resolve));
  const received: string[] = [];
  server.on('message', (data) => received.push(String(data)));
  assert.is((await readError)?.message, 'unreadable');
  assert.instance(await after, Error);
  const [code] = await waitFor<[number]>(client, 'close');
  assert.is(code, 1006);
  assert.equal(errors, ['unreadable']);
  assert.equal(received, []);
  await stop();
});

blobs.run();
