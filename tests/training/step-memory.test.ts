// A CPU training step that cannot fit in the computer's memory, even replaying layers, is refused
// before the weights are loaded (training/recompute.ts stepMemoryIssue, trainer.ts
// refuseStepOverMemory), naming the batch that would fit: on Linux such a run was otherwise started
// and killed by the OOM killer minutes later, with no message. Sizes are given, never measured.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { failureRemedy } from '../../electron/backend/library/run-failures.ts';
import { syntheticShape } from '../../native-runtime/bench/synthetic.ts';
import { ConfigError } from '../../native-runtime/errors.ts';
import { MEMORY_CHECK_HINT } from '../../native-runtime/runtime/memory-check.ts';
import { prepareModel } from '../../native-runtime/runtime/precision.ts';
import { runsOnCuda, runsOnWebgpu } from '../../native-runtime/runtime/session.ts';
import {
  hostStepProblem,
  stepActivationBytes,
  stepMemoryIssue,
} from '../../native-runtime/training/recompute.ts';
import { prepareRun, refuseStepOverMemory } from '../../native-runtime/training/trainer.ts';
import { setEnvFor } from '../helpers/env.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { constantRows, llamaRun, tempDir, writeJsonl } from './helpers.ts';

const GB = 1e9;
const tinyllama = syntheticShape('tinyllama-1.1b');
const f32Weights = 4.4 * GB;

test('TinyLlama in float32 on a 25 GB computer: 4 × 512 fits, 64 × 512 is refused with the batch that fits', () => {
  const at = (batch: number, tokens: number, memory = 25.3 * GB) =>
    stepMemoryIssue(tinyllama, memory, { batch, tokens, weightsBytes: f32Weights })?.cli ?? null;
  assert.equal(at(4, 512), null);
  const why = at(64, 512) ?? '';
  assert.match(why, /^a training step of 64 × 512 tokens needs about \d+\.\d GB \(4\.4 GB of weights\)/);
  assert.match(why, /more than this computer's 25\.3 GB of memory can hold/);
  // The same way out as the weights' refusal (runtime/precision.ts): one wording of the switch.
  assert.ok(why.endsWith(` ${MEMORY_CHECK_HINT}`), why);
  const max = Number(/at most (\d+)/.exec(why)?.[1]);
  // The batch it names fits, one more does not.
  assert.equal(at(max, 512), null);
  assert.notEqual(at(max + 1, 512), null);
  // Not even one sequence beside the weights: a shorter length or a quantized base.
  assert.match(at(1, 2048, 5 * GB) ?? '', /use a shorter maximum length or a quantized base/);
  // A base quantized already is not offered quantizing again.
  const quantized = stepMemoryIssue(tinyllama, 3 * GB, {
    batch: 1,
    tokens: 2048,
    weightsBytes: 1.3 * GB,
    quantized: { loadBytes: 0, stepBytes: 0 },
  })?.cli;
  assert.match(quantized ?? '', /use a shorter maximum length or a smaller model/);
});

test('the run estimate and the check count the same activations (logits included)', () => {
  const w = { batch: 2, tokens: 64 };
  const withoutLogits = stepActivationBytes({ ...tinyllama, vocabSize: 0 }, w, true);
  assert.equal(stepActivationBytes(tinyllama, w, true) - withoutLogits, 4 * 2 * 64 * 3 * 32000);
  assert.ok(stepActivationBytes(tinyllama, w, false) > stepActivationBytes(tinyllama, w, true));
});

test("the trainer judges a run at its longest example, on the CPU, and says a new run's settings must change", async (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const dir = tempDir('step-memory-');
  const data = writeJsonl(join(dir, 'd.jsonl'), constantRows('yes'));
  const run = await prepareRun({ ...llamaRun(data, { maxLength: 256 }), out: join(dir, 'out') });
  const longest = Math.max(...run.train.slice(0, run.train.length).map((e) => e.ids.length));
  assert.ok(longest < 256);
  const workload = { batch: 4, tokens: 256 };
  const tooLarge = (e: unknown) =>
    e instanceof ConfigError &&
    e.code === 'batch-too-large' &&
    e.message.startsWith(`a training step of 4 × ${longest} tokens`);
  await assert.rejects(refuseStepOverMemory(run, workload, 1e6), tooLarge);
  await refuseStepOverMemory(run, workload, 64 * GB);
  // Judged where the sessions will really run: a GPU run lives in the GPU's memory, not judged
  // here; 'cuda' without the runtime pack and 'auto' without a GPU fall back to the CPU and are.
  for (const device of ['cuda', 'auto'] as const) {
    const on = { ...run, config: { ...run.config, device } };
    if (await runsOnCuda(device)) await refuseStepOverMemory(on, workload, 1e6);
    else if (device === 'cuda' || !(await runsOnWebgpu(device)))
      await assert.rejects(refuseStepOverMemory(on, workload, 1e6), tooLarge, device);
  }
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', '0');
  await refuseStepOverMemory(run, workload, 1e6);
  // Resuming the run would be refused the same way: its batch and length are frozen.
  assert.equal(failureRemedy('batch-too-large'), 'change-settings');
});

test('the step is judged before the base is converted, on the form the run will train on', async (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const dir = tempDir('step-memory-');
  const dataDir = join(dir, 'data');
  const data = writeJsonl(join(dir, 'd.jsonl'), constantRows('yes'));
  // A bf16 checkpoint trains on the CPU from a float32 store: a conversion (minutes for a large model).
  const run = await prepareRun({
    ...llamaRun(data, { model: modelDir('llama-bf16') }),
    out: join(dir, 'out'),
  });
  const workload = { batch: 4, tokens: 256 };
  const forms: string[] = [];
  const prepare = (quantize: string, memory: number) =>
    prepareModel(run.spec, {
      quantize,
      device: 'cpu',
      dataDir,
      training: true,
      totalMemory: 64 * GB,
      beforeBase: (form) => {
        forms.push(form);
        return refuseStepOverMemory(run, workload, memory, form);
      },
    });
  await assert.rejects(prepare('none', 1e6), { code: 'batch-too-large' });
  // Refused before anything was written: the conversion never started.
  assert.equal(existsSync(join(dataDir, 'bases')), false);
  await assert.rejects(prepare('int8', 1e6), { code: 'batch-too-large' });
  assert.equal(existsSync(join(dataDir, 'bases')), false);
  // The scheme's own name, blocks included: int4-b16's scales weigh twice int4's (block 32).
  await assert.rejects(prepare('int4-b16', 1e6), { code: 'batch-too-large' });
  assert.deepEqual(forms, ['none', 'int8-b32', 'int4-b16']);
  // With room, the same call converts the base and goes on.
  assert.equal((await prepare('none', 64 * GB)).base?.form, 'fp32');
});

test('the step check weighs a block-spelled base as its blocks, as the run estimate does', (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  // TinyLlama at int4 with 16-weight blocks: more scale bytes than int4's 32-weight blocks. A memory
  // between the two forms' needs is refused for int4-b16 and not for int4 (block 32).
  const spec = { ...tinyllama, tieEmbeddings: false };
  const w = { batch: 1, tokens: 512 };
  const fits = (form: string, memory: number) => hostStepProblem(spec, form, memory, w) === null;
  let lo = 1 * GB;
  let hi = 8 * GB;
  while (hi - lo > 1e6) {
    const mid = (lo + hi) / 2;
    if (fits('int4-b16', mid)) hi = mid;
    else lo = mid;
  }
  assert.equal(fits('int4-b16', lo), false);
  assert.equal(fits('int4', lo), true, 'int4 (block 32) needs less than int4-b16');
});
