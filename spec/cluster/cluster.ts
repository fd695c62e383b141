/**
 * The cluster tests' tools: server processes (node.ts) on one real Redis,
 * WebSocket clients that subscribe or publish through them, and the check
 * of what every subscriber got. A message is `publisher:sequence`.
 */

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '../../src/index.ts';
import { sleep, waitFor } from '../helpers.ts';
import type { ClientLibrary } from '../redis-clients.ts';
import type { RedisServer } from '../redis-server.ts';
import type { NodeReport } from './node.ts';

const NODE_SCRIPT = fileURLToPath(new URL('./node.ts', import.meta.url));

export class ClusterNode {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    private readonly exited: Promise<void>,
  ) {}

  static async start(library: ClientLibrary, redis: RedisServer, options: { sharded?: boolean } = {}): Promise<ClusterNode> {
    const child = fork(NODE_SCRIPT, [], {
      // The parent's --import tsx (and c8's coverage directory, through the environment) carry over.
      env: { ...process.env, NETWS_REDIS_LIBRARY: library, NETWS_REDIS_URL: redis.url, NETWS_REDIS_SHARDED: options.sharded ? '1' : '0' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const [message] = await Promise.race([
      waitFor<[{ type: string; port: number }]>(child, 'message', 20_000),
      exited.then(() => {
        throw new Error(`a cluster node exited while starting (${child.exitCode})`);
      }),
    ]);
    if (message.type !== 'listening') throw new Error(`unexpected first message ${JSON.stringify(message)}`);
    return new ClusterNode(child, message.port, exited);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The adapter's counters and the errors the server reported (within 5 s). */
  async report(): Promise<NodeReport> {
    const answer = new Promise<NodeReport>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no stats within 5 s')), 5000);
      const onMessage = (message: NodeReport): void => {
        if (message.type !== 'stats') return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        resolve(message);
      };
      this.child.on('message', onMessage);
    });
    this.child.send({ type: 'stats' });
    return answer;
  }

  /** SIGKILL: the process dies as in a crash. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Asks the process to close, and kills it if it has not exited within 5 s. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    // With coverage on, the child must exit by itself for its coverage to be written.
    this.child.send({ type: 'exit' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface Subscriber {
  ws: WebSocket;
  node: number;
  messages: string[];
}

/** A client subscribed to `topics` through the node on `port`. */
export async function subscriberOf(node: ClusterNode, index: number, topics: string[]): Promise<Subscriber> {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/subscribe?topics=${topics.join(',')}`);
  ws.on('error', () => {});
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not subscribed within 5 s')), 5000);
    ws.on('message', (data) => {
      const text = (data as Buffer).toString();
      if (text === 'subscribed') {
        clearTimeout(timer);
        resolve();
      } else {
        messages.push(text);
      }
    });
  });
  return { ws, node: index, messages };
}

/** A client whose messages the node on `port` publishes to `topic`. */
export async function publisherOf(node: ClusterNode, topic: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/publish?topic=${topic}`);
  ws.on('error', () => {});
  await waitFor(ws, 'open');
  return ws;
}

/** Until Redis counts `count` subscribers of `channel` (one per node that serves it). */
export async function untilChannelSubscribers(redis: RedisServer, channel: string, count: number, sharded = false): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const reply = (await redis.command('PUBSUB', sharded ? 'SHARDNUMSUB' : 'NUMSUB', channel)) as [string, number];
    if (reply[1] === count) return;
    if (Date.now() > deadline) throw new Error(`${channel} has ${reply[1]} subscribers, not ${count}, after 10 s`);
    await sleep(20);
  }
}

/** Until `condition` holds; at most `ms`. */
export async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

/** The sequence numbers a subscriber got from each publisher, in arrival order. */
export function sequencesByPublisher(messages: string[]): Map<string, number[]> {
  const byPublisher = new Map<string, number[]>();
  for (const message of messages) {
    const colon = message.indexOf(':');
    const publisher = message.slice(0, colon);
    let list = byPublisher.get(publisher);
    if (list === undefined) byPublisher.set(publisher, (list = []));
    list.push(Number(message.slice(colon + 1)));
  }
  return byPublisher;
}

/** Whether a list is strictly increasing: in order, and nothing twice. */
export function strictlyIncreasing(list: number[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i] <= list[i - 1]) return false;
  return true;
}

/** Sends `count` messages `publisher:0` ... from `ws`, `batch` per macrotask (the socket's buffer stays small). */
export async function publishSequence(ws: WebSocket, publisher: string, count: number, batch = 200): Promise<void> {
  for (let sequence = 0; sequence < count; ) {
    for (let i = 0; i < batch && sequence < count; i++, sequence++) ws.send(`${publisher}:${sequence}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
