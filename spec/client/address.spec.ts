/** Reading a client's URL as ws reads it, and checking its subprotocol list. */

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkProtocols, toTarget, toUrl, type Target } from '../../src/client/address.ts';

const target = (url: string): Target | string => toTarget(new URL(url));

test('ws:, wss:, and http:/https: mapped to them; the default port is left empty', () => {
  assert.equal(
    { ...(target('http://example.com/a?b=1') as Target), url: undefined },
    { url: undefined, secure: false, socketPath: undefined, host: 'example.com', port: '', path: '/a?b=1', credentials: undefined },
  );
  const secure = target('https://example.com:8443') as Target;
  assert.is(secure.url.href, 'wss://example.com:8443/');
  assert.ok(secure.secure);
  assert.is(secure.port, '8443');
  assert.is((target('ws://example.com') as Target).path, '/');
});

test('IPv6 hosts lose their brackets; credentials are percent-decoded', () => {
  const v6 = target('ws://[::1]:9000/') as Target;
  assert.is(v6.host, '::1');
  assert.is(v6.url.host, '[::1]:9000');
  assert.is((target('ws://us%40er:p%3Ass@h/') as Target).credentials, 'us@er:p:ss');
  assert.is((target('ws://user@h/') as Target).credentials, 'user:');
  assert.is((target('ws://:pass@h/') as Target).credentials, ':pass');
});

test('ws+unix: the socket path ends at the first colon; the rest is the request target', () => {
  const ipc = target('ws+unix:/run/app.sock:/chat?room=1') as Target;
  assert.is(ipc.socketPath, '/run/app.sock');
  assert.is(ipc.path, '/chat?room=1');
  assert.is(ipc.host, '');
  assert.not.ok(ipc.secure);
  const bare = target('ws+unix:/run/app.sock') as Target;
  assert.is(bare.socketPath, '/run/app.sock');
  assert.is(bare.path, '');
  assert.is((target('ws+unix:///run/app.sock:/x') as Target).socketPath, '/run/app.sock');
});

test('what is not a target says why', () => {
  assert.match(target('ftp://h/') as string, /protocol must be one of/);
  assert.is(target('ws+unix:'), "The URL's pathname is empty");
  assert.is(target('ws://h/#x'), 'The URL contains a fragment identifier');
  assert.is(toUrl('not a url'), null);
  assert.is(toUrl(''), null);
  assert.is(toUrl('/relative', new URL('ws://h/a/b'))!.href, 'ws://h/relative');
});

test('subprotocols: tokens, not repeated', () => {
  assert.is(checkProtocols([]), null);
  assert.is(checkProtocols(['chat', 'v2.json']), null);
  for (const bad of [[''], ['a b'], ['a,b'], ['a', 'a'], [1], [null], ['é']]) {
    assert.type(checkProtocols(bad), 'string', JSON.stringify(bad));
  }
});

test.run();
