/**
 * Which runtime runs the specs, and the tests that cannot pass on one of them
 * for a reason outside netws (an API the runtime lacks, a behaviour it
 * documents). Such a test is skipped there only, and says so on a line
 * `SKIP <runtime>: <test> (<reason>)` that scripts/test-runtime.ts collects
 * and CI prints: the list stays short and every entry names its reason.
 */

import type { Callback, Test } from 'uvu';

export type Runtime = 'node' | 'bun' | 'deno';

export const runtime: Runtime = 'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node';

/** Why a test is skipped, per runtime: the runtime's issue or documented behaviour. */
export type SkipReasons = Partial<Record<Exclude<Runtime, 'node'>, string>>;

/** `test` itself, or on a runtime named in `reasons`, a test that is skipped there with its reason printed. */
export function except<T>(test: Test<T>, reasons: SkipReasons): (name: string, body: Callback<T>) => void {
  const reason = runtime === 'node' ? undefined : reasons[runtime];
  if (reason === undefined) return test;
  return (name, body) => {
    process.stdout.write(`SKIP ${runtime}: ${name} (${reason})\n`);
    test.skip(name, body);
  };
}

/**
 * The command that runs a TypeScript file in a child process on this runtime:
 * Node through tsx (as the README says), Bun and Deno as they are.
 */
export function runTypeScript(file: string, args: string[] = []): [string, string[]] {
  if (runtime === 'bun') return [process.execPath, [file, ...args]];
  if (runtime === 'deno') return [process.execPath, ['run', '--allow-all', file, ...args]];
  return [process.execPath, ['--import', 'tsx', file, ...args]];
}
