import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('security: faults');

test('abrupt resets, half-open and silent peers, EPIPE while writing: no crash, and the process exits by itself after wss.close()', async () => {
  const fixture = fileURLToPath(new URL('./fixtures/faults.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (data) => (output += data));
  child.stderr.on('data', (data) => (output += data));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  clearTimeout(killer);
  assert.is(signal, null, `the process did not exit by itself:\n${output}`);
  assert.is(code, 0, output);
  assert.match(output, /closed; clients left 0/);
  assert.not.match(output, /uncaught/);
});

test.run();
