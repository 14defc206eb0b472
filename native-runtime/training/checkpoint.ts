// Training checkpoints: one folder per save, written atomically (a temp sibling, then a rename), so
// a crash leaves the previous checkpoints and never a half-written one. A checkpoint folder is also a
// valid studio adapter folder (readStudioAdapter reads it) and holds everything for an exact resume:
//   manifest.json, adapter.safetensors   the parameters (R itself), as the final adapter
//   optimizer.safetensors                AdamW moments `m/<key>/<slot>`, `v/<key>/<slot>` (F32); per R,
//                                        the trained X `x/<key>` (F32) and its Householder base
//                                        `base/<key>` (F64 reflectors k×n, or `base_dense/<key>` n×n)
//   trainer-state.json                   step, data position, resolved config, data hashes, the
//                                        metrics of the last CHECKPOINT_METRICS steps, the best
//                                        held-out loss so far (best-so-far.ts)
//   best.safetensors                     with "keep the best": the parameters at that best
// Data order and dropout masks are pure functions of (seed, epoch) and (seed, step) in trainer.ts, so
// the position (step, epoch, micro-batch) is all the RNG state a resume needs.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, FormatError } from '../errors.ts';
import { removeFolderAtomic, writeFolderAtomic } from '../formats/atomic-write.ts';
import {
  encodeSafetensors,
  loadSafetensors,
  readSafetensorsHeader,
  type TensorToWrite,
} from '../formats/safetensors.ts';
import { readStudioAdapter, type StudioAdapter, studioAdapterFiles } from '../formats/studio-adapter.ts';
import { plural } from '../plural.ts';
import { BEST_FILE, type BestState } from './best-so-far.ts';
import type { ResolvedTrainConfig } from './config.ts';
import type { AdamState } from './optimizer.ts';
import type { InterventionState } from './reft-model.ts';
import { DenseBase, HouseholderParam, ReflectorBase } from './stiefel.ts';

export const STATE_FILE = 'trainer-state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

/**
 * The steps whose metrics a checkpoint carries: those a crash may have kept from the library (reports
 * still in flight, at most a few seconds' worth), with a wide margin. Every step's, as before, made
 * each checkpoint grow with the run (670 KB at step 3,000) and a run keeping all its checkpoints
 * take disk space in the square of its length (21 MB for 3,000 steps checkpointed every 50).
 */
export const CHECKPOINT_METRICS = 1000;

/** One logged optimizer step (the shape the backend's run metrics take). */
export interface MetricRecord {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerS: number;
  evalLoss: number | null;
}

export interface TrainerState {
  format: 'reft-studio-checkpoint';
  version: 1;
  /** Optimizer steps done. */
  step: number;
  totalSteps: number;
  /** The next micro-batch to run: epoch and index in that epoch's order. */
  epoch: number;
  micro: number;
  config: ResolvedTrainConfig;
  dataHash: string;
  evalHash: string | null;
  trainExamples: number;
  evalExamples: number;
  /** Supervised + prompt tokens processed so far, and training seconds so far (for tokens/s). */
  tokensSeen: number;
  elapsedS: number;
  /** The last CHECKPOINT_METRICS steps' metrics (the library keeps every step's). */
  metrics: MetricRecord[];
  lastEvalLoss: number | null;
  /** The best held-out loss so far, with keepBest or early stopping (absent: neither, or an older checkpoint). */
  best?: BestState;
  createdAt: string;
}

/** The slot list of a ReftOptimizer (state index and name) — order and names stored with m and v. */
export interface SlotRef {
  state: number;
  name: string;
}

