// The GPU benchmarks at small shapes: the synthetic builder's model (quantize's, shrunk through its
// config overrides), each workload on the CPU and, where an adapter starts, on WebGPU in float16 —
// the same code paths the GPU check runs at TinyLlama and Llama-3-8B sizes on CUDA. Also the GPU
// memory sampler against a fake nvidia-smi, and the bench command's --dtype checks.
// (No timing is asserted: only that each workload ran where it was asked to, and reported.)

import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../cli/main.ts';
import { benchDecode, benchPrefill, benchTrain } from '../../native-runtime/bench/bench.ts';
import { buildSynthetic } from '../../native-runtime/bench/synthetic.ts';
import { detectNvidia, GpuMemorySampler, noNvidiaGpu } from '../../native-runtime/runtime/gpus.ts';
import { cudaReachable, webgpuReachable } from '../../native-runtime/runtime/session.ts';
import { webgpuAdapter } from '../../native-runtime/runtime/webgpu-adapter.ts';
import { cudaMissingHere } from '../helpers/cuda-here.ts';
import { SMALL_SYNTHETIC } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';

const tmp = tempDir('reft-gpu-bench-');
const why = await webgpuReachable();

for (const [device, dtype] of [
  ['cpu', 'float32'],
  ['webgpu', 'float16'],
] as const) {
  describe(`bench on ${device} (${dtype})`, { skip: device === 'webgpu' && (why ?? false) }, () => {
    it('train, prefill and decode run there and report tokens/s', async () => {
      // Not 'cpu' for the half model: the builder would convert it to a float32 store for the CPU.
      const m = await buildSynthetic('tinyllama-1.1b', {
        dataDir: tmp,
        dtype,
        device,
        overrides: SMALL_SYNTHETIC,
      });
      try {
        const spec = dtype === 'float32' ? m.spec : { ...m.spec, compute: dtype };
        const t = await benchTrain(spec, { batch: 2, seq: 16, prompt: 8, steps: 1, rank: 2, device });
        const p = await benchPrefill(spec, { batch: 2, seq: 16, steps: 1, device });
        const d = await benchDecode(spec, { prompt: 4, newTokens: 4, device });
        for (const r of [t, p, d]) {
          assert.equal(r.device, device);
          assert.ok(Number.isFinite(r.tokens_per_s) && r.tokens_per_s > 0);
          assert.ok(r.peak_rss_mb > 0);
        }
        assert.ok(Number.isFinite(t.loss as number));
        assert.equal(d.new_tokens, 4);
        // The decoding loop's nodes a token (CPU: 8 tokens a run by default, a single prompt with the
        // fused step; WebGPU: one, no loop).
        if (device === 'cpu') {
          assert.equal(d.chunk, 8);
          assert.equal(d.decode_step, 'fused');
          assert.ok((d.decode_loop_nodes as number) > 2 * 12, 'two fused layers and the sampling');
          assert.ok((d.us_per_node as number) > 0);
        } else assert.equal(d.decode_loop_nodes, null);
      } finally {
        m.dispose();
      }
    });
  });
}

it('the GPU memory sampler reports the peak over its baseline, and nothing without nvidia-smi', async () => {
  const smi = join(tmp, 'fake-smi');
  // Prints 1000, then 1800, 1500 (MB), one line per interval, like `nvidia-smi … -lms N`.
  // The last `sleep` is a child of the script that stop() must end too (a wrapper nvidia-smi's own).
  const pidFile = join(tmp, 'sampler-child.pid');
  writeFileSync(
    smi,
    `#!/bin/sh\nfor v in 1000 1800 1500; do echo $v; sleep 0.05; done; sleep 5 & echo $! > ${pidFile}; wait\n`,
  );
  chmodSync(smi, 0o755);
  const s = new GpuMemorySampler(0, smi);
  assert.ok(s.start());
  assert.ok(await s.ready());
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await s.stop(), { peakMb: 800, baselineMb: 1000, peakUsedMb: 1800 });
  if (process.platform === 'linux') {
    const child = Number(readFileSync(pidFile, 'utf8'));
    const running = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${child}/stat`, 'utf8')); // a zombie has ended
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 20 && running(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(running(), false, `the sampler script's child ${child} still runs`);
  }
  const none = new GpuMemorySampler(0, join(tmp, 'no-such-smi'));
  none.start();
  assert.equal(await none.ready(), false);
  assert.equal(await none.stop(), null);
});

