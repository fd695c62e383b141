/**
 * Loaded into each test file's process (NODE_OPTIONS=--import) by
 * frameworks/run.ts: once the file's tests are done (node:test's root
 * `after` hook), it records which handles still keep the process alive, so
 * that a timer or socket the library leaves behind shows as what it is, in
 * the file where it happens, instead of as a slow exit. It waits up to 3 s
 * for handles that are closing anyway (its own timers are unref'd and so not
 * counted).
 */
import { appendFileSync } from 'node:fs';
import { after } from 'node:test';

const output = process.env.NETWS_FRAMEWORKS_PROBE;
// Only in the processes that run test files (node --test sets NODE_TEST_CONTEXT there), not in the runner.
if (output && process.env.NODE_TEST_CONTEXT) {
  const file = process.argv[1];
  let written = false;
  const write = (handles) => {
    if (written) return;
    written = true;
    appendFileSync(output, `${JSON.stringify({ file, handles })}\n`);
  };
  const active = () =>
    process
      .getActiveResourcesInfo()
      .filter((type) => type !== 'TTYWrap' && type !== 'PipeWrap' && type !== 'FSReqCallback')
      .sort();
  process.on('exit', () => write([]));
  after(() => {
    const deadline = Date.now() + 3000;
    const check = () => {
      const handles = active();
      if (handles.length === 0 || Date.now() >= deadline) write(handles);
      else setTimeout(check, 50).unref();
    };
    setImmediate(check).unref?.();
  });
}
