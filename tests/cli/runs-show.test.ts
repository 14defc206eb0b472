// `reft-studio runs show ID` for people: what the studio's run page shows, readable at 80 columns.
// It printed no probe answers (only --json carried them), the configuration as one line of raw
// JSON (with `dtype` and `quantize` under the studio's "Other" too), every step of a long run, and
// neither the run's model, data nor adapter; a paused run did not say how to continue it. Runs are
// recorded straight into a real library file (the trainer's own records are tests/cli/keep-best.test.ts
// and tests/training/cli-train.test.ts); the CLI runs in this process on it.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { displayWidth } from '../../cli/display-width.ts';
import { SHOWN_ANSWER_CHARS, SHOWN_METRIC_ROWS } from '../../cli/run-show-text.ts';
import { shellWord } from '../../cli/shell-word.ts';
import { defaultMigrationsDir, openDatabase } from '../../electron/backend/db/database.ts';
import { listMigrations } from '../../electron/backend/db/migrate.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { addModel, removeModel } from '../../electron/backend/library/models.ts';
import {
  appendMetrics,
  createRun,
  type RunMetric,
  recordCheckpoint,
  recordGeneration,
  setRunDevice,
  setRunStatus,
  setRunTotalSteps,
} from '../../electron/backend/library/runs.ts';
import { cliIn } from '../helpers/cli.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const root = tempDir('reft-runs-show-');
const dataDir = join(root, 'data');
const cli = (...argv: string[]) => cliIn(dataDir, ...argv);
const lib = openLibrary(dataDir);
after(() => closeLibrary(lib));

const steps = (n: number, every = 0): RunMetric[] =>
  Array.from({ length: n }, (_, i) => ({
    step: i + 1,
    epoch: (i + 1) / 10,
    loss: 3 - i / n,
    lr: 0.004,
    gradNorm: 1.5,
    tokensPerS: 900,
    evalLoss: every && (i + 1) % every === 0 ? 2.5 - i / n : null,
  }));

