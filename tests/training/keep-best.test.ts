// "Keep the best" and early stopping on the llama fixture: a run whose held-out loss falls then
// rises (each prompt its own completion, so the held-out rows' completions are never learned) ends
// with the best evaluation's parameters and stops once patience runs out; a resume from any of its
// checkpoints (what a pause or a kill -9 leaves) ends with the same adapter at the same step; and
// both options are refused without held-out data, in the studio's and the CLI's words.

import assert from 'node:assert/strict';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Emit, trainTask } from '../../electron/backend/jobs/engine-tasks.ts';
import { CancelledError, ConfigError } from '../../native-runtime/errors.ts';
import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { readStudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { BEST_FILE } from '../../native-runtime/training/best-so-far.ts';
import {
  checkpointAdapter,
  listCheckpoints,
  readTrainerState,
  STATE_FILE,
} from '../../native-runtime/training/checkpoint.ts';
import { resolveTrainConfig, type TrainConfig } from '../../native-runtime/training/config.ts';
import type { ProbeSample } from '../../native-runtime/training/events.ts';
import { OptionError, TRAIN_DEFAULTS } from '../../native-runtime/training/options.ts';
import { type TrainProgress, train } from '../../native-runtime/training/trainer.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { llamaRun, tempDir, WORDS, writeJsonl } from './helpers.ts';

const dir = tempDir('reft-best-');
const rows = WORDS.map((w, i) => ({
  prompt: `Tell me about the ${w}.`,
  completion: WORDS[(i * 7 + 3) % WORDS.length],
}));
const data = writeJsonl(join(dir, 'd.jsonl'), rows);
// 16 training rows, 4 held out; evaluated every step. Measured: the held-out loss is lowest at step 7
// and not lower at 8, 9 and 10, where patience 3 stops the run (of 30 planned).
const base = llamaRun(data, {
  lr: 0.05,
  evalSplit: 0.2,
  evalEvery: 1,
  maxSteps: 30,
  keepBest: true,
  earlyStoppingPatience: 3,
});

/** Every tensor of an adapter folder, by intervention and name. */
function params(folder: string): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const iv of readStudioAdapter(folder).interventions)
    for (const [name, t] of Object.entries(iv.params)) out[`${iv.key}/${name}`] = t.data as Float32Array;
  return out;
}

