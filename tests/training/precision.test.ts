// --dtype (runtime/precision.ts): which dtype the graphs compute in, and training in half precision.
// auto keeps a half checkpoint half only on CUDA (not here: no GPU) and an fp16 one on WebGPU with
// float16 shaders (tests/runtime/webgpu.test.ts), so this machine checks the decision itself, the refusal of bfloat16 without CUDA, the float32 fallback when CUDA does not start,
// and a real float16 run on the CPU against the same run in float32 (the CPU has float16 kernels,
// slow ones) — the graphs CUDA would run.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../native-runtime/errors.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { computeDtype } from '../../native-runtime/runtime/precision.ts';
import { cudaReachable } from '../../native-runtime/runtime/session.ts';
import { DTYPE_OPTION_CHOICES, optionIssues } from '../../native-runtime/training/options.ts';
import { ReftModel } from '../../native-runtime/training/reft-model.ts';
import { train } from '../../native-runtime/training/trainer.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { constantRows, llamaRun, tempDir, writeJsonl } from './helpers.ts';

const dir = tempDir();
const bf16 = loadModelSpec(modelDir('llama-bf16'));
const fp32 = loadModelSpec(modelDir('llama'));
const inPlace = { ...bf16, base: { form: 'bf16', scheme: null, dir: null } } as typeof bf16;
const stored = { ...bf16, base: { form: 'fp32', scheme: null, dir: '/x' } } as typeof bf16;
const int4 = { ...bf16, base: { form: 'int4', scheme: null, dir: '/x' } } as typeof bf16;

describe('the compute dtype', () => {
  it('auto: a half checkpoint read in place on CUDA stays half; float32 everywhere else', () => {
    assert.equal(computeDtype(inPlace, 'auto', { cuda: true }), 'bfloat16');
    // Before Ampere (a T4, an RTX 2080: compute capability 7.5) there are no bfloat16 kernels: a bf16
    // checkpoint computes in float32, and asking for bf16 says why it cannot.
    assert.equal(computeDtype(inPlace, 'auto', { cuda: true, cudaCapability: '8.6' }), 'bfloat16');
    assert.equal(computeDtype(inPlace, 'auto', { cuda: true, cudaCapability: '7.5' }), 'float32');
    assert.equal(computeDtype(inPlace, 'fp16', { cuda: true, cudaCapability: '7.5' }), 'float16');
    assert.throws(
      () => computeDtype(inPlace, 'bf16', { cuda: true, cudaCapability: '7.5' }),
      /compute capability 7\.5\) has no bfloat16 kernels/,
    );
    assert.equal(computeDtype(stored, 'auto', { cuda: false }), 'float32', 'the CPU reads its float32 store');
    assert.equal(computeDtype(int4, 'auto', { cuda: true }), 'float32', 'quantized bases compute in float32');
    assert.equal(computeDtype(fp32, 'auto', { cuda: true }), 'float32', 'a float32 checkpoint stays float32');
  });

  it("the Train wizard's Automatic help says what auto does with bf16 before Ampere", () => {
    // Bug: the help said a half-precision checkpoint stays in its precision on CUDA, though a bf16 one
    // computes in float32 on a GPU before compute capability 8.0 (the assertion above).
    const help = DTYPE_OPTION_CHOICES.find((c) => c.value === 'auto')?.help ?? '';
    assert.equal(computeDtype(inPlace, 'auto', { cuda: true, cudaCapability: '7.5' }), 'float32');
    assert.match(help, /bf16 .*compute capability 8\.0.*float32/, help);
  });

  it('auto on WebGPU: an fp16 checkpoint in float16 where the adapter runs float16 shaders', () => {
    const fp16 = { ...bf16, base: { form: 'fp16', scheme: null, dir: null } } as typeof bf16;
    assert.equal(computeDtype(fp16, 'auto', { cuda: false, webgpuHalf: true }), 'float16');
    assert.equal(computeDtype(fp16, 'auto', { cuda: false, webgpuHalf: false }), 'float32');
    assert.equal(
      computeDtype(inPlace, 'auto', { cuda: false, webgpuHalf: true }),
      'float32',
      'bf16 → float32',
    );
    assert.throws(
      () => computeDtype(fp16, 'fp16', { cuda: false, webgpuHalf: false }),
      (e: Error) => e instanceof ConfigError && /no float16 shaders.*--dtype fp32/.test(e.message),
    );
    assert.equal(computeDtype(fp16, 'fp16', { cuda: false }), 'float16', 'the CPU has float16 kernels');
  });

  it('asked for: that dtype; bfloat16 without CUDA is refused with the way out', () => {
    assert.equal(computeDtype(stored, 'fp16', { cuda: false }), 'float16');
    assert.equal(computeDtype(inPlace, 'fp32', { cuda: true }), 'float32');
    assert.equal(computeDtype(inPlace, 'bf16', { cuda: true }), 'bfloat16');
    // Worded as the training option's own check words it, naming the provider that runs.
    const refusal = (target: Parameters<typeof computeDtype>[2]) => {
      try {
        computeDtype(fp32, 'bf16', target);
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.code, 'dtype-unsupported');
        return e.message;
      }
      assert.fail('bf16 off CUDA was not refused');
    };
    assert.equal(
      refusal({ cuda: false }),
      'bfloat16 needs CUDA (CPU has no bfloat16 kernels): use --dtype fp32 or fp16',
    );
    assert.equal(refusal({ cuda: false }), optionIssues({ dtype: 'bf16', device: 'cpu' })[0].cli);
    assert.equal(
      refusal({ cuda: false, webgpuHalf: true }),
      optionIssues({ dtype: 'bf16', device: 'webgpu' })[0].cli,
    );
    assert.equal(
      refusal({ cuda: false, device: 'dml' }),
      optionIssues({ dtype: 'bf16', device: 'dml' })[0].cli,
    );
    assert.match(
      refusal({ cuda: false, webgpuHalf: false }),
      /^bfloat16 needs CUDA \(WebGPU has no bfloat16 kernels\)/,
    );
  });
});

