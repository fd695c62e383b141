/**
 * Child processes for the framework runs: npm commands that must finish, and
 * test runs watched for hangs. A watched run lives in its own process group,
 * so that a hang is ended with everything it started (node --test runs each
 * file in a child process of its own).
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * The environment of a shell, not of the enclosing `npm run`: npm_config_local_prefix would point a
 * nested npm at this repository, NODE_OPTIONS could load tsx into the scratch projects (they must run
 * as their users run them, on plain node), NODE_V8_COVERAGE would make c8 collect from them.
 */
export const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'NODE_OPTIONS' && name !== 'NODE_V8_COVERAGE'),
);

/** Runs a command to completion within `timeout` ms (then SIGKILL); fails with its output. */
export async function exec(file: string, args: string[], cwd: string, timeout: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, { cwd, env: childEnv, timeout, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
    return stdout;
  } catch (error) {
    const failure = error as { killed?: boolean; code?: unknown; stdout?: string; stderr?: string };
    const how = failure.killed ? `killed after ${timeout} ms` : `exit code ${String(failure.code)}`;
    throw new Error(`${file} ${args.join(' ')} (in ${cwd}): ${how}\n${failure.stdout ?? ''}${failure.stderr ?? ''}`);
  }
}

export interface WatchedRun {
  /** The exit code, or null when the run was killed or died of a signal. */
  code: number | null;
  /** Why the run was killed, if it was. */
  killed?: string;
  /** The lines written on stdout that start with @@, with the time each arrived (ms since the start). */
  records: { at: number; tag: string; value: unknown }[];
  /** When the process exited (ms since the start). */
  exitedAt: number;
  /** The tail of stderr and of the other stdout lines, for a failure report. */
  output: string;
}

export interface WatchOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** A run that writes no record for this long is killed (a hang), also after its last record. */
  idleMs: number;
  /** A run is killed after this long whatever it writes. */
  capMs: number;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs a test process whose progress comes as `@@tag json` lines on stdout, and kills its process group when it stalls. */
export function runWatched(file: string, args: string[], options: WatchOptions): Promise<WatchedRun> {
  const started = Date.now();
  const records: WatchedRun['records'] = [];
  let output = '';
  const keep = (text: string) => {
    output = (output + text).slice(-8000);
  };
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let killed: string | undefined;
    const kill = (why: string) => {
      killed ??= why;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    };
    let idle = setTimeout(() => kill(`no progress for ${options.idleMs / 1000} s`), options.idleMs);
    const cap = setTimeout(() => kill(`still running after ${options.capMs / 1000} s`), options.capMs);
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
        const match = /^@@(\w+) (.*)$/.exec(line);
        if (!match) {
          keep(`${line}\n`);
          continue;
        }
        records.push({ at: Date.now() - started, tag: match[1]!, value: JSON.parse(match[2]!) });
        clearTimeout(idle);
        idle = setTimeout(() => kill(`no progress for ${options.idleMs / 1000} s`), options.idleMs);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', keep);
    child.on('close', (code) => {
      clearTimeout(idle);
      clearTimeout(cap);
      // The process group may outlive its leader (a test file's process left running).
      if (groupAlive(child.pid!)) kill('it left processes running');
      resolve({ code, killed, records, exitedAt: Date.now() - started, output });
    });
  });
}
