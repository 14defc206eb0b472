// A paused run answers, when it resumes, what its pause left unanswered, and nothing twice: a run
// resumed answers exactly as the run never paused, its adapter bit for bit the same. The pause's
// checkpoint answers none (a pause is prompt: the trainer saves and stops), and a resume took the
// answers before training for a fresh start's alone: a run probed every 3 steps, paused at step 9
// and resumed, had answers at 0, 3, 6, 12, 15 and none at 9; a run that keeps the best, paused at its
// last step or at an early stop's (off its probe steps), never gave its adapter's answers; resumed
// after its best step answered, it answered that step again. The backend with its engine in process
// (the CLI's), so that the pause lands at the step's report itself: real ORT, SQLite, the Llama fixture.

import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { InProcessEngine } from '../../electron/backend/jobs/engine.ts';
import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { WORDS } from '../training/helpers.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, writeJsonl } from './helpers.ts';

const root = tempDir('probe-resume');
const PROMPTS = ['Question 3?', 'Question 5?'];
let b: Backend;
let modelId: number;
let datasetId: number;
let wordsId: number;
const { call, settled } = inProcess(() => b);

before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false, engine: new InProcessEngine() });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
  // tests/training/keep-best.test.ts's data (each prompt its own completion): evaluated every step,
  // the held-out loss is lowest at step 7, and patience 3 stops the run at step 10.
  const words = join(root, 'words.jsonl');
  writeFileSync(
    words,
    WORDS.map((w, i) =>
      JSON.stringify({ prompt: `Tell me about the ${w}.`, completion: WORDS[(i * 7 + 3) % WORDS.length] }),
    ).join('\n'),
  );
  wordsId = (await call('datasets/import', { path: words })).dataset.id;
});
after(() => b.close());

/** Pauses `runId` from within the report of step `step` (before the trainer looks at its signal). */
const pauseAt = (runId: () => number, step: number) =>
  b.events.onAny((topic, data) => {
    const d = (data as { detail?: { event?: string; step?: number } | null }).detail;
    if (topic === 'jobs/progress' && d?.event === 'progress' && d.step === step) b.training.pause(runId());
  });

/** Starts a run of `params`, paused from within the report of step `at` (null: never): its id, and its record paused. */
async function startPausedAt(params: Record<string, unknown>, at: number | null) {
  let id = 0;
  const stop = at === null ? () => {} : pauseAt(() => id, at);
  id = (await call('runs/start', { modelId, ...params })).runId;
  if (at === null) return { id, paused: null };
  const paused = await settled(id, ['paused']);
  stop();
  assert.equal(paused.checkpoints.at(-1).step, at, `paused at step ${at}`);
  return { id, paused };
}