describe('a GPU that does not start', () => {
  it('auto half precision falls back with the CPU to float32; an explicit bf16 fails with the reason', {
    skip: cudaReachable() === null ? 'CUDA runs here' : false,
  }, async () => {
    const notices: string[] = [];
    const warned: string[] = [];
    const auto = { ...fp32, compute: 'bfloat16' as const, computeAuto: true };
    const m = await ReftModel.load(auto, [], {
      device: 'cuda',
      onNotice: (n, level) => {
        notices.push(n);
        if (level === 'warn') warned.push(n);
      },
    });
    assert.equal(m.session.device, 'cpu');
    assert.equal(m.spec.compute, undefined, 'float32 on the CPU');
    assert.ok(
      notices.some((n) => /bfloat16 has no kernels where the session runs: computing in float32/.test(n)),
    );
    // Both are warnings (notices.ts): the run's log and the CLI show them as such.
    assert.deepEqual(warned, notices, 'every notice of this load is a warning');
    assert.ok(
      notices.some((n) => /device 'cuda' unavailable/.test(n)),
      notices.join('\n'),
    );
    await assert.rejects(ReftModel.load({ ...fp32, compute: 'bfloat16' }, [], { device: 'cuda' }), {
      code: 'missing-kernel',
    });
  });
});

describe('training in float16', () => {
  const data = writeJsonl(join(dir, 'd.jsonl'), constantRows('yes').slice(0, 8));
  const base = llamaRun(data);

  it('follows the float32 run step by step within half precision’s error, and says so in its log', async () => {
    const logs: string[] = [];
    const full = await train({ ...base, out: join(dir, 'fp32') });
    const half = await train(
      { ...base, out: join(dir, 'fp16'), dtype: 'fp16' },
      { onLog: (m) => logs.push(m) },
    );
    assert.ok(
      logs.some((l) => /computing in float16/.test(l)),
      logs.join('\n'),
    );
    assert.equal(half.metrics.length, full.metrics.length);
    for (const [i, m] of half.metrics.entries()) {
      const ref = full.metrics[i].loss;
      // float16 activations (10-bit mantissa) through 4 layers: the loss within 1% relative.
      assert.ok(Math.abs(m.loss - ref) <= 1e-2 * Math.abs(ref), `step ${m.step}: ${m.loss} vs ${ref}`);
    }
    assert.ok(half.metrics.at(-1)!.loss < half.metrics[0].loss, 'the loss falls in float16 too');
  });

  it('--dtype bf16 on the CPU is refused before training', async () => {
    await assert.rejects(train({ ...base, out: join(dir, 'bf16'), dtype: 'bf16' }), /bfloat16 needs CUDA/);
  });
});
