// How a run's stored configuration reads for people: the fields grouped as the wizard asks for them,
// with labels and units. Keys the table does not know are listed at the end as they are, so a new
// trainer option is never hidden. Used by a run's Configuration tab, the compare view and the Train
// wizard's review. Training options are labelled as the wizard labels them, and a 0 that means
// something ("only at the end") reads as options.ts says (native-runtime/training/options.ts `zero`).
// `reft-studio runs show` prints the same groups.

import { plural } from '../../../native-runtime/plural.ts';
import { TRAIN_OPTIONS, type TrainOptionKey } from '../../../native-runtime/training/options.ts';

/** An option's label as the wizard shows it (options.ts). */
const optionLabel = (k: TrainOptionKey) => TRAIN_OPTIONS[k].label;

export interface ConfigField {
  key: string;
  label: string;
  /** The value in words, with its unit; a 0 with a meaning never reaches it (zeroText). */
  format?: (v: unknown) => string;
  /**
   * Each run has its own (its folders): two runs always disagree on it, which is never a difference
   * in how they were trained, so a comparison neither highlights it nor lists it under "only differences".
   */
  ownPerRun?: boolean;
}

export interface ConfigGroup {
  title: string;
  fields: ConfigField[];
}

const list = (v: unknown) => (Array.isArray(v) ? v.join(';') : String(v));
const bool = (v: unknown) => (v ? 'yes' : 'no');
const file = (v: unknown) => (typeof v === 'string' ? (v.split(/[\\/]/).at(-1) ?? v) : '—');
const probe = (v: unknown) => {
  const p = v as { prompts?: string[]; every?: number } | null;
  return p?.prompts?.length
    ? `${plural(p.prompts.length, 'prompt')}, every ${plural(Number(p.every), 'step')}`
    : 'none';
};

export const CONFIG_GROUPS: ConfigGroup[] = [
  {
    title: 'Data',
    fields: [
      { key: 'data', label: 'Training data', format: file },
      { key: 'datasetVersion', label: 'Dataset version' },
      { key: 'format', label: 'Format' },
      { key: 'evalData', label: 'Held-out data', format: (v) => (v ? file(v) : 'none') },
      {
        key: 'evalSplit',
        label: optionLabel('evalSplit'),
        format: (v) => `${Number(v) * 100}%`,
      },
      {
        key: 'evalEvery',
        label: optionLabel('evalEvery'),
        format: (v) => `every ${plural(Number(v), 'step')}`,
      },
      { key: 'keepBest', label: optionLabel('keepBest'), format: bool },
      {
        key: 'earlyStoppingPatience',
        label: optionLabel('earlyStoppingPatience'),
        format: (v) => `after ${plural(Number(v), 'evaluation')} without improvement`,
      },
      {
        key: 'chatTemplate',
        label: optionLabel('chatTemplate'),
        format: (v) => (v === 'none' ? 'off' : 'when the model has one'),
      },
      { key: 'maxLength', label: optionLabel('maxLength'), format: (v) => `${v} tokens` },
    ],
  },
  {
    title: 'Intervention',
    fields: [
      { key: 'intervention', label: optionLabel('intervention') },
      { key: 'layers', label: optionLabel('layers'), format: list },
      { key: 'positions', label: optionLabel('positions') },
      { key: 'shareWeights', label: optionLabel('shareWeights'), format: bool },
      { key: 'rank', label: optionLabel('rank') },
      { key: 'act', label: optionLabel('act') },
      { key: 'dropout', label: optionLabel('dropout') },
    ],
  },
  {
    title: 'Optimisation',
    fields: [
      { key: 'lr', label: optionLabel('lr') },
      { key: 'epochs', label: optionLabel('epochs') },
      { key: 'maxSteps', label: optionLabel('maxSteps'), format: (v) => plural(Number(v), 'step') },
      { key: 'batchSize', label: optionLabel('batchSize') },
      { key: 'gradAccum', label: optionLabel('gradAccum') },
      { key: 'weightDecay', label: optionLabel('weightDecay') },
      { key: 'warmupRatio', label: optionLabel('warmupRatio') },
      { key: 'schedule', label: optionLabel('schedule') },
      {
        key: 'maxGradNorm',
        label: optionLabel('maxGradNorm'),
        format: (v) => `norm ${v}`,
      },
      { key: 'seed', label: optionLabel('seed') },
    ],
  },
  {
    title: 'Run',
    fields: [
      { key: 'device', label: optionLabel('device') },
      { key: 'quantize', label: optionLabel('quantize') },
      { key: 'dtype', label: optionLabel('dtype') },
      {
        key: 'checkpointEvery',
        label: optionLabel('checkpointEvery'),
        format: (v) => `every ${plural(Number(v), 'step')}`,
      },
      {
        key: 'keepCheckpoints',
        label: optionLabel('keepCheckpoints'),
        format: (v) => `the newest ${v}`,
      },
      { key: 'probe', label: 'Probe prompts', format: probe },
      { key: 'model', label: 'Model folder' },
      { key: 'out', label: 'Adapter folder', ownPerRun: true },
      { key: 'checkpointDir', label: 'Checkpoint folder', ownPerRun: true },
    ],
  },
];

