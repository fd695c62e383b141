/**
 * Prints the functions with the most self time in a .cpuprofile written by
 * `node --cpu-prof` (the evidence behind the tuning notes in the README):
 *   node --import tsx bench/profile-summary.ts file.cpuprofile [count]
 */

import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const [file, countArg] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
const byNode = new Map<number, ProfileNode>(profile.nodes.map((node) => [node.id, node]));
const selfSamples = new Map<string, number>();
for (const id of profile.samples) {
  const frame = byNode.get(id)!.callFrame;
  const where = frame.url ? `${frame.url.replace(/^.*\/(node_modules|src|bench|lib)\//, '$1/')}:${frame.lineNumber + 1}` : '';
  const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
  selfSamples.set(key, (selfSamples.get(key) ?? 0) + 1);
}
const total = profile.samples.length;
const rows = [...selfSamples].sort((a, b) => b[1] - a[1]).slice(0, Number(countArg ?? 25));
for (const [name, samples] of rows) console.log(`${((samples / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
