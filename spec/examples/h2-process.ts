/** Runs examples/h2/server.ts as its README says, for spec/examples/h2.spec.ts and the Chromium case. */

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runTypeScript } from '../runtime.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Starts the example as a process; resolves with the port it printed. */
export async function startExample(): Promise<{ port: number; child: ChildProcess }> {
  // On the runtime that runs the specs: the example is started on Node, Bun and Deno alike.
  const [command, args] = runTypeScript('examples/h2/server.ts', ['--port', '0', '--host', '127.0.0.1']);
  const child = spawn(command, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" within 15 s: ${output}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`the example exited (${code}): ${output}`)));
  });
  return { port, child };
}
