/**
 * What the chat keeps beyond one connection: each room's last messages and
 * the nicknames in use. MemoryStore keeps them in this process (`npm start`);
 * RedisStore (redis-store.ts) in Redis, so that every server process serves
 * the same history and a nickname is taken once across all of them.
 */

export interface ChatMessage {
  type: 'message';
  nick: string;
  text: string;
  time: number;
}

export interface ChatStore {
  /** Takes `nick` in `room` if nobody has it; false if taken. */
  claimNick(room: string, nick: string): Promise<boolean>;
  releaseNick(room: string, nick: string): Promise<void>;
  /** Keeps nicknames of this process claimed (a Redis lease expires unless renewed). */
  renewNicks(room: string, nicks: string[]): Promise<void>;
  /** Everyone in the room, on every server. */
  members(room: string): Promise<string[]>;
  /** The room's last messages, oldest first. */
  history(room: string): Promise<ChatMessage[]>;
  append(room: string, message: ChatMessage): Promise<void>;
  close(): Promise<void>;
}

/** The chat's state in this process only. */
export class MemoryStore implements ChatStore {
  private readonly nicks = new Map<string, Set<string>>();
  /** Least recently used first: the oldest history makes way when there are too many. */
  private readonly histories = new Map<string, ChatMessage[]>();

  constructor(
    private readonly historySize: number,
    private readonly maxHistories: number,
  ) {}

  async claimNick(room: string, nick: string): Promise<boolean> {
    let taken = this.nicks.get(room);
    if (taken === undefined) this.nicks.set(room, (taken = new Set()));
    if (taken.has(nick)) return false;
    taken.add(nick);
    return true;
  }

  async releaseNick(room: string, nick: string): Promise<void> {
    const taken = this.nicks.get(room);
    taken?.delete(nick);
    if (taken?.size === 0) this.nicks.delete(room);
  }

  async renewNicks(): Promise<void> {}

  async members(room: string): Promise<string[]> {
    return [...(this.nicks.get(room) ?? [])];
  }

  async history(room: string): Promise<ChatMessage[]> {
    return [...(this.histories.get(room) ?? [])];
  }

  async append(room: string, message: ChatMessage): Promise<void> {
    const history = this.histories.get(room) ?? [];
    this.histories.delete(room);
    this.histories.set(room, history);
    history.push(message);
    if (history.length > this.historySize) history.shift();
    if (this.histories.size > this.maxHistories) this.histories.delete(this.histories.keys().next().value!);
  }

  async close(): Promise<void> {}
}