describe('keep the best and early stopping', () => {
  let full: Awaited<ReturnType<typeof train>>;
  const logs: string[] = [];
  const ckDir = join(dir, 'full.checkpoints');

  it('ends with the best evaluation’s parameters and stops when patience runs out', async () => {
    const progress: TrainProgress[] = [];
    full = await train(
      { ...base, out: join(dir, 'full'), checkpointEvery: 1 },
      { onLog: (m) => logs.push(m), onProgress: (p) => progress.push(p) },
    );
    const evals = progress.map((p) => p.evalLoss as number);
    const lowest = Math.min(...evals);
    const bestStep = evals.indexOf(lowest) + 1;
    assert.equal(full.steps, 10);
    assert.equal(full.totalSteps, 30);
    assert.deepEqual(full.best, { step: bestStep, evalLoss: lowest });
    assert.ok(bestStep < full.steps, 'the best is not the last step');
    assert.equal(bestStep, 7);
    assert.equal(full.keptBest, true);
    assert.equal(full.evalLoss, evals.at(-1), "the result's eval loss is the last evaluation's");
    assert.match(
      full.stoppedEarly ?? '',
      new RegExp(
        `^the held-out loss has not improved for 3 evaluations since step 7 \\(${lowest.toFixed(4)}\\)$`,
      ),
    );
    assert.ok(logs.some((l) => l.startsWith('stopping early at step 10 of 30: the held-out loss')));
    assert.ok(logs.some((l) => l.startsWith("keeping the best: the adapter is step 7's")));
    // The adapter is step 7's parameters exactly: its checkpoint's (a checkpoint is an adapter folder).
    assert.deepEqual(params(full.adapter), params(join(ckDir, 'step-000007')));
    assert.notDeepEqual(params(full.adapter), params(join(ckDir, 'step-000010')));
    const { metrics } = readStudioAdapter(full.adapter).manifest;
    assert.equal(metrics.bestStep, 7);
    assert.equal(metrics.bestEvalLoss, lowest);
    assert.equal(metrics.evalLoss, lowest, "the adapter's held-out loss is its own step's");
    assert.equal(metrics.steps, 10);
    // The stop saved a checkpoint, carrying the best so far.
    const st = readTrainerState(join(ckDir, 'step-000010'));
    assert.deepEqual(st.best, { best: { step: 7, evalLoss: lowest }, sinceImproved: 3, precision: 'fp32' });
    assert.ok(existsSync(join(ckDir, 'step-000010', BEST_FILE)));
  });

  it('without keep the best, the adapter is the last step’s, and the run still stops early', async () => {
    const r = await train({ ...base, keepBest: false, out: join(dir, 'last') });
    assert.equal(r.steps, 10);
    assert.equal(r.keptBest, false);
    assert.equal(r.best?.step, 7);
    assert.deepEqual(params(r.adapter), params(join(ckDir, 'step-000010')));
  });

  // A checkpoint before the best, one after it with patience partly spent, and the stop's own.
  for (const at of [4, 8, 10]) {
    it(`resuming from step ${at} ends with the same adapter at the same step`, async () => {
      const ck = join(dir, `from-${at}.checkpoints`);
      const r = await train({
        ...base,
        out: join(dir, `from-${at}`),
        checkpointDir: ck,
        resumeFrom: join(ckDir, `step-${String(at).padStart(6, '0')}`),
      });
      assert.equal(r.steps, 10);
      assert.deepEqual(r.best, full.best);
      assert.equal(r.stoppedEarly, full.stoppedEarly);
      assert.deepEqual(params(r.adapter), params(full.adapter));
      assert.deepEqual(
        readStudioAdapter(r.adapter).manifest.metrics.bestEvalLoss,
        readStudioAdapter(full.adapter).manifest.metrics.bestEvalLoss,
      );
    });
  }

  it('a best kept from a session in another precision is labelled with that precision', async () => {
    // Bug: the adapter, and a checkpoint kept as one, were labelled with the last session's precision
    // though their parameters are the best evaluation's, trained in an earlier session: a run paused
    // on a GPU in bf16 and resumed on the CPU (fp32). This machine has no GPU: the step-8 checkpoint is
    // made the bf16 session's, as a CUDA session records it (its best found in bf16).
    const from = join(dir, 'from-gpu');
    cpSync(join(ckDir, 'step-000008'), from, { recursive: true });
    const st = readTrainerState(from);
    assert.equal(st.best?.precision, 'fp32', 'a checkpoint records the precision of its best');
    writeFileSync(join(from, STATE_FILE), JSON.stringify({ ...st, best: { ...st.best, precision: 'bf16' } }));
    const ck = join(dir, 'from-gpu.checkpoints');
    const r = await train({
      ...base,
      out: join(dir, 'from-gpu-out'),
      checkpointDir: ck,
      checkpointEvery: 1,
      resumeFrom: from,
    });
    assert.equal(r.device.precision, 'fp32');
    assert.equal(r.best?.step, 7);
    assert.equal(readStudioAdapter(r.adapter).manifest.precision, 'bf16', 'the kept best: its session’s');
    const last = listCheckpoints(ck).at(-1) as string;
    assert.equal(readStudioAdapter(last).manifest.precision, 'fp32', 'the checkpoint’s own parameters');
    assert.equal(
      checkpointAdapter(last).adapter.manifest.precision,
      'bf16',
      'the checkpoint kept as the adapter',
    );
  });

  it('a cancel mid-run, then a resume, ends like the run never paused', async () => {
    const ac = new AbortController();
    const out = join(dir, 'paused');
    await assert.rejects(
      train(
        { ...base, out },
        {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.step === 8) ac.abort();
          },
        },
      ),
      CancelledError,
    );
    const [ck] = listCheckpoints(`${out}.checkpoints`).slice(-1);
    assert.equal(readTrainerState(ck).step, 8);
    const r = await train({ ...base, out, resumeFrom: ck });
    assert.equal(r.steps, 10);
    assert.deepEqual(params(r.adapter), params(full.adapter));
  });

  /** The probe answers of the run `config` (checkpoints every 2 steps, probes every 4, unless told). */
  async function probed(config: TrainConfig, maxNewTokens = 2, every = 4) {
    const samples: ProbeSample[] = [];
    const emit = ((event: string, d: unknown) => {
      if (event === 'sample') samples.push(d as ProbeSample);
    }) as Emit<'train'>;
    const res = await trainTask(
      {
        config: { checkpointEvery: 2, ...config },
        probe: { prompts: [PROBE], every, maxNewTokens },
      },
      emit,
      new AbortController().signal,
    );
    return { res, samples };
  }
  const PROBE = 'Tell me about the cat.';

  it('answers the probe prompts at the step an early stop ends the run', async () => {
    // At 4 and 8, then at 10, where patience runs out, as at a run's last step.
    const { res, samples } = await probed({ ...base, keepBest: false, out: join(dir, 'probed') });
    assert.equal(res.steps, 10);
    assert.deepEqual(
      samples.map((s) => s.step),
      [0, 4, 8, 10],
    );
  });

  it('keeping the best, the last answers are the adapter’s: the best step’s, recorded at it', async () => {
    const out = join(dir, 'probed-best');
    const { res, samples } = await probed({ ...base, out }, 8);
    assert.equal(res.steps, 10);
    // Step 10's checkpoint answers with step 7's parameters (its adapter), not step 10's.
    assert.deepEqual(
      samples.map((s) => s.step),
      [0, 4, 8, 7],
    );
    const answer = async (adapter: string) => {
      const runner = await ModelRunner.load(modelDir('llama'), adapter);
      try {
        const [a] = await runner.generate([PROBE], { maxNewTokens: 8, greedy: true });
        return a?.text;
      } finally {
        await runner.release();
      }
    };
    const adapters = await answer(out);
    assert.equal(samples.at(-1)?.output, adapters);
    // Measured: step 10's own parameters answer otherwise, so the check tells them apart.
    assert.notEqual(await answer(join(`${out}.checkpoints`, 'step-000010')), adapters);
  });

  it('keeping the best, a best step answered at its own checkpoint is not answered twice', async () => {
    const { samples } = await probed({ ...base, out: join(dir, 'probed-7'), checkpointEvery: 1 }, 2, 7);
    assert.deepEqual(
      samples.map((s) => s.step),
      [0, 7],
    );
  });

  it('a resume must agree on both options, and on when it evaluates', async () => {
    const ck = join(ckDir, 'step-000004');
    for (const [o, what] of [
      [{ keepBest: false }, /keepBest was true, now false/],
      [{ earlyStoppingPatience: 5 }, /earlyStoppingPatience was 3, now 5/],
      [{ evalEvery: 2 }, /evalEvery was 1, now 2/],
    ] as const)
      await assert.rejects(train({ ...base, ...o, out: join(dir, 'x'), resumeFrom: ck }), (e: Error) => {
        return e instanceof ConfigError && e.code === 'checkpoint-mismatch' && what.test(e.message);
      });
  });
});

