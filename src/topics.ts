/**
 * Topics: publish/subscribe among a server's connections, and through an
 * adapter (adapters/) among servers. `ws.subscribe(topic)` puts a server-side
 * connection in a topic, `wss.publish(topic, data)` frames the message once
 * and writes the same bytes to every subscriber.
 *
 * The index is a Map from topic to the Set of its subscribers, plus a Set of
 * topics on each subscribing connection: subscribe and unsubscribe are O(1),
 * a topic without subscribers holds no memory, and a connection that never
 * subscribes pays nothing (its Set is made on the first subscribe, in a
 * symbol-keyed field, so websocket.ts does not grow). The server's close
 * hook (kOnClosed, a field rather than a listener, which removeAllListeners()
 * cannot remove) takes a closed connection out of all its topics.
 */

import type { AdapterHost, TopicAdapter } from './adapters/interface.ts';
import { isBinaryData, toBuffer, type SendData } from './connection/data.ts';
import { checkAdapter } from './options/server.ts';
import { WebSocketError } from './protocol/errors.ts';
import { PreparedMessage } from './protocol/prepared.ts';
import { OPEN, WebSocket, kOnClosed, kSendPrepared } from './websocket.ts';

export type { AdapterHost, TopicAdapter } from './adapters/interface.ts';

/** Longest topic name, in UTF-16 code units: topics are Map keys and Redis channel names. */
export const MAX_TOPIC_LENGTH = 1024;

/** What publish() takes: what send() takes except Blobs (read asynchronously), or a message prepared once. */
export type PublishData = Exclude<SendData, Blob> | PreparedMessage;

export interface PublishOptions {
  /** Send as binary; default: text for strings, binary otherwise (ignored for a PreparedMessage). */
  binary?: boolean;
  /** False: compressing connections send this message uncompressed. Default true (their threshold decides). */
  compress?: boolean;
}

export interface ServerPublishOptions extends PublishOptions {
  /** A connection that does not get the message (usually its sender). */
  except?: WebSocket | null;
}

/** A connection's topics, on the connection itself from its first subscribe. */
const kTopics = Symbol('netws.topics');
/** On a server's close hook: the way from one of its connections to its topic index. */
const kHub = Symbol('netws.topicHub');

type ClosedHook = ((ws: WebSocket) => void) & { [kHub]?: TopicHub };
type WithTopics = WebSocket & { [kTopics]?: Set<string> };

/** String.prototype.isWellFormed: in Node 20, not in the ES2022 lib we compile against. */
type WellFormedCheck = string & { isWellFormed(): boolean };

function describe(value: unknown): string {
  return value === null ? 'null' : typeof value;
}

/**
 * Throws a TypeError for a topic that is not a well-formed string, a
 * RangeError for an empty or too long one.
 */
export function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string') throw new TypeError(`A topic must be a string, not ${describe(topic)}`);
  // A lone surrogate becomes U+FFFD in UTF-8: topics that differ only there would share a Redis channel.
  if (!(topic as WellFormedCheck).isWellFormed()) throw new TypeError('A topic must be well-formed UTF-16 (it has a lone surrogate)');
  if (topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw new RangeError(`A topic is 1 to ${MAX_TOPIC_LENGTH} characters long, not ${topic.length}`);
  }
}

function booleanOrUndefined(options: Record<string, unknown>, name: string): boolean | undefined {
  const value = options[name];
  if (value === undefined || typeof value === 'boolean') return value;
  throw new TypeError(`The "${name}" option of publish() must be a boolean, not ${describe(value)}`);
}

/** Checks publish()'s options (wrong types throw a TypeError, as send()'s data does). */
function checkPublishOptions(options: unknown): { binary: boolean | undefined; compress: boolean; except: WebSocket | null } {
  if (options === undefined || options === null) return { binary: undefined, compress: true, except: null };
  if (typeof options !== 'object') throw new TypeError(`publish()'s options must be an object, not ${describe(options)}`);
  const raw = options as Record<string, unknown>;
  const except = raw.except ?? null;
  if (except !== null && !(except instanceof WebSocket)) {
    throw new TypeError(`The "except" option of publish() must be a WebSocket, not ${describe(except)}`);
  }
  return {
    binary: booleanOrUndefined(raw, 'binary'),
    compress: booleanOrUndefined(raw, 'compress') ?? true,
    except: except as WebSocket | null,
  };
}

