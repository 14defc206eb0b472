// A memory refusal is one rule (runtime/precision.ts), worded for where the user is: the Playground
// and the studio's evaluations name the model's Base weights (Models page) and Settings' Device; a
// studio run the engine itself refuses names the Train wizard's fields; the command line names its
// flags and REFT_STUDIO_MEMORY_CHECK=0, in one line. What is refused up front is never recorded:
// `reft-studio train` leaves no run (nor the model and data it would have added), an evaluation —
// the CLI's or the studio's — no failed evaluation. The model is run-memory-check.test.ts's sparse
// Llama whose float32 weights outgrow this computer; it is only ever refused, never loaded.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { importDatasetFile } from '../../electron/backend/library/dataset-import.ts';
import { closeLibrary, type Library, openLibrary } from '../../electron/backend/library/library.ts';
import { addModel, setModelQuantize } from '../../electron/backend/library/models.ts';
import { createRecordedRun, planRun, type RunParams } from '../../electron/backend/library/run-plan.ts';
import { setRunStatus } from '../../electron/backend/library/runs.ts';
import { MEMORY_CHECK_HINT } from '../../native-runtime/runtime/memory-check.ts';
import { adapterFor, sparseLlama } from '../helpers/models.ts';
import { cliJson, inProcess, runCli, tempDir, waitFor } from './helpers.ts';

const root = tempDir('memory-refusal-words');
// float32 weights ~1.3 × this computer's memory (more than the 90% they may take); int8 and int4 fit.
const layers = Math.ceil((1.3 * totalmem() - 1.05e9) / 0.81e9);
const model = sparseLlama(root, layers);
const data = join(root, 'd.jsonl');
writeFileSync(data, '{"prompt":"Is it?","completion":"Yes."}\n{"prompt":"Is it not?","completion":"No."}\n');

const WEIGHTS =
  /^this model's weights take .* in float32 on the CPU, more than this computer's .* of memory can hold: /;
const CLI_WORDS = /--quantize|REFT_STUDIO_MEMORY_CHECK/;

/**
 * A run on the model in float32 recorded as runs/start did before it asked the memory check (as if
 * the computer's memory changed since), paused: resuming it is the engine's own start.
 */
function recordedRun(lib: Library, modelId: number, datasetId: number): number {
  // With probe prompts: they answer on the training session and load nothing, so the refusal is the run's alone.
  const probe = { prompts: ['Is it?'], every: 1 };
  const p = { modelId, datasetId, quantize: 'none', device: 'cpu', maxSteps: 1, probe } as RunParams;
  const { id } = createRecordedRun(lib, planRun(lib, p, {}));
  setRunStatus(lib, id, 'paused');
  return id;
}

let b: Backend;
const { call, callError } = inProcess(() => b);
let modelId: number;
let datasetId: number;
let adapterId: number;
before(async () => {
  b = createBackend(join(root, 'studio'), { seedDemo: false });
  modelId = (await call('models/add', { path: model })).id;
  // The Playground and evaluations use the model's own setting: float32, which cannot fit.
  await call('models/setQuantize', { id: modelId, quantize: 'none' });
  datasetId = (await call('datasets/import', { path: data })).dataset.id;
  adapterId = (await call('adapters/import', { path: adapterFor(model, join(root, 'adapter')) })).adapter.id;
});
after(() => b.close());

test('the Playground: the model’s Base weights and Settings’ Device, not the CLI’s flags', async () => {
  const e = await callError('generate/run', { modelId, prompt: 'Is it?', maxNewTokens: 2 });
  assert.equal(e.code, 'model-too-large');
  assert.match(e.message, WEIGHTS);
  assert.match(
    e.message,
    /choose int8 \(.*\) or int4 \(.*\) as the model's Base weights on the Models page, or a GPU as the Device in Settings$/,
  );
  assert.doesNotMatch(e.message, CLI_WORDS);
});

test('a studio evaluation: refused in the same words before it is recorded', async () => {
  const e = await callError('evaluations/run', { adapterId, datasetId, kind: 'loss' });
  assert.equal(e.code, 'model-too-large');
  assert.match(
    e.message,
    /as the model's Base weights on the Models page, or a GPU as the Device in Settings$/,
  );
  assert.deepEqual(await call('evaluations/list', { adapterId }), [], 'no failed evaluation');
});

test('a studio run the engine itself refuses: its error names the Train wizard’s fields', async () => {
  const id = recordedRun(b.lib, modelId, datasetId);
  await call('runs/resume', { id });
  const run = await waitFor('the run to fail', async () => {
    const r = await call('runs/get', { id });
    return r.status === 'failed' && r;
  });
  assert.match(run.error, WEIGHTS);
  assert.match(run.error, /choose int8 \(.*\) or int4 \(.*\) as base weights, or a GPU as the device$/);
  assert.doesNotMatch(run.error, CLI_WORDS);
  // Its probe prompts answer on the training session: refused before it opens, they run not at all
  // and add no second refusal (they once did, in the Playground's or the run's words).
  const logs: { text: string }[] = await call('runs/logs', { id });
  assert.deepEqual(
    logs.filter((l) => l.text.startsWith('probe ')),
    [],
  );
});

