// How a run's stored configuration reads for people: the fields grouped as the wizard asks for them,
// with labels and units. Keys the table does not know are listed at the end as they are, so a new
// trainer option is never hidden. Used by a run's Configuration tab and by the compare view.

export interface ConfigField {
  key: string;
  label: string;
  format?: (v: unknown) => string;
}

export interface ConfigGroup {
  title: string;
  fields: ConfigField[];
}

const list = (v: unknown) => (Array.isArray(v) ? v.join(';') : String(v));
const bool = (v: unknown) => (v ? 'yes' : 'no');
const steps0 = (v: unknown) => (v === 0 ? 'off' : String(v));
const file = (v: unknown) => (typeof v === 'string' ? (v.split(/[\\/]/).at(-1) ?? v) : '—');
const probe = (v: unknown) => {
  const p = v as { prompts?: string[]; every?: number } | null;
  return p?.prompts?.length ? `${p.prompts.length} prompt(s), every ${p.every} steps` : 'none';
};

export const CONFIG_GROUPS: ConfigGroup[] = [
  {
    title: 'Data',
    fields: [
      { key: 'data', label: 'Training data', format: file },
      { key: 'datasetVersion', label: 'Dataset version' },
      { key: 'format', label: 'Format' },
      { key: 'evalData', label: 'Held-out data', format: (v) => (v ? file(v) : 'none') },
      { key: 'evalSplit', label: 'Held-out fraction', format: (v) => (v ? `${Number(v) * 100}%` : 'none') },
      { key: 'evalEvery', label: 'Evaluate every', format: (v) => (v ? `${v} steps` : 'at the end') },
      {
        key: 'chatTemplate',
        label: 'Chat template',
        format: (v) => (v === 'none' ? 'off' : 'when the model has one'),
      },
      { key: 'maxLength', label: 'Max length (tokens)' },
    ],
  },
  {
    title: 'Intervention',
    fields: [
      { key: 'intervention', label: 'Type' },
      { key: 'layers', label: 'Layers', format: list },
      { key: 'positions', label: 'Positions' },
      { key: 'shareWeights', label: 'Share weights (tied)', format: bool },
      { key: 'rank', label: 'Rank' },
      { key: 'act', label: 'Activation' },
      { key: 'dropout', label: 'Dropout' },
    ],
  },
  {
    title: 'Optimisation',
    fields: [
      { key: 'lr', label: 'Learning rate' },
      { key: 'epochs', label: 'Epochs' },
      { key: 'maxSteps', label: 'Max steps', format: (v) => (v === 0 ? 'no limit' : String(v)) },
      { key: 'batchSize', label: 'Batch size' },
      { key: 'gradAccum', label: 'Gradient accumulation' },
      { key: 'weightDecay', label: 'Weight decay' },
      { key: 'warmupRatio', label: 'Warm-up fraction' },
      { key: 'schedule', label: 'Schedule' },
      { key: 'maxGradNorm', label: 'Gradient clipping', format: (v) => (v === 0 ? 'off' : `norm ${v}`) },
      { key: 'seed', label: 'Seed' },
    ],
  },
  {
    title: 'Run',
    fields: [
      { key: 'device', label: 'Device' },
      {
        key: 'checkpointEvery',
        label: 'Checkpoint every',
        format: (v) => (v === 0 ? 'at the end' : `${steps0(v)} steps`),
      },
      { key: 'probe', label: 'Probe prompts', format: probe },
      { key: 'model', label: 'Model folder' },
      { key: 'out', label: 'Adapter folder' },
      { key: 'checkpointDir', label: 'Checkpoint folder' },
    ],
  },
];

const KNOWN = new Set(CONFIG_GROUPS.flatMap((g) => g.fields.map((f) => f.key)));
/** Bookkeeping keys that say nothing to people. */
const HIDDEN = new Set(['runId', 'datasetId', 'evalDatasetVersionId', 'exportPyreft', 'resumeFrom']);

/** A value as shown in the table. */
export function configText(f: ConfigField, v: unknown): string {
  if (v === undefined || v === null) return '—';
  if (f.format) return f.format(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The groups with the run's values, plus "Other" for keys the table does not know. */
export function configRows(
  config: Record<string, unknown>,
): Array<{ title: string; rows: Array<{ field: ConfigField; text: string }> }> {
  const groups = CONFIG_GROUPS.map((g) => ({
    title: g.title,
    rows: g.fields
      .filter((f) => f.key in config)
      .map((f) => ({ field: f, text: configText(f, config[f.key]) })),
  }));
  const other = Object.keys(config)
    .filter((k) => !KNOWN.has(k) && !HIDDEN.has(k))
    .sort()
    .map((k) => {
      const field = { key: k, label: k };
      return { field, text: configText(field, config[k]) };
    });
  if (other.length) groups.push({ title: 'Other', rows: other });
  return groups.filter((g) => g.rows.length > 0);
}

/** Every field of several configs, in table order, with whether the runs disagree on it. */
export function compareConfigs(
  configs: Array<Record<string, unknown>>,
): Array<{ field: ConfigField; texts: string[]; differs: boolean }> {
  const keys = new Set(configs.flatMap((c) => Object.keys(c)));
  const fields: ConfigField[] = [
    ...CONFIG_GROUPS.flatMap((g) => g.fields).filter((f) => keys.has(f.key)),
    ...[...keys]
      .filter((k) => !KNOWN.has(k) && !HIDDEN.has(k))
      .sort()
      .map((k) => ({ key: k, label: k })),
  ];
  return fields.map((field) => {
    const texts = configs.map((c) => configText(field, c[field.key]));
    return { field, texts, differs: texts.some((t) => t !== texts[0]) };
  });
}
