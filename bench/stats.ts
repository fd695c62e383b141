/** Small statistics for noisy repeated measurements. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: how far apart the runs were. */
  spread: number;
  samples: number[];
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const min = sorted[0] ?? 0;
  const max = sorted[sorted.length - 1] ?? 0;
  return { median, min, max, spread: median === 0 ? 0 : (max - min) / median, samples };
}

/**
 * Runs `fn` in batches that double until one batch takes `minMs`, then
 * returns operations per second of `rounds` such batches (median of them).
 */
export function opsPerSecond(fn: () => void, minMs: number, rounds: number): Summary {
  let batch = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (ms >= minMs) break;
    batch = ms < minMs / 16 ? batch * 8 : batch * 2;
  }
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    results.push(batch / seconds);
  }
  return summarize(results);
}

export function formatNumber(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)}G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(value >= 100 ? 0 : 2);
}

export function formatBytes(size: number): string {
  if (size >= 1 << 20) return `${size / (1 << 20)} MiB`;
  if (size >= 1024) return `${size / 1024} KiB`;
  return `${size} B`;
}