test('reft-studio train: refused before a run is recorded, in one line of the CLI’s words (exit 1)', async () => {
  const dir = join(root, 'cli-train');
  const r = await runCli(
    ['train', '--model', model, '--data', data, '--quantize', 'none', '--device', 'cpu'],
    {
      REFT_STUDIO_HOME: dir,
    },
  );
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: this model's weights take .* in float32 on the CPU/);
  assert.match(lines[0], /\(the model's setting on the Models page, or --quantize\), or a GPU/);
  assert.ok(lines[0].endsWith(` ${MEMORY_CHECK_HINT}`), lines[0]);
  // Nothing left behind: no run, nor the model and dataset the command would have added.
  assert.deepEqual(await cliJson(dir, 'runs', 'list'), { runs: [] });
  const models = (await cliJson(dir, 'models', 'list')).models;
  assert.ok(
    models.every((m: { path: string }) => m.path !== model),
    'the model was not added',
  );
  const datasets = (await cliJson(dir, 'datasets', 'list')).datasets;
  assert.ok(
    datasets.every((d: { name: string }) => d.name !== 'd'),
    'the data was not imported',
  );
});

test('reft-studio runs resume: the engine’s refusal stored and said in the CLI’s words', async () => {
  const dir = join(root, 'cli-resume');
  const lib = openLibrary(dir);
  let id: number;
  try {
    const m = addModel(lib, { path: model });
    setModelQuantize(lib, m.id, 'none');
    const { dataset } = await importDatasetFile(lib, { path: data });
    id = recordedRun(lib, m.id, dataset.id);
  } finally {
    closeLibrary(lib);
  }
  const r = await runCli(['runs', 'resume', String(id), '--data-dir', dir]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /^error: this model's weights take .*\(REFT_STUDIO_MEMORY_CHECK=0 skips this check\)/m,
  );
  // `runs resume` has no --quantize nor --device: the run keeps the form and device it was started
  // with, so the line says how a new run changes them.
  const RUN_WORDS =
    /: choose int8 \(.*\) or int4 \(.*\) weights in a new run \(`reft-studio train … --quantize`\), or a GPU in a new run \(`reft-studio train … --device`\) \(REFT_STUDIO_MEMORY_CHECK/;
  assert.match(r.stderr, RUN_WORDS);
  // Resuming would be refused alike (the form is frozen with the run): no resume offered.
  assert.doesNotMatch(r.stderr, /once that is put right/);
  assert.match(r.stderr, /resuming would fail the same way/);
  const shown = await cliJson(dir, 'runs', 'show', String(id));
  assert.match(shown.error, WEIGHTS);
  assert.match(shown.error, RUN_WORDS);
  assert.ok(shown.error.endsWith(` ${MEMORY_CHECK_HINT}`), shown.error);
  // The probe prompts, which answer on the training session and load nothing, add no refusal of their own.
  const { lines } = await cliJson(dir, 'runs', 'logs', String(id));
  assert.deepEqual(
    lines.filter((l: { text: string }) => l.text.startsWith('probe ')),
    [],
  );
});

test('reft-studio generate: one line in the CLI’s words', async () => {
  const gen = await runCli(['generate', '--model', model, '--prompt', 'Is it?', '--quantize', 'none']);
  assert.equal(gen.code, 1, gen.stderr);
  assert.equal(gen.stderr.trimEnd().split('\n').length, 1, gen.stderr);
  assert.match(gen.stderr, /^error: this model's weights take .*or --quantize\), or a GPU /);
  assert.ok(gen.stderr.trimEnd().endsWith(MEMORY_CHECK_HINT), gen.stderr);
});

test('reft-studio evaluate: one line in the CLI’s words, before an evaluation is recorded', async () => {
  // The studio's library: the adapter's model there holds float32 as its Base weights.
  const dir = join(root, 'studio');
  const ev = await runCli([
    'evaluate',
    '--adapter',
    String(adapterId),
    '--data',
    String(datasetId),
    '--data-dir',
    dir,
  ]);
  assert.equal(ev.code, 1, ev.stderr);
  assert.equal(ev.stderr.trimEnd().split('\n').length, 1, ev.stderr);
  // evaluate has no --quantize and no command sets a model's Base weights: it names what the user
  // can do, the studio's Models page and evaluate's own --device.
  assert.match(
    ev.stderr,
    /^error: this model's weights take .*: choose int8 \(.*\) or int4 \(.*\) as the model's Base weights \(on the Models page of the studio or `reft-studio serve`\), or a GPU with --device /,
  );
  assert.doesNotMatch(ev.stderr, /--quantize/);
  assert.ok(ev.stderr.trimEnd().endsWith(MEMORY_CHECK_HINT), ev.stderr);
  assert.deepEqual(await call('evaluations/list', { adapterId }), [], 'no failed evaluation');
});
