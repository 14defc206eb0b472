// A run paused at a probe step answers that step's probe prompts when it resumes. The pause's
// checkpoint answers none (a pause is prompt: the trainer saves and stops), and a resume took the
// answers before training for a fresh start's alone: a run probed every 3 steps, paused at step 9
// and resumed, had answers at 0, 3, 6, 12, 15 and none at 9. The backend with its engine in process
// (the CLI's), so that the pause lands at the step's report itself: real ORT, SQLite, the Llama fixture.

import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { InProcessEngine } from '../../electron/backend/jobs/engine.ts';
import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('probe-resume');
const PROMPTS = ['Question 3?', 'Question 5?'];
let b: Backend;
let modelId: number;
let datasetId: number;
const { call } = inProcess(() => b);

before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false, engine: new InProcessEngine() });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(() => b.close());

const settled = (id: number, states: string[]) =>
  waitFor(`run ${id} to settle`, async () => {
    await b.jobs.idle();
    const r = await call('runs/get', { id });
    return states.includes(r.status) ? r : null;
  });

/** Pauses `runId` from within the report of step `step` (before the trainer looks at its signal). */
const pauseAt = (runId: () => number, step: number) =>
  b.events.onAny((topic, data) => {
    const d = (data as { detail?: { event?: string; step?: number } | null }).detail;
    if (topic === 'jobs/progress' && d?.event === 'progress' && d.step === step) b.training.pause(runId());
  });

/** A run of 9 steps paused at step 6 and resumed to its end; its record, and its checkpoint at 6. */
async function pausedAt6(probe: { prompts: string[]; every: number; maxNewTokens: number } | undefined) {
  let id = 0;
  const stop = pauseAt(() => id, 6);
  const run = await call('runs/start', {
    modelId,
    datasetId,
    layers: '1',
    rank: 2,
    positions: 'f1+l1',
    lr: 0.02,
    dropout: 0.1,
    maxSteps: 9,
    batchSize: 1,
    checkpointEvery: 3,
    ...(probe ? { probe } : {}),
  });
  id = run.runId;
  const paused = await settled(id, ['paused']);
  stop();
  const checkpoint = paused.checkpoints.at(-1);
  assert.equal(checkpoint.step, 6, 'paused at step 6');
  // Kept aside: the run prunes its checkpoints.
  const at6 = join(root, `run-${id}-step-6`);
  cpSync(checkpoint.path, at6, { recursive: true });
  await call('runs/resume', { id });
  return { done: await settled(id, ['completed']), at6 };
}

test('a run paused at a probe step answers its probes there when it resumes', async () => {
  const probe = { prompts: PROMPTS, every: 3, maxNewTokens: 3 };
  const { done, at6 } = await pausedAt6(probe);
  assert.deepEqual(
    done.samples.map((s: { step: number }) => s.step),
    [0, 0, 3, 3, 6, 6, 9, 9],
  );
  const logs: { text: string }[] = await call('runs/logs', { id: done.id });
  assert.deepEqual(
    logs.filter((l) => /failed/.test(l.text)),
    [],
  );
  // Step 6's answers are its checkpoint's adapter's, as a session of its own writes them.
  const own = await ModelRunner.load(LLAMA_FIXTURE, at6);
  try {
    const answers = await own.generate(PROMPTS, { maxNewTokens: 3, greedy: true });
    assert.deepEqual(
      done.samples.filter((s: { step: number }) => s.step === 6).map((s: { output: string }) => s.output),
      answers.map((a) => a.text),
    );
  } finally {
    await own.release();
  }
  // The answers leave the training as it was: the adapter of a run without probes, paused alike.
  const plain = await pausedAt6(undefined);
  const adapterPath = async (id: number) => (await call('adapters/get', { id })).path;
  const bytes = async (id: number) => readFileSync(join(await adapterPath(id), 'adapter.safetensors'));
  assert.deepEqual(await bytes(done.adapterId), await bytes(plain.done.adapterId));
});
