/**
 * Topics shared by several WebSocketServers in one process (servers on two
 * ports, an HTTP/1.1 and an HTTP/2 front end), and the reference adapter the
 * tests hold the others to. `bus.createAdapter()` gives each server its own
 * adapter; a publish on one reaches the subscribers on all the others.
 *
 * Like a real engine, the bus delivers later (on the microtask queue), not
 * inside the publisher's call, and in one queue, so every server sees each
 * publisher's messages in order. The PreparedMessage itself is handed on:
 * the message is framed once for all the servers.
 */

import type { PreparedMessage } from '../protocol/prepared.ts';
import type { AdapterHost, TopicAdapter } from './interface.ts';

interface Delivery {
  from: InProcessAdapter;
  topic: string;
  message: PreparedMessage;
  compress: boolean;
}

export class InProcessBus {
  /** The adapters that have subscribers of a topic; no entry for a topic nobody serves. */
  private readonly adapters = new Map<string, Set<InProcessAdapter>>();
  private queue: Delivery[] = [];
  private scheduled = false;

  /** A new adapter on this bus, for one server (`new WebSocketServer({ adapter })`). */
  createAdapter(): TopicAdapter {
    return new InProcessAdapter(this);
  }

  /** @internal */
  join(adapter: InProcessAdapter, topic: string): void {
    const members = this.adapters.get(topic);
    if (members === undefined) this.adapters.set(topic, new Set([adapter]));
    else members.add(adapter);
  }

  /** @internal */
  leave(adapter: InProcessAdapter, topic: string): void {
    const members = this.adapters.get(topic);
    if (members === undefined || !members.delete(adapter)) return;
    if (members.size === 0) this.adapters.delete(topic);
  }

  /** @internal */
  send(delivery: Delivery): void {
    this.queue.push(delivery);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const { from, topic, message, compress } of queue) {
      const members = this.adapters.get(topic);
      if (members === undefined) continue;
      // The origin delivered locally already: no server gets a message twice.
      for (const adapter of members) if (adapter !== from) adapter.receive(topic, message, compress);
    }
  }
}

class InProcessAdapter implements TopicAdapter {
  private host: AdapterHost | null = null;
  private readonly topics = new Set<string>();

  constructor(private readonly bus: InProcessBus) {}

  attach(host: AdapterHost): void {
    if (this.host !== null && this.host !== host) throw new Error('This adapter already serves another WebSocketServer');
    this.host = host;
  }

  detach(): void {
    for (const topic of this.topics) this.bus.leave(this, topic);
    this.topics.clear();
    this.host = null;
  }

  subscribe(topic: string): void {
    this.topics.add(topic);
    this.bus.join(this, topic);
  }

  unsubscribe(topic: string): void {
    this.topics.delete(topic);
    this.bus.leave(this, topic);
  }

  publish(topic: string, message: PreparedMessage, compress: boolean): void {
    this.bus.send({ from: this, topic, message, compress });
  }

  receive(topic: string, message: PreparedMessage, compress: boolean): void {
    const host = this.host;
    if (host === null) return;
    try {
      host.deliver(topic, message, compress);
    } catch (error) {
      // A listener that threw (e.g. on a slow reader's 'error') must not cost the other servers their messages.
      host.reportError(error as Error);
    }
  }
}
