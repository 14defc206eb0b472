// `train --data FILE` freezes the file into the data folder (datasets/<hash>.jsonl) before it checks
// the model and the options, and records its dataset only with the run. A refusal after the freeze —
// a layer the model lacks, a model folder without tokenizer.json, a bad row in --eval-data — left
// that copy behind (as big as the user's file) until a start-up sweep at least 10 minutes later:
// the data folder must stay as it was. A --checkpoint-dir the checkpoints cannot go in was refused
// only by the run failing at its first checkpoint, a failed run left in the library.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, runCli, tempDir } from '../backend/helpers.ts';

const DEMO = join(ROOT, 'resources', 'demo', 'model');

/** A folder for one test with its 20-row data file. */
function setUp(name: string): { root: string; dataDir: string; rows: string } {
  const root = tempDir(name);
  const rows = join(root, 'rows.jsonl');
  writeFileSync(
    rows,
    Array.from({ length: 20 }, (_, i) => JSON.stringify({ prompt: `q ${i}`, completion: `a ${i}` })).join(
      '\n',
    ),
  );
  return { root, dataDir: join(root, 'data'), rows };
}

test('a train refused after its data file was read leaves no frozen copy of it', async () => {
  const { root, dataDir, rows } = setUp('train-refusal-leftovers');
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
  assert.match(layer.stderr, /^error: --layers: layer 99 is out of range/);
  assert.deepEqual(frozen(), before, 'the refused layer left a frozen copy of --data');

  const held = await train('--eval-data', badEval);
  assert.equal(held.code, 1, held.stderr);
  assert.match(held.stderr, /^error: held-out\.jsonl:2: not valid JSON/);
  assert.deepEqual(frozen(), before, "--eval-data's bad row left a frozen copy of --data");

  const runs = await runCli(['runs', 'list', '--json', '--data-dir', dataDir]);
  assert.deepEqual(JSON.parse(runs.stdout), { runs: [] });
});

test('a --checkpoint-dir the checkpoints cannot go in is refused before the run is recorded', async () => {
  const { root, dataDir, rows } = setUp('train-checkpoint-dir');
  const aFile = join(root, 'notes.txt');
  writeFileSync(aFile, 'not a folder');
  const train = (checkpointDir: string, ...more: string[]) =>
    runCli([
      'train',
      '--model',
      DEMO,
      '--data',
      rows,
      '--max-steps',
      '1',
      '--checkpoint-dir',
      checkpointDir,
      ...more,
      '--data-dir',
      dataDir,
    ]);
  // (One under /proc, where mkdir answers ENOENT: tests/backend/cli.test.ts.)
  const refusals: [string, string][] = [
    [aFile, 'it is a file'],
    [join(aFile, 'ckpt'), `a folder on its path, ${aFile}, is a file`],
  ];
  for (const [dir, why] of refusals) {
    const r = await train(dir);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `error: --checkpoint-dir ${dir} cannot hold checkpoints: ${why}\n`);
  }
  const runs = await runCli(['runs', 'list', '--json', '--data-dir', dataDir]);
  assert.deepEqual(JSON.parse(runs.stdout), { runs: [] });

  // The check makes the folder to see that it can: a run refused afterwards leaves none behind.
  const layer = await train(join(root, 'new', 'ckpt'), '--layers', '99');
  assert.match(layer.stderr, /^error: --layers: layer 99 is out of range/);
  assert.ok(!existsSync(join(root, 'new')), 'the refused run left its checkpoint folder made');
});