it('bench refuses a bad --dtype; a quantized base computes in half precision', async () => {
  let err = '';
  const run = (...a: string[]) =>
    main([...a, '--data-dir', tmp], { stdout: () => {}, stderr: (s) => (err += s) });
  assert.equal(await run('bench', 'prefill', '--synthetic', 'tinyllama-1.1b', '--dtype', 'fp8'), 2);
  assert.match(err, /--dtype must be one of fp32, fp16, bf16/);
  // What the GPU check measures on CUDA in bf16 (bench-1b's int8 rows), here in float16 on the CPU.
  let out = '';
  const llama = fileURLToPath(new URL('../fixtures/golden/models/llama', import.meta.url));
  const code = await main(
    [
      'bench',
      'decode',
      '--model',
      llama,
      '--dtype',
      'fp16',
      '--quantize',
      'int8',
      '--prompt',
      '8',
      '--new-tokens',
      '8',
      '--data-dir',
      tmp,
      '--json',
    ],
    { stdout: (s) => (out += s), stderr: () => {} },
  );
  assert.equal(code, 0);
  const r = JSON.parse(out.trim().split('\n').pop() ?? '{}');
  assert.deepEqual([r.dtype, r.quantize, r.base_form], ['fp16', 'int8-b32', 'int8-b32']);
  assert.ok(r.tokens_per_s > 0, out);
});

it('bench on a software WebGPU adapter says so in one warning line', async () => {
  const adapter = await webgpuAdapter();
  if (!adapter.software) return; // a GPU here, or no adapter at all
  let err = '';
  const llama = fileURLToPath(new URL('../fixtures/golden/models/llama', import.meta.url));
  const code = await main(
    ['bench', 'prefill', '--model', llama, '--device', 'webgpu', '--steps', '1', '--data-dir', tmp],
    { stdout: () => {}, stderr: (s) => (err += s) },
  );
  assert.equal(code, 0, err);
  const said = err.split('\n').filter((l) => /software adapter/.test(l));
  assert.deepEqual(said, [
    `warning: webgpu runs on a software adapter (${adapter.softwareWhy}), Vulkan emulated on the CPU: no GPU is used`,
  ]);
});

