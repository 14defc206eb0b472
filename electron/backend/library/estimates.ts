// What a run will cost, before it starts ('runs/estimate'): trainable parameters, the adapter's size
// on disk, a memory estimate and the time per epoch from a short calibration on the chosen device.
//
// Memory: memory-estimate.ts.
// Time: (measured ms per optimizer step) × steps per epoch; the measurement runs two real steps (after
// bench's untimed warm-up steps, runtime/warm-up.ts) on the first few examples, in the engine, and is
// cached per model + configuration.

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLinesSync } from '../../../native-runtime/formats/line-reader.ts';
import { type InterventionSpec, PARAMS, paramCount } from '../../../native-runtime/interventions/kinds.ts';
import { loadModelSpec } from '../../../native-runtime/models/config.ts';
import { bf16FallbackNote, computeDtype } from '../../../native-runtime/runtime/precision.ts';
import { WARMUP_STEPS } from '../../../native-runtime/runtime/warm-up.ts';
import { makeScratchFolder } from '../../../native-runtime/scratch-folders.ts';
import { parsePositions, planInterventions } from '../../../native-runtime/training/positions.ts';
import type { Engine } from '../jobs/engine.ts';
import type { Calibration } from '../jobs/engine-tasks.ts';
import type { JobQueue } from '../jobs/queue.ts';
import { type DeviceMemory, deviceMemories, trainsOnGpu, webgpuMemory } from './device-memory.ts';
import type { Library } from './library.ts';
import { type MemoryEstimate, memoryEstimate } from './memory-estimate.ts';
import { RecentCache } from './recent-cache.ts';
import { runMemoryIssue } from './run-memory-check.ts';
import { type PlannedRun, planRunChecked, type RunParams } from './run-plan.ts';
import type { CountProgress } from './token-counts.ts';

export interface RunEstimate {
  interventions: number;
  trainableParams: number;
  adapterBytes: number;
  memory: MemoryEstimate & {
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
  /** Said before the run starts: a bf16 checkpoint this GPU computes in float32 (no bfloat16 kernels). */
  precisionNote: string | null;
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
    // The first examples, enough for calibrateTask's optimizer steps: its warm-up, then two timed.
    // Read a line at a time: the version may be bigger than one string can hold.
    const need = c.batchSize * c.gradAccum * (WARMUP_STEPS + 2);
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
  opts: {
    calibrate?: boolean;
    /** Stops the estimate: its measurement, or the token count its memory check waits on. */
    signal?: AbortSignal;
    /** How far that token count is (the data tokenized to find its longest example). */
    onCountProgress?: CountProgress;
  } = {},
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
  const target = {
    cuda: onGpu === 'cuda',
    webgpuHalf: onGpu === 'webgpu' || null,
    cudaCapability: device.computeCapability ?? null,
  };
  const half = !!onGpu && computeDtype(spec, plan.config.dtype, target) !== 'float32';
  const count = { signal: opts.signal, onProgress: opts.onCountProgress };
  const memory = {
    ...memoryEstimate(spec, plan.config.batchSize, plan.config.maxLength, fp.params, {
      quantize: plan.config.quantize,
      tied: spec.tieEmbeddings,
      half,
      memoryBytes: device.memoryBytes,
      gpu: onGpu,
    }),
    // What runs/start refuses, in the studio's words (at the data's longest example, not max length).
    problem: (await runMemoryIssue(engine, plan, count))?.message ?? null,
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
    precisionNote: onGpu ? (bf16FallbackNote(spec, plan.config.dtype, target)?.message ?? null) : null,
    epochSeconds,
    totalSeconds,
  };
}
