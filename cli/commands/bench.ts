// `reft-studio bench train|prefill|decode`: speed of the engine on the anchor workloads (cli.md,
// ../shared/docs/anchors.md). Prints {"tokens_per_s", "step_ms", "peak_rss_mb", "device"}; each
// bench runs in a fresh process so peak RSS is its own. --json stays exactly one object on stdout
// (external tools parse it); progress goes to stderr as a bar or lines, or with --json as JSON-lines
// events (Command.stream), like every long command's.

import { cpus } from 'node:os';
import {
  type BenchDims,
  type BenchMemoryOptions,
  type BenchProgress,
  benchDecode,
  benchPrefill,
  benchTrain,
  benchTrainStep,
  checkDecodeOptions,
  checkPrefillOptions,
  checkTrainOptions,
  refuseBenchOverMemory,
  type TrainBackward,
} from '../../native-runtime/bench/bench.ts';
import {
  buildSynthetic,
  SYNTHETIC_MODELS,
  type SyntheticName,
  syntheticShape,
} from '../../native-runtime/bench/synthetic.ts';
import { ConfigError } from '../../native-runtime/errors.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { prepareBase } from '../../native-runtime/quantize/base.ts';
import { schemeName } from '../../native-runtime/quantize/scheme.ts';
import { intraOpThreads } from '../../native-runtime/runtime/cpu-threads.ts';
import type { DeviceChoice } from '../../native-runtime/runtime/device-choice.ts';
import { chosenGpuIndex, machineNvidia } from '../../native-runtime/runtime/gpu-choice.ts';
import { GpuMemorySampler, noNvidiaGpu } from '../../native-runtime/runtime/gpus.ts';
import { deviceUnavailable, runsOnCuda } from '../../native-runtime/runtime/session.ts';
import { softwareAdapterLine, webgpuAdapter } from '../../native-runtime/runtime/webgpu-adapter.ts';
import { bf16Refusal } from '../../native-runtime/training/options.ts';
import { checkLayersSyntax, checkPositionsSyntax } from '../../native-runtime/training/positions.ts';
import { badValue, checkArgument, intAtLeast, type OptionSpec, str, UsageError } from '../args.ts';
import {
  conversionProgress,
  deviceFlag,
  QUANTIZE_OPTION,
  quantizeFlag,
  sessionNotices,
} from '../base-form.ts';
import type { Command, CommandContext } from '../command.ts';
import { catchInterrupts } from '../interrupt.ts';
import { modelFolderFlag } from '../model-flag.ts';
import type { CountTask } from '../progress/reporter.ts';

const BACKWARDS: readonly TrainBackward[] = ['transposed', 'packed-dequantize', 'unpacked'];

function backwardFlag(ctx: CommandContext): TrainBackward | undefined {
  const v = str(ctx.values, 'backward');
  if (v !== undefined && !(BACKWARDS as readonly string[]).includes(v))
    throw badValue('bench train: --backward', `one of ${BACKWARDS.join(', ')}`, v);
  return v as TrainBackward | undefined;
}

interface Setup {
  spec: ModelSpec;
  device: DeviceChoice;
  /** Echoed in the JSON: the model's form and, for synthetic models, their name. */
  extra: Record<string, unknown>;
  dispose(): void;
}

const DTYPES: Record<string, 'float32' | 'float16' | 'bfloat16'> = {
  fp32: 'float32',
  fp16: 'float16',
  bf16: 'bfloat16',
};

function dtypeFlag(ctx: CommandContext): 'float32' | 'float16' | 'bfloat16' {
  const v = str(ctx.values, 'dtype') ?? 'fp32';
  const d = DTYPES[v];
  if (!d) throw badValue('bench: --dtype', `one of ${Object.keys(DTYPES).join(', ')}`, v);
  return d;
}

/**
 * A bench needs the device it names (bench.ts requireDevice) and bfloat16 needs CUDA: both refused
 * here in one line, before a synthetic model is built or a base converted (minutes on the 1B shape),
 * not by the session that would open afterwards.
 */
async function refuseUnavailable(device: DeviceChoice, dtype: string): Promise<void> {
  const why = device === 'cpu' || device === 'auto' ? null : await deviceUnavailable(device);
  if (why) throw new ConfigError('provider-unavailable', `bench: ${why}`);
  if (dtype === 'bfloat16' && !(await runsOnCuda(device))) {
    // `auto` found no CUDA: where the machine has no NVIDIA GPU, that is the reason (as `devices` says
    // it), not the missing runtime pack, which could not help.
    const noGpu = device === 'auto' ? noNvidiaGpu(await machineNvidia()) : null;
    throw new UsageError(
      `bench: ${bf16Refusal(device, device === 'auto' ? 'CUDA does not run here' : undefined, noGpu).cli}`,
    );
  }
}

