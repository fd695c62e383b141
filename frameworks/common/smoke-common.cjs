'use strict';
/**
 * The echo and close checks the smoke bodies share: a client from the
 * project's `ws` (netws under the override) against the framework's server.
 */

/** Opens a client, echoes a text and a binary message, closes with 1000 'done', and notes both ends' view of the close. */
async function echoAndClose(t, WebSocket, url, serverCloses) {
  const client = new WebSocket(url);
  t.defer(() => client.terminate());
  await t.event(client, 'open');
  t.note('client open', client.readyState);
  for (const message of ['hello', Buffer.from([0, 1, 2, 250, 255])]) {
    const echoed = t.event(client, 'message');
    client.send(message);
    const [data, isBinary] = await echoed;
    t.note('echo', isBinary, data);
  }
  const closed = t.event(client, 'close');
  client.close(1000, 'done');
  const [code, reason] = await closed;
  t.note('client close event', code, String(reason));
  if (serverCloses) {
    // The server's close event may come just after the client's (netws's client waits for the server to end TCP).
    for (let i = 0; i < 100 && serverCloses().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    t.note('server close events', serverCloses());
  }
}

/** Opens a client on a route whose handler closes at once with 4001 'server says bye'. */
async function serverCloses(t, WebSocket, url) {
  const client = new WebSocket(url);
  t.defer(() => client.terminate());
  const closed = t.event(client, 'close');
  const [code, reason] = await closed;
  t.note('client close event', code, String(reason));
}

module.exports = { echoAndClose, serverCloses };
