/** Iteration i of a run with seed S uses its own seed, so one iteration can be replayed alone. */
export function iterationSeed(seed: number, iteration: number): number {
  return (seed ^ Math.imul(iteration + 1, 0x9e3779b1)) >>> 0;
}
