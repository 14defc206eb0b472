// The Train wizard's form: field values, per-step validation and the 'runs/start' payload.
// Field names follow the CLI's `reft-studio train` flags (cli.md), camelCased.

import type { RunParams } from '../rpc/handlers.ts';

export const interventionTypes = [
  {
    id: 'loreft',
    label: 'LoReFT',
    help: 'The default. Edits hidden states inside a small learned subspace (orthogonal projection). Strong results with very few parameters.',
  },
  {
    id: 'noreft',
    label: 'NoReFT',
    help: 'Like LoReFT, but the subspace is not kept orthogonal. A little more freedom, a little less stability.',
  },
  {
    id: 'direft',
    label: 'DiReFT',
    help: 'Adds a learned edit along an orthogonal subspace without first removing the old value. Cheaper than LoReFT.',
  },
  {
    id: 'nodireft',
    label: 'NodiReFT',
    help: 'DiReFT without the orthogonality constraint (the paper calls this one DiReFT). The cheapest learned edit.',
  },
  {
    id: 'consreft',
    label: 'ConsReFT',
    help: 'Pulls the subspace toward one learned constant, whatever the input. Useful for a fixed style or persona.',
  },
  {
    id: 'lobireft',
    label: 'LobiReFT',
    help: 'Adds one learned constant offset in the subspace. The smallest intervention of all.',
  },
] as const;

export type InterventionType = (typeof interventionTypes)[number]['id'];

export const wizardSteps = ['Model & data', 'Intervention', 'Training', 'Review'] as const;

export const schedules = ['linear', 'cosine', 'constant'] as const;
export type Schedule = (typeof schedules)[number];

/** An optional number input: blank (null/undefined/NaN) means "use the default". */
function blank(v: number | null | undefined): v is null | undefined {
  return v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));
}

function intAtLeast(v: number | null, min: number): boolean {
  return blank(v) || (Number.isInteger(v) && v >= min);
}

export class TrainForm {
  step = $state(0);
  modelId = $state<number | null>(null);
  datasetId = $state<number | null>(null);
  intervention = $state<InterventionType>('loreft');
  layers = $state('all');
  positions = $state('f1+l1');
  shareWeights = $state(false);
  rank = $state(4);
  lr = $state(0.001);
  epochs = $state(3);
  batchSize = $state(4);
  // Advanced: null leaves the backend's default in place.
  maxSteps = $state<number | null>(null);
  gradAccum = $state<number | null>(null);
  maxLength = $state<number | null>(null);
  dropout = $state<number | null>(null);
  warmupRatio = $state<number | null>(null);
  schedule = $state<Schedule | ''>('');
  seed = $state<number | null>(null);
  checkpointEvery = $state<number | null>(null);
  /** The base weights' form; '' = the model's library setting. */
  quantize = $state<'' | 'none' | 'int8' | 'int4'>('');

