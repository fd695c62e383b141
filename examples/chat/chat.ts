/**
 * The chat rooms: who is in which room, the last messages of each, and the
 * JSON messages between the page and the server. Everything a client sends
 * is checked here; a bad message earns an error message, never a crash.
 *
 * Page → server:  {"type":"message","text":"..."}
 * Server → page:  welcome {room, nick, members, history}, message {nick, text, time},
 *                 join {nick, time}, leave {nick, time}, error {message}
 */

import { WebSocket, type WebSocketServer } from '../../src/index.ts';

export const LIMITS = {
  /** Largest WebSocket message the server accepts (bigger ones close the connection with 1009). */
  maxPayload: 16 * 1024,
  /** Longest chat message, in characters; longer ones get an error message. */
  maxTextLength: 500,
  maxNickLength: 24,
  /** Messages kept per room for people who join later. */
  historySize: 50,
  /** Rooms kept in memory; the oldest empty room makes way for a new one. */
  maxRooms: 100,
  /** Messages a connection may send per `rateWindow` milliseconds. */
  rateLimit: 20,
  rateWindow: 10_000,
} as const;

const ROOM_NAME = /^[a-z0-9-]{1,32}$/;
const NICK_NAME = /^[\p{L}\p{N} ._-]+$/u;

export interface ChatMessage {
  type: 'message';
  nick: string;
  text: string;
  time: number;
}

interface Member {
  nick: string;
  /** Start of the current rate window and the messages sent in it. */
  windowStart: number;
  sentInWindow: number;
}

interface Room {
  name: string;
  members: Map<WebSocket, Member>;
  history: ChatMessage[];
}

export function roomName(raw: string | null): string {
  const name = (raw ?? '').trim().toLowerCase();
  return ROOM_NAME.test(name) ? name : 'lobby';
}

export function nickName(raw: string | null): string {
  const nick = (raw ?? '').trim().slice(0, LIMITS.maxNickLength);
  return NICK_NAME.test(nick) ? nick : `guest-${Math.floor(1000 + Math.random() * 9000)}`;
}

export class ChatRooms {
  private readonly rooms = new Map<string, Room>();

  /** `wss` is kept for the broadcast (see relay). */
  constructor(private readonly wss: WebSocketServer) {}

  /** Adds a freshly opened connection to a room, or refuses it when no room can be made. */
  join(ws: WebSocket, requestedRoom: string | null, requestedNick: string | null): void {
    const room = this.roomFor(roomName(requestedRoom));
    if (room === null) {
      sendTo(ws, { type: 'error', message: 'The server has too many rooms; try an existing one.' });
      ws.close(1013, 'Too many rooms');
      return;
    }
    const nick = this.uniqueNick(room, nickName(requestedNick));
    room.members.set(ws, { nick, windowStart: Date.now(), sentInWindow: 0 });
    sendTo(ws, {
      type: 'welcome',
      room: room.name,
      nick,
      members: [...room.members.values()].map((member) => member.nick),
      history: room.history,
    });
    this.relay(room, { type: 'join', nick, time: Date.now() });

    ws.on('message', (data, isBinary) => this.receive(room, ws, data as Buffer, isBinary));
    ws.on('close', () => {
      room.members.delete(ws);
      this.relay(room, { type: 'leave', nick, time: Date.now() });
    });
  }

  private receive(room: Room, ws: WebSocket, data: Buffer, isBinary: boolean): void {
    const member = room.members.get(ws);
    if (member === undefined) return;
    const now = Date.now();
    if (now - member.windowStart > LIMITS.rateWindow) {
      member.windowStart = now;
      member.sentInWindow = 0;
    }
    if (++member.sentInWindow > LIMITS.rateLimit) {
      sendTo(ws, { type: 'error', message: 'Slow down: too many messages.' });
      return;
    }
    const text = parseChatText(data, isBinary);
    if (typeof text !== 'string') {
      sendTo(ws, { type: 'error', message: text.error });
      return;
    }
    const message: ChatMessage = { type: 'message', nick: member.nick, text, time: now };
    room.history.push(message);
    if (room.history.length > LIMITS.historySize) room.history.shift();
    this.relay(room, message);
  }

  /**
   * Sends one event to everyone in the room: the only place that fans out.
   * The prepared-message broadcast frames it once for all members (each
   * compressing connection still deflates it in its own context).
   */
  private relay(room: Room, event: object): void {
    this.wss.broadcast(JSON.stringify(event), { to: room.members.keys() });
  }

  private roomFor(name: string): Room | null {
    const existing = this.rooms.get(name);
    if (existing !== undefined) return existing;
    if (this.rooms.size >= LIMITS.maxRooms) {
      const empty = [...this.rooms.values()].find((room) => room.members.size === 0);
      if (empty === undefined) return null;
      this.rooms.delete(empty.name);
    }
    const room: Room = { name, members: new Map(), history: [] };
    this.rooms.set(name, room);
    return room;
  }

  private uniqueNick(room: Room, nick: string): string {
    const taken = new Set([...room.members.values()].map((member) => member.nick));
    let candidate = nick;
    for (let n = 2; taken.has(candidate); n++) candidate = `${nick}-${n}`;
    return candidate;
  }
}

/** The text of a valid chat message, or what is wrong with it. */
export function parseChatText(data: Buffer, isBinary: boolean): string | { error: string } {
  if (isBinary) return { error: 'Send JSON text, not binary.' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString());
  } catch {
    return { error: 'That was not JSON.' };
  }
  const message = parsed as { type?: unknown; text?: unknown } | null;
  if (typeof message !== 'object' || message === null || message.type !== 'message') {
    return { error: 'Expected {"type":"message","text":"..."}.' };
  }
  if (typeof message.text !== 'string') return { error: 'The message text must be a string.' };
  const text = message.text.trim();
  if (text.length === 0) return { error: 'Empty messages are not sent.' };
  if (text.length > LIMITS.maxTextLength) {
    return { error: `Messages are at most ${LIMITS.maxTextLength} characters.` };
  }
  return text;
}

function sendTo(ws: WebSocket, event: object): void {
  ws.send(JSON.stringify(event));
}

