/**
 * A real redis-server (Debian's package) for the tests: on a free loopback
 * port, in a temporary directory, with persistence off, stopped after. It
 * can be killed and started again on the same port (the restart tests).
 *
 * Without redis-server on the PATH the Redis tests are skipped with a note,
 * unless NETWS_REQUIRE_REDIS=1 (set by .ci/run, which installs it) makes
 * that a failure.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const BINARY = process.env.REDIS_SERVER ?? 'redis-server';

/** Whether redis-server can be run here; throws when it must be (NETWS_REQUIRE_REDIS=1) and cannot. */
export function redisAvailable(): boolean {
  const probe = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  const available = probe.status === 0;
  if (!available && process.env.NETWS_REQUIRE_REDIS === '1') {
    throw new Error(`${BINARY} is needed (NETWS_REQUIRE_REDIS=1) but does not run: ${probe.error?.message ?? probe.stderr}`);
  }
  if (!available) console.warn(`  (no ${BINARY} on this machine: the Redis tests are skipped; apt-get install redis-server)`);
  return available;
}

/** A free TCP port on loopback (closed again at once; Redis binds it just after). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class RedisServer {
  private process: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    private readonly directory: string,
  ) {}

  /** The server's process id while it runs (the benchmark reads its CPU time). */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** A handle on a server started elsewhere (a Redis Cluster node): for command() only. */
  static at(port: number): RedisServer {
    return new RedisServer(port, '');
  }

  static async start(): Promise<RedisServer> {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'netws-redis-'));
    const server = new RedisServer(await freePort(), directory);
    await server.run();
    return server;
  }

  /** Starts (again) on the same port; resolves when it accepts connections. */
  async run(): Promise<void> {
    const child = spawn(
      BINARY,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.directory,
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.process = child;
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // Up when it answers PING; at most 5 s.
    const deadline = Date.now() + 5000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output}`);
      if (await this.ping()) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer within 5 s: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect(this.port, '127.0.0.1');
      socket.setTimeout(1000);
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
  }

  /**
   * Runs one command on a connection of its own (RESP by hand: the tests
   * check what Redis sees without trusting either client library).
   */
  command(...args: Array<string | Buffer>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.port, '127.0.0.1');
      socket.setTimeout(3000);
      const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
      for (const arg of args) {
        const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
        parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
      }
      let received = Buffer.alloc(0);
      socket.once('connect', () => socket.write(Buffer.concat(parts)));
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        const reply = parseReply(received, 0);
        if (reply === null) return;
        socket.destroy();
        if (reply.value instanceof Error) reject(reply.value);
        else resolve(reply.value);
      });
      socket.once('error', reject);
      socket.once('timeout', () => {
        socket.destroy();
        reject(new Error(`no answer to ${args.join(' ')}`));
      });
    });
  }

  /** Kills the server at once (SIGKILL: what a crash looks like to the clients). */
  async kill(): Promise<void> {
    if (this.process === null) return;
    this.process.kill('SIGKILL');
    await this.exited;
    this.process = null;
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    if (this.process !== null) {
      this.process.kill('SIGTERM');
      const timer = setTimeout(() => this.process?.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(timer);
      this.process = null;
    }
    await rm(this.directory, { recursive: true, force: true });
  }
}

/** One RESP2 reply at `offset`, or null if it is not complete yet. */
function parseReply(data: Buffer, offset: number): { value: unknown; end: number } | null {
  const lineEnd = data.indexOf('\r\n', offset);
  if (lineEnd === -1) return null;
  const type = String.fromCharCode(data[offset]);
  const line = data.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new Error(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length === -1) return { value: null, end: next };
      if (data.length < next + length + 2) return null;
      return { value: data.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      const values: unknown[] = [];
      let position = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(data, position);
        if (item === null) return null;
        values.push(item.value);
        position = item.end;
      }
      return { value: values, end: position };
    }
    default:
      return { value: new Error(`unexpected reply ${type}${line}`), end: next };
  }
}

/**
 * A TCP proxy in front of a Redis server that can fail the one way a
 * client cannot tell from a success: `resetAfterAccept(marker)` lets the
 * next command carrying `marker` through to Redis, withholds Redis's answer
 * and resets the client's connection (RST) the moment that answer arrives.
 * Redis has executed the command (a PUBLISH has been delivered); the client
 * only sees a reset. Everything else passes through untouched.
 */
export class ResetAfterAcceptProxy {
  private readonly sockets = new Set<net.Socket>();
  private armed: { marker: Buffer; done: () => void } | null = null;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(target: number): Promise<ResetAfterAcceptProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new ResetAfterAcceptProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => proxy.relay(client, target));
    return proxy;
  }

  private relay(client: net.Socket, target: number): void {
    const upstream = net.connect(target, '127.0.0.1');
    let withholding = false;
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      const armed = this.armed;
      if (armed !== null && chunk.includes(armed.marker)) {
        this.armed = null;
        withholding = true;
        // Redis's next bytes answer this command (and any pipelined before it): they never reach the client.
        upstream.once('data', () => {
          client.resetAndDestroy();
          upstream.destroy();
          armed.done();
        });
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!withholding) client.write(chunk);
    });
  }

  /** Arms the fault for the next command containing `marker`; resolves once the client's connection was reset. */
  resetAfterAccept(marker: Buffer): Promise<void> {
    return new Promise((done) => (this.armed = { marker, done }));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
