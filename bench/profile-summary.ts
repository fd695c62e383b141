/**
 * The functions with the most self time in a .cpuprofile written by
 * `node --cpu-prof`: node --import tsx bench/profile-summary.ts file [count]
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export function summarizeProfile(file: string, count: number): string {
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
  return [...selfSamples]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, samples]) => `${((samples / total) * 100).toFixed(1).padStart(5)}%  ${name}`)
    .join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, count] = process.argv.slice(2);
  console.log(summarizeProfile(file, Number(count ?? 25)));
}