const FIELDS = new Map(CONFIG_GROUPS.flatMap((g) => g.fields.map((f) => [f.key, f])));

/** One option's value as the run's Configuration tab shows it (the wizard's review says it the same way). */
export function optionText(key: string, v: unknown, config: Record<string, unknown>): string {
  return configText(FIELDS.get(key) ?? { key, label: key }, v, config);
}
/** Bookkeeping keys that say nothing to people. */
const HIDDEN = new Set(['runId', 'datasetId', 'evalDatasetVersionId', 'exportPyreft', 'resumeFrom']);

/**
 * What 0 means for a training option (options.ts `zero`), or null; for Max steps, the epochs the run
 * trains for instead (`config.epochs`, else the default).
 */
function zeroText(key: string, config: Record<string, unknown>): string | null {
  if (!Object.hasOwn(TRAIN_OPTIONS, key)) return null;
  const spec = TRAIN_OPTIONS[key as TrainOptionKey];
  if (!('zero' in spec) || !spec.zero) return null;
  if (key !== 'maxSteps') return spec.zero;
  const epochs = Number(config.epochs ?? TRAIN_OPTIONS.epochs.default);
  return `no limit: ${epochs} epoch${epochs === 1 ? '' : 's'}`;
}

/** A value as shown in the table; `config`: the run's other values (Max steps 0 names its epochs). */
export function configText(f: ConfigField, v: unknown, config: Record<string, unknown> = {}): string {
  if (v === undefined || v === null) return '—';
  const zero = v === 0 ? zeroText(f.key, config) : null;
  if (zero) return zero;
  if (f.format) return f.format(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * What a run's steps ran with (its record, null or absent where not recorded): the stored device and
 * dtype are only what was asked for.
 */
export interface RanWith {
  /** The provider that ran the steps. */
  device?: string | null;
  /** The precision they computed in (fp32, fp16, bf16). */
  precision?: string | null;
}

/** A value as shown, with what ran beside the ask where it differs ("cuda (ran on cpu)", "auto (ran in fp32)"). */
function ranText(f: ConfigField, config: Record<string, unknown>, ran: RanWith): string {
  const t = configText(f, config[f.key], config);
  if (f.key === 'device' && ran.device && ran.device !== t) return `${t} (ran on ${ran.device})`;
  return f.key === 'dtype' && ran.precision && ran.precision !== t ? `${t} (ran in ${ran.precision})` : t;
}

/**
 * The groups with the run's values, plus "Other" for keys the table does not know. `dataset` names
 * the training data as the library does ("persona v2"): the stored path is the frozen file's hash.
 * `ranOn` is the provider that ran the steps and `ranIn` the precision they computed in (the run's
 * record), shown beside the device and dtype asked for where they differ.
 */
export function configRows(
  config: Record<string, unknown>,
  dataset?: string,
  ranOn?: string,
  ranIn?: string,
): Array<{ title: string; rows: Array<{ field: ConfigField; text: string }> }> {
  const text = (f: ConfigField) =>
    f.key === 'data' && dataset ? dataset : ranText(f, config, { device: ranOn, precision: ranIn });
  const groups = CONFIG_GROUPS.map((g) => ({
    title: g.title,
    rows: g.fields.filter((f) => f.key in config).map((f) => ({ field: f, text: text(f) })),
  }));
  const other = Object.keys(config)
    .filter((k) => !FIELDS.has(k) && !HIDDEN.has(k))
    .sort()
    .map((k) => {
      const field = { key: k, label: k };
      return { field, text: configText(field, config[k]) };
    });
  if (other.length) groups.push({ title: 'Other', rows: other });
  return groups.filter((g) => g.rows.length > 0);
}

/**
 * Every field of several configs, in table order, with whether the runs disagree on it (never on a
 * field each run has its own: `ownPerRun`). `ran`: each run's record of what ran, so two runs that
 * both asked `auto` but computed in bf16 and fp32 differ.
 */
export function compareConfigs(
  configs: Array<Record<string, unknown>>,
  ran: RanWith[] = [],
): Array<{ field: ConfigField; texts: string[]; differs: boolean }> {
  const keys = new Set(configs.flatMap((c) => Object.keys(c)));
  const fields: ConfigField[] = [
    ...CONFIG_GROUPS.flatMap((g) => g.fields).filter((f) => keys.has(f.key)),
    ...[...keys]
      .filter((k) => !FIELDS.has(k) && !HIDDEN.has(k))
      .sort()
      .map((k) => ({ key: k, label: k })),
  ];
  return fields.map((field) => {
    const texts = configs.map((c, i) => ranText(field, c, ran[i] ?? {}));
    return { field, texts, differs: !field.ownPerRun && texts.some((t) => t !== texts[0]) };
  });
}