/**
 * The model to measure: a folder (--model) or a synthetic shape (--synthetic), in --quantize form.
 * `check` refuses the bench's options on the model's config, and `asks` (its use, a training
 * bench's step) the computer's memory, before the model is converted or built (minutes).
 */
async function setup(
  ctx: CommandContext,
  asks: BenchMemoryOptions,
  check: (dims: BenchDims) => void,
): Promise<Setup> {
  const model = str(ctx.values, 'model');
  const synthetic = str(ctx.values, 'synthetic');
  if (!model === !synthetic)
    throw new UsageError(
      `bench: give exactly one of --model DIR and --synthetic ${SYNTHETIC_MODELS.join('|')}`,
    );
  const device = deviceFlag(ctx.values, 'bench');
  const scheme = quantizeFlag(ctx.values, 'bench');
  const dtype = dtypeFlag(ctx);
  await refuseUnavailable(device, dtype);
  // Measuring a CPU emulation of a GPU is allowed, but not without saying so.
  const adapter = device === 'webgpu' ? await webgpuAdapter() : null;
  if (adapter?.software) sessionNotices(ctx.progress)(softwareAdapterLine(adapter), 'warn');
  // Half precision computes in it; the weights stay as stored (a synthetic model stores them in it),
  // a quantized base's codes too (MatMulNBits reads its scales cast: quantize/linear.ts scalesAs).
  const compute = dtype === 'float32' ? {} : { compute: dtype };
  const onProgress = conversionProgress(ctx.progress);
  if (synthetic) {
    if (!(SYNTHETIC_MODELS as readonly string[]).includes(synthetic))
      throw badValue('bench: --synthetic', `one of ${SYNTHETIC_MODELS.join(', ')}`, synthetic);
    check(syntheticShape(synthetic as SyntheticName));
    const m = await buildSynthetic(synthetic as SyntheticName, {
      dataDir: ctx.dataDir,
      scheme,
      device,
      dtype,
      onProgress,
      ...asks,
    });
    return {
      spec: { ...m.spec, ...compute },
      device,
      extra: {
        synthetic,
        dtype: str(ctx.values, 'dtype') ?? 'fp32',
        quantize: schemeName(scheme),
        base_form: m.spec.base?.form,
      },
      dispose: m.dispose,
    };
  }
  const folderSpec = loadModelSpec(modelFolderFlag(ctx, model as string));
  check(folderSpec);
  // As for a synthetic model (buildSynthetic): refused before a base is converted.
  await refuseBenchOverMemory(folderSpec, { ...asks, scheme, device });
  const spec = await prepareBase(folderSpec, scheme, {
    dataDir: ctx.dataDir,
    device,
    onProgress,
  });
  return {
    spec: { ...spec, ...compute },
    device,
    extra: {
      dtype: str(ctx.values, 'dtype') ?? 'fp32',
      quantize: schemeName(scheme),
      base_form: spec.base?.form,
    },
    dispose: () => {},
  };
}

function show(ctx: CommandContext, what: string, r: Record<string, unknown>): number {
  ctx.print(
    r,
    () =>
      `${what}: ${Number(r.tokens_per_s).toFixed(1)} tok/s, ${Number(r.step_ms).toFixed(1)} ms/step, peak RSS ${r.peak_rss_mb} MB${r.peak_gpu_mb != null ? `, peak GPU ${r.peak_gpu_mb} MB` : ''} on ${r.device} in ${r.dtype ?? 'fp32'}${r.base_form && r.base_form !== r.dtype ? ` (weights ${r.base_form})` : ''}, ${r.threads || 'ORT default'} CPU threads`,
  );
  return 0;
}

/**
 * Runs one measurement on the prepared model, its steps (or tokens, `unit`) shown by the progress
 * reporter; a synthetic model's folder is deleted afterwards. `asks`: what the bench asks of the
 * computer's memory (default: to generate).
 */
