// The Train wizard's state: which model and data, how much is held out, the run's name, probe
// prompts and every training option, with the problems of each step. The options, their limits and
// the checks are the backend's own (native-runtime/training/options.ts): the same trainOptionIssues
// refuses a run in the CLI, over RPC and here, the model-dependent limits with the shape runs/check
// reports. One instance lives for the whole session (`trainForm`), so leaving the page keeps the
// draft, and the page saves it for a reload of the tab (session-kept.ts).

import { probeProblem, runNameProblem } from '../../../../electron/backend/jobs/run-params.ts';
import {
  SWEEP_KEYS,
  SWEEP_MAX_AXES,
  type SweepAxis,
  type SweepRun,
  sweepRuns,
} from '../../../../electron/backend/jobs/sweep-params.ts';
import { plural } from '../../../../native-runtime/plural.ts';
import {
  heldOutIssues,
  type OptionIssue,
  TRAIN_DEFAULTS,
  TRAIN_OPTIONS,
  type TrainOptionKey,
  trainOptionIssues,
} from '../../../../native-runtime/training/options.ts';
import { heldOutProblem } from '../dataset-versions.ts';
import type { DatasetRecord, ModelShapeForTraining, RunParams, TrainOptions } from '../rpc/handlers.ts';
import { positionCounts } from '../train/positions.ts';
import { RECIPES, type Recipe, type RecipeShape } from '../train/presets.ts';
import type { ClonedParams } from './clone-run.ts';
import { readKept, writeKept } from './session-kept.ts';

export const wizardSteps = ['Model & data', 'Intervention', 'Training', 'Preview & start'] as const;

/** The wizard step that shows each option. */
export const OPTION_STEP: Record<TrainOptionKey, number> = {
  intervention: 1,
  layers: 1,
  positions: 1,
  shareWeights: 1,
  rank: 1,
  act: 1,
  dropout: 1,
  lr: 2,
  epochs: 2,
  maxSteps: 2,
  batchSize: 2,
  gradAccum: 2,
  maxLength: 2,
  weightDecay: 2,
  warmupRatio: 2,
  schedule: 2,
  maxGradNorm: 2,
  seed: 2,
  chatTemplate: 2,
  evalSplit: 0,
  evalEvery: 0,
  keepBest: 2,
  earlyStoppingPatience: 2,
  checkpointEvery: 2,
  keepCheckpoints: 2,
  device: 2,
  quantize: 2,
  dtype: 2,
};

/** The share of rows the wizard's "Hold out N %" field accepts (its min and max). */
export const HOLD_OUT = { min: 0.01, max: 0.9 } as const;

/** Where held-out examples come from. */
export type Validation = 'none' | 'fraction' | 'version';

/** A problem the wizard shows: an option's (with its field) or one of its own. */
export interface Problem {
  field: TrainOptionKey | 'model' | 'dataset' | 'validation' | 'probe' | 'name';
  message: string;
}

type Values = { -readonly [K in TrainOptionKey]?: TrainOptions[K] | null };

const storageKey = 'reft-studio.train-draft';

/**
 * The draft's fields kept across a reload, with the recipe's id. Not the model's shape (asked again)
 * nor a refusal (Start asks again); a model or dataset removed meanwhile is chosen again by the page.
 */
const KEPT = [
  'step',
  'modelId',
  'datasetId',
  'versionId',
  'validation',
  'holdOut',
  'evalVersionId',
  'name',
  'probePrompts',
  'probeEvery',
  'probeMaxNewTokens',
  'values',
  'recipeFit',
  'sweep',
] as const;

/** The wizard step that shows each field: the options' and the form's own. */
const FIELD_STEP: Record<Problem['field'], number> = {
  ...OPTION_STEP,
  model: 0,
  dataset: 0,
  validation: 0,
  name: 0,
  probe: 2,
};

/**
 * The form field a backend refusal names: one probe prompt ('probe.prompts.1') is a line of the
 * Probe prompts box. Other fields are the options' own keys.
 */
