// A run's probe prompts answer at its checkpoints on the training session itself, not on a second
// session of the model. A second session holds the weights again: ONNX Runtime maps every external
// initializer per session (RSS counts them twice), and a quantized base pre-packs per session — at
// TinyLlama's shape in int8, the probes' session added 1.47 GB of private memory beside the
// training session's 2.69 GB. The answers before training (step 0, the base model's) had a session
// of their own too, released before the training session opened (the model loaded twice); they now
// run on the training session once open, its interventions given no positions. Counted here as
// the ONNX Runtime sessions a run with probes creates (a machine under load cannot fail it): the
// training session alone. The answers must stay those of the base and of the checkpoint's adapter
// on a session of their own, dropout's masks included, and the run must train bit for bit as one
// without probes. Real ORT, the Llama fixture.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Emit, trainTask } from '../../electron/backend/jobs/engine-tasks.ts';
import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { ort } from '../../native-runtime/runtime/session.ts';
import type { ProbeSample } from '../../native-runtime/training/events.ts';
import { train } from '../../native-runtime/training/trainer.ts';
import { constantRows, llamaRun, tempDir, writeJsonl } from './helpers.ts';

const PROMPTS = ['Tell me about the cat.', 'Tell me about the zebra.'];

test("probe prompts answer on the run's training session: no second session of the model", async () => {
  const dir = tempDir('probe-session-');
  const data = writeJsonl(join(dir, 'ok.jsonl'), constantRows('ok'));
  const config = {
    ...llamaRun(data, { maxSteps: 3, checkpointEvery: 1, lr: 2e-2, dropout: 0.1 }),
    out: join(dir, 'adapter'),
  };
  const samples: ProbeSample[] = [];
  const logs: string[] = [];
  let sessions = 0;
  const create = ort.InferenceSession.create;
  ort.InferenceSession.create = ((...args: Parameters<typeof create>) => {
    sessions++;
    return create.apply(ort.InferenceSession, args);
  }) as typeof create;
  const emit = ((event: string, d: unknown) => {
    if (event === 'sample') samples.push(d as ProbeSample);
    if (event === 'log') logs.push((d as { message: string }).message);
  }) as Emit<'train'>;
  try {
    await trainTask(
      { config, probe: { prompts: PROMPTS, every: 1, maxNewTokens: 4 } },
      emit,
      new AbortController().signal,
    );
  } finally {
    ort.InferenceSession.create = create;
  }
  assert.deepEqual(
    logs.filter((l) => /failed/.test(l)),
    [],
  );
  assert.deepEqual(
    samples.map((s) => s.step),
    [0, 0, 1, 1, 2, 2, 3, 3],
  );
  assert.equal(sessions, 1, 'sessions: the training session alone');

  // The answers before training are the base model's, as a session of its own writes them.
  const base = await ModelRunner.load(config.model, null);
  try {
    const answers = await base.generate(PROMPTS, { maxNewTokens: 4, greedy: true });
    assert.deepEqual(
      samples.filter((s) => s.step === 0).map((s) => s.output),
      answers.map((a) => a.text),
    );
  } finally {
    await base.release();
  }

  // The last checkpoint's answers are the trained adapter's, as a session of its own writes them.
  const own = await ModelRunner.load(config.model, config.out);
  try {
    const answers = await own.generate(PROMPTS, { maxNewTokens: 4, greedy: true });
    assert.deepEqual(
      samples.filter((s) => s.step === 3).map((s) => s.output),
      answers.map((a) => a.text),
    );
  } finally {
    await own.release();
  }
});

test('a run with probe prompts trains exactly as one without: parameters, optimizer state, held-out loss', async () => {
  // The probes generate on the training session between steps: they must leave its parameters,
  // the optimizer and dropout's masks (a function of seed and step) as they were.
  const dir = tempDir('probe-parity-');
  const data = writeJsonl(join(dir, 'ok.jsonl'), constantRows('ok'));
  const config = (name: string) => ({
    ...llamaRun(data, {
      maxSteps: 4,
      checkpointEvery: 2,
      lr: 2e-2,
      dropout: 0.2,
      evalSplit: 0.2,
      evalEvery: 1,
    }),
    out: join(dir, name),
  });
  const probed = await trainTask(
    { config: config('probed'), probe: { prompts: PROMPTS, every: 2, maxNewTokens: 4 } },
    (() => {}) as Emit<'train'>,
    new AbortController().signal,
  );
  const plain = await train(config('plain'));
  const bytes = (folder: string, file: string) => readFileSync(join(folder, file));
  assert.equal(probed.evalLoss, plain.evalLoss);
  assert.deepEqual(bytes(probed.adapter, 'adapter.safetensors'), bytes(plain.adapter, 'adapter.safetensors'));
  for (const step of ['step-000002', 'step-000004'])
    assert.deepEqual(
      bytes(`${probed.adapter}.checkpoints/${step}`, 'optimizer.safetensors'),
      bytes(`${plain.adapter}.checkpoints/${step}`, 'optimizer.safetensors'),
    );
});
