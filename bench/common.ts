/** Measurements shared by the soak processes. */

import { readFileSync, readdirSync } from 'node:fs';

export const fds = (): number => readdirSync('/proc/self/fd').length;

export function gcHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

export const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

export function openFileLimit(): number {
  const match = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return match ? Number(match[1]) : Infinity;
}

/** Counts uncaught exceptions and unhandled rejections instead of dying, so they can be reported. */
export function countUncaught(): { uncaught: number; unhandled: number } {
  const counts = { uncaught: 0, unhandled: 0 };
  process.on('uncaughtException', (error) => {
    counts.uncaught++;
    console.error('uncaught', error);
  });
  process.on('unhandledRejection', (error) => {
    counts.unhandled++;
    console.error('unhandled rejection', error);
  });
  return counts;
}