/** A run of 9 steps paused at step 6 and resumed to its end; its record, and its checkpoint at 6. */
async function pausedAt6(probe: { prompts: string[]; every: number; maxNewTokens: number } | undefined) {
  const { id, paused } = await startPausedAt(
    {
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
    },
    6,
  );
  // Kept aside: the run prunes its checkpoints.
  const at6 = join(root, `run-${id}-step-6`);
  cpSync(paused?.checkpoints.at(-1).path, at6, { recursive: true });
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

/** A run judged by its held-out loss (`options`), uninterrupted or paused at step `at` and resumed. */
async function judgedRun(options: Record<string, unknown>, at: number | null) {
  const { id } = await startPausedAt(
    {
      datasetId: wordsId,
      layers: '1;3',
      positions: 'f1+l1',
      rank: 4,
      lr: 0.05,
      batchSize: 4,
      seed: 3,
      evalSplit: 0.2,
      evalEvery: 1,
      checkpointEvery: 1,
      ...options,
    },
    at,
  );
  if (at !== null) await call('runs/resume', { id });
  const done = await settled(id, ['completed']);
  const samples = done.samples.map((s: { step: number; prompt: string; output: string }) => [
    s.step,
    s.prompt,
    s.output,
  ]);
  const adapter = readFileSync(
    join((await call('adapters/get', { id: done.adapterId })).path, 'adapter.safetensors'),
  );
  return { done, samples, adapter };
}

/** The run paused at `at` and resumed answers and ends exactly as the run never paused. */
async function answersAsUninterrupted(options: Record<string, unknown>, at: number, steps: number[]) {
  const whole = await judgedRun(options, null);
  assert.deepEqual(
    whole.samples.map((s: unknown[]) => s[0]),
    steps.flatMap((s) => [s, s]),
  );
  const resumed = await judgedRun(options, at);
  assert.deepEqual(resumed.samples, whole.samples);
  assert.deepEqual(resumed.adapter, whole.adapter);
  return whole.done;
}

test('a run that keeps the best, paused at its last step, answers as its adapter when it resumes', async () => {
  // 12 steps: the held-out loss is lowest at step 9, off the probe steps (every 4); the run's last
  // answers are step 9's, which a pause at step 12 left unanswered.
  const done = await answersAsUninterrupted(
    { maxSteps: 12, keepBest: true, probe: { prompts: PROMPTS, every: 4, maxNewTokens: 3 } },
    12,
    [0, 4, 8, 9],
  );
  assert.equal(done.best.step, 9);
});

test('a resumed run that keeps the best answers its best step once', async () => {
  // Step 9 answers at its own checkpoint (every 3); the run paused at step 10 ends at 12 with step
  // 9's parameters, whose answers are recorded already.
  await answersAsUninterrupted(
    { maxSteps: 12, keepBest: true, probe: { prompts: PROMPTS, every: 3, maxNewTokens: 3 } },
    10,
    [0, 3, 6, 9],
  );
});

test('a run paused where it stops early, off its probe steps, answers there when it resumes', async () => {
  // 30 steps, patience 3: the held-out loss is lowest at step 7 and the run stops at step 10.
  const probe = { prompts: PROMPTS, every: 3, maxNewTokens: 3 };
  // Its adapter is step 10's, and so are its last answers.
  await answersAsUninterrupted({ maxSteps: 30, earlyStoppingPatience: 3, probe }, 10, [0, 3, 6, 9, 10]);
  // Keeping the best: its adapter, and its last answers, are step 7's.
  await answersAsUninterrupted(
    { maxSteps: 30, earlyStoppingPatience: 3, keepBest: true, probe },
    10,
    [0, 3, 6, 7, 9],
  );
});

test('a run paused while it answers before training answers the rest when it resumes', async () => {
  // Paused at the base model's first answer: the run saves its checkpoint at step 0 before training.
  let id = 0;
  const stop = b.events.onAny((topic, data) => {
    const d = (data as { detail?: { event?: string; step?: number } | null }).detail;
    if (topic === 'jobs/progress' && d?.event === 'sample' && d.step === 0) b.training.pause(id);
  });
  const probe = { prompts: PROMPTS, every: 3, maxNewTokens: 3 };
  id = (
    await call('runs/start', { modelId, datasetId, layers: '1', rank: 2, maxSteps: 3, batchSize: 1, probe })
  ).runId;
  const paused = await settled(id, ['paused']);
  stop();
  assert.equal(paused.checkpoints.at(-1).step, 0, 'paused before its first step');
  assert.equal(paused.samples.length, 1, 'one answer before the pause');
  await call('runs/resume', { id });
  const done = await settled(id, ['completed']);
  assert.deepEqual(
    done.samples.map((s: { step: number; prompt: string }) => [s.step, s.prompt]),
    [0, 3].flatMap((step) => PROMPTS.map((p) => [step, p])),
  );
});

test('a run resumed with its checkpoints gone starts over, each probe step answered once', async () => {
  // Bug: a resume that finds no checkpoint (its folder deleted, or a crash before the first) trains
  // from step 0 again and answered every probe prompt again: the base model's answers (step 0) and
  // those of the steps it trains again were recorded twice.
  const probe = { prompts: PROMPTS, every: 3, maxNewTokens: 3 };
  const { id, paused } = await startPausedAt(
    { datasetId, layers: '1', rank: 2, maxSteps: 6, batchSize: 1, checkpointEvery: 3, probe },
    4,
  );
  assert.deepEqual(
    paused?.samples.map((s: { step: number }) => s.step),
    [0, 0, 3, 3],
  );
  for (const c of paused?.checkpoints ?? []) rmSync(c.path, { recursive: true });
  await call('runs/resume', { id });
  const done = await settled(id, ['completed']);
  assert.deepEqual(
    done.samples.map((s: { step: number; prompt: string }) => [s.step, s.prompt]),
    [0, 3, 6].flatMap((step) => PROMPTS.map((p) => [step, p])),
  );
});