/** One server's topics: who is subscribed to what, and the adapter that shares them. */
export class TopicHub {
  private readonly subscribers = new Map<string, Set<WebSocket>>();
  private current: TopicAdapter | null = null;
  private readonly host: AdapterHost;

  /** `reportError` gets what an adapter throws or reports; it must not throw. */
  constructor(private readonly reportError: (error: Error) => void) {
    this.host = {
      deliver: (topic, message, compress) => this.deliver(topic, message, compress, null),
      topics: () => this.subscribers.keys(),
      reportError,
    };
  }

  /**
   * The function a server puts in each connection's kOnClosed: takes the
   * connection out of its topics, then calls `then`. It also leads from a
   * connection to this hub (one link per server, none per connection).
   */
  closeHook(then: (ws: WebSocket) => void): (ws: WebSocket) => void {
    const hook: ClosedHook = (ws) => {
      this.removeConnection(ws);
      then(ws);
    };
    hook[kHub] = this;
    return hook;
  }

  get adapter(): TopicAdapter | null {
    return this.current;
  }

  /**
   * Replaces the adapter: the new one is attached and told every topic, the
   * old one detached. What attach() throws (an adapter that already serves
   * another server) goes to the caller, and the old adapter stays.
   */
  set adapter(value: TopicAdapter | null) {
    const next = checkAdapter(value);
    const previous = this.current;
    if (next === previous) return;
    // First, and not through callAdapter: a refused attach must change nothing,
    // else the server would keep (and later detach) another server's adapter.
    if (next !== null) next.attach(this.host);
    this.current = null;
    if (previous !== null) this.callAdapter(() => previous.detach());
    this.current = next;
    if (next === null) return;
    for (const topic of this.subscribers.keys()) this.callAdapter(() => next.subscribe(topic));
  }

  /** Local subscribers of `topic`. */
  subscriberCount(topic: string): number {
    checkTopic(topic);
    return this.subscribers.get(topic)?.size ?? 0;
  }

  /** Adds `ws` to `topic`; true if it was not subscribed yet. */
  subscribe(ws: WithTopics, topic: string): boolean {
    let topics = ws[kTopics];
    if (topics === undefined) topics = ws[kTopics] = new Set();
    else if (topics.has(topic)) return false;
    topics.add(topic);
    const members = this.subscribers.get(topic);
    if (members !== undefined) {
      members.add(ws);
      return true;
    }
    this.subscribers.set(topic, new Set([ws]));
    const adapter = this.current;
    if (adapter !== null) this.callAdapter(() => adapter.subscribe(topic));
    return true;
  }

  /** Takes `ws` out of `topic`; true if it was subscribed. */
  unsubscribe(ws: WithTopics, topic: string): boolean {
    if (ws[kTopics]?.delete(topic) !== true) return false;
    this.leave(ws, topic);
    return true;
  }

  /** A closed connection leaves all its topics. */
  removeConnection(ws: WithTopics): void {
    const topics = ws[kTopics];
    if (topics === undefined || topics.size === 0) return;
    for (const topic of topics) this.leave(ws, topic);
    topics.clear();
  }

  private leave(ws: WebSocket, topic: string): void {
    const members = this.subscribers.get(topic)!;
    members.delete(ws);
    if (members.size > 0) return;
    // No memory for a topic nobody is in.
    this.subscribers.delete(topic);
    const adapter = this.current;
    if (adapter !== null) this.callAdapter(() => adapter.unsubscribe(topic));
  }

