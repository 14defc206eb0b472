// `models add` of a folder without tokenizer.json: registered (debug forward needs none), with a
// warning on stderr that generation and training need one, as `models inspect` and `models scan`
// say. Before, it was added in silence and the first `train` or `generate` was what said so.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliIn } from '../helpers/cli.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const dir = tempDir('reft-models-add-');

const cli = (...argv: string[]) => cliIn(join(dir, 'data'), ...argv);

test('models add: a folder without tokenizer.json is added with a warning saying what it lacks', async () => {
  const bare = join(dir, 'bare');
  mkdirSync(bare);
  for (const f of readdirSync(modelDir('llama')))
    if (!f.startsWith('tokenizer')) symlinkSync(join(modelDir('llama'), f), join(bare, f));
  const added = await cli('models', 'add', bare, '--json');
  assert.equal(added.code, 0, added.err);
  assert.equal(JSON.parse(added.out).created, true);
  assert.equal(added.err, 'warning: no tokenizer.json: generation and training need one\n');

  const whole = await cli('models', 'add', modelDir('llama'));
  assert.equal(whole.code, 0, whole.err);
  assert.equal(whole.err, '', 'no warning for a folder with its tokenizer');
});
