// The best held-out loss of a run so far, for "Keep the best" and early stopping (options.ts
// keepBest, earlyStoppingPatience), as Hugging Face's Trainer does with load_best_model_at_end and
// EarlyStoppingCallback: an evaluation improves on the best only with a strictly lower loss; early
// stopping ends the run once `patience` evaluations in a row did not. With "keep the best", a copy of
// the trainable tensors at the best evaluation is kept (a few KB to MB: the interventions only), and
// becomes the run's adapter at the end.
//
// A checkpoint carries all of it (trainer-state.json `best`, and best.safetensors with the copy), so a
// resumed run stops at the same step and ends with the same adapter as one never interrupted.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../errors.ts';
import { loadSafetensors, type TensorToWrite } from '../formats/safetensors.ts';
import { plural } from '../plural.ts';
import { isPrecision, type Precision } from '../runtime/precision-used.ts';
import type { InterventionState } from './reft-model.ts';

export const BEST_FILE = 'best.safetensors';

/** What trainer-state.json keeps of it. */
export interface BestState {
  /** The evaluation with the lowest held-out loss so far; null before the first. */
  best: { step: number; evalLoss: number } | null;
  /** Evaluations since the best that did not improve on it. */
  sinceImproved: number;
  /**
   * The precision the base computed in when the best was found: a run resumed on another device (or
   * its `auto` settling otherwise) trains on in another, and the kept best is labelled with its own.
   * Absent before the first best, and in a checkpoint written before it was kept.
   */
  precision?: Precision;
}

/** The copy of each intervention's tensors, by its key and parameter name. */
type ParamCopy = Map<string, Map<string, Float32Array>>;

export class BestSoFar {
  best: BestState['best'] = null;
  sinceImproved = 0;
  /** BestState.precision: null where unknown (no best yet, or restored from an older checkpoint). */
  precision: Precision | null = null;
  #params: ParamCopy | null = null;

  /**
   * `patience`: evaluations without improvement that end the run (0: never). `keepParams`: keep a
   * copy of the parameters at the best (for "keep the best").
   */
  constructor(
    readonly patience: number,
    readonly keepParams: boolean,
  ) {}

  /** Whether either option asks for it: a run with neither tracks nothing (and stores nothing). */
  get active(): boolean {
    return this.patience > 0 || this.keepParams;
  }

  /** Records the evaluation at `step`, of `states` trained in `precision`; true when it is the new best. */
  observe(
    step: number,
    evalLoss: number,
    states: readonly InterventionState[],
    precision: Precision,
  ): boolean {
    if (this.best !== null && !(evalLoss < this.best.evalLoss)) {
      this.sinceImproved++;
      return false;
    }
    this.best = { step, evalLoss };
    this.sinceImproved = 0;
    this.precision = precision;
    if (this.keepParams)
      this.#params = new Map(
        states.map((s) => [
          s.spec.key,
          new Map([...s.params].map(([name, p]) => [name, Float32Array.from(p.data)])),
        ]),
      );
    return true;
  }

  /** Patience has run out: the run stops here. */
  get exhausted(): boolean {
    return this.patience > 0 && this.sinceImproved >= this.patience;
  }

  /** Why the run stops early: "the held-out loss has not improved for 3 evaluations since step 40 (1.2340)". */
  stopReason(): string {
    const b = this.best;
    const since = b ? ` since step ${b.step} (${b.evalLoss.toFixed(4)})` : '';
    return `the held-out loss has not improved for ${plural(this.sinceImproved, 'evaluation')}${since}`;
  }

  /** `states` with the parameters of the best evaluation (the states themselves when none is kept). */
  statesAtBest(states: readonly InterventionState[]): InterventionState[] {
    const copy = this.#params;
    if (!copy) return [...states];
    return states.map((s) => {
      const kept = copy.get(s.spec.key);
      if (!kept) throw new Error(`no kept parameters for intervention ${s.spec.key}`);
      const params = new Map([...s.params].map(([name, p]) => [name, { ...p, data: kept.get(name)! }]));
      return { ...s, params };
    });
  }

  /**
   * Puts the best evaluation's parameters into `states` themselves, for the probe prompts answered
   * after the run's last checkpoint (written first, with the last step's): the answers then are the
   * adapter's. Training must not go on from them (a Householder R no longer matches its X).
   */
  loadInto(states: readonly InterventionState[]): void {
    this.statesAtBest(states).forEach((best, j) => {
      for (const [name, p] of best.params) states[j]!.params.get(name)!.data = Float32Array.from(p.data);
    });
  }

  state(): BestState {
    return {
      best: this.best,
      sinceImproved: this.sinceImproved,
      ...(this.precision ? { precision: this.precision } : {}),
    };
  }

  /** best.safetensors' tensors, `<key>/<name>`; null when no copy is kept. */
  tensors(): Record<string, TensorToWrite> | null {
    if (!this.#params) return null;
    const t: Record<string, TensorToWrite> = {};
    for (const [key, params] of this.#params)
      for (const [name, data] of params) t[`${key}/${name}`] = { dtype: 'F32', shape: [data.length], data };
    return t;
  }

  /** Takes up where checkpoint `dir` left off (`state`: its trainer-state.json `best`, if any). */
  restore(dir: string, state: BestState | undefined, states: readonly InterventionState[]): void {
    if (!state) return; // a checkpoint from before these options: nothing tracked yet
    this.best = state.best;
    this.sinceImproved = state.sinceImproved;
    this.precision = isPrecision(state.precision) ? state.precision : null;
    if (!this.keepParams || state.best === null) return;
    const path = join(dir, BEST_FILE);
    if (!existsSync(path))
      throw new FormatError('bad-checkpoint', `${dir}: no ${BEST_FILE} with the best parameters`);
    const tensors = loadSafetensors(path);
    this.#params = new Map(
      states.map((s) => [
        s.spec.key,
        new Map(
          [...s.params].map(([name, p]) => {
            const x = tensors.get(`${s.spec.key}/${name}`);
            if (!x || x.dtype !== 'F32' || x.data.length !== p.data.length)
              throw new FormatError(
                'bad-checkpoint',
                `${path}: ${s.spec.key}/${name} is missing or the wrong size`,
              );
            return [name, Float32Array.from(x.data as Float32Array)];
          }),
        ),
      ]),
    );
  }
}
