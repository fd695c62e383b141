// The chat page: the browser's own WebSocket, no framework. It shows the
// connection state and reconnects with exponential backoff (and jitter)
// when the server goes away.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let nick = params.get('nick') || localStorage.getItem('netws-chat-nick') || '';
let room = params.get('room') || 'lobby';
let socket = null;
let attempt = 0;
let retryTimer = null;
const members = new Set();

const MAX_DELAY = 10_000;

function setState(state, text) {
  const element = $('state');
  element.className = `state ${state}`;
  element.textContent = text;
  document.body.dataset.state = state;
  $('send').querySelector('button').disabled = state !== 'open';
}

function connect() {
  clearTimeout(retryTimer);
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const query = new URLSearchParams({ room, nick });
  const ws = new WebSocket(`${scheme}://${location.host}/chat?${query}`);
  socket = ws;
  setState('connecting', attempt === 0 ? 'connecting…' : `reconnecting (attempt ${attempt + 1})…`);
  ws.onopen = () => {
    attempt = 0;
    setState('open', 'connected');
  };
  ws.onmessage = (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    render(message);
  };
  ws.onclose = (event) => {
    if (socket !== ws) return; // replaced on purpose (room or nickname changed)
    socket = null;
    const delay = Math.min(MAX_DELAY, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    setState('closed', `disconnected (${event.code}), retrying in ${Math.ceil(delay / 1000)} s`);
    retryTimer = setTimeout(connect, delay);
  };
}

function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function addLine(className, parts) {
  const log = $('log');
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const line = document.createElement('p');
  line.className = `line ${className}`;
  for (const [tag, text, partClass] of parts) {
    const part = document.createElement(tag);
    part.textContent = text; // never innerHTML: messages are untrusted
    if (partClass) part.className = partClass;
    line.append(part);
  }
  log.append(line);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function showMessage(message) {
  addLine(message.nick === nick ? 'message mine' : 'message', [
    ['time', time(message.time)],
    ['span', message.nick, 'nick'],
    ['span', message.text, 'text'],
  ]);
}

function showMembers() {
  $('members').textContent = `${members.size} here: ${[...members].join(', ')}`;
}

function render(message) {
  switch (message.type) {
    case 'welcome':
      room = message.room;
      nick = message.nick;
      $('room').value = room;
      $('nick').value = nick;
      $('room-title').textContent = `#${room}`;
      document.title = `#${room} · netws chat`;
      history.replaceState(null, '', `?room=${encodeURIComponent(room)}`);
      $('log').replaceChildren();
      message.history.forEach(showMessage);
      members.clear();
      for (const name of message.members) members.add(name);
      showMembers();
      addLine('notice', [['span', `You are ${nick} in #${room}.`]]);
      break;
    case 'message':
      showMessage(message);
      break;
    case 'join':
      members.add(message.nick);
      showMembers();
      if (message.nick !== nick)
        addLine('notice', [
          ['time', time(message.time)],
          ['span', `${message.nick} joined`],
        ]);
      break;
    case 'leave':
      members.delete(message.nick);
      showMembers();
      addLine('notice', [
        ['time', time(message.time)],
        ['span', `${message.nick} left`],
      ]);
      break;
    case 'error':
      addLine('error', [['span', message.message]]);
      break;
  }
}

$('send').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('text');
  const text = input.value.trim();
  if (text === '' || socket === null || socket.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify({ type: 'message', text }));
  input.value = '';
});

$('join').addEventListener('submit', (event) => {
  event.preventDefault();
  nick = $('nick').value.trim();
  room = $('room').value.trim().toLowerCase();
  localStorage.setItem('netws-chat-nick', nick);
  const old = socket;
  socket = null;
  old?.close(1000, 'switching rooms');
  attempt = 0;
  connect();
});

// Back online: do not wait for the backoff timer.
window.addEventListener('online', () => {
  if (socket === null) connect();
});

$('nick').value = nick;
$('room').value = room;
connect();
