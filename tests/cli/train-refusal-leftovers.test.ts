// `train --data FILE` freezes the file into the data folder (datasets/<hash>.jsonl) before it checks
// the model and the options, and records its dataset only with the run. A refusal after the freeze —
// a layer the model lacks, a model folder without tokenizer.json, a bad row in --eval-data — left
// that copy behind (as big as the user's file) until a start-up sweep at least 10 minutes later:
// the data folder must stay as it was.

import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, runCli, tempDir } from '../backend/helpers.ts';

const DEMO = join(ROOT, 'resources', 'demo', 'model');

test('a train refused after its data file was read leaves no frozen copy of it', async () => {
  const root = tempDir('train-refusal-leftovers');
  const dataDir = join(root, 'data');
  const rows = join(root, 'rows.jsonl');
  writeFileSync(
    rows,
    Array.from({ length: 20 }, (_, i) => JSON.stringify({ prompt: `q ${i}`, completion: `a ${i}` })).join(
      '\n',
    ),
  );
  const badEval = join(root, 'held-out.jsonl');
  writeFileSync(badEval, '{"prompt":"a","completion":"b"}\n{"prompt":"c",\n');
  const opened = await runCli(['runs', 'list', '--data-dir', dataDir]);
  assert.equal(opened.code, 0, opened.stderr);
  const frozen = () => readdirSync(join(dataDir, 'datasets')).sort();
  const before = frozen();
  const train = (...more: string[]) =>
    runCli(['train', '--model', DEMO, '--data', rows, '--max-steps', '1', ...more, '--data-dir', dataDir]);

  const layer = await train('--layers', '99');
  assert.equal(layer.code, 1, layer.stderr);
  assert.match(layer.stderr, /^error: layer 99 is out of range/);
  assert.deepEqual(frozen(), before, 'the refused layer left a frozen copy of --data');

  const held = await train('--eval-data', badEval);
  assert.equal(held.code, 1, held.stderr);
  assert.match(held.stderr, /^error: held-out\.jsonl:2: not valid JSON/);
  assert.deepEqual(frozen(), before, "--eval-data's bad row left a frozen copy of --data");

  const runs = await runCli(['runs', 'list', '--json', '--data-dir', dataDir]);
  assert.deepEqual(JSON.parse(runs.stdout), { runs: [] });
});