async function measure(
  ctx: CommandContext,
  what: string,
  unit: string,
  check: (dims: BenchDims) => void,
  fn: (spec: ModelSpec, device: DeviceChoice, onStep: BenchProgress) => Promise<Record<string, unknown>>,
  asks: BenchMemoryOptions = { use: 'chat' },
): Promise<number> {
  // A measurement keeps nothing, so Ctrl-C (SIGTERM, SIGHUP) ends it at once; exiting rather than
  // Node's default lets the synthetic model's 'exit' handler delete its folder (gigabytes) now, not
  // at the next start's sweep. Heard between two ONNX Runtime calls, or while the model is written.
  const ctrlC = catchInterrupts((m) => ctx.progress.log(m), { first: 'stopping the bench', stop: '' });
  ctrlC.signal.addEventListener('abort', () => {
    ctx.progress.close();
    process.exit(130);
  });
  try {
    return await measureUntilStopped(ctx, what, unit, check, fn, asks);
  } finally {
    ctrlC.release();
  }
}

async function measureUntilStopped(
  ctx: CommandContext,
  what: string,
  unit: string,
  check: (dims: BenchDims) => void,
  fn: (spec: ModelSpec, device: DeviceChoice, onStep: BenchProgress) => Promise<Record<string, unknown>>,
  asks: BenchMemoryOptions,
): Promise<number> {
  const s = await setup(ctx, asks, check);
  // Peak GPU memory: nvidia-smi samples the card in a child process while ORT blocks this thread.
  const sampler = s.device === 'cpu' ? null : new GpuMemorySampler(chosenGpuIndex());
  const sampling = !!sampler?.start() && (await sampler.ready());
  const steps: { task: CountTask | null } = { task: null };
  const onStep: BenchProgress = (done, total, perS) => {
    steps.task ??= ctx.progress.count({ label: `bench ${what}`, unit, total });
    steps.task.update(done, total, perS);
  };
  try {
    // The session opens and the warm-up runs before the first timed step is counted (the count starts
    // at 0 once the warm-up is over): tens of seconds on an 8B model.
    ctx.progress.log(`bench ${what}: loading the model into ONNX Runtime, then an untimed warm-up`);
    const r = await fn(s.spec, s.device, onStep);
    steps.task?.done();
    const gpu = sampling ? await sampler?.stop() : null;
    const gpuFields =
      r.device === 'cuda' || r.device === 'webgpu'
        ? {
            peak_gpu_mb: gpu ? gpu.peakMb : null,
            // cuBLAS runs fp32 products in TF32 unless NVIDIA_TF32_OVERRIDE=0 (the CUDA provider's default).
            ...(r.device === 'cuda' ? { tf32: process.env.NVIDIA_TF32_OVERRIDE !== '0' } : {}),
          }
        : {};
    // The CPU and its thread count belong to every figure (ORT's CPU kernels run on those threads,
    // and a GPU run's CPU ops too); 0 threads means ORT counted the cores itself.
    const host = { cpu: cpus()[0]?.model ?? 'unknown', threads: intraOpThreads() };
    return show(ctx, what, { ...r, ...gpuFields, ...s.extra, ...host });
  } finally {
    if (sampling) await sampler?.stop();
    s.dispose();
  }
}

const base = {
  model: { type: 'string', description: 'the model folder' },
  synthetic: {
    type: 'string',
    value: SYNTHETIC_MODELS.join('|'),
    description: 'random weights of that published shape, built in memory (instead of --model)',
  },
  dtype: {
    type: 'string',
    value: 'fp32|fp16|bf16',
    description: 'compute precision (fp16/bf16: half-precision graphs; synthetic weights stored in it)',
  },
  device: { type: 'string', description: 'cpu (default), cuda, webgpu, dml, coreml or auto' },
  steps: { type: 'string', description: 'timed steps after the untimed warm-up (default 3)' },
  ...QUANTIZE_OPTION,
} as const satisfies OptionSpec;
const SOURCE = `--model DIR|--synthetic ${SYNTHETIC_MODELS.join('|')} [--dtype fp32|fp16|bf16] [--quantize none|int8|int4]`;

