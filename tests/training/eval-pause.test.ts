// A pause that lands during an evaluation (a large held-out part takes minutes, and a run that does
// not judge its best stops it at once) leaves the checkpoint's step without its held-out loss. The
// resume evaluates there before its first step, so the run reports and records the losses of the run
// never paused: before, the step's point was missing from its curve and, paused at the last step,
// its adapter's `evalLoss` was an earlier step's. Real ORT on the llama fixture; the pause is an
// abort at the evaluation's first batch.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CancelledError } from '../../native-runtime/errors.ts';
import { listCheckpoints } from '../../native-runtime/training/checkpoint.ts';
import { ReftModel } from '../../native-runtime/training/reft-model.ts';
import { type TrainProgress, train } from '../../native-runtime/training/trainer.ts';
import { llamaRun, tempDir, WORDS, writeJsonl } from './helpers.ts';

const dir = tempDir('reft-eval-pause-');
const data = writeJsonl(
  join(dir, 'd.jsonl'),
  WORDS.map((w, i) => ({ prompt: `Tell me about the ${w}.`, completion: WORDS[(i * 7 + 3) % WORDS.length] })),
);
// 4 rows held out, evaluated in 2 batches at steps 3 and 6.
const base = llamaRun(data, { evalSplit: 0.2, evalEvery: 3, maxSteps: 6, batchSize: 2 });

/** The held-out losses reported, by step. */
const evals = (progress: TrainProgress[]) =>
  progress.filter((p) => p.evalLoss !== undefined).map((p) => [p.step, p.evalLoss]);

/** Trains `name`, paused in the evaluation of step `at`, then resumed: its reports and adapter. */
async function pausedInEvaluation(name: string, at: number) {
  const progress: TrainProgress[] = [];
  const cfg = { ...base, out: join(dir, name), checkpointDir: join(dir, `${name}.checkpoints`) };
  const ac = new AbortController();
  let steps = 0;
  const forward = ReftModel.prototype.forward;
  // Only evaluations call forward (training steps call lossAndGrads).
  ReftModel.prototype.forward = function (batch) {
    if (steps === at - 1) ac.abort();
    return forward.call(this, batch);
  };
  try {
    await assert.rejects(
      train(cfg, {
        signal: ac.signal,
        onProgress: (p) => {
          steps = p.step;
          progress.push(p);
        },
      }),
      CancelledError,
    );
  } finally {
    ReftModel.prototype.forward = forward;
  }
  const ckpt = listCheckpoints(cfg.checkpointDir).at(-1)!;
  assert.match(ckpt, new RegExp(`step-0*${at}$`), `paused at step ${at}`);
  const result = await train({ ...cfg, resumeFrom: ckpt }, { onProgress: (p) => progress.push(p) });
  return { progress, result };
}

test('a run paused during an evaluation evaluates there when it resumes', async () => {
  const progress: TrainProgress[] = [];
  const whole = await train({ ...base, out: join(dir, 'whole') }, { onProgress: (p) => progress.push(p) });
  assert.deepEqual(
    evals(progress).map(([s]) => s),
    [3, 6],
  );
  const manifest = (out: string) => JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).metrics;
  for (const at of [3, 6]) {
    const paused = await pausedInEvaluation(`at-${at}`, at);
    assert.deepEqual(evals(paused.progress), evals(progress), `paused at ${at}: the same held-out losses`);
    assert.equal(paused.result.evalLoss, whole.evalLoss);
    assert.equal(manifest(paused.result.adapter).evalLoss, manifest(whole.adapter).evalLoss);
    assert.deepEqual(
      readFileSync(join(paused.result.adapter, 'adapter.safetensors')),
      readFileSync(join(whole.adapter, 'adapter.safetensors')),
    );
  }
});
