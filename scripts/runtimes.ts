/**
 * The runtimes netws is tested on besides the Node that runs `npm test`: Node 22 and 24, Bun and Deno, each a
 * pinned version of its npm package (`node`, `bun`, `deno`; their binaries ship inside the packages, so no install
 * script is needed). They go into a cache folder, not into devDependencies: a `node` package in node_modules/.bin
 * would shadow the Node that every npm script runs, and four runtimes weigh about 600 MB that `npm ci` would
 * otherwise fetch for every developer.
 */

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export type RuntimeName = 'node20' | 'node22' | 'node24' | 'bun' | 'deno';

interface RuntimeSpec {
  /** npm package and version pinned here, so a run is reproducible. */
  pkg: string;
  /** The executable inside the installed package. */
  bin: string;
}

const pinned: Record<Exclude<RuntimeName, 'node20'>, RuntimeSpec> = {
  node22: { pkg: 'node@22.23.3', bin: 'node_modules/node/bin/node' },
  node24: { pkg: 'node@24.21.0', bin: 'node_modules/node/bin/node' },
  bun: { pkg: 'bun@1.4.5', bin: 'node_modules/bun/bin/bun.exe' },
  deno: { pkg: 'deno@2.9.6', bin: 'node_modules/deno/deno' },
};

export const runtimeNames: RuntimeName[] = ['node20', 'node22', 'node24', 'bun', 'deno'];

/** NETWS_RUNTIMES_DIR, else ~/.cache/netws-runtimes (kept between CI runs on one machine). */
function cacheDir(): string {
  return resolve(process.env.NETWS_RUNTIMES_DIR ?? join(homedir(), '.cache', 'netws-runtimes'));
}

/** The path of the runtime's executable, installing its pinned package first if needed. node20 is this Node. */
export function runtimeBinary(name: RuntimeName): string {
  if (name === 'node20') {
    if (!process.versions.node.startsWith('20.')) throw new Error(`node20 asked for, but this is Node ${process.version}`);
    return process.execPath;
  }
  const spec = pinned[name];
  const dir = join(cacheDir(), spec.pkg);
  const bin = join(dir, spec.bin);
  if (!existsSync(bin)) {
    process.stderr.write(`installing ${spec.pkg} into ${dir}\n`);
    execFileSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', spec.pkg], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (!existsSync(bin)) throw new Error(`${spec.pkg} installed, but ${bin} is missing`);
  }
  return bin;
}

/**
 * The command that runs one TypeScript file on the runtime: Node loads it through tsx, Bun and Deno run it as
 * it is (Deno resolves bare imports through package.json and node_modules).
 */
export function runtimeCommand(name: RuntimeName, file: string, args: string[] = []): string[] {
  const bin = runtimeBinary(name);
  if (name === 'bun') return [bin, file, ...args];
  if (name === 'deno') return [bin, 'run', '--allow-all', file, ...args];
  return [bin, '--import', 'tsx', file, ...args];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // `tsx scripts/runtimes.ts bun` prints the binary's path (installing it if needed).
  const name = process.argv[2] as RuntimeName;
  if (!runtimeNames.includes(name)) throw new Error(`usage: runtimes.ts ${runtimeNames.join('|')}`);
  process.stdout.write(`${runtimeBinary(name)}\n`);
}