export const benchCommands: Command[] = [
  {
    name: 'bench train',
    summary: 'LoReFT training tokens/s (random data, AdamW, untimed warm-up steps first)',
    usage: `bench train ${SOURCE} [--layers all] [--positions f5+l5] [--rank 4] [--batch 4] [--seq 128] [--prompt 64] [--steps 3] [--device cpu] [--backward transposed|packed-dequantize|unpacked]`,
    options: {
      ...base,
      layers: { type: 'string', description: 'intervened layers: all (default) or a list like 2;10;18' },
      positions: { type: 'string', description: 'intervention positions (default f5+l5)' },
      rank: { type: 'string', description: 'LoReFT rank (default 4)' },
      batch: { type: 'string', description: 'sequences per step (default 4)' },
      seq: { type: 'string', description: 'tokens per sequence (default 128)' },
      prompt: { type: 'string', description: 'prompt tokens; labels on the rest (default 64)' },
      backward: {
        type: 'string',
        value: BACKWARDS.join('|'),
        description:
          "quantized bases: how the gradient passes the frozen layers (default: the trainer's choice)",
      },
    },
    stream: true,
    examples: [
      'bench train --model ./SmolLM2-135M --json',
      'bench train --synthetic tinyllama-1.1b --quantize int8 --layers "2;10" --rank 8 --steps 5',
    ],
    async run(ctx) {
      const seq = intAtLeast(ctx.values, 'seq', 1) ?? 128,
        prompt = intAtLeast(ctx.values, 'prompt', 1) ?? 64;
      if (prompt >= seq)
        throw new UsageError(`bench train: --prompt (${prompt}) must be smaller than --seq (${seq})`);
      // Every flag is read before the model is prepared (a synthetic one takes minutes to build).
      const layers = str(ctx.values, 'layers'),
        positions = str(ctx.values, 'positions');
      if (layers !== undefined) checkArgument(() => checkLayersSyntax(layers));
      if (positions !== undefined) checkArgument(() => checkPositionsSyntax(positions));
      const opts = {
        layers,
        positions,
        rank: intAtLeast(ctx.values, 'rank', 1),
        batch: intAtLeast(ctx.values, 'batch', 1),
        seq,
        prompt,
        steps: intAtLeast(ctx.values, 'steps', 1),
        backward: backwardFlag(ctx),
      };
      return measure(
        ctx,
        'train',
        'steps',
        (dims) => checkTrainOptions(dims, opts),
        (spec, device, onStep) => benchTrain(spec, { ...opts, onStep, device }),
        // Its step is refused as train's is, before the model is converted or built.
        { use: 'train', step: benchTrainStep(opts) },
      );
    },
  },
  {
    name: 'bench prefill',
    summary: 'forward pass tokens/s over batch × seq tokens, logits computed',
    usage: `bench prefill ${SOURCE} [--batch 4] [--seq 128] [--steps 3] [--device cpu]`,
    options: {
      ...base,
      batch: { type: 'string', description: 'sequences per pass (default 4)' },
      seq: { type: 'string', description: 'tokens per sequence (default 128)' },
    },
    stream: true,
    examples: ['bench prefill --model ./SmolLM2-135M --batch 4 --seq 128 --json'],
    async run(ctx) {
      const opts = {
        batch: intAtLeast(ctx.values, 'batch', 1),
        seq: intAtLeast(ctx.values, 'seq', 1),
        steps: intAtLeast(ctx.values, 'steps', 1),
      };
      return measure(
        ctx,
        'prefill',
        'steps',
        (dims) => checkPrefillOptions(dims, opts),
        (spec, device, onStep) => benchPrefill(spec, { ...opts, onStep, device }),
      );
    },
  },
  {
    name: 'bench decode',
    summary: 'greedy decoding tokens/s at batch 1 with the KV cache',
    usage: `bench decode ${SOURCE} [--prompt 32] [--new-tokens 64] [--chunk 8] [--device cpu] [--steps N]`,
    options: {
      ...base,
      steps: {
        type: 'string',
        description: 'ignored, so that one command line runs all three benches; decode times every new token',
      },
      prompt: { type: 'string', description: 'prompt tokens (default 32)' },
      'new-tokens': { type: 'string', description: 'tokens to generate (default 64)' },
      chunk: {
        type: 'string',
        description: 'tokens decoded per run inside the graph (default 8, CUDA 16; 1: one per run)',
      },
    },
    stream: true,
    examples: ['bench decode --model ./SmolLM2-135M --new-tokens 64 --json'],
    async run(ctx) {
      const opts = {
        prompt: intAtLeast(ctx.values, 'prompt', 1),
        newTokens: intAtLeast(ctx.values, 'new-tokens', 1),
        chunk: intAtLeast(ctx.values, 'chunk', 1),
      };
      return measure(
        ctx,
        'decode',
        'tokens',
        (dims) => checkDecodeOptions(dims, opts),
        (spec, device, onStep) => benchDecode(spec, { ...opts, device, onStep }),
      );
    },
  },
];
