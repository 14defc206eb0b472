// Counts in the CLI's lines agree with their nouns (native-runtime/plural.ts): a one-row dataset is
// "1 prompt-completion row", a one-step run "1 step", where before they said "1 … rows", "1 steps".

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliIn } from '../helpers/cli.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const dir = tempDir('reft-plurals-');
const cli = (...argv: string[]) => cliIn(join(dir, 'data'), ...argv);

test('one row, one bad row, one step, one intervention: singular nouns', { timeout: 120_000 }, async () => {
  const file = join(dir, 'one.jsonl');
  writeFileSync(file, `${JSON.stringify({ prompt: 'What is 1 plus 1?', completion: '2' })}\nnot json\n`);
  const imported = await cli('datasets', 'import', file, '--skip-bad-rows');
  assert.equal(imported.code, 0, imported.err);
  assert.match(imported.out, /: 1 prompt-completion row \(/);
  assert.match(imported.out, /, 1 bad row skipped/);

  const id = /^dataset (\d+) /.exec(imported.out)?.[1] as string;
  const train = await cli(
    'train',
    '--model',
    modelDir('llama'),
    '--data',
    id,
    '--max-steps',
    '1',
    '--layers',
    '1',
    '--positions',
    'l1',
  );
  assert.equal(train.code, 0, train.err);
  assert.match(train.err, /^run \d+: .*, 1 step$/m);
  assert.match(train.out, /^1 intervention, \d+ trainable parameters, /m);
  assert.doesNotMatch(train.out + train.err + imported.out, /\b1 (steps|rows|interventions|[a-z-]+ rows)\b/);
});
