/* c8 ignore start: types only, nothing here runs (c8 --all would count its lines as never run) */
/**
 * How a WebSocketServer shares its topics with other servers (other
 * processes, other machines): the one small contract between the topic
 * index (topics.ts) and an engine such as Redis (redis.ts) or another
 * server in the same process (in-process.ts). Types only.
 *
 * The server delivers a publish to its own subscribers at once and hands it
 * to the adapter, which brings it to the other servers' subscribers. The
 * server tells the adapter which topics have local subscribers (the first
 * one arrived, the last one left), so an adapter can receive only the
 * topics its server serves.
 */

import type { PreparedMessage } from '../protocol/prepared.ts';

/** What a server offers the adapter it uses. */
export interface AdapterHost {
  /**
   * Delivers a message that another server published to this server's
   * subscribers of `topic`; returns how many it went to. `compress: false`
   * sends it uncompressed on compressing connections.
   */
  deliver(topic: string, message: PreparedMessage, compress: boolean): number;
  /** The topics that have local subscribers now (to subscribe again after a reconnect). */
  topics(): IterableIterator<string>;
  /**
   * Reports a failure of the adapter (the engine is down, a bad message):
   * an 'error' event on the server when it has a listener. Never throws.
   */
  reportError(error: Error): void;
}

/**
 * An adapter serves one server at a time. Its methods are called
 * synchronously and must not throw (what they throw is reported as the
 * server's 'error' and otherwise ignored), except attach(), which throws to
 * refuse a second server (the server's constructor or `wss.adapter = …`
 * then throws it); anything slow happens in the background, and failures go
 * to `host.reportError`.
 */
export interface TopicAdapter {
  /** The server starts using this adapter; `subscribe` follows for each topic it already has. Throws if it serves another server. */
  attach(host: AdapterHost): void;
  /** The server stops using it (another adapter, or none, was set): forget the host and the topics. */
  detach(): void;
  /** The first local subscriber of `topic` arrived: start receiving it. */
  subscribe(topic: string): void;
  /** The last local subscriber of `topic` left: stop receiving it. */
  unsubscribe(topic: string): void;
  /**
   * Brings a message to the other servers' subscribers (this server has
   * delivered it locally already). Messages of one publisher must reach
   * each other server in the order they were published.
   */
  publish(topic: string, message: PreparedMessage, compress: boolean): void;
}
/* c8 ignore stop */
