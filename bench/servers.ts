/** Starts and talks to benchmark servers, each in its own child process. */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeBinary } from '../scripts/runtimes.ts';
import type { ParentMessage, ServerMessage } from './server-process.ts';

export type ServerImpl = 'netws' | 'ws' | 'ws-bu' | 'net' | 'net-echo' | 'netws-bun' | 'bun';

export const SERVER_LABELS: Record<ServerImpl, string> = {
  netws: 'netws',
  ws: 'ws',
  'ws-bu': 'ws+bufferutil',
  net: 'bare node:net',
  'net-echo': 'raw TCP echo',
  'netws-bun': 'netws on Bun',
  bun: "Bun's own (uWebSockets)",
};

/** The servers that run on Bun: netws's own server process, and Bun.serve. */
const ON_BUN: Partial<Record<ServerImpl, string>> = { 'netws-bun': 'netws', bun: 'bun' };

/** Bun's executable (the pinned `bun` npm package, installed on first use: scripts/runtimes.ts). */
export function bunBinary(): string {
  return runtimeBinary('bun');
}

const root = new URL('../', import.meta.url);
const built = new Set<string>();

/**
 * Compiles src/ and bench/ with tsc for the server processes. They must not
 * run under tsx: its esbuild transform keeps function names by calling
 * `__name(fn, ...)` on every closure it creates, which gives each closure its
 * own property store (about 250 bytes) and would inflate netws' memory per
 * connection several times over, while ws (plain JavaScript) pays nothing.
 */
export function buildServers(checkout: string = fileURLToPath(root)): string {
  const script = path.join(checkout, 'bench/.build/bench/server-process.js');
  if (built.has(checkout)) return script;
  const tsc = fileURLToPath(new URL('node_modules/typescript/bin/tsc', root));
  execFileSync(process.execPath, [tsc, '-p', path.join(checkout, 'tsconfig.bench.json')], { stdio: 'inherit' });
  built.add(checkout);
  return script;
}

/** The soft and hard open-file limits of a shell started like the children. */
export function fileLimits(): { soft: number; hard: number } {
  const read = (flag: string): number => {
    const out = execFileSync('/bin/sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Infinity : Number(out);
  };
  return { soft: read('-Sn'), hard: read('-Hn') };
}

export class BenchServer {
  readonly impl: ServerImpl;
  readonly port: number;
  readonly mask: string;
  private readonly child: ChildProcess;

  private constructor(impl: ServerImpl, child: ChildProcess, ready: Extract<ServerMessage, { type: 'ready' }>) {
    this.impl = impl;
    this.child = child;
    this.port = ready.port;
    this.mask = ready.mask;
  }

  /**
   * Spawns a server. The child runs under `sh -c 'ulimit -n <hard>'` so it can
   * hold as many sockets as the machine allows; extra node flags (e.g.
   * --cpu-prof) come from `nodeFlags`. `checkout`: another checkout of this
   * repository (a git worktree of an older commit, say) whose servers to
   * run instead, built there (bench/compare.ts).
   */
  static start(impl: ServerImpl, nodeFlags: string[] = [], serverArgs: string[] = [], checkout?: string): Promise<BenchServer> {
    const env = { ...process.env };
    // ws loads bufferutil by itself whenever it is installed; this is the one
    // switch that keeps it out (the child verifies which mask ws really uses).
    if (impl === 'ws') env.WS_NO_BUFFER_UTIL = '1';
    else delete env.WS_NO_BUFFER_UTIL;
    const script = buildServers(checkout);
    const onBun = ON_BUN[impl];
    const command =
      onBun === undefined
        ? [process.execPath, '--expose-gc', ...nodeFlags, script, impl, ...serverArgs]
        : [bunBinary(), script, onBun, ...serverArgs];
    const quoted = command.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('/bin/sh', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${quoted}`], {
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`${impl} server exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (message: ServerMessage) => {
        child.removeListener('exit', onExit);
        if (message.type !== 'ready') return reject(new Error(`${impl} server: unexpected ${message.type}`));
        resolve(new BenchServer(impl, child, message));
      });
    });
  }

  request<T extends ServerMessage['type']>(message: ParentMessage, answer: T): Promise<Extract<ServerMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (reply: ServerMessage): void => {
        if (reply.type !== answer) return;
        this.child.removeListener('message', onMessage);
        this.child.removeListener('exit', onExit);
        resolve(reply as Extract<ServerMessage, { type: T }>);
      };
      const onExit = (): void => reject(new Error(`${this.impl} server exited`));
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(message);
    });
  }

  async memory(): Promise<Extract<ServerMessage, { type: 'memory' }>> {
    return this.request({ type: 'memory' }, 'memory');
  }

  /** Waits until the server holds `count` connections (closes are seen asynchronously). */
  async waitForClients(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.request({ type: 'clients' }, 'clients')).count !== count) {
      if (Date.now() > deadline) throw new Error(`${this.impl}: clients did not settle at ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.disconnect();
    });
  }
}
