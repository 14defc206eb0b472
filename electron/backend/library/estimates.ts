// What a run will cost, before it starts ('runs/estimate'): trainable parameters, the adapter's size
// on disk, a memory estimate and the time per epoch from a short calibration on the chosen device.
//
// Memory (bytes, float32; weights and activations in 2 bytes where the run computes in half
// precision on a GPU, runtime/precision.ts):
//   weights      4 · P                        P = the base model's parameter count (bf16/fp16 weights
//                                              become one shared f32 copy on the CPU); for an int8/int4
//                                              base, native-runtime/quantize/memory.ts (codes, packed)
//   activations  4 · B · T · (L · (3·d + 2·f + 2·k) + 4·d + 6·f + 2·H·T + 3·V)
//                B batch, T = max length (an upper bound: real batches are as long as their longest
//                example), L layers, d hidden, f MLP size, k the K/V width, H heads, V vocabulary:
//                what each layer keeps for the backward and what the layer being differentiated holds
//                (training/recompute.ts's keptActivationBytes, the trainer's own rule for layer
//                replay, measured there); where the trainer will replay layers, the residual stream
//                L·d instead of L layers' worth; 3·V for the logits, their log-softmax and its gradient.
//   optimizer    16 · A                       A trainable parameters: value, gradient, AdamW m and v
//   int8/int4 on the CPU (quantize/memory.ts quantizedTrainingExtra): packed, Ŵᵀ's codes mapped while
//                the session is made (loadBytes, before any activation: the total counts the larger
//                of it and the step); unpacked, float32 copies of the largest matrix per step
//                (dequantizeBytes)
// The activation term is a rough guide (ORT reuses buffers; the backward pass keeps only some), good
// for "will this fit", not for exact numbers.
// Time: (measured ms per optimizer step) × steps per epoch; the measurement runs two real steps (after
// a warm-up step) on the first few examples, in the engine, and is cached per model + configuration.

import { rmSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { fileLinesSync } from '../../../native-runtime/formats/line-reader.ts';
import { type InterventionSpec, PARAMS, paramCount } from '../../../native-runtime/interventions/kinds.ts';
import { loadModelSpec } from '../../../native-runtime/models/config.ts';
import {
  autoBaseForm,
  quantizedTrainingExtra,
  residentWeightBytes,
} from '../../../native-runtime/quantize/memory.ts';
import { computeDtype, hostTrainingProblem } from '../../../native-runtime/runtime/precision.ts';
import { makeScratchFolder } from '../../../native-runtime/scratch-folders.ts';
import { parsePositions, planInterventions } from '../../../native-runtime/training/positions.ts';
import { shouldRecompute, stepActivationBytes } from '../../../native-runtime/training/recompute.ts';
import type { Engine } from '../jobs/engine.ts';
import type { Calibration } from '../jobs/engine-tasks.ts';
import type { JobQueue } from '../jobs/queue.ts';
import { type DeviceMemory, deviceMemories, trainsOnGpu, webgpuMemory } from './device-memory.ts';
import type { Library } from './library.ts';
import { RecentCache } from './recent-cache.ts';
import { runMemoryIssue } from './run-memory-check.ts';
import { type PlannedRun, planRunChecked, type RunParams } from './run-plan.ts';

export interface RunEstimate {
  interventions: number;
  trainableParams: number;
  adapterBytes: number;
  memory: {
    weightsBytes: number;
    activationBytes: number;
    optimizerBytes: number;
    /** A quantized base on the CPU: what its session holds only while it is made (quantize/memory.ts). */
    loadBytes: number;
    /** A quantized base on the CPU trained unpacked: float32 copies of a weight per step. */
    dequantizeBytes: number;
    /** The trainer will replay each layer in its backward (training/recompute.ts): slower steps. */
    replaysLayers: boolean;
    /**
     * Why runs/start refuses this run (run-memory-check.ts: the engine's own check, on the CPU, of the
     * weights or one step at the data's longest example over the computer's memory), in the studio's
     * words; null when it would start.
     */
    problem: string | null;
    totalBytes: number;
    /** Where the run lives and how much memory that device has ("will it fit"). */
    device: DeviceMemory;
  };
  trainExamples: number;
  stepsPerEpoch: number;
  totalSteps: number;
  /**
   * Measured speed, or null when not measured (calibrate: false, or a job holds the device: a run, an
   * evaluation or another measurement).
   */
  calibration: (Calibration & { cached: boolean }) | null;
  calibrationSkipped: 'not-requested' | 'device-busy' | null;
  epochSeconds: number | null;
  totalSeconds: number | null;
}

/** Interventions, parameter count and adapter file size of a planned run (no engine needed). */
export function adapterFootprint(
  plan: PlannedRun,
  hiddenSize: number,
): { specs: InterventionSpec[]; params: number; bytes: number } {
  const cfg = plan.config;
  const pos = parsePositions(cfg.positions, cfg.maxLength);
  const specs: InterventionSpec[] = planInterventions(cfg.layers, pos, cfg.shareWeights).map((p) => ({
    key: p.key,
    layer: p.layer,
    type: cfg.intervention,
    rank: cfg.rank,
    embedDim: hiddenSize,
    act: cfg.act,
    dropout: cfg.dropout,
  }));
  const params = specs.reduce((s, sp) => s + paramCount(sp), 0);
  // adapter.safetensors: 8-byte length + JSON header (~90 bytes + the key per tensor) + f32 data;
  // manifest.json: ~600 bytes + ~120 per intervention.
  const tensors = specs.reduce((s, sp) => s + PARAMS[sp.type].length * (sp.key.length + 90), 0);
  const bytes = 8 + tensors + params * 4 + 600 + 120 * specs.length;
  return { specs, params, bytes };
}

export function memoryEstimate(
  m: {
    params: number;
    numLayers: number;
    hiddenSize: number;
    intermediateSize: number;
    numHeads: number;
    numKvHeads: number;
    headDim: number;
    vocabSize: number;
  },
  batch: number,
  T: number,
  trainable: number,
  base: {
    quantize?: string;
    tied?: boolean;
    /** Half-precision compute on a GPU (runtime/precision.ts): weights and activations in 2 bytes. */
    half?: boolean;
    /** The memory the run lives in (the GPU's on CUDA); default the computer's. */
    memoryBytes?: number;
    /** The GPU API the run trains through (`auto` weighs that GPU's memory); absent: the CPU. */
    gpu?: 'cuda' | 'webgpu' | null;
  } = {},
): Omit<RunEstimate['memory'], 'device'> {
  const memory = base.memoryBytes ?? totalmem();
  const shape = { ...m, tied: base.tied };
  // auto: the form the engine will pick (runtime/precision.ts, the same rule).
  const asked = base.quantize ?? 'none';
  const form =
    asked !== 'auto'
      ? asked
      : autoBaseForm(shape, 'train', {
          device: base.gpu ?? 'cpu',
          memory,
          full: base.half ? 'fp16' : 'none',
        });
  // Half compute stays with a quantized base on a GPU (runtime/precision.ts), not on the CPU.
  const half = !!base.half && (form === 'none' || !!base.gpu);
  const weightsBytes = residentWeightBytes(shape, form, 'train', memory, { gpu: !!base.gpu, half });
  // Kept for the backward: every layer's activations, or one layer's and the residual stream between
  // layers where the trainer replays layers in the backward (training/recompute.ts).
  // Half compute keeps the bulk in 2 bytes (norm statistics and softmax stay float32; a rough figure).
  const bytesPerValue = half ? 2 : 4;
  const w = { batch, tokens: T, bytesPerValue, weightsBytes };
  const replaysLayers = shouldRecompute(m, memory, w);
  const activationBytes = stepActivationBytes(m, w, replaysLayers);
  const optimizerBytes = 16 * trainable;
  // The CPU's packing and dequantizing of a quantized base (a GPU holds the codes as uploaded).
  const extra = base.gpu ? { loadBytes: 0, stepBytes: 0 } : quantizedTrainingExtra(shape, form, memory);
  const stepBytes = activationBytes + optimizerBytes + extra.stepBytes;
  // The engine's own check on the CPU, at the longest a batch can be (it checks the data's longest).
  const problem = base.gpu
    ? null
    : hostTrainingProblem({ ...m, tieEmbeddings: base.tied }, form, memory, {
        batch,
        tokens: T,
      });
  return {
    weightsBytes,
    activationBytes,
    optimizerBytes,
    loadBytes: extra.loadBytes,
    dequantizeBytes: extra.stepBytes,
    replaysLayers,
    problem,
    totalBytes: weightsBytes + Math.max(extra.loadBytes, stepBytes),
  };
}

/**
 * Calibrations measured, per model + configuration (cacheKey): the most recent few, since each
 * configuration a user measures adds one for as long as the studio runs.
 */
export const calibrations = new RecentCache<string, Calibration>(64);

function cacheKey(lib: Library, plan: PlannedRun): string {
  const c = plan.config;
  return JSON.stringify([
    lib.dataDir,
    plan.model.fingerprint,
    plan.version.id,
    c.intervention,
    c.layers,
    c.positions,
    c.shareWeights,
    c.rank,
    c.batchSize,
    c.gradAccum,
    c.maxLength,
    c.dropout,
    c.device,
  ]);
}

/**
 * Runs a short calibration on the device's queue (so it never overlaps a training run there).
 * Aborting `signal` stops it at once: its engine process is killed (a step of a large model holds
 * it for minutes, and the device with it), so that the device is free for what waits on it.
 */
async function calibrate(
  lib: Library,
  engine: Engine,
  jobs: JobQueue,
  plan: PlannedRun,
  signal?: AbortSignal,
): Promise<Calibration> {
  const c = plan.config;
  const dir = makeScratchFolder(lib.dataDir, 'calibrate');
  let ended: Promise<void> = Promise.resolve();
  try {
    // The first examples, enough for three optimizer steps.
    // Read a line at a time: the version may be bigger than one string can hold.
    const need = c.batchSize * c.gradAccum * 3;
    const lines: Buffer[] = [];
    for (const line of fileLinesSync(plan.version.filePath)) {
      if (line.bytes?.length) lines.push(line.bytes, Buffer.from('\n'));
      if (lines.length >= 2 * need) break;
    }
    const data = join(dir, 'sample.jsonl');
    writeFileSync(data, Buffer.concat(lines));
    const job = jobs.enqueue({
      kind: 'calibrate',
      device: c.device,
      label: `calibrate ${plan.model.name}`,
      // What the measurement is doing, for the wizard's "Measuring speed…": at desktop sizes it
      // converts and loads the model, then takes minutes a step.
      run: ({ signal, report }) =>
        engine.call(
          'calibrate',
          {
            config: {
              ...c,
              data,
              out: join(dir, 'out'),
              evalData: undefined,
              exportPyreft: undefined,
              dataDir: lib.dataDir,
              epochs: 1,
              maxSteps: 0,
            },
            scratch: dir,
          },
          {
            signal,
            killOnAbort: true,
            onEvent: (e, d) => {
              if (e === 'notice') report({ message: (d as { text: string }).text });
              else {
                const s = d as { done: number; total: number };
                report({ progress: s.done / s.total, message: `step ${s.done} of ${s.total}` });
              }
            },
          },
        ),
    });
    ended = job.ended;
    const stop = () => jobs.cancel(job.id);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
    try {
      return await job.done;
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  } finally {
    // Removed once the engine has let go of it: a cancelled job's `done` rejects before that.
    // (A folder left behind is swept at the next start, as a killed process's.)
    ended.then(() => rmSync(dir, { recursive: true, force: true })).catch(() => {});
  }
}

export async function estimateRun(
  lib: Library,
  engine: Engine,
  jobs: JobQueue,
  p: RunParams,
  opts: { calibrate?: boolean; signal?: AbortSignal } = {},
): Promise<RunEstimate> {
  const plan = await planRunChecked(lib, engine, p);
  const spec = loadModelSpec(plan.model.path);
  const fp = adapterFootprint(plan, spec.hiddenSize);
  // The trainer's own precision decision (runtime/precision.ts) for a run on the GPU.
  const gpus = await deviceMemories();
  const onGpu = trainsOnGpu(plan.config.device, lib.dataDir, gpus);
  const device =
    onGpu === 'webgpu' ? await webgpuMemory() : (onGpu && gpus.find((d) => d.device === 'cuda')) || gpus[0];
  // On WebGPU an fp16 checkpoint computes in float16 (NVIDIA's Vulkan drivers have shader-f16).
  const half =
    !!onGpu &&
    computeDtype(spec, plan.config.dtype, {
      cuda: onGpu === 'cuda',
      webgpuHalf: onGpu === 'webgpu' || null,
      cudaCapability: device.computeCapability ?? null,
    }) !== 'float32';
  const memory = {
    ...memoryEstimate(spec, plan.config.batchSize, plan.config.maxLength, fp.params, {
      quantize: plan.config.quantize,
      tied: spec.tieEmbeddings,
      half,
      memoryBytes: device.memoryBytes,
      gpu: onGpu,
    }),
    // What runs/start refuses, in the studio's words (at the data's longest example, not max length).
    problem: (await runMemoryIssue(engine, plan))?.message ?? null,
    device,
  };
  let calibration: RunEstimate['calibration'] = null;
  let skipped: RunEstimate['calibrationSkipped'] = null;
  const key = cacheKey(lib, plan);
  const hit = calibrations.get(key);
  if (hit) calibration = { ...hit, cached: true };
  // Measuring is minutes of training steps at desktop sizes: only on request, never by omission.
  else if (opts.calibrate !== true) skipped = 'not-requested';
  else if (jobs.deviceBusy(plan.config.device)) skipped = 'device-busy';
  else {
    const measured = await calibrate(lib, engine, jobs, plan, opts.signal);
    calibrations.set(key, measured);
    calibration = { ...measured, cached: false };
  }
  const epochSeconds = calibration ? (calibration.stepMs * plan.stepsPerEpoch) / 1000 : null;
  const totalSeconds = calibration ? (calibration.stepMs * plan.totalSteps) / 1000 : null;
  return {
    interventions: fp.specs.length,
    trainableParams: fp.params,
    adapterBytes: fp.bytes,
    memory,
    trainExamples: plan.trainExamples,
    stepsPerEpoch: plan.stepsPerEpoch,
    totalSteps: plan.totalSteps,
    calibration,
    calibrationSkipped: skipped,
    epochSeconds,
    totalSeconds,
  };
}