function formField(field: string): string {
  return field.startsWith('probe.') ? 'probe' : field;
}

/** Number inputs give null (or NaN) when blank: blank means "the default". */
const given = (v: unknown) => v !== null && v !== undefined && !(typeof v === 'number' && Number.isNaN(v));

function initialValues(): Values {
  // Everything at its default except what "default" means per model (max length) or per run
  // (checkpoints: about ten per run).
  const { maxLength: _m, checkpointEvery: _c, evalSplit: _e, ...rest } = TRAIN_DEFAULTS;
  return { ...rest };
}

export class TrainForm {
  step = $state(0);
  modelId = $state<number | null>(null);
  datasetId = $state<number | null>(null);
  /** The training version; null: the dataset's latest full version. */
  versionId = $state<number | null>(null);
  validation = $state<Validation>('none');
  /** The held-out fraction when validation is 'fraction'; NaN while its field is blank or unreadable. */
  holdOut = $state(0.1);
  evalVersionId = $state<number | null>(null);
  name = $state('');
  /** One prompt per line; answered at checkpoints while training. */
  probePrompts = $state('');
  probeEvery = $state(10);
  /** The probe answers' length, kept from a cloned run (the wizard has no field for it; unset: the default). */
  probeMaxNewTokens = $state<number | undefined>(undefined);
  values = $state<Values>(initialValues());
  /** The recipe last applied (its notes are shown beside the fields it set). */
  recipe = $state<Recipe | null>(null);
  /** The model shape the recipe's options were fitted to: a model chosen since is refitted to. */
  recipeFit = $state.raw<RecipeShape | null>(null);
  /** What refitting the recipe to another model changed, in a line; null when nothing was. */
  recipeNote = $state<string | null>(null);
  /** The library's datasets (the page's list), for the held-out version's rule; null until loaded. */
  datasets = $state.raw<DatasetRecord[] | null>(null);
  /** The chosen model's shape (runs/check); null until known. */
  shape = $state.raw<ModelShapeForTraining | null>(null);
  /**
   * Number fields whose text is not a number ("1e", "--3"): the browser reports those as blank, which
   * would otherwise pass silently as "the default". Or a number the field cannot take (a count of
   * tokens of 1e21). Each with the words of its problem.
   */
  unreadable = $state.raw<Partial<Record<TrainOptionKey, string>>>({});
  /**
   * "Try several values": the options varied, each with its values as typed ("1e-3, 4e-3"); empty
   * for one run. The runs it makes are `sweepPlan`.
   */
  sweep = $state<SweepAxis[]>([]);
  /** A refusal from the backend that names a field (shown beside it until the field changes). */
  serverIssue = $state.raw<{ field: string; message: string; value: unknown } | null>(null);

  constructor() {
    const saved = readKept(storageKey);
    if (!saved) return;
    for (const k of KEPT) if (k in saved) (this as Record<string, unknown>)[k] = saved[k];
    // A blank percent field is NaN, which JSON writes as null.
    if (typeof this.holdOut !== 'number') this.holdOut = Number.NaN;
    // A draft saved by another version of the studio may vary an option this one does not offer.
    this.sweep = (Array.isArray(this.sweep) ? this.sweep : [])
      .filter((a) => (SWEEP_KEYS as readonly string[]).includes(a?.key) && typeof a.text === 'string')
      .slice(0, SWEEP_MAX_AXES);
    this.recipe = RECIPES.find((r) => r.id === saved.recipe) ?? null;
  }

  /** Saves the draft for a reload (call from an effect: it reads every kept field). */
  persist(): void {
    const out: Record<string, unknown> = { recipe: this.recipe?.id ?? null };
    for (const k of KEPT) out[k] = $state.snapshot(this[k]);
    writeKept(storageKey, out);
  }

