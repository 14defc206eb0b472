// A model's tokenizer.json edited after the model was added: the library's listing says it is
// refused (and says so no more once it is put right), however the edit kept the file's times. It
// used to show as usable until something loaded it.

import assert from 'node:assert/strict';
import { cpSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modelDir } from '../../../tests/helpers/fixtures.ts';
import { testLibraries } from '../../../tests/helpers/libraries.ts';
import { addModel, listModels } from './models.ts';

const { root, open } = testLibraries('reft-model-tokenizer-');

test('listModels re-checks a tokenizer.json changed since the model was added', () => {
  const lib = open();
  const dir = join(root, 'llama');
  cpSync(modelDir('llama'), dir, { recursive: true });
  const file = join(dir, 'tokenizer.json');
  const good = readFileSync(file, 'utf8');
  const then = new Date('2024-01-01T00:00:00Z'); // whole seconds: set back exactly below
  utimesSync(file, then, then);
  const { id } = addModel(lib, { path: dir });
  const problem = () => listModels(lib).find((m) => m.id === id)?.tokenizerProblem ?? null;
  assert.equal(problem(), null);

  const hostile = JSON.parse(good);
  hostile.pre_tokenizer = {
    type: 'Split',
    pattern: { Regex: '(a+)+$' },
    behavior: 'Isolated',
    invert: false,
  };
  // Same size, same inode, the old times put back (touch -r): still noticed, by the change time.
  const text = JSON.stringify(hostile);
  assert.ok(text.length <= good.length);
  writeFileSync(file, text.padEnd(good.length, ' '));
  utimesSync(file, then, then);
  assert.equal(problem()?.code, 'tokenizer-pattern-refused');
  assert.match(problem()?.message ?? '', /tokenizer\.json: the pattern of pre_tokenizer repeats a group/);

  writeFileSync(file, good);
  assert.equal(problem(), null, 'put right, usable again');
});