  /**
   * Sends to the local subscribers of `topic` (but `except`), framed once,
   * and hands the message to the adapter for the other servers. Returns
   * the number of local recipients.
   */
  publish(topic: string, data: PublishData, options: ServerPublishOptions | undefined): number {
    checkTopic(topic);
    const { binary, compress, except } = checkPublishOptions(options);
    const message = data instanceof PreparedMessage ? data : new PreparedMessage(toBuffer(data), binary ?? isBinaryData(data));
    const adapter = this.current;
    try {
      return this.deliver(topic, message, compress, except);
    } finally {
      // Even when a local listener threw: the other servers' subscribers are not to blame.
      if (adapter !== null) this.callAdapter(() => adapter.publish(topic, message, compress));
    }
  }

  private deliver(topic: string, message: PreparedMessage, compress: boolean, except: WebSocket | null): number {
    const members = this.subscribers.get(topic);
    if (members === undefined) return 0;
    let sent = 0;
    let thrown: { error: unknown } | null = null;
    for (const ws of members) {
      if (ws === except) continue;
      try {
        if (ws[kSendPrepared](message, compress)) {
          sent++;
        }
      } catch (error) {
        // An 'error' listener of a failing subscriber (a slow reader) threw:
        // the others still get the message, then the caller gets the error.
        thrown ??= { error };
      }
    }
    if (thrown !== null) throw thrown.error;
    return sent;
  }

  /** An adapter's exceptions become the server's 'error': they must not break a subscribe or a close. */
  private callAdapter(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.reportError(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/** The hub of the server that accepted `ws`; throws for a client-side connection. */
function hubOf(ws: WebSocket): TopicHub {
  const hub = (ws[kOnClosed] as ClosedHook | undefined)?.[kHub];
  if (hub === undefined) {
    throw new WebSocketError(
      'WS_ERR_NOT_SERVER_SIDE',
      'Topics are for connections a WebSocketServer accepted; a client connection has no server to publish through',
    );
  }
  return hub;
}

/**
 * The topic methods of server-side connections. Written as a class so the
 * types and the code are one thing; the loop at the end of this file copies
 * them onto WebSocket.prototype (non-enumerable, as class methods are).
 */
export class TopicApi {
  /**
   * Subscribes this connection to `topic`; true if it was not subscribed.
   * Does nothing and returns false unless the connection is open. Throws a
   * WebSocketError (WS_ERR_NOT_SERVER_SIDE) on a client connection.
   */
  subscribe(topic: string): boolean {
    const ws = this as unknown as WebSocket;
    checkTopic(topic);
    const hub = hubOf(ws);
    if (ws.readyState !== OPEN) return false;
    return hub.subscribe(ws, topic);
  }

  /** Unsubscribes this connection from `topic`; true if it was subscribed. */
  unsubscribe(topic: string): boolean {
    const ws = this as unknown as WithTopics;
    checkTopic(topic);
    if (ws[kTopics] === undefined) return false;
    return hubOf(ws).unsubscribe(ws, topic);
  }

  isSubscribed(topic: string): boolean {
    checkTopic(topic);
    return (this as unknown as WithTopics)[kTopics]?.has(topic) ?? false;
  }

  /** The topics this connection is subscribed to, in the order it subscribed (a fresh array, the caller's to change). */
  get topics(): string[] {
    const topics = (this as unknown as WithTopics)[kTopics];
    return topics === undefined ? [] : [...topics];
  }

  /**
   * Publishes to every other subscriber of `topic`, on this server and,
   * through its adapter, on the others (as `wss.publish(topic, data,
   * { except: ws })`). Returns the number of local recipients.
   */
  publish(topic: string, data: PublishData, options?: PublishOptions): number {
    const ws = this as unknown as WebSocket;
    const hub = hubOf(ws);
    checkPublishOptions(options);
    return hub.publish(topic, data, { ...options, except: ws });
  }
}

declare module './websocket.ts' {
  interface WebSocket extends TopicApi {}
}

for (const name of Object.getOwnPropertyNames(TopicApi.prototype)) {
  if (name === 'constructor') continue;
  Object.defineProperty(WebSocket.prototype, name, Object.getOwnPropertyDescriptor(TopicApi.prototype, name)!);
}
