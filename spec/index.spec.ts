import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket, * as netws from '../src/index.ts';

const test = suite("index: the public surface in ws's two shapes");

test('the default export is the WebSocket class carrying Server, WebSocketServer, WebSocket, createWebSocketStream', () => {
  assert.is(WebSocket, netws.WebSocket);
  assert.is(WebSocket.Server, netws.WebSocketServer);
  assert.is(WebSocket.WebSocketServer, netws.WebSocketServer);
  assert.is(WebSocket.WebSocket, netws.WebSocket);
  assert.is(WebSocket.createWebSocketStream, netws.createWebSocketStream);
});

test('every named export is a static property of the class too, so CommonJS code reaches it', () => {
  for (const [name, value] of Object.entries(netws)) {
    if (name !== 'default') assert.is((WebSocket as unknown as Record<string, unknown>)[name], value, name);
  }
});

test("ws's names are enumerable, as ws's index.js assigns them; netws' other exports are not", () => {
  const keys = Object.keys(WebSocket);
  for (const name of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED', 'Server', 'WebSocketServer', 'WebSocket', 'createWebSocketStream']) {
    assert.ok(keys.includes(name), name);
  }
  for (const name of ['CloseCode', 'prepareMessage', 'Protocol', 'WebSocketError']) assert.not.ok(keys.includes(name), name);
  const descriptor = Object.getOwnPropertyDescriptor(WebSocket, 'Server');
  assert.equal(descriptor, { value: netws.WebSocketServer, writable: true, enumerable: true, configurable: true });
});

test.run();
