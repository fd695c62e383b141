/**
 * Runs one uvu spec file the way `uvu` does, after printing `Registered: N`, the number of tests the file
 * declares. scripts/test-runtime.ts compares it with uvu's closing counts, so a file that crashes or hangs
 * half-way reports how many of its tests never ran instead of hiding them.
 *
 *   <runtime> scripts/run-spec.ts spec/some.spec.ts
 *
 * uvu keeps a suite's tests private: `suite.run()` queues `runner.bind(0, context, name)`. While the file is
 * imported, Function.prototype.bind is wrapped to read the context handed to uvu's `runner` (its tests, `only`
 * tests and skips); it passes every call through unchanged and is restored before any test runs.
 */

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface UvuContext {
  tests: unknown[];
  only: unknown[];
  skips: number;
}

const file = process.argv[2];
if (!file) throw new Error('usage: run-spec.ts <spec file>');

const scope = globalThis as { UVU_DEFER?: number; UVU_QUEUE?: unknown[][]; UVU_INDEX?: number };
// uvu's CLI mode: suites queue their runners, and exec() below runs them (no timer of its own).
scope.UVU_DEFER = 1;
const uvu = await import('uvu');
scope.UVU_INDEX = 0;
(scope.UVU_QUEUE as unknown[][]).push([file]);

let registered = 0;
const bind = Function.prototype.bind;
Function.prototype.bind = function (this: (...args: unknown[]) => unknown, thisArg: unknown, ...args: unknown[]) {
  const context = args[0] as UvuContext | undefined;
  if (this.name === 'runner' && context && Array.isArray(context.tests) && typeof context.skips === 'number') {
    // uvu's Total counts `only` tests when there are some; its Skipped counts the other tests and the skips.
    registered += context.only.length + context.tests.length + context.skips;
  }
  return bind.call(this, thisArg, ...args);
} as typeof Function.prototype.bind;
try {
  await import(pathToFileURL(resolve(file)).href);
} finally {
  Function.prototype.bind = bind;
}
process.stdout.write(`Registered: ${registered}\n`);
await (uvu as unknown as { exec(bail?: boolean): Promise<void> }).exec();
