/**
 * A real Redis Cluster for the tests: six redis-server processes (Debian's
 * package) on free loopback ports in a temporary directory, cluster-enabled,
 * joined by `redis-cli --cluster create … --cluster-replicas 1` into three
 * masters with one replica each. It can fail a master over (CLUSTER FAILOVER
 * on its replica) or kill a master process (SIGKILL) and bring the process
 * back as a replica, the two ways a shard changes hands. `stop()` kills
 * every process and removes the directory; call it in `finally`.
 *
 * cluster-node-timeout is 1 s (the default is 15 s): a killed master is
 * marked failed and replaced within a few seconds, so the tests can kill ten
 * of them in one run.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '../helpers.ts';
import { freePort, RedisServer } from '../redis-server.ts';

const SERVER = process.env.REDIS_SERVER ?? 'redis-server';
const CLI = process.env.REDIS_CLI ?? 'redis-cli';
export const NODE_TIMEOUT = 1000;

/** One line of CLUSTER NODES. */
export interface ClusterNodeInfo {
  id: string;
  port: number;
  master: boolean;
  /** The master's id, for a replica. */
  masterId: string | null;
  failed: boolean;
  /** Slot ranges a master serves, as [first, last]. */
  slots: Array<[number, number]>;
}

/** Whether redis-cli is there too (Debian's redis-server package depends on redis-tools). */
export function redisCliAvailable(): boolean {
  return spawnSync(CLI, ['--version']).status === 0;
}

class Instance {
  process: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();
  /** A RedisServer-like handle for RESP commands (RedisServer.command needs only the port). */
  readonly handle: RedisServer;

  constructor(
    readonly port: number,
    readonly directory: string,
  ) {
    this.handle = RedisServer.at(port);
  }

  async run(): Promise<void> {
    const child = spawn(
      SERVER,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        String(NODE_TIMEOUT),
        // A replica whose link to its master was down a while may still take over (the kill tests kill a master
        // right after the previous one came back as a replica).
        '--cluster-replica-validity-factor',
        '0',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.directory,
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.process = child;
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 5000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output}`);
      if ((await this.handle.command('PING').catch(() => null)) === 'PONG') return;
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer within 5 s: ${output}`);
      await sleep(20);
    }
  }

  async kill(): Promise<void> {
    if (this.process === null) return;
    this.process.kill('SIGKILL');
    await this.exited;
    this.process = null;
  }
}

export class RedisCluster {
  private constructor(
    private readonly directory: string,
    private readonly instances: Instance[],
  ) {}

  /** Every node's port (masters and replicas). */
  get ports(): number[] {
    return this.instances.map((instance) => instance.port);
  }

  /** The ports of the nodes whose process runs. */
  get livePorts(): number[] {
    return this.running.map((instance) => instance.port);
  }

