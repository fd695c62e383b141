import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from '../../src/index.ts';
import { LIMITS, nickName, parseChatText, roomName } from '../../examples/chat/chat.ts';
import { startChatServer, type ChatServer } from '../../examples/chat/server.ts';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers.ts';
import { RedisServer, freePort, redisAvailable } from '../redis-server.ts';
import { runTypeScript } from '../runtime.ts';

interface Received {
  type: string;
  [key: string]: unknown;
}

/** A chat client that collects every event the server sends. */
async function join(chat: ChatServer, query: string, options: { origin?: string } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${chat.port}/chat?${query}`, options);
  const events: Received[] = [];
  ws.on('message', (data) => events.push(JSON.parse(data.toString())));
  await waitFor(ws, 'open');
  const next = async (type: string, ms = 2000): Promise<Received> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = events.findIndex((event) => event.type === type);
      if (index !== -1) return events.splice(index, 1)[0];
      if (Date.now() > deadline) throw new Error(`no '${type}' event within ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const say = (text: unknown) => ws.send(JSON.stringify({ type: 'message', text }));
  return { ws, events, next, say };
}

const chat = suite('chat demo');

chat('two people in a room see each other join, talk and leave; other rooms hear nothing', async () => {
  const server = await startChatServer(0, '127.0.0.1');
  try {
    const alice = await join(server, 'room=tea&nick=alice');
    const welcome = await alice.next('welcome');
    assert.equal([welcome.room, welcome.nick, welcome.members, welcome.history], ['tea', 'alice', ['alice'], []]);
    assert.is((await alice.next('join')).nick, 'alice', 'the room hears of each join, the newcomer too');
    const other = await join(server, 'room=coffee&nick=carol');
    const bob = await join(server, 'room=tea&nick=bob');
    assert.equal((await bob.next('welcome')).members, ['alice', 'bob']);
    assert.is((await alice.next('join')).nick, 'bob');
    bob.say('  hi alice  ');
    const heard = await alice.next('message');
    assert.equal([heard.nick, heard.text], ['bob', 'hi alice']);
    assert.is((await bob.next('message')).text, 'hi alice', 'the sender gets its own message back');
    bob.ws.close();
    assert.is((await alice.next('leave')).nick, 'bob');
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(
      other.events.filter((event) => event.type !== 'welcome' && event.type !== 'join'),
      [],
    );
    alice.ws.close();
    other.ws.close();
  } finally {
    await server.close();
  }
});

chat(`a newcomer gets the last ${LIMITS.historySize} messages of the room`, async () => {
  const server = await startChatServer(0, '127.0.0.1');
  try {
    const talker = await join(server, 'room=history&nick=talker');
    const total = LIMITS.historySize + 5;
    // Sent in bursts under the rate limit.
    for (let i = 0; i < total; i++) {
      if (i > 0 && i % LIMITS.rateLimit === 0) {
        // A reconnect starts a fresh rate window.
        talker.ws.close();
        await waitFor(talker.ws, 'close');
        Object.assign(talker, await join(server, 'room=history&nick=talker'));
      }
      talker.say(`message ${i}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const newcomer = await join(server, 'room=history&nick=newcomer');
    const history = (await newcomer.next('welcome')).history as Received[];
    assert.is(history.length, LIMITS.historySize);
    assert.is(history[0].text, `message ${total - LIMITS.historySize}`);
    assert.is(history.at(-1)!.text, `message ${total - 1}`);
    talker.ws.close();
    newcomer.ws.close();
  } finally {
    await server.close();
  }
});

chat('malformed, oversized, binary and unknown messages get an error message and the connection stays', async () => {
  const server = await startChatServer(0, '127.0.0.1');
  try {
    const client = await join(server, 'room=errors&nick=mallory');
    await client.next('welcome');
    const bad: Array<string | Buffer> = [
      'not json',
      'null',
      '{"type":"shout","text":"x"}',
      '{"type":"message","text":42}',
      '{"type":"message","text":"   "}',
      JSON.stringify({ type: 'message', text: 'x'.repeat(LIMITS.maxTextLength + 1) }),
      Buffer.from([1, 2, 3]),
    ];
    for (const message of bad) client.ws.send(message);
    for (let i = 0; i < bad.length; i++) await client.next('error');
    client.say('still here');
    assert.is((await client.next('message')).text, 'still here');
    const tooBig = waitFor<[number]>(client.ws, 'close');
    client.ws.send('x'.repeat(LIMITS.maxPayload + 1));
    assert.is((await tooBig)[0], 1009, 'a frame over maxPayload closes with 1009');
  } finally {
    await server.close();
  }
});

chat('a flood beyond the rate limit is refused with an error message', async () => {
  const server = await startChatServer(0, '127.0.0.1');
  try {
    const client = await join(server, 'room=flood&nick=flood');
    await client.next('welcome');
    for (let i = 0; i <= LIMITS.rateLimit; i++) client.say(`m${i}`);
    assert.match(String((await client.next('error')).message), /Slow down/);
    client.ws.close();
  } finally {
    await server.close();
  }
});

chat('room and nickname are cleaned up; a taken nickname gets a suffix', async () => {
  assert.is(roomName('Tea'), 'tea');
  assert.is(roomName('../etc'), 'lobby');
  assert.is(roomName(null), 'lobby');
  assert.is(nickName(' zoë '), 'zoë');
  assert.match(nickName('<script>'), /^guest-\d{4}$/);
  assert.is(nickName('a'.repeat(40)).length, LIMITS.maxNickLength);
  assert.equal(parseChatText(Buffer.from('{"type":"message","text":"ok"}'), false), 'ok');
  const server = await startChatServer(0, '127.0.0.1');
  try {
    const first = await join(server, 'room=same&nick=sam');
    const second = await join(server, 'room=same&nick=sam');
    assert.is((await second.next('welcome')).nick, 'sam-2');
    first.ws.close();
    second.ws.close();
  } finally {
    await server.close();
  }
});

chat('the server refuses other paths (404) and pages from other origins (403), and serves only its files', async () => {
  const server = await startChatServer(0, '127.0.0.1');
  try {
    for (const [url, origin, status] of [
      [`ws://127.0.0.1:${server.port}/elsewhere`, undefined, 404],
      [`ws://127.0.0.1:${server.port}/chat`, 'http://evil.example', 403],
    ] as const) {
      const ws = new WebSocket(url, { origin });
      const [error] = await waitFor<[{ statusCode?: number }]>(ws, 'error');
      assert.is(error.statusCode, status);
    }
    const page = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.is(page.status, 200);
    assert.match(await page.text(), /<script src="\/app.js"/);
    assert.is((await fetch(`http://127.0.0.1:${server.port}/server.ts`)).status, 404);
    assert.is((await fetch(`http://127.0.0.1:${server.port}/`, { method: 'POST' })).status, 404);
  } finally {
    await server.close();
  }
});