/** Nothing a person should never read, and no line wider than a terminal. */
function assertReadable(text: string): void {
  assert.doesNotMatch(text, /undefined|NaN|\[object Object\]|\{"/);
  // A command to type and a folder are never broken (a line break ends a command in a shell): only a
  // long folder name widens them. Widths are terminal columns: a CJK character or an emoji takes two.
  const wide = text.split('\n').filter((l) => displayWidth(l) > 80 && !/^ +(reft-studio |\S+$)/.test(l));
  assert.deepEqual(wide, [], 'every line fits 80 columns');
}

test('the probe answers, step by step: a long answer cut with a marker, control characters shown', async () => {
  const run = createRun(lib, {
    name: 'pirate',
    config: { device: 'cpu', probe: { prompts: ['Who are you?', 'Tell me a story.'], every: 2 } },
  });
  setRunStatus(lib, run.id, 'running');
  appendMetrics(lib, run.id, steps(4));
  setRunStatus(lib, run.id, 'completed');
  const story = `Arr, once upon a time ${'a ship sailed on and on across the sea, '.repeat(12)}the end.`;
  for (const [step, prompt, output] of [
    [0, 'Who are you?', 'I am a helpful assistant.'],
    [0, 'Tell me a story.', 'Once upon a time.'],
    [2, 'Who are you?', 'I be a pirate,\nmatey.'],
    [2, 'Tell me a story.', story],
    [4, 'Who are you?', 'A pirate\x1b]0;pwned\x07 captain.'],
  ] as const)
    recordGeneration(lib, { runId: run.id, step, kind: 'probe', prompt, output });

  const r = await cli('runs', 'show', String(run.id));
  assert.equal(r.code, 0, r.err);
  assertReadable(r.out);
  const probes = r.out.slice(r.out.indexOf('probe answers'));
  assert.ok(
    probes.startsWith(
      [
        'probe answers (2 prompts, every 2 steps; step 0 is before training):',
        '  "Who are you?"',
        '    step 0  I am a helpful assistant.',
        '    step 2  I be a pirate,',
        '            matey.',
        '    step 4  A pirate\\x1b]0;pwned\\x07 captain.',
        '  "Tell me a story."',
        '    step 0  Once upon a time.',
        '    step 2  Arr, once upon a time a ship sailed on and on across the sea, a ship',
      ].join('\n'),
    ),
    probes,
  );
  // The long answer: its first characters, wrapped, then how long it is and where it is whole.
  const cut = `… (${story.length} characters in all; --json shows it whole)`;
  assert.ok(
    probes
      .replace(/\n {12}/g, ' ')
      .includes(`${story.slice(SHOWN_ANSWER_CHARS - 20, SHOWN_ANSWER_CHARS)}${cut}`),
  );
  const json = JSON.parse((await cli('runs', 'show', String(run.id), '--json')).out);
  assert.equal(json.samples.length, 5);
  assert.equal(json.samples[3].output, story, '--json has every answer whole');
});

test('the configuration in the studio’s groups and words; the model by name, its folder once removed', async () => {
  const model = addModel(lib, { path: modelDir('llama') });
  const run = createRun(lib, {
    name: 'configured',
    modelId: model.id,
    config: {
      lr: 0.004,
      layers: [2, 10],
      maxSteps: 0,
      epochs: 3,
      device: 'cuda',
      dtype: 'fp16',
      quantize: 'int8',
      model: modelDir('llama'),
      checkpointDir: join(root, 'a-very-long-folder-name-that-does-not-fit-beside-its-label', 'checkpoints'),
    },
  });
  setRunStatus(lib, run.id, 'running');
  setRunDevice(lib, run.id, { device: 'cpu', fallback: 'CUDA is not installed', precision: 'fp16' });
  appendMetrics(lib, run.id, steps(2));
  setRunStatus(lib, run.id, 'completed');
  const r = await cli('runs', 'show', String(run.id));
  assert.equal(r.code, 0, r.err);
  assertReadable(r.out);
  for (const line of [
    '  Intervention',
    '    Layers             2;10',
    '    Learning rate      0.004',
    '    Max steps          no limit: 3 epochs',
    '    Device             cuda (ran on cpu)',
    '    Base weights       int8',
    '    Precision          fp16',
  ])
    assert.match(r.out, new RegExp(`^${line.replace(/[()]/g, '\\$&')}$`, 'm'));
  assert.doesNotMatch(r.out, /Other/, 'no option of the trainer is left unlabelled');
  // fp16 asked and computed in: said once, with nothing beside it.
  assert.match(r.out, /^precision: fp16$/m);
  assert.match(r.out, new RegExp(`^model: ${model.id} "${model.name}"$`, 'm'));
  // A folder too long for its column goes whole on the line below, to be copied (never broken).
  const folder = join(root, 'a-very-long-folder-name-that-does-not-fit-beside-its-label', 'checkpoints');
  assert.ok(r.out.includes(`\n    Checkpoint folder\n      ${folder}\n`), r.out);

  // The model removed from the library: the run says which folder it trained on.
  removeModel(lib, model.id);
  const gone = await cli('runs', 'show', String(run.id));
  assert.equal(gone.code, 0, gone.err);
  assert.match(gone.out, /^model: removed from the library; it trained on\n {2}\/\S+\/llama$/m);
});

test('a CJK and emoji name and folder: measured in terminal columns, the folder still whole', async () => {
  // Fewer UTF-16 units than columns: 60 units, but each CJK character and the emoji take two.
  const folder = join(root, '実験フォルダ🧑‍💻', 'チェックポイント保存');
  const run = createRun(lib, { name: '海賊の先生🧑‍💻', config: { lr: 0.004, checkpointDir: folder } });
  setRunStatus(lib, run.id, 'running');
  appendMetrics(lib, run.id, steps(1));
  setRunStatus(lib, run.id, 'completed');
  const r = await cli('runs', 'show', String(run.id));
  assert.equal(r.code, 0, r.err);
  assertReadable(r.out);
  assert.match(r.out, new RegExp(`^run ${run.id} "海賊の先生🧑‍💻": completed$`, 'm'));
  const indent = '    Checkpoint folder  '.length; // the longest label here, and two spaces
  assert.ok(
    indent + folder.length <= 80 && indent + displayWidth(folder) > 80,
    'the folder fits only by its length',
  );
  // Too wide beside its label: whole on the line below, never broken inside.
  assert.ok(r.out.includes(`\n    Checkpoint folder\n      ${folder}\n`), r.out);
});

test('the precision the steps computed in, beside what was asked where it differs; none before a step', async () => {
  // A bf16 checkpoint on the CPU: `auto` computes in fp32 there (the trainer's record of it is
  // tests/training/run-precision.test.ts).
  const run = createRun(lib, { name: 'auto', config: { device: 'cpu', dtype: 'auto' } });
  const before = await cli('runs', 'show', String(run.id));
  assert.equal(before.code, 0, before.err);
  assert.doesNotMatch(before.out, /^precision/m, 'nothing computed yet: no precision, and no guess');
  assert.match(before.out, /^ {4}Precision +auto$/m);
  setRunStatus(lib, run.id, 'running');
  setRunDevice(lib, run.id, { device: 'cpu', fallback: null, precision: 'fp32' });
  appendMetrics(lib, run.id, steps(1));
  setRunStatus(lib, run.id, 'completed');
  const r = await cli('runs', 'show', String(run.id));
  assert.equal(r.code, 0, r.err);
  assertReadable(r.out);
  assert.deepEqual(r.out.split('\n').slice(1, 3), ['device: cpu', 'precision: fp32']);
  assert.match(r.out, /^ {4}Precision +auto \(ran in fp32\)$/m);
  const json = JSON.parse((await cli('runs', 'show', String(run.id), '--json')).out);
  assert.deepEqual([json.config.dtype, json.precision], ['auto', 'fp32']);
  const list = JSON.parse((await cli('runs', 'list', '--json')).out) as {
    runs: { id: number; precision: string | null }[];
  };
  assert.equal(list.runs.find((x) => x.id === run.id)?.precision, 'fp32');
});

test('a long run: its first and last steps, a line saying how many are left out; the last held-out loss', async () => {
  const run = createRun(lib, { name: 'long', config: { device: 'cpu' } });
  setRunTotalSteps(lib, run.id, 2000);
  setRunStatus(lib, run.id, 'running');
  appendMetrics(lib, run.id, steps(1000, 7));
  const r = await cli('runs', 'show', String(run.id));
  assert.equal(r.code, 0, r.err);
  assertReadable(r.out);
  const table = r.out.slice(r.out.indexOf('metrics:')).trim().split('\n');
  assert.equal(
    table.length,
    2 + SHOWN_METRIC_ROWS + 1,
    'the heading, the column names, the steps and the marker',
  );
  assert.match(table[2] ?? '', /^1 /);
  assert.equal(table[7], `… ${1000 - SHOWN_METRIC_ROWS} steps not shown (--json lists every step)`);
  assert.match(table.at(-1) ?? '', /^1000 /);
  assert.match(r.out, /^step 1000 of 2000, loss 2\.0010, held-out loss 1\.5070 \(step 994\)$/m);
  assert.equal(JSON.parse((await cli('runs', 'show', String(run.id), '--json')).out).metrics.length, 1000);
});

test('a paused run says where it stopped and how to continue it', async () => {
  const run = createRun(lib, { name: 'paused', config: { device: 'cpu' } });
  setRunTotalSteps(lib, run.id, 10);
  setRunStatus(lib, run.id, 'running');
  appendMetrics(lib, run.id, steps(4));
  recordCheckpoint(lib, run.id, 3, join(root, 'ck'), 10);
  setRunStatus(lib, run.id, 'paused');
  const r = await cli('runs', 'show', String(run.id));
  assert.equal(r.code, 0, r.err);
  assertReadable(r.out);
  assert.deepEqual(r.out.split('\n').slice(0, 4), [
    `run ${run.id} "paused": paused`,
    'paused at step 4 of 10; its last checkpoint is at step 3',
    'continue it with:',
    `  reft-studio runs resume ${run.id} --data-dir ${shellWord(dataDir)}`,
  ]);
});

test('a library from the first schema, upgraded: its runs show without a hole', async () => {
  const partial = join(root, 'schema-1');
  mkdirSync(partial);
  const [first] = listMigrations(defaultMigrationsDir());
  assert.ok(first);
  copyFileSync(first.file, join(partial, `${first.id}_${first.name}.sql`));
  const oldDir = join(root, 'old');
  const db = openDatabase(oldDir, { migrationsDir: partial });
  db.exec(`
    INSERT INTO models (id, name, path, arch, fingerprint, config_json, params, dtype, size_bytes, created_at)
      VALUES (1, 'm', '/models/m', 'llama', 'fp1', '{}', 1000, 'float32', 4000, 1);
    INSERT INTO runs (id, name, model_id, dataset_version_id, config_json, status, owner_pid, created_at, started_at, finished_at)
      VALUES (1, 'r', 1, NULL, '{"rank": 4}', 'completed', NULL, 1, 2, 3),
             (2, NULL, NULL, NULL, '{}', 'interrupted', NULL, 4, 5, NULL);
    INSERT INTO run_metrics (run_id, step, epoch, loss, lr, grad_norm, tokens_per_s, eval_loss, created_at)
      VALUES (1, 1, NULL, 2.0, NULL, NULL, NULL, NULL, 1);
  `);
  db.close();
  const one = await cliIn(oldDir, 'runs', 'show', '1');
  assert.equal(one.code, 0, one.err);
  assertReadable(one.out);
  assert.match(one.out, /^device: cpu asked for; where its steps ran was not recorded$/m);
  assert.match(one.out, /^precision: auto asked for; what it computed in was not recorded$/m);
  assert.deepEqual(JSON.parse((await cliIn(oldDir, 'runs', 'show', '1', '--json')).out).precision, null);
  assert.match(one.out, /^model: 1 "m"$/m);
  assert.match(one.out, /^ {4}Rank {2}4$/m);
  const two = await cliIn(oldDir, 'runs', 'show', '2');
  assert.equal(two.code, 0, two.err);
  assertReadable(two.out);
  assert.match(
    two.out,
    /^run 2: interrupted\ninterrupted at step 0\nstart it again with:\n {2}reft-studio runs resume 2 /,
  );
  assert.match(two.out, /^configuration: none recorded$/m);
  assert.match(two.out, /^model: removed from the library$/m);
});

test('an empty probe answer says why where the trainer told it, else that it is empty', async () => {
  const run = createRun(lib, { name: 'silent', config: { device: 'cpu', probe: { prompts: ['Ahoy?'] } } });
  setRunStatus(lib, run.id, 'completed');
  const note = "no text: the 2 tokens decode to nothing (2 ids past the tokenizer's 384: 444, 544)";
  recordGeneration(lib, { runId: run.id, step: 0, kind: 'probe', prompt: 'Ahoy?', output: '' });
  recordGeneration(lib, {
    runId: run.id,
    step: 2,
    kind: 'probe',
    prompt: 'Ahoy?',
    output: '',
    params: { emptyNote: note },
  });
  const r = await cli('runs', 'show', String(run.id));
  assert.equal(r.code, 0, r.err);
  const probes = r.out.slice(r.out.indexOf('  "Ahoy?"'));
  assert.ok(
    probes
      .replace(/\n {12}/g, ' ')
      .startsWith(`  "Ahoy?"\n    step 0  (empty answer)\n    step 2  (${note})`),
    probes,
  );
  const json = JSON.parse((await cli('runs', 'show', String(run.id), '--json')).out);
  assert.deepEqual(
    json.samples.map((s: { emptyNote: string | null }) => s.emptyNote),
    [null, note],
  );
});
