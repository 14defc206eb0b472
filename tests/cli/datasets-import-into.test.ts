// `datasets import FILE --into ID` adds a version to dataset ID whatever the file is called; the line
// it prints said "new version of the dataset of that name", which is the default's rule (a dataset
// named after the file), not what --into did.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliIn } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

test('datasets import --into: the new version is said to be of that dataset, not of that name', async () => {
  const dir = tempDir('reft-datasets-into-');
  const data = join(dir, 'data');
  const row = (p: string) => `${JSON.stringify({ prompt: p, completion: 'b' })}\n`;
  writeFileSync(join(dir, 'first.jsonl'), row('a'));
  writeFileSync(join(dir, 'second.jsonl'), row('c'));
  const first = await cliIn(data, 'datasets', 'import', join(dir, 'first.jsonl'), '--json');
  assert.equal(first.code, 0, first.err);
  const id = String(JSON.parse(first.out).dataset.id);
  const into = await cliIn(data, 'datasets', 'import', join(dir, 'second.jsonl'), '--into', id);
  assert.equal(into.code, 0, into.err);
  assert.match(
    into.out,
    new RegExp(`^dataset ${id} "first" version 2: 1 prompt-completion row \\(new version of that dataset\\)`),
  );
  const byName = await cliIn(data, 'datasets', 'import', join(dir, 'first.jsonl'));
  assert.match(byName.out, /\(new version of the dataset of that name\)/);
});