it('bench refuses a device that cannot run, and bf16 off CUDA, in one line before building the model', async () => {
  let err = '';
  const run = async (...a: string[]) => {
    err = '';
    const t0 = Date.now();
    const code = await main([...a, '--data-dir', tmp], { stdout: () => {}, stderr: (s) => (err += s) });
    return { code, s: (Date.now() - t0) / 1000 };
  };
  const llama = fileURLToPath(new URL('../fixtures/golden/models/llama', import.meta.url));
  // Once refused only when ONNX Runtime found no bfloat16 Gemm on the CPU, after the base was loaded.
  for (const device of ['cpu', 'webgpu'])
    assert.equal(
      (await run('bench', 'prefill', '--model', llama, '--dtype', 'bf16', '--device', device)).code,
      2,
    );
  assert.equal(
    err,
    'error: bench: bfloat16 needs CUDA (WebGPU has no bfloat16 kernels): use --dtype fp32 or fp16\n',
  );
  if (cudaReachable() === null) return; // a machine with the CUDA pack: nothing to refuse
  // auto without CUDA: with no NVIDIA GPU the refusal says so (what `devices` says), not the pack.
  assert.equal(
    (await run('bench', 'prefill', '--model', llama, '--dtype', 'bf16', '--device', 'auto')).code,
    2,
  );
  const noGpu = noNvidiaGpu(await detectNvidia());
  assert.equal(
    err,
    `error: bench: bfloat16 needs CUDA${noGpu ? `: ${noGpu}` : ', and CUDA does not run here'}: use --dtype fp32 or fp16\n`,
  );
  // Once refused by the first session, after the 1.1B synthetic model was built (two minutes here).
  const r = await run(
    'bench',
    'prefill',
    '--synthetic',
    'tinyllama-1.1b',
    '--device',
    'cuda',
    '--steps',
    '1',
  );
  assert.equal(r.code, 1);
  // What is missing first: no NVIDIA GPU (the pack cannot help), else the pack and how to install it.
  const missing = await cudaMissingHere();
  assert.match(err, new RegExp(`^error: bench: cuda: ${missing}`));
  if (missing.startsWith('no NVIDIA GPU')) assert.doesNotMatch(err, /runtime install/);
  else assert.match(err, /\(run `reft-studio runtime install cuda`/);
  assert.ok(r.s < 30, `refused after ${r.s} s`);
});

it('bench refuses shapes the model cannot hold before building anything (no raw ONNX Runtime error)', async () => {
  const llama = fileURLToPath(new URL('../fixtures/golden/models/llama', import.meta.url)); // 256 positions, 4 layers
  let err = '';
  const run = async (...a: string[]) => {
    err = '';
    return main([...a, '--model', llama, '--data-dir', tmp], { stdout: () => {}, stderr: (s) => (err += s) });
  };
  assert.equal(await run('bench', 'prefill', '--seq', '100000'), 1);
  assert.equal(err, "error: bench: 100000 tokens per sequence is more than the model's 256 positions\n");
  assert.equal(await run('bench', 'train', '--seq', '300', '--prompt', '8'), 1);
  assert.match(err, /^error: bench: 300 tokens per sequence is more than the model's 256 positions\n$/);
  assert.equal(await run('bench', 'decode', '--prompt', '200', '--new-tokens', '100'), 1);
  assert.match(
    err,
    /^error: bench: 300 tokens \(prompt \+ new tokens\) is more than the model's 256 positions\n$/,
  );
  // Malformed whatever the model: bad usage (exit 2), refused before the model is prepared, in the
  // words train uses for the same flags (training/positions.ts), naming the flag typed.
  assert.equal(await run('bench', 'train', '--layers', '1;x', '--seq', '16', '--prompt', '8'), 2);
  assert.equal(err, 'error: --layers: "1;x": "x" is not a layer index (use "all" or e.g. "2;10;18")\n');
  assert.equal(await run('bench', 'train', '--layers', '9', '--seq', '16', '--prompt', '8'), 1);
  assert.equal(err, 'error: --layers: layer 9 is out of range: the model has layers 0..3\n');
  assert.equal(await run('bench', 'train', '--positions', 'middle', '--seq', '16', '--prompt', '8'), 2);
  assert.match(err, /^error: --positions: "middle" is not understood: use "fN" \(first N prompt tokens\)/);
  // f0 selects no position: bench measured an intervention that sees nothing.
  assert.equal(await run('bench', 'train', '--positions', 'f0', '--seq', '16', '--prompt', '8'), 2);
  assert.equal(err, 'error: --positions: "f0": f0 selects no token; use f1 or more\n');
});

it('bench refuses those shapes before converting a base or building a synthetic model', async () => {
  const llama = fileURLToPath(new URL('../fixtures/golden/models/llama', import.meta.url)); // 256 positions, 4 layers
  const data = tempDir('reft-bench-refusals-');
  let err = '';
  const run = async (...a: string[]) => {
    err = '';
    return main([...a, '--data-dir', data], { stdout: () => {}, stderr: (s) => (err += s) });
  };
  assert.equal(await run('bench', 'decode', '--model', llama, '--quantize', 'int8', '--prompt', '300'), 1);
  // The refusal alone: no conversion's progress before it, no converted copy left behind.
  assert.equal(
    err,
    "error: bench: 364 tokens (prompt + new tokens) is more than the model's 256 positions\n",
  );
  assert.equal(await run('bench', 'train', '--model', llama, '--quantize', 'int4', '--layers', '9'), 1);
  assert.equal(err, 'error: --layers: layer 9 is out of range: the model has layers 0..3\n');
  // TinyLlama's shape (2048 positions, 22 layers) is known without building its 4 GB of weights.
  assert.equal(await run('bench', 'prefill', '--synthetic', 'tinyllama-1.1b', '--seq', '4096'), 1);
  assert.equal(err, "error: bench: 4096 tokens per sequence is more than the model's 2048 positions\n");
  // Malformed whatever the model: bad usage (exit 2).
  assert.equal(await run('bench', 'train', '--synthetic', 'tinyllama-1.1b', '--positions', 'middle'), 2);
  assert.match(err, /^error: --positions: "middle" is not understood/);
  assert.deepEqual(readdirSync(data), [], 'nothing converted or built');
});
