/**
 * The house's shape (the redesign's rules, checked on every run): no file
 * in src/ over 700 lines, and the WebSocket facade at most 650, so that a
 * new job lands in a part of its own rather than back on the facade.
 */

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const src = fileURLToPath(new URL('../src/', import.meta.url));

function lines(file: string): number {
  const text = readFileSync(file, 'utf8');
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

test('no file in src/ is over 700 lines; src/websocket.ts at most 650', () => {
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((file) => /\.c?ts$/.test(file));
  assert.ok(files.length > 50, `only ${files.length} files found`);
  const over = files.map((file) => [file, lines(path.join(src, file))] as const).filter(([, count]) => count > 700);
  assert.equal(over, [], 'files over 700 lines');
  const facade = lines(path.join(src, 'websocket.ts'));
  assert.ok(facade <= 650, `src/websocket.ts has ${facade} lines`);
});

test.run();
