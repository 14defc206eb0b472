// A failed run says what to do next. Where the engine refused the run's own data or settings, the run
// would fail the same way on every resume (its config and dataset version are frozen): the CLI says
// to fix the dataset or start a new run, and the stored error code lets the studio say the same.
// Where the cause can be put right (here a model folder moved away), the resume stays offered.

import assert from 'node:assert/strict';
import { cpSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { shellWord } from '../../cli/shell-word.ts';
import { InProcessEngine } from '../../electron/backend/jobs/engine.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { failureRemedy } from '../../electron/backend/library/run-failures.ts';
import { recordRunFromRefs } from '../../electron/backend/library/run-plan.ts';
import { getRun, requeueRun, setRunStatus } from '../../electron/backend/library/runs.ts';
import { modelWithoutBos } from '../training/helpers.ts';
import { LLAMA_FIXTURE, runCli, tempDir } from './helpers.ts';

const root = tempDir('reft-run-failures-');

const jsonl = (name: string, prompts: string[]) => {
  const path = join(root, name);
  writeFileSync(
    path,
    prompts.map((p) => `${JSON.stringify({ prompt: p, completion: 'It is 2.' })}\n`).join(''),
  );
  return path;
};

test('a run refused for its data says to fix the dataset, in `train` and in `runs resume`', async () => {
  const home = join(root, 'home-data');
  const model = modelWithoutBos(join(root, 'no-bos'));
  const ones = jsonl('ones.jsonl', ['a', 'b']);
  const next =
    "every example's prompt is 1 token, where no intervention can be placed: give the prompts 2 tokens or more" +
    ' (resuming would fail the same way: fix the dataset, then start a new run with reft-studio train)\n';
  const train = await runCli([
    'train',
    '--model',
    model,
    '--data',
    ones,
    '--chat-template',
    'none',
    '--data-dir',
    home,
  ]);
  assert.equal(train.code, 1);
  assert.ok(train.stderr.endsWith(next), train.stderr);
  assert.doesNotMatch(train.stderr, /runs resume/);
  const shown = JSON.parse((await runCli(['runs', 'show', '1', '--json', '--data-dir', home])).stdout);
  assert.equal(shown.status, 'failed');
  // The data by the library's name and version, not its frozen file (datasets/<sha256>.jsonl).
  assert.ok(train.stderr.endsWith(`\nerror: dataset “ones” v1: ${next}`), train.stderr);
  assert.ok(shown.error.startsWith("dataset “ones” v1: every example's prompt is 1 token"), shown.error);
  assert.equal(shown.errorCode, 'no-intervention-positions');
  // runs show: the error, then what to do, each wrapped at 80 columns.
  const show = (await runCli(['runs', 'show', '1', '--data-dir', home])).stdout;
  assert.match(
    show.replace(/\n {2}/g, ' '),
    /^run 1: failed\nfailed: dataset “ones” v1: every example's prompt is 1 token.*\nresuming would fail the same way: fix the dataset, then start a new run with reft-studio train\n/,
  );
  const resume = await runCli(['runs', 'resume', '1', '--data-dir', home]);
  assert.equal(resume.code, 1);
  assert.ok(resume.stderr.endsWith(next), resume.stderr);
});

test('a run refused for its held-out data names that data as the library does', async () => {
  const home = join(root, 'home-held-out');
  // A tokenizer that strips whitespace (and adds no bos) turns a blank prompt into no tokens: the
  // held-out file is refused while training starts, by its frozen path (datasets/<sha256>.jsonl).
  const model = modelWithoutBos(join(root, 'strip'), { type: 'Strip', strip_left: true, strip_right: true });
  const data = jsonl('questions.jsonl', ['What is one plus one?', 'What is two plus two?']);
  const heldOut = jsonl('held-out.jsonl', ['What is three plus three?', '   ']);
  const args = ['--model', model, '--data', data, '--eval-data', heldOut, '--chat-template', 'none'];
  const train = await runCli(['train', ...args, '--max-steps', '1', '--data-dir', home]);
  assert.equal(train.code, 1);
  assert.match(
    train.stderr,
    /\nerror: dataset “held-out” v1: line 2: the prompt has no tokens \(/,
    train.stderr,
  );
  assert.doesNotMatch(train.stderr, /datasets\//);
  const shown = JSON.parse((await runCli(['runs', 'show', '1', '--json', '--data-dir', home])).stdout);
  assert.equal(shown.error, 'dataset “held-out” v1: line 2: the prompt has no tokens');
});

test('a run that failed for a moved model folder keeps its resume, and resumes once it is back', async () => {
  const home = join(root, 'home-moved');
  const model = join(root, 'moved-model');
  cpSync(LLAMA_FIXTURE, model, { recursive: true });
  const data = jsonl('long.jsonl', ['What is one plus one?', 'What is two plus two?']);
  const lib = openLibrary(home);
  let id: number;
  try {
    ({
      run: { id },
    } = await recordRunFromRefs(lib, new InProcessEngine(), { model, data }, { maxSteps: 1, batchSize: 2 }));
    setRunStatus(lib, id, 'paused');
  } finally {
    closeLibrary(lib);
  }
  renameSync(model, `${model}-away`);
  const failed = await runCli(['runs', 'resume', String(id), '--data-dir', home]);
  assert.equal(failed.code, 1);
  assert.ok(
    failed.stderr.includes(
      `(once that is put right: reft-studio runs resume ${id} --data-dir ${shellWord(home)})`,
    ),
    failed.stderr,
  );
  const shown = JSON.parse((await runCli(['runs', 'show', String(id), '--json', '--data-dir', home])).stdout);
  assert.equal(shown.status, 'failed');
  assert.equal(shown.errorCode, null);
  renameSync(`${model}-away`, model);
  const resumed = await runCli(['runs', 'resume', String(id), '--data-dir', home, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
});

test('the stored code: replaced with the error, cleared by a requeue; remedies by code', () => {
  const lib = openLibrary(join(root, 'home-codes'));
  try {
    const id = Number(
      lib.db.prepare(`INSERT INTO runs (config_json, status, created_at) VALUES ('{}', 'running', 1)`).run()
        .lastInsertRowid,
    );
    setRunStatus(lib, id, 'failed', 'every prompt is 1 token', 'no-intervention-positions');
    assert.equal(getRun(lib, id).errorCode, 'no-intervention-positions');
    assert.ok(requeueRun(lib, id));
    assert.deepEqual([getRun(lib, id).error, getRun(lib, id).errorCode], [null, null]);
    setRunStatus(lib, id, 'running');
    setRunStatus(lib, id, 'failed', 'the disk is full');
    assert.equal(getRun(lib, id).errorCode, null);
  } finally {
    closeLibrary(lib);
  }
  assert.equal(failureRemedy(null), 'resume');
  assert.equal(failureRemedy('empty-prompt'), 'fix-dataset');
  assert.equal(failureRemedy('bad-layers'), 'change-settings');
  assert.equal(failureRemedy('bad-max-length'), 'change-settings', "an option's own code");
  assert.equal(failureRemedy('diverged'), 'change-settings');
  assert.equal(failureRemedy('missing-tokenizer'), 'resume', 'a model folder can be put right');
});