describe('the options without held-out data', () => {
  const spec = loadModelSpec(modelDir('llama'));
  const cfg = (o: Partial<TrainConfig>): TrainConfig => ({
    model: modelDir('llama'),
    data,
    out: join(dir, 'o'),
    ...o,
  });

  it('are off by default', () => {
    assert.equal(TRAIN_DEFAULTS.keepBest, false);
    assert.equal(TRAIN_DEFAULTS.earlyStoppingPatience, 0);
  });

  it('are refused naming the option, in the studio’s and the command line’s words', () => {
    for (const [o, field, studio, cli] of [
      [
        { keepBest: true },
        'keepBest',
        'Keep the best needs held-out data to measure the loss on: under Validation (Model & data), hold out rows or choose another version',
        '--keep-best needs held-out data to measure the loss on: give --eval-split X or --eval-data FILE',
      ],
      [
        { earlyStoppingPatience: 2 },
        'earlyStoppingPatience',
        'Stop without improvement needs held-out data to measure the loss on: under Validation (Model & data), hold out rows or choose another version',
        '--early-stopping-patience needs held-out data to measure the loss on: give --eval-split X or --eval-data FILE',
      ],
    ] as const) {
      assert.throws(
        () => resolveTrainConfig(cfg(o), spec),
        (e: unknown) =>
          e instanceof OptionError &&
          e.field === field &&
          e.code === 'needs-held-out' &&
          e.message === studio &&
          e.forCli().message === cli,
      );
    }
  });

  it('are taken with a held-out fraction or evaluation data', () => {
    const on = { keepBest: true, earlyStoppingPatience: 2 };
    assert.equal(resolveTrainConfig(cfg({ ...on, evalSplit: 0.2 }), spec).keepBest, true);
    assert.equal(resolveTrainConfig(cfg({ ...on, evalData: data }), spec).earlyStoppingPatience, 2);
    // Off (false, 0) needs nothing.
    assert.equal(
      resolveTrainConfig(cfg({ keepBest: false, earlyStoppingPatience: 0 }), spec).keepBest,
      false,
    );
  });
});