export interface CheckpointContent {
  adapter: StudioAdapter;
  state: TrainerState;
  slots: SlotRef[];
  adam: AdamState;
  states: InterventionState[];
  /** best.safetensors' tensors (BestSoFar.tensors), when the run keeps the best parameters. */
  best?: Record<string, TensorToWrite> | null;
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** Writes `dir` (replaced atomically if present). */
export function writeCheckpoint(dir: string, c: CheckpointContent): void {
  const t: Record<string, TensorToWrite> = {};
  c.slots.forEach((s, k) => {
    const key = c.states[s.state].spec.key;
    t[`m/${key}/${s.name}`] = { dtype: 'F32', shape: [c.adam.m[k].length], data: c.adam.m[k] };
    t[`v/${key}/${s.name}`] = { dtype: 'F32', shape: [c.adam.v[k].length], data: c.adam.v[k] };
  });
  for (const s of c.states) {
    if (!s.rot) continue;
    const key = s.spec.key;
    const { n, r } = s.rot;
    t[`x/${key}`] = { dtype: 'F32', shape: [n, r], data: s.rot.x };
    const base = s.rot.base;
    if (base instanceof ReflectorBase) {
      const u = new Float64Array(base.u.length * n);
      for (const [i, v] of base.u.entries()) u.set(v, i * n);
      t[`base/${key}`] = { dtype: 'F64', shape: [base.u.length, n], data: u };
    } else if (base instanceof DenseBase) {
      t[`base_dense/${key}`] = { dtype: 'F64', shape: [n, n], data: base.data };
    } else {
      throw new FormatError('bad-checkpoint', `intervention ${key}: cannot store this Householder base`);
    }
  }
  writeFolderAtomic(dir, [
    ...studioAdapterFiles(c.adapter),
    [
      OPTIMIZER_FILE,
      encodeSafetensors(t, { format: 'reft-studio-optimizer', adamStep: String(c.adam.step) }),
    ],
    [STATE_FILE, `${JSON.stringify(c.state, null, 2)}\n`],
    ...(c.best
      ? [[BEST_FILE, encodeSafetensors(c.best, { format: 'reft-studio-best' })] as [string, Buffer]]
      : []),
  ]);
}

/** Reads a checkpoint's trainer state only (for listing, or to resume with its config). */
export function readTrainerState(dir: string): TrainerState {
  const p = join(dir, STATE_FILE);
  if (!existsSync(p))
    throw new ConfigError('bad-checkpoint', `${dir}: not a training checkpoint (no ${STATE_FILE})`);
  let s: TrainerState;
  try {
    s = JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    throw new FormatError('bad-checkpoint', `${p}: not valid JSON`);
  }
  if (s.format !== 'reft-studio-checkpoint' || s.version !== 1) {
    throw new FormatError('bad-checkpoint', `${p}: not a version 1 ReFT Studio checkpoint`);
  }
  return s;
}

/**
 * The adapter a run stopped at checkpoint `dir` stands for, as it would end there: the checkpoint's
 * parameters, or where the run keeps the best, the best evaluation's so far (best.safetensors; none
 * yet before its first evaluation), with that evaluation in the metrics as the trainer's final
 * adapter has it. `bestStep`: that evaluation's step, or null where the parameters are the checkpoint's.
 */
export function checkpointAdapter(dir: string): { adapter: StudioAdapter; bestStep: number | null } {
  const adapter = readStudioAdapter(dir);
  const state = readTrainerState(dir);
  const best = state.config.keepBest ? (state.best?.best ?? null) : null;
  if (!best) return { adapter, bestStep: null };
  const path = join(dir, BEST_FILE);
  if (!existsSync(path))
    throw new FormatError('bad-checkpoint', `${dir}: no ${BEST_FILE} with the best parameters`);
  const kept = loadSafetensors(path);
  const interventions = adapter.interventions.map((iv) => {
    const params: typeof iv.params = {};
    for (const [name, p] of Object.entries(iv.params)) {
      // The adapter names R as pyreft's config does; the trainer's copy by its parameter's name.
      const t = kept.get(`${iv.key}/${name === 'R' ? 'rotate_layer' : name}`);
      if (!t || t.dtype !== 'F32' || t.data.length !== p.data.length)
        throw new FormatError('bad-checkpoint', `${path}: ${iv.key}/${name} is missing or the wrong size`);
      params[name] = { ...p, data: Float32Array.from(t.data as Float32Array) };
    }
    return { ...iv, params };
  });
  const metrics = {
    ...adapter.manifest.metrics,
    evalLoss: best.evalLoss,
    bestStep: best.step,
    bestEvalLoss: best.evalLoss,
  };
  // Labelled with the precision the best was trained in, which a resumed run's later sessions (whose
  // checkpoint this may be) need not share; none where an older checkpoint did not record it.
  const precision = state.best?.precision ?? null;
  return {
    adapter: { manifest: { ...adapter.manifest, metrics, precision }, interventions },
    bestStep: best.step,
  };
}

/**
 * Restores parameters and every R's X and base into `states` (which must have the checkpoint's
 * interventions: same keys, types and ranks). Call before building the optimizer, which holds X.
 */
export function restoreStates(dir: string, states: InterventionState[]): TrainerState {
  const state = readTrainerState(dir);
  const adapter = readStudioAdapter(dir);
  const tensors = loadSafetensors(join(dir, OPTIMIZER_FILE));
  if (adapter.interventions.length !== states.length) {
    throw new ConfigError(
      'checkpoint-mismatch',
      `${dir}: the checkpoint has ${plural(adapter.interventions.length, 'intervention')}, this run ${states.length}`,
    );
  }
  states.forEach((s, i) => {
    const iv = adapter.interventions[i];
    if (iv.key !== s.spec.key || iv.type !== s.spec.type || iv.rank !== s.spec.rank) {
      throw new ConfigError(
        'checkpoint-mismatch',
        `${dir}: intervention ${i} is ${iv.key} (${iv.type}, rank ${iv.rank}), this run has ${s.spec.key} (${s.spec.type}, rank ${s.spec.rank})`,
      );
    }
    for (const [name, p] of s.params) {
      if (name === 'rotate_layer') continue; // recomputed from X and base below
      const src = iv.params[name];
      if (src) p.data.set(src.data);
      else p.data.fill(0); // the optional proj_layer.bias
    }
    if (s.rot) {
      const { n, r } = s.rot;
      const x = tensorOf(dir, tensors, `x/${s.spec.key}`, 'F32', n * r) as Float32Array;
      const b = tensors.get(`base/${s.spec.key}`);
      let base: ReflectorBase | DenseBase;
      if (b) {
        const data = b.data as Float64Array;
        base = new ReflectorBase(
          n,
          Array.from({ length: b.shape[0] }, (_, j) => data.slice(j * n, (j + 1) * n)),
        );
      } else {
        base = new DenseBase(
          n,
          tensorOf(dir, tensors, `base_dense/${s.spec.key}`, 'F64', n * n) as Float64Array,
        );
      }
      s.rot = new HouseholderParam(n, r, Float32Array.from(x), base);
      s.params.get('rotate_layer')!.data = s.rot.forward();
    }
  });
  return state;
}

/** AdamW state for an optimizer's slots (ReftOptimizer.slots order) from a checkpoint. */
export function readAdamState(
  dir: string,
  states: InterventionState[],
  slots: readonly SlotRef[],
): AdamState {
  const path = join(dir, OPTIMIZER_FILE);
  const tensors = loadSafetensors(path);
  const size = (sl: SlotRef) => {
    const s = states[sl.state];
    return sl.name === 'rotate_layer.parametrizations.weight.original'
      ? s.rot!.n * s.rot!.r
      : s.params.get(sl.name)!.data.length;
  };
  const get = (kind: 'm' | 'v') =>
    slots.map((sl) =>
      Float32Array.from(
        tensorOf(
          dir,
          tensors,
          `${kind}/${states[sl.state].spec.key}/${sl.name}`,
          'F32',
          size(sl),
        ) as Float32Array,
      ),
    );
  return { step: readAdamStep(path), m: get('m'), v: get('v') };
}

function tensorOf(
  dir: string,
  tensors: ReturnType<typeof loadSafetensors>,
  name: string,
  dtype: 'F32' | 'F64',
  numel: number,
) {
  const x = tensors.get(name);
  if (!x) throw new FormatError('bad-checkpoint', `${dir}: ${OPTIMIZER_FILE} has no ${name}`);
  if (x.dtype !== dtype || x.data.length !== numel)
    throw new FormatError('bad-checkpoint', `${dir}: ${name} has the wrong dtype or size`);
  return x.data;
}

/** AdamW's step count, kept in optimizer.safetensors' metadata: only the file's header is read. */
export function readAdamStep(path: string): number {
  const step = Number(readSafetensorsHeader(path).metadata.adamStep);
  if (!Number.isInteger(step) || step < 0)
    throw new FormatError('bad-checkpoint', `${path}: no adamStep in the metadata`);
  return step;
}

/**
 * Deletes the oldest checkpoints under `dir` so that the newest `keep` remain, among the folders
 * `owned` accepts (a checkpoint folder chosen by the user may hold other runs' checkpoints). Returns
 * the folders removed. `keep` 0 keeps everything.
 */
export function pruneCheckpoints(dir: string, keep: number, owned: (dir: string) => boolean): string[] {
  if (keep <= 0) return [];
  const mine = listCheckpoints(dir).filter(owned);
  const old = mine.slice(0, Math.max(0, mine.length - keep));
  for (const d of old) removeFolderAtomic(d);
  return old;
}

/** Checkpoint folders under `dir`, oldest first. */
export function listCheckpoints(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (
    readdirSync(dir)
      .filter((n) => /^step-\d+$/.test(n) && existsSync(join(dir, n, STATE_FILE)))
      // By step number: names are padded to 6 digits, so past 999,999 steps text order is wrong.
      .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
      .map((n) => join(dir, n))
  );
}
