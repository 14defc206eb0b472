// `datasets show` prints a dataset's first rows for a person to glance at: a row with a very long
// prompt is cut on its line (with its length and how to see it whole), where before the whole row
// (20 MB in one walk-through) went to the terminal. --json keeps every row whole.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliIn } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

const dir = tempDir('reft-datasets-show-');

const cli = (...argv: string[]) => cliIn(join(dir, 'data'), ...argv);

test('datasets show: a very long row is cut on its line, whole with --json', async () => {
  const file = join(dir, 'long.jsonl');
  const prompt = 'x'.repeat(100_000);
  writeFileSync(
    file,
    `${JSON.stringify({ prompt, completion: 'y' })}\n${JSON.stringify({ prompt: 'short', completion: 'ok' })}\n`,
  );
  const imported = await cli('datasets', 'import', file, '--json');
  assert.equal(imported.code, 0, imported.err);
  const id = String(JSON.parse(imported.out).dataset.id);

  const shown = await cli('datasets', 'show', id);
  assert.equal(shown.code, 0, shown.err);
  assert.ok(shown.out.length < 2000, `${shown.out.length} characters printed`);
  assert.match(shown.out, /\n {2}\{"prompt":"x+… \(100,030 characters in all; --json shows it whole\)\n/);
  assert.match(shown.out, /\n {2}\{"prompt":"short","completion":"ok"\}\n/);

  const json = await cli('datasets', 'show', id, '--json');
  assert.equal(JSON.parse(json.out).rows[0].prompt, prompt);
});
