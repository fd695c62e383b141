/**
 * The chat rooms: one topic per room (`room:<name>`), who is in which room on
 * this server, and the JSON messages between the page and the server. The
 * history and the nicknames in use are in a ChatStore (this process's
 * memory, or Redis when servers share the chat). Everything a client sends
 * is checked here; a bad message earns an error message, never a crash.
 *
 * Page → server:  {"type":"message","text":"..."}
 * Server → page:  welcome {room, nick, members, history}, message {nick, text, time},
 *                 join {nick, time}, leave {nick, time}, error {message}
 */

import { WebSocket, type WebSocketServer } from '../../src/index.ts';
import type { ChatMessage, ChatStore } from './store.ts';

export type { ChatMessage } from './store.ts';

export const LIMITS = {
  /** Largest WebSocket message the server accepts (bigger ones close the connection with 1009). */
  maxPayload: 16 * 1024,
  /** Longest chat message, in characters; longer ones get an error message. */
  maxTextLength: 500,
  maxNickLength: 24,
  /** Messages kept per room for people who join later. */
  historySize: 50,
  /** Rooms with people in them on one server; past it, joining a new room is refused. */
  maxRooms: 100,
  /** Messages a connection may send per `rateWindow` milliseconds. */
  rateLimit: 20,
  rateWindow: 10_000,
} as const;

const ROOM_NAME = /^[a-z0-9-]{1,32}$/;
const NICK_NAME = /^[\p{L}\p{N} ._-]+$/u;
/** Suffixes tried for a taken nickname (sam-2, sam-3, ...) before a guest name. */
const NICK_ATTEMPTS = 20;

interface Member {
  nick: string;
  /** Start of the current rate window and the messages sent in it. */
  windowStart: number;
  sentInWindow: number;
}

/** A room's people on this server; the room's topic carries its events to the other servers. */
interface Room {
  name: string;
  members: Map<WebSocket, Member>;
}

export function roomName(raw: string | null): string {
  const name = (raw ?? '').trim().toLowerCase();
  return ROOM_NAME.test(name) ? name : 'lobby';
}

export function nickName(raw: string | null): string {
  const nick = (raw ?? '').trim().slice(0, LIMITS.maxNickLength);
  return NICK_NAME.test(nick) ? nick : guestName();
}

function guestName(): string {
  return `guest-${Math.floor(1000 + Math.random() * 9000)}`;
}

/** One topic per room: `wss.publish` reaches everyone in it, on every server. */
export function roomTopic(room: string): string {
  return `room:${room}`;
}

export class ChatRooms {
  private readonly rooms = new Map<string, Room>();
  private readonly renewal: NodeJS.Timeout;

  constructor(
    private readonly wss: WebSocketServer,
    private readonly store: ChatStore,
    renewEvery = 30_000,
  ) {
    // Nicknames are leased (in Redis): renewed while their people are here.
    this.renewal = setInterval(() => this.renewNicks(), renewEvery);
    this.renewal.unref();
  }

  stop(): void {
    clearInterval(this.renewal);
  }

  /** Adds a freshly opened connection to a room, or refuses it when no room can be made. */
  async join(ws: WebSocket, requestedRoom: string | null, requestedNick: string | null): Promise<void> {
    const name = roomName(requestedRoom);
    if (!this.rooms.has(name) && this.rooms.size >= LIMITS.maxRooms) {
      sendTo(ws, { type: 'error', message: 'The server has too many rooms; try an existing one.' });
      ws.close(1013, 'Too many rooms');
      return;
    }
    // Nothing is read until the member is set up; messages wait in the socket.
    ws.pause();
    let nick: string | null = null;
    try {
      nick = await this.claimNick(name, nickName(requestedNick));
      if (ws.readyState !== WebSocket.OPEN) {
        await this.store.releaseNick(name, nick);
        return;
      }
      let room = this.rooms.get(name);
      if (room === undefined) this.rooms.set(name, (room = { name, members: new Map() }));
      room.members.set(ws, { nick, windowStart: Date.now(), sentInWindow: 0 });
      const leave = (): void => this.leave(room, ws);
      ws.on('close', leave);
      // Subscribed before the history is read: a message sent meanwhile is not missed (at worst seen twice).
      ws.subscribe(roomTopic(name));
      const [members, history] = await Promise.all([this.store.members(name), this.store.history(name)]);
      if (ws.readyState !== WebSocket.OPEN) return;
      sendTo(ws, { type: 'welcome', room: name, nick, members, history });
      this.relay(name, { type: 'join', nick, time: Date.now() });
      ws.on('message', (data, isBinary) => this.receive(room, ws, data as Buffer, isBinary));
      ws.resume();
    } catch (error) {
      // The store (Redis) failed: say so and let the page retry.
      if (nick !== null && !this.rooms.get(name)?.members.has(ws)) this.store.releaseNick(name, nick).catch(() => {});
      sendTo(ws, { type: 'error', message: 'The chat is unavailable right now; retrying.' });
      ws.close(1011, 'Store unavailable');
      console.error(`chat: a join failed: ${(error as Error).message}`);
    }
  }

  private leave(room: Room, ws: WebSocket): void {
    const member = room.members.get(ws);
    if (member === undefined) return;
    room.members.delete(ws);
    if (room.members.size === 0) this.rooms.delete(room.name);
    this.store.releaseNick(room.name, member.nick).catch(() => {});
    this.relay(room.name, { type: 'leave', nick: member.nick, time: Date.now() });
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
    // The history may miss a message while the store is down; the room still gets it.
    this.store.append(room.name, message).catch(() => {});
    this.relay(room.name, message);
  }

  /**
   * Sends one event to everyone in the room, on this server and the
   * others: the only place that fans out. Framed once for all local members
   * (each compressing connection still deflates it in its own context).
   */
  private relay(room: string, event: object): void {
    this.wss.publish(roomTopic(room), JSON.stringify(event));
  }

  /** The nickname, or the first free one of nick-2, nick-3, ..., or a guest name. */
  private async claimNick(room: string, nick: string): Promise<string> {
    for (let n = 1; n <= NICK_ATTEMPTS; n++) {
      const candidate = n === 1 ? nick : `${nick.slice(0, LIMITS.maxNickLength - 4)}-${n}`;
      if (await this.store.claimNick(room, candidate)) return candidate;
    }
    for (let attempt = 0; attempt < NICK_ATTEMPTS; attempt++) {
      const guest = guestName();
      if (await this.store.claimNick(room, guest)) return guest;
    }
    throw new Error(`No free nickname in room ${room}`);
  }

  private renewNicks(): void {
    for (const room of this.rooms.values()) {
      const nicks = [...room.members.values()].map((member) => member.nick);
      this.store.renewNicks(room.name, nicks).catch(() => {});
    }
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