  /** Startup nodes for the client libraries. */
  get rootNodes(): Array<{ host: string; port: number }> {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  static async start(size = 6): Promise<RedisCluster> {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'netws-redis-cluster-'));
    const instances: Instance[] = [];
    const cluster = new RedisCluster(directory, instances);
    try {
      for (let i = 0; i < size; i++) {
        const port = await freePort();
        const nodeDirectory = path.join(directory, String(port));
        await mkdir(nodeDirectory);
        instances.push(new Instance(port, nodeDirectory));
      }
      await Promise.all(instances.map((instance) => instance.run()));
      const create = spawnSync(
        CLI,
        ['--cluster', 'create', ...instances.map(({ port }) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'],
        { encoding: 'utf8', timeout: 30_000 },
      );
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
      await cluster.untilHealthy();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Runs a command on the node at `port`. */
  command(port: number, ...args: Array<string | Buffer>): Promise<unknown> {
    return this.instance(port).handle.command(...args);
  }

  private instance(port: number): Instance {
    const instance = this.instances.find((candidate) => candidate.port === port);
    if (instance === undefined) throw new Error(`no cluster node on ${port}`);
    return instance;
  }

  /** The cluster as the node at `port` sees it. */
  async nodes(port: number): Promise<ClusterNodeInfo[]> {
    const text = (await this.command(port, 'CLUSTER', 'NODES')) as string;
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
        const flagList = flags.split(',');
        return {
          id,
          port: Number(address.split(':')[1].split('@')[0]),
          master: flagList.includes('master'),
          masterId: masterId === '-' ? null : masterId,
          failed: flagList.includes('fail') || flagList.includes('fail?'),
          slots: slots
            .filter((range) => !range.startsWith('['))
            .map((range) => {
              const [first, last = first] = range.split('-').map(Number);
              return [first, last] as [number, number];
            }),
        };
      });
  }

  /** The ports of the running processes. */
  private get running(): Instance[] {
    return this.instances.filter((instance) => instance.process !== null);
  }

  /**
   * Until every running node answers cluster_state:ok and agrees on three
   * masters, each with all its slots and a live replica (at most 30 s).
   */
  async untilHealthy(ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    let last = '';
    for (;;) {
      try {
        if (await this.healthy()) return;
      } catch (error) {
        last = String(error);
      }
      if (Date.now() > deadline) throw new Error(`the cluster is not healthy after ${ms} ms ${last}`);
      await sleep(50);
    }
  }

  private async healthy(): Promise<boolean> {
    const running = this.running;
    const views: string[] = [];
    for (const instance of running) {
      const info = (await instance.handle.command('CLUSTER', 'INFO')) as string;
      if (!info.includes('cluster_state:ok')) return false;
      const nodes = await this.nodes(instance.port);
      const masters = nodes.filter((node) => node.master && !node.failed && node.slots.length > 0);
      if (masters.length !== 3) return false;
      const slotCount = masters.reduce((sum, master) => sum + master.slots.reduce((n, [a, b]) => n + b - a + 1, 0), 0);
      if (slotCount !== 16384) return false;
      if (running.length === this.instances.length) {
        for (const master of masters) {
          if (!nodes.some((node) => node.masterId === master.id && !node.failed)) return false;
        }
      }
      views.push(
        masters
          .map((master) => `${master.port}:${JSON.stringify(master.slots)}`)
          .sort()
          .join(' '),
      );
      // A replica must also have caught up with its master before it can take over in a CLUSTER FAILOVER.
      const replication = (await instance.handle.command('INFO', 'replication')) as string;
      if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return false;
    }
    return new Set(views).size === 1;
  }

  /**
   * The master that serves `slot`, from the view of a running node; while
   * no node says so (a failover under way), asked again for up to 10 s.
   */
  async masterOf(slot: number): Promise<ClusterNodeInfo> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      for (const instance of this.running) {
        const nodes = await this.nodes(instance.port).catch(() => []);
        const master = nodes.find((node) => node.master && !node.failed && node.slots.some(([a, b]) => slot >= a && slot <= b));
        if (master !== undefined) return master;
      }
      if (Date.now() > deadline) throw new Error(`no master serves slot ${slot}`);
      await sleep(50);
    }
  }

  /**
   * A manual failover of the master serving `slot` (CLUSTER FAILOVER on its
   * replica: no write is lost, the clients get MOVED), until the cluster is
   * healthy again with the replica as master. Returns the old and new ports.
   */
  async failover(slot: number): Promise<{ from: number; to: number }> {
    const master = await this.masterOf(slot);
    const nodes = await this.nodes(master.port);
    const replica = nodes.find((node) => node.masterId === master.id && !node.failed);
    if (replica === undefined) throw new Error(`master ${master.port} has no replica`);
    await this.command(replica.port, 'CLUSTER', 'FAILOVER');
    const deadline = Date.now() + 20_000;
    while ((await this.masterOf(slot)).port !== replica.port) {
      if (Date.now() > deadline) throw new Error(`CLUSTER FAILOVER to ${replica.port} did not happen within 20 s`);
      await sleep(20);
    }
    await this.untilHealthy();
    return { from: master.port, to: replica.port };
  }

  /**
   * Kills the master process serving `slot` (SIGKILL), until its replica
   * has taken over; `restart()` brings the process back as a replica.
   */
  async killMaster(slot: number): Promise<{ from: number; to: number }> {
    const master = await this.masterOf(slot);
    await this.instance(master.port).kill();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const now = await this.masterOf(slot).catch(() => null);
      if (now !== null && now.port !== master.port) return { from: master.port, to: now.port };
      if (Date.now() > deadline) throw new Error(`no replica took over from ${master.port} within 20 s`);
      await sleep(20);
    }
  }

  /** Starts a killed node again (its nodes.conf makes it rejoin, as a replica of who replaced it). */
  async restart(port: number): Promise<void> {
    await this.instance(port).run();
    await this.untilHealthy();
  }

  /** After a test that failed midway: every killed process started again, until the cluster is healthy. */
  async heal(): Promise<void> {
    for (const instance of this.instances) if (instance.process === null) await instance.run();
    await this.untilHealthy();
  }

  async stop(): Promise<void> {
    await Promise.all(this.instances.map((instance) => instance.kill()));
    await rm(this.directory, { recursive: true, force: true });
  }
}
