// `datasets import` said nothing of rows the file holds twice (same prompt and completion), found
// only later by the Duplicates tool, nor of columns no row of the format keeps, which were dropped
// without a word. Both are said now; the duplicates are kept (nothing of the file is thrown away).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliIn } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

test('datasets import says how many rows are duplicates, keeps them, and names the columns not kept', async () => {
  const dir = tempDir('reft-datasets-summary-');
  const data = join(dir, 'data');
  const row = (p: string, c: string, more = {}) => JSON.stringify({ prompt: p, completion: c, ...more });
  writeFileSync(
    join(dir, 'dups.jsonl'),
    `${[row('a', 'b'), row('a', 'b', { source: 'web' }), row('a', 'c'), row('x', 'y'), row('x', 'y')].join('\n')}\n`,
  );
  const r = await cliIn(data, 'datasets', 'import', join(dir, 'dups.jsonl'));
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out.trim().replace(/^dataset \d+ /, 'dataset N '),
    [
      'dataset N "dups" version 1: 5 prompt-completion rows (new dataset)',
      '2 duplicate rows (same prompt and completion), kept: the Duplicates tool (the studio\'s "Duplicates & split" tab) finds and drops them',
      'not kept: the column "source" (a prompt-completion row has only "prompt" and "completion")',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'sheet.csv'), 'id,question,answer\n1,Hi?,Hello\n2,Hi?,Hello\n3,Bye?,Ciao\n');
  const csv = await cliIn(
    data,
    'datasets',
    'import',
    join(dir, 'sheet.csv'),
    '--map',
    'prompt=question',
    '--map',
    'completion=answer',
    '--json',
  );
  assert.equal(csv.code, 0, csv.err);
  const out = JSON.parse(csv.out);
  assert.deepEqual([out.version.rowCount, out.duplicateCount, out.unkeptColumns], [3, 1, ['id']]);
});

test('datasets import names the keys of chat messages it does not keep, once each', async () => {
  // Bug: {"role", "content", "name"} lost its "name" in silence, while a column not kept was said.
  const dir = tempDir('reft-datasets-summary-');
  const data = join(dir, 'data');
  const chat = (name: string) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: `hi, I am ${name}`, name },
        { role: 'assistant', content: 'hello', weight: 1 },
      ],
    });
  writeFileSync(join(dir, 'chat.jsonl'), `${[chat('bob'), chat('eve'), chat('ann')].join('\n')}\n`);
  const r = await cliIn(data, 'datasets', 'import', join(dir, 'chat.jsonl'));
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out.replace(/dataset \d+/, 'dataset N').trim(),
    [
      'dataset N "chat" version 1: 3 chat rows (new dataset)',
      'not kept: the message keys "name", "weight" (a message has only "role" and "content")',
    ].join('\n'),
  );
  const json = await cliIn(data, 'datasets', 'import', join(dir, 'chat.jsonl'), '--json');
  const out = JSON.parse(json.out);
  assert.deepEqual([out.unkeptColumns, out.unkeptMessageKeys], [[], ['name', 'weight']]);
});