  /** The options as given (blank fields left out). */
  readonly options: TrainOptions = $derived.by(() => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.values)) if (given(v)) o[k] = v;
    if (this.validation === 'fraction') o.evalSplit = this.holdOut;
    return o as TrainOptions;
  });

  readonly optionIssues: OptionIssue[] = $derived.by(() => {
    try {
      // A held-out fraction is in the options; another version is the form's own (evalData's).
      const heldOut = heldOutIssues(this.options, this.validation === 'version');
      return [...trainOptionIssues(this.options, this.shape), ...heldOut];
    } catch (e) {
      return [{ field: 'layers', code: 'unknown', message: (e as Error).message, cli: '' }];
    }
  });

  /** Every problem, each with the step that shows it. */
  readonly problems: Array<Problem & { step: number }> = $derived.by(() => {
    const out: Array<Problem & { step: number }> = [];
    if (this.modelId === null) out.push({ field: 'model', step: 0, message: 'Choose a base model.' });
    if (this.datasetId === null) out.push({ field: 'dataset', step: 0, message: 'Choose a dataset.' });
    if (this.validation === 'version' && this.evalVersionId === null)
      out.push({ field: 'validation', step: 0, message: 'Choose the version to validate on.' });
    const overlap = this.#heldOutOverlap();
    if (overlap) out.push({ field: 'validation', step: 0, message: `Validation: ${overlap}.` });
    // The percent field's own limits and words (the option's are a fraction: "got -0.05").
    const holdOutBad =
      this.validation === 'fraction' &&
      !(Number.isFinite(this.holdOut) && this.holdOut >= HOLD_OUT.min && this.holdOut <= HOLD_OUT.max);
    if (holdOutBad)
      out.push({
        field: 'validation',
        step: 0,
        message: `Hold out: a percentage from ${HOLD_OUT.min * 100} to ${HOLD_OUT.max * 100}.`,
      });
    // runs/start's own rules for the name and the probe prompts, in the form's words.
    const badName = runNameProblem(this.name.trim());
    if (badName) out.push({ field: 'name', step: 0, message: `Name: a run name ${badName}.` });
    const c = positionCounts(this.values.positions ?? undefined);
    const noToken = c !== null && c.first === 0 && c.last === 0;
    if (noToken)
      out.push({
        field: 'positions',
        step: 1,
        message: 'Positions: choose at least one first or last token.',
      });
    const badProbe = probeProblem(this.probeList);
    if (badProbe) out.push({ field: 'probe', step: 2, message: `Probe prompts: ${badProbe}.` });
    if (this.probeList.length && !(Number.isSafeInteger(this.probeEvery) && this.probeEvery >= 1))
      out.push({ field: 'probe', step: 2, message: 'Probe every: a whole number of steps, at least 1.' });
    for (const [key, why] of Object.entries(this.unreadable) as [TrainOptionKey, string][])
      out.push({ field: key, step: OPTION_STEP[key], message: `${TRAIN_OPTIONS[key].label}: ${why}.` });
    for (const i of this.optionIssues) {
      // The engine's words for "no token" name the CLI's text ("f0"); the form's line above says it.
      if ((noToken && i.field === 'positions') || (holdOutBad && i.field === 'evalSplit')) continue;
      out.push({ field: i.field, step: OPTION_STEP[i.field], message: i.message });
    }
    const s = this.serverIssue;
    if (s && !out.some((p) => p.field === s.field) && this.#current(s.field) === s.value)
      out.push({
        field: s.field as Problem['field'],
        step: FIELD_STEP[s.field as Problem['field']] ?? 0,
        message: s.message,
      });
    return out;
  });

  readonly probeList: string[] = $derived(
    this.probePrompts
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean),
  );

  /** The payload for 'runs/start', 'runs/estimate' and 'runs/preview'; null while anything is wrong. */
  readonly params: RunParams | null = $derived.by(() => {
    if (this.problems.length > 0 || this.modelId === null || this.datasetId === null) return null;
    const maxNewTokens = this.probeMaxNewTokens;
    const probe = this.probeList.length
      ? { prompts: this.probeList, every: this.probeEvery, ...(maxNewTokens ? { maxNewTokens } : {}) }
      : undefined;
    return {
      ...this.options,
      modelId: this.modelId,
      datasetId: this.datasetId,
      ...(this.versionId !== null ? { datasetVersionId: this.versionId } : {}),
      ...(this.validation === 'version' && this.evalVersionId !== null
        ? { evalDatasetVersionId: this.evalVersionId }
        : {}),
      ...(this.name.trim() ? { name: this.name.trim() } : {}),
      ...(probe ? { probe } : {}),
    };
  });

  /**
   * The runs "Try several values" queues (runs/start-many's), or why it cannot (a value, too many
   * runs, or a combination the model refuses, as one run with those options would be refused:
   * trainOptionIssues, as runs/start plans it); null while no option is varied or the draft has
   * problems of its own.
   */
  readonly sweepPlan: { runs: SweepRun[] } | { problem: string } | null = $derived.by(() => {
    const base = this.params;
    if (!this.sweep.length || !base) return null;
    const made = sweepRuns(base, this.sweep, this.shape?.numLayers);
    if ('problem' in made) return made;
    for (const run of made.runs) {
      const options = Object.fromEntries(
        Object.entries(run.params).filter(([k]) => k in TRAIN_OPTIONS),
      ) as TrainOptions;
      const [issue] = trainOptionIssues(options, this.shape);
      if (issue) return { problem: `“${run.name}”: ${issue.message}.` };
    }
    return made;
  });

  /** Varies one more option (the first not varied yet), with no values yet. */
  addSweepAxis(): void {
    const key = SWEEP_KEYS.find((k) => !this.sweep.some((a) => a.key === k));
    if (key && this.sweep.length < SWEEP_MAX_AXES) this.sweep.push({ key, text: '' });
  }

  removeSweepAxis(index: number): void {
    this.sweep.splice(index, 1);
  }

  problemsOf(step: number): Problem[] {
    return this.problems.filter((p) => p.step === step);
  }

  /** Why the held-out version shares rows with the training version (runs/start's rule), or null. */
  #heldOutOverlap(): string | null {
    const held = this.evalVersionId;
    if (this.validation !== 'version' || held === null) return null;
    const ds = this.datasets?.find((d) => d.id === this.datasetId);
    if (!ds) return held === this.versionId ? 'validate on other rows than the ones trained on' : null;
    return heldOutProblem(ds, this.versionId ?? ds.latest.id, held);
  }

  /** The message for one field, if it has a problem. */
  issueOf(field: Problem['field']): string | null {
    return this.problems.find((p) => p.field === field)?.message ?? null;
  }

  set<K extends TrainOptionKey>(key: K, value: TrainOptions[K] | null): void {
    this.values[key] = value;
    if (key in this.unreadable) {
      const { [key]: _cleared, ...rest } = this.unreadable;
      this.unreadable = rest;
    }
  }

  /**
   * A number field's text is not a number (or, as `why` says, not one the field takes): a problem
   * until the field is set again. Its value is left as it was (clearing it would also clear the text
   * the user is looking at).
   */
  setUnreadable(key: TrainOptionKey, why = 'not a number'): void {
    this.unreadable = { ...this.unreadable, [key]: why };
  }

  next(): void {
    if (this.problemsOf(this.step).length === 0 && this.step < wizardSteps.length - 1) this.step++;
  }

  back(): void {
    if (this.step > 0) this.step--;
  }

  /** Goes to the first step with a problem (after a refusal), or stays. */
  showFirstProblem(): void {
    const first = this.problems[0];
    if (first) this.step = first.step;
  }

  /** Applies a recipe for the chosen model: every option it covers, with its reasons. */
  applyRecipe(recipe: Recipe, model: RecipeShape): void {
    this.values = { ...this.values, ...recipe.options(model) };
    this.recipe = recipe;
    this.recipeFit = { numLayers: model.numLayers, maxPositions: model.maxPositions };
    this.recipeNote = null;
  }

  /** The chosen model's shape (runs/check); a recipe applied for another model is refitted to it. */
  setShape(shape: ModelShapeForTraining | null): void {
    this.shape = shape;
    if (shape && this.recipe) this.#refitRecipe(this.recipe, shape);
  }

  /**
   * The options the recipe fits to a model (its layers by their depth, its max length within the
   * positions) set again for `shape`, where they still hold what it set for the model it was applied
   * on: a value the user changed since stays theirs. Said in recipeNote.
   */
  #refitRecipe(recipe: Recipe, shape: RecipeShape): void {
    const was = this.recipeFit;
    this.recipeFit = { numLayers: shape.numLayers, maxPositions: shape.maxPositions };
    if (!was || (was.numLayers === shape.numLayers && was.maxPositions === shape.maxPositions)) return;
    const before = recipe.options(was);
    const after = recipe.options(shape);
    const values = { ...this.values } as Record<string, unknown>;
    const changed: string[] = [];
    for (const k of Object.keys(after) as (keyof typeof after)[]) {
      if (after[k] === before[k] || values[k] !== before[k]) continue;
      values[k] = after[k];
      changed.push(`${TRAIN_OPTIONS[k].label.toLowerCase()} ${after[k]}`);
    }
    if (!changed.length) return;
    this.values = values as Values;
    this.recipeNote = `“${recipe.title}” fitted to this model (${plural(shape.numLayers, 'layer')}, ${plural(shape.maxPositions, 'position')}): ${changed.join(', ')}.`;
  }

  /** A backend refusal naming a field: shown beside the field until its value changes. */
  refusedBy(err: { field?: string; message: string }): boolean {
    if (!err.field) return false;
    const field = formField(err.field);
    this.serverIssue = { field, message: err.message, value: this.#current(field) };
    this.showFirstProblem();
    return true;
  }

  /** What the field holds now: a refusal of it stands until this changes. */
  #current(field: string): unknown {
    if (field === 'probe') return this.probePrompts;
    return field in TRAIN_OPTIONS ? this.values[field as TrainOptionKey] : undefined;
  }

  /**
   * Fills the form from 'runs/start' params (a run cloned from the Runs page, state/clone-run.ts;
   * a model or dataset it no longer has is null, to be chosen again).
   */
  applyParams(p: ClonedParams): void {
    this.modelId = p.modelId;
    this.datasetId = p.datasetId;
    this.versionId = p.datasetVersionId ?? null;
    this.name = p.name ?? '';
    const values = initialValues();
    for (const k of Object.keys(TRAIN_OPTIONS) as TrainOptionKey[]) {
      const v = p[k];
      if (v !== undefined && k !== 'evalSplit') (values as Record<string, unknown>)[k] = v;
    }
    this.values = values;
    this.unreadable = {};
    if (p.evalDatasetVersionId !== undefined) {
      this.validation = 'version';
      this.evalVersionId = p.evalDatasetVersionId;
    } else if (p.evalSplit) {
      this.validation = 'fraction';
      this.holdOut = p.evalSplit;
    } else this.validation = 'none';
    this.probePrompts = p.probe?.prompts.join('\n') ?? '';
    if (p.probe) this.probeEvery = p.probe.every;
    this.probeMaxNewTokens = p.probe?.maxNewTokens;
    this.recipe = null;
    this.recipeFit = null;
    this.recipeNote = null;
    this.sweep = [];
    this.step = 0;
  }

  /** Back to an empty draft. */
  reset(): void {
    this.applyParams({ modelId: null, datasetId: null });
    this.probeEvery = 10;
    this.serverIssue = null;
  }
}

/** The wizard's draft for this session: kept while the user visits other pages. */
export const trainForm = new TrainForm();