chat.run();

const scaled = suite('chat demo on Redis: servers that form one chat');
let redis: RedisServer | null = null;
scaled.before(async () => {
  if (redisAvailable()) redis = await RedisServer.start();
});
scaled.after(async () => {
  await redis?.stop();
});

scaled('two servers on one Redis: one room, each side sees the other, the shared history, unique nicknames', async () => {
  if (redis === null) return;
  const a = await startChatServer(0, '127.0.0.1', { redisUrl: redis.url });
  const b = await startChatServer(0, '127.0.0.1', { redisUrl: redis.url });
  try {
    const alice = await join(a, 'room=tea&nick=alice');
    assert.equal((await alice.next('welcome')).members, ['alice']);
    assert.is((await alice.next('join')).nick, 'alice');
    const bob = await join(b, 'room=tea&nick=bob');
    const welcome = await bob.next('welcome');
    assert.equal((welcome.members as string[]).sort(), ['alice', 'bob'], 'members of every server');
    assert.is((await alice.next('join')).nick, 'bob', 'a join on b is heard on a');
    const elsewhere = await join(b, 'room=coffee&nick=carol');
    bob.say('hello from b');
    assert.equal([(await alice.next('message')).text, (await bob.next('message')).text], ['hello from b', 'hello from b']);
    alice.say('hello from a');
    assert.is((await bob.next('message')).text, 'hello from a');
    // The history is in Redis: a newcomer on either server gets the same.
    const late = await join(a, 'room=tea&nick=dave');
    const history = (await late.next('welcome')).history as Received[];
    assert.equal(
      history.map((message) => message.text),
      ['hello from b', 'hello from a'],
    );
    // A nickname is taken once across servers, and free again when its person leaves.
    const twin = await join(b, 'room=tea&nick=alice');
    assert.is((await twin.next('welcome')).nick, 'alice-2');
    alice.ws.close();
    assert.is((await bob.next('leave')).nick, 'alice');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await join(b, 'room=tea&nick=alice');
    assert.is((await again.next('welcome')).nick, 'alice');
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(
      elsewhere.events.filter((event) => event.type === 'message'),
      [],
      'other rooms hear nothing',
    );
    for (const client of [bob, elsewhere, late, twin, again]) client.ws.close();
  } finally {
    await a.close();
    await b.close();
  }
});

scaled('WORKERS=2 REDIS_URL=… npm start: two processes on one port, one chat; WORKERS without REDIS_URL is refused', async () => {
  if (redis === null) return;
  const main = fileURLToPath(new URL('../../examples/chat/main.ts', import.meta.url));
  // Started on the runtime that runs the specs (Node through tsx, Bun and Deno as they are).
  const refused = spawn(...runTypeScript(main), { env: { ...process.env, WORKERS: '2', REDIS_URL: '', PORT: '0' } });
  let refusal = '';
  refused.stderr.on('data', (chunk) => (refusal += chunk));
  assert.is((await waitFor<[number]>(refused, 'exit', 20_000))[0], 1);
  assert.match(refusal, /WORKERS > 1 needs REDIS_URL/);

  const port = await freePort();
  const demo = spawn(...runTypeScript(main), {
    env: { ...process.env, WORKERS: '2', REDIS_URL: redis.url, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  let output = '';
  demo.stdout.on('data', (chunk) => (output += chunk));
  try {
    const deadline = Date.now() + 20_000;
    while ((output.match(/worker \d+ serving/g) ?? []).length < 2) {
      assert.ok(Date.now() < deadline, `the workers did not start: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const server = { port, url: `http://127.0.0.1:${port}` } as ChatServer;
    // node:cluster hands connections to the workers in turn: four people, two per process.
    const people = [];
    for (const nick of ['w1', 'w2', 'w3', 'w4']) {
      const person = await join(server, `room=workers&nick=${nick}`);
      await person.next('welcome');
      people.push(person);
    }
    people[0].say('across workers');
    for (const person of people) assert.is((await person.next('message')).text, 'across workers');
    people[3].say('and back');
    for (const person of people) assert.is((await person.next('message')).text, 'and back');
    for (const person of people) person.ws.close();
  } finally {
    process.kill(-demo.pid!, 'SIGTERM');
    await waitFor(demo, 'exit', 10_000).catch(() => process.kill(-demo.pid!, 'SIGKILL'));
  }
});

scaled.run();