  /** Problems with the current step's fields; empty when it may advance. */
  readonly problems = $derived.by(() => this.#problems(this.step));
  readonly allProblems = $derived.by(() => [0, 1, 2].flatMap((s) => this.#problems(s)));

  #problems(step: number): string[] {
    const out: string[] = [];
    if (step === 0) {
      if (this.modelId === null) out.push('Choose a base model.');
      if (this.datasetId === null) out.push('Choose a dataset.');
    } else if (step === 1) {
      if (!/^(all|\d+(\s*;\s*\d+)*)$/.test(this.layers.trim()))
        out.push('Layers: write "all" or layer numbers separated by ";" (e.g. 2;10;18).');
      if (!/^(f\d+(\+l\d+)?|l\d+)$/.test(this.positions.trim()))
        out.push('Positions: write f<N>, l<N> or f<N>+l<M> (e.g. f1+l1).');
      if (!Number.isInteger(this.rank) || this.rank < 1 || this.rank > 512)
        out.push('Rank: a whole number from 1 to 512.');
    } else if (step === 2) {
      if (!(this.lr > 0 && this.lr < 1)) out.push('Learning rate: a number between 0 and 1, e.g. 0.001.');
      if (!Number.isInteger(this.epochs) || this.epochs < 1) out.push('Epochs: a whole number, at least 1.');
      if (!Number.isInteger(this.batchSize) || this.batchSize < 1)
        out.push('Batch size: a whole number, at least 1.');
      if (!intAtLeast(this.maxSteps, 0)) out.push('Max steps: a whole number, 0 or more (blank = no limit).');
      if (!intAtLeast(this.gradAccum, 1)) out.push('Gradient accumulation: a whole number, at least 1.');
      if (!intAtLeast(this.maxLength, 2)) out.push('Max length: a whole number of tokens, at least 2.');
      if (!blank(this.dropout) && !(this.dropout >= 0 && this.dropout < 1))
        out.push('Dropout: a number from 0 up to (not including) 1.');
      if (!blank(this.warmupRatio) && !(this.warmupRatio >= 0 && this.warmupRatio <= 1))
        out.push('Warm-up: a fraction from 0 to 1.');
      if (!intAtLeast(this.seed, 0)) out.push('Seed: a whole number, 0 or more.');
      if (!intAtLeast(this.checkpointEvery, 0))
        out.push('Checkpoint every: a whole number of steps, 0 or more.');
    }
    return out;
  }

  /** Fills the form from 'runs/start' params (a run cloned from the Runs page, state/clone-run.ts). */
  applyParams(p: RunParams): void {
    this.modelId = p.modelId;
    this.datasetId = p.datasetId;
    if (p.intervention) this.intervention = p.intervention as InterventionType;
    if (p.layers !== undefined) this.layers = Array.isArray(p.layers) ? p.layers.join(';') : p.layers;
    if (p.positions) this.positions = p.positions;
    if (p.shareWeights !== undefined) this.shareWeights = p.shareWeights;
    if (p.rank !== undefined) this.rank = p.rank;
    if (p.lr !== undefined) this.lr = p.lr;
    if (p.epochs !== undefined) this.epochs = p.epochs;
    if (p.batchSize !== undefined) this.batchSize = p.batchSize;
    this.maxSteps = p.maxSteps || null;
    this.gradAccum = p.gradAccum ?? null;
    this.maxLength = p.maxLength ?? null;
    this.dropout = p.dropout ?? null;
    this.warmupRatio = p.warmupRatio ?? null;
    this.schedule = p.schedule ?? '';
    this.seed = p.seed ?? null;
    this.quantize = p.quantize ?? '';
    this.step = 0;
  }

  next(): void {
    if (this.problems.length === 0 && this.step < wizardSteps.length - 1) this.step++;
  }

  back(): void {
    if (this.step > 0) this.step--;
  }

  /** The payload for 'runs/start' (and 'runs/estimate'); blank advanced fields are left out. Null while the form has problems. */
  toParams(): RunParams | null {
    if (this.allProblems.length > 0 || this.modelId === null || this.datasetId === null) return null;
    const advanced: Partial<RunParams> = {};
    const opt = {
      maxSteps: this.maxSteps,
      gradAccum: this.gradAccum,
      maxLength: this.maxLength,
      dropout: this.dropout,
      warmupRatio: this.warmupRatio,
      seed: this.seed,
      checkpointEvery: this.checkpointEvery,
    };
    for (const [k, v] of Object.entries(opt)) if (!blank(v)) advanced[k as keyof typeof opt] = v;
    if (this.schedule) advanced.schedule = this.schedule;
    if (this.quantize) advanced.quantize = this.quantize;
    return {
      ...advanced,
      modelId: this.modelId,
      datasetId: this.datasetId,
      intervention: this.intervention,
      layers: this.layers.trim(),
      positions: this.positions.trim(),
      shareWeights: this.shareWeights,
      rank: this.rank,
      lr: this.lr,
      epochs: this.epochs,
      batchSize: this.batchSize,
    };
  }
}
