/**
 * The committed corpus of the coverage-guided fuzzer (spec/fuzz/corpus/<target>/)
 * replayed through its targets, uninstrumented: every input that once
 * reached new code must still keep every invariant. A few seconds; the
 * fuzzing itself is `npm run fuzz:ci` (in .ci/run) and `npm run fuzz:long`.
 */

import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { replay } from './guided/engine.ts';
import { TARGETS } from './guided/targets/index.ts';

const corpus = suite('fuzz corpus (coverage-guided targets)');
const root = path.join(import.meta.dirname, 'corpus');

for (const [name, target] of Object.entries(TARGETS)) {
  corpus(`${name}: every committed input keeps the invariants`, async () => {
    const files = readdirSync(path.join(root, name));
    assert.ok(files.length >= 10, `${files.length} inputs in spec/fuzz/corpus/${name}`);
    for (const file of files) {
      const error = await replay(target, readFileSync(path.join(root, name, file)));
      if (error !== null) assert.unreachable(`spec/fuzz/corpus/${name}/${file}: ${String(error)}`);
    }
    for (const seed of target.seeds()) assert.is(await replay(target, seed), null);
  });
}

corpus.run();
