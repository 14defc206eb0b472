// `reft-studio evaluate --adapter DIR` without --model looks up the base model the folder names. A
// folder that is missing, or a file given for it, was refused as "the base model of DIR is not in
// the library: give it with --model": the person went looking for a model when the path was wrong.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from '../backend/helpers.ts';

test('evaluate --adapter: a missing folder, or a file, is refused as such', async () => {
  const root = tempDir('evaluate-refusals');
  const rows = join(root, 'rows.jsonl');
  writeFileSync(rows, '{"prompt":"a","completion":"b"}\n');
  const evaluate = (adapter: string) =>
    runCli(['evaluate', '--adapter', adapter, '--data', rows, '--data-dir', join(root, 'data')]);

  const missing = join(root, 'no-such-adapter');
  const gone = await evaluate(missing);
  assert.equal(gone.code, 1);
  assert.equal(gone.stderr, `error: ${missing}: no such folder\n`);

  const file = await evaluate(rows);
  assert.equal(file.code, 1);
  assert.match(file.stderr, /^error: .*rows\.jsonl is a file; give the adapter's folder/);
});
