// A sweep: several runs queued together, each the same run with other values of one or two options
// (the Train wizard's "Try several values"). This module reads the values as the wizard's field
// holds them ("1e-3, 4e-3, 1e-2"), makes the runs (the cross product, each named after its values)
// and declares what 'runs/start-many' takes. No Node imports: the renderer uses it too, so the
// wizard refuses what runs/start-many would before anything is sent.

import { z } from 'zod';
import {
  optionIssues,
  TRAIN_OPTIONS,
  type TrainOptionKey,
  type TrainOptions,
} from '../../../native-runtime/training/options.ts';
import { parseLayers, parsePositions } from '../../../native-runtime/training/positions.ts';
import { type RunParams, RunParamsSchema, runNameProblem } from './run-params.ts';

/** The options a sweep can vary: the ones ReFT results depend on most, and the seed. */
export const SWEEP_KEYS = [
  'lr',
  'rank',
  'layers',
  'positions',
  'dropout',
  'seed',
] as const satisfies readonly TrainOptionKey[];
export type SweepKey = (typeof SWEEP_KEYS)[number];

/**
 * `keys` in SWEEP_KEYS' order (the wizard's list of options to vary), any other key after them: the
 * one order a sweep's options are given in, whatever order they were added in — its runs' names
 * ("lr 1e-3 · layers 2;3"), the sweep's record and a run's page ("learning rate × layers").
 */
export function inSweepOrder<K extends string>(keys: readonly K[]): K[] {
  const rank = (k: string) => {
    const i = (SWEEP_KEYS as readonly string[]).indexOf(k);
    return i < 0 ? SWEEP_KEYS.length : i;
  };
  return [...keys].sort((a, b) => rank(a) - rank(b));
}

/** How many options one sweep varies at most (two: a grid still read at a glance). */
export const SWEEP_MAX_AXES = 2;

/**
 * How many runs the Runs page compares on one chart: as many as its palette has colours
 * (MetricChart.svelte's PALETTE); run-compare.svelte.ts compares the first this many of a link's.
 */
export const COMPARE_MAX_RUNS = 8;

/** How many runs one sweep queues at most: all of them fit one comparison ("Compare this sweep"). */
export const SWEEP_MAX_RUNS = COMPARE_MAX_RUNS;

/** What a run's name calls each varied option ("pirate · lr 4e-3 · rank 8"). */
const SHORT: Record<SweepKey, string> = {
  lr: 'lr',
  rank: 'rank',
  layers: 'layers',
  positions: 'positions',
  dropout: 'dropout',
  seed: 'seed',
};

/**
 * What separates two values of `key` in the field: a comma, except for layers, whose one value is a
 * list already ("2;10;18" or "2,10,18"): there a bar ("all | 2;3 | 0;1").
 */
export function sweepSeparator(key: SweepKey): ',' | '|' {
  return key === 'layers' ? '|' : ',';
}

/**
 * `value` of option `key` as one run reads it, to tell two values apart: layers as their ascending
 * indices ("4, 2" and "2;4" are one value: parseLayers reads both alike), positions as their
 * canonical text ("f01" is "f1"); anything else, and a value that does not parse (optionIssues
 * refuses it), as it is. "all" stays "all" unless `numLayers`, the model's, says which layers
 * those are ("0;1;2;3", as the list of them written out).
 */
export function canonicalOption(key: string, value: unknown, numLayers?: number): unknown {
  try {
    if (key === 'layers' && typeof value === 'string' && value.trim() === 'all' && numLayers === undefined)
      return 'all';
    if (key === 'layers' && (typeof value === 'string' || Array.isArray(value)))
      return parseLayers(value, numLayers ?? Number.MAX_SAFE_INTEGER).join(';');
    if (key === 'positions' && typeof value === 'string')
      return parsePositions(value, Number.MAX_SAFE_INTEGER).text;
  } catch {
    // Not a value of the option: left for optionIssues to refuse in its own words.
  }
  return value;
}

/** One option's values as the field holds them. */
export interface SweepAxis {
  key: SweepKey;
  text: string;
}

/**
 * One value of an axis: what the run's option gets (canonicalOption's: "4, 2" is sent as "2;4"), and
 * how it was typed (what a refusal quotes).
 */
export interface SweepValue {
  value: number | string;
  text: string;
}

/**
 * How a run's name writes a value: a number as typed ("1e-3", not "0.001"), layers and positions as
 * the run's configuration shows them (canonicalOption's "2;3" for "2, 3").
 */
function nameText(v: SweepValue): string {
  return typeof v.value === 'string' ? v.value : v.text;
}

/** One value of `key` as typed, checked as the option checks it (canonicalOption's for layers). */
function readSweepValue(key: SweepKey, text: string): { value: number | string } | { problem: string } {
  const spec = TRAIN_OPTIONS[key];
  const numeric = spec.kind === 'int' || spec.kind === 'number';
  const value = numeric ? Number(text) : (canonicalOption(key, text) as string);
  if (numeric && (text === '' || !Number.isFinite(value)))
    return { problem: `${spec.label}: “${text}” is not a number.` };
  const [issue] = optionIssues({ [key]: value });
  return issue ? { problem: issue.message } : { value }; // it names the value: "… (got -1)"
}

/** Whether two values of option `key` are one to a run (canonicalOption's; `numLayers`: the model's). */
function sameOption(key: string, a: unknown, b: unknown, numLayers?: number): boolean {
  return (
    JSON.stringify(canonicalOption(key, a, numLayers)) === JSON.stringify(canonicalOption(key, b, numLayers))
  );
}

/**
 * Which of `runs` (their options, given or resolved) is an earlier one again in what a sweep varies
 * — "run 3 is run 1 again" — or null. `numLayers`, the model's, where known: "all" is then its
 * every layer written out.
 */
export function repeatedRun(
  runs: readonly Partial<Record<SweepKey, unknown>>[],
  numLayers?: number,
): string | null {
  for (const [i, run] of runs.entries()) {
    const j = runs.findIndex((r) => SWEEP_KEYS.every((k) => sameOption(k, r[k], run[k], numLayers)));
    if (j < i) return `run ${i + 1} is run ${j + 1} again`;
  }
  return null;
}

/**
 * The values of `axis`, each checked as the option checks one value (optionIssues: its type, limits
 * and syntax), or the problem, naming the value ("Learning rate must be a number > 0 (got -1)").
 * `numLayers`, the model's where known, tells "all" and the list of its every layer for one value.
 */
export function parseSweepValues(
  axis: SweepAxis,
  numLayers?: number,
): { values: SweepValue[] } | { problem: string } {
  const spec = TRAIN_OPTIONS[axis.key];
  const parts = axis.text
    .split(sweepSeparator(axis.key))
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length < 2)
    return {
      problem: `${spec.label}: give two or more values, separated by ${sweepSeparator(axis.key) === '|' ? '“|”' : 'commas'}.`,
    };
  const values: SweepValue[] = [];
  for (const text of parts) {
    const read = readSweepValue(axis.key, text);
    if ('problem' in read) return read;
    const again = values.find((v) => sameOption(axis.key, v.value, read.value, numLayers));
    if (again)
      return {
        problem:
          again.text === text
            ? `${spec.label}: “${text}” is given twice.`
            : `${spec.label}: “${text}” is “${again.text}” again.`,
      };
    values.push({ value: read.value, text });
  }
  return { values };
}

/**
 * `name` without the words a sweep's run names give values of `keys` ("pirate · lr 4e-3 (copy)",
 * varying lr: "pirate (copy)"). A run cloned from a sweep's run is named after the values it was
 * queued with; a sweep from it names each run after its own values instead, not after both. A note
 * in brackets after a value (the clone's "(copy)") stays, at the end; a name of values only is "".
 */
export function withoutSweepWords(name: string, keys: readonly SweepKey[]): string {
  const kept: string[] = [];
  let notes = '';
  for (const part of name.split(' · ')) {
    const m = /^(\S+) (.+?)((?: \([^()]*\))*)$/.exec(part);
    const key = m && keys.find((k) => SHORT[k] === m[1]);
    if (m && key && 'value' in readSweepValue(key, m[2] as string)) notes += m[3];
    else kept.push(part);
  }
  return kept.length ? `${kept.join(' · ')}${notes}` : '';
}

/**
 * The name a sweep's run `runId` is recorded under. One that gives only the values it tries
 * ("lr 4e-3", the wizard's name for a run of a sweep given no name) reads the same in every sweep,
 * and so would its adapter: the run's number goes first, as an unnamed run is "Run 12".
 */
export function sweepRunName(
  runId: number,
  name: string | undefined,
  varied: readonly string[],
): string | undefined {
  const keys = SWEEP_KEYS.filter((k) => varied.includes(k));
  return name && !withoutSweepWords(name, keys) ? `Run ${runId} · ${name}` : name;
}

/** One run of a sweep: its params (runs/start's) and its name. */
export interface SweepRun {
  params: RunParams;
  name: string;
}

/**
 * The runs of a sweep on `base` (runs/start's params; its name, if any, starts each run's name, less
 * any values of the options varied that it names: withoutSweepWords):
 * every combination of the axes' values, the axes taken inSweepOrder (the first varying slowest,
 * and named first), not in the order they were added. A problem (a value, too
 * many runs, an option given twice, a name too long) instead; each run's options are still to be
 * checked against the model, as a single run's are (the caller does: trainOptionIssues).
 * `numLayers`, the model's where known: layers "all" and the list of every layer are one value.
 */
export function sweepRuns(
  base: RunParams,
  axes: readonly SweepAxis[],
  numLayers?: number,
): { runs: SweepRun[] } | { problem: string } {
  if (axes.length > SWEEP_MAX_AXES) return { problem: `A sweep varies at most ${SWEEP_MAX_AXES} options.` };
  const parsed: { key: SweepKey; values: SweepValue[] }[] = [];
  for (const axis of inSweepOrder(axes.map((a) => a.key)).flatMap((k) => axes.filter((a) => a.key === k))) {
    if (parsed.some((p) => p.key === axis.key))
      return { problem: `${TRAIN_OPTIONS[axis.key].label} is varied twice: give its values once.` };
    const r = parseSweepValues(axis, numLayers);
    if ('problem' in r) return r;
    parsed.push({ key: axis.key, values: r.values });
  }
  const count = parsed.reduce((n, p) => n * p.values.length, 1);
  if (count > SWEEP_MAX_RUNS)
    return {
      problem: `${parsed.map((p) => p.values.length).join(' × ')} = ${count} runs; a sweep queues at most ${SWEEP_MAX_RUNS} (as many as Compare shows on one chart): give fewer values.`,
    };
  let combos: { options: Partial<TrainOptions>; words: string[] }[] = [{ options: {}, words: [] }];
  for (const p of parsed)
    combos = combos.flatMap((c) =>
      p.values.map((v) => ({
        options: { ...c.options, [p.key]: v.value },
        words: [...c.words, `${SHORT[p.key]} ${nameText(v)}`],
      })),
    );
  const runs: SweepRun[] = [];
  const baseName =
    base.name &&
    withoutSweepWords(
      base.name,
      parsed.map((p) => p.key),
    );
  for (const c of combos) {
    const name = [baseName, ...c.words].filter(Boolean).join(' · ');
    const bad = runNameProblem(name);
    if (bad) return { problem: `Name: “${name}” (the name with its values) ${bad}.` };
    runs.push({ name, params: { ...base, ...c.options, name } as RunParams });
  }
  return { runs };
}

/** The options whose values differ between the runs (what a sweep varies), inSweepOrder. */
export function variedOptions(runs: readonly TrainOptions[]): TrainOptionKey[] {
  const first = runs[0];
  if (!first) return [];
  return inSweepOrder(
    (Object.keys(TRAIN_OPTIONS) as TrainOptionKey[]).filter((k) =>
      runs.some((r) => JSON.stringify(r[k]) !== JSON.stringify(first[k])),
    ),
  );
}

/**
 * The options a sweep varies as a run's page and `runs show` name them, inSweepOrder as its runs'
 * names give them (a sweep recorded before gave them in the options' order): "learning rate × rank"
 * (a key this version does not know, recorded by a newer one, as it is).
 */
export function sweepVariedWords(varied: readonly string[]): string {
  return inSweepOrder(varied)
    .map((k) =>
      Object.hasOwn(TRAIN_OPTIONS, k) ? TRAIN_OPTIONS[k as TrainOptionKey].label.toLowerCase() : k,
    )
    .join(' × ');
}

/**
 * The options whose values change how long a step takes (what each step computes, and how far back
 * the gradients go), as their plural reads in the sweep's time note; lr, dropout and seed barely do.
 */
const CHANGES_STEP_TIME: Partial<Record<SweepKey, string>> = {
  rank: 'ranks',
  layers: 'layers',
  positions: 'positions',
};

/**
 * The sweep's time where its first run was measured (the wizard's estimate is of that run; `each`,
 * formatted; `total`, runs × each): "6 runs of 5 min each, about 30 min in all", saying the measured
 * run is the first only, and, where the sweep varies what changes a step's time, that its runs will
 * not all take that long. Written as runs of a time each, not "6 × 5 min": "4 × < 1 s = 3 s" read as
 * arithmetic gone wrong; a total under a second needs no "about".
 */
export function sweepTimeText(
  varied: readonly SweepKey[],
  runs: number,
  each: string,
  total: string,
): string {
  const changing = varied.flatMap((k) => CHANGES_STEP_TIME[k] ?? []);
  const about = (word: string) => (total.startsWith('<') ? total : `${word} ${total}`);
  if (!changing.length)
    return `Time: ${runs} runs of ${each} each, ${about('about')} in all, as measured for the first run.`;
  return `Time: ${about('roughly')} in all if each of the ${runs} runs took as long as the first (${each}, as measured); runs with other ${changing.join(' or ')} take longer or shorter.`;
}

/**
 * What a sweep of seeds must say where the draft holds out a fraction of its rows (`validation`:
 * the wizard's choice): the seed also chooses those rows (the trainer's split), so each run is
 * evaluated on other rows and their held-out losses, compared side by side, are not like for like.
 */
export function sweepSplitNote(
  varied: readonly SweepKey[],
  validation: 'none' | 'fraction' | 'version',
): string | null {
  if (!varied.includes('seed') || validation !== 'fraction') return null;
  return 'Each seed holds out other rows (the seed chooses them), so the runs’ held-out losses are on different rows: hold out another version of the dataset to compare them on the same ones.';
}

/** Which run of a sweep a refusal is about: "run 2 of 3, “pirate · lr 1e-2”". */
export function sweepRunWho(index: number, count: number, name: unknown): string {
  return `run ${index + 1} of ${count}${typeof name === 'string' && name ? `, “${name}”` : ''}`;
}

/** Option labels as a list in words: "learning rate, rank and seed" (`or` for "… dropout or seed"). */
function labelList(keys: readonly TrainOptionKey[], type: 'conjunction' | 'disjunction'): string {
  return new Intl.ListFormat('en-GB', { type }).format(keys.map((k) => TRAIN_OPTIONS[k].label.toLowerCase()));
}

/**
 * Why `runs` are not one sweep (what the wizard's sweepRuns makes), or null: they must be one run
 * but for its name and at most SWEEP_MAX_AXES of SWEEP_KEYS, no two alike — the sweep row records
 * what they vary, which the run's page and `runs show` then say.
 */
function notOneSweep(runs: readonly RunParams[]): string | null {
  const first = runs[0] as RunParams;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const [i, run] of runs.entries()) {
    const keys = new Set([...Object.keys(first), ...Object.keys(run)]) as Set<keyof RunParams>;
    const other = [...keys].find(
      (k) => k !== 'name' && !(SWEEP_KEYS as readonly string[]).includes(k) && !same(run[k], first[k]),
    );
    if (other)
      return `the runs of a sweep differ only in ${labelList(SWEEP_KEYS, 'disjunction')}: run ${i + 1} has another ${other}`;
  }
  const varied = SWEEP_KEYS.filter((k) => runs.some((r) => !same(r[k], first[k])));
  if (varied.length > SWEEP_MAX_AXES)
    return `a sweep varies at most ${SWEEP_MAX_AXES} options; these runs vary ${labelList(varied, 'conjunction')}`;
  // Layers and positions as a run reads them: "2;4" and "4, 2" are one run twice. ("all" and
  // the list of every layer need the model: TrainingService.startMany asks again once planned.)
  return repeatedRun(runs);
}

/**
 * What 'runs/start-many' takes: the runs of one sweep (2 to SWEEP_MAX_RUNS), queued all or none;
 * `requestId`, the window's id for following and stopping its memory checks (runs/start-cancel).
 */
export const StartManySchema = z
  .object({
    runs: z.array(RunParamsSchema).min(2).max(SWEEP_MAX_RUNS),
    requestId: z.string().min(1).max(100).optional(),
  })
  .strict()
  .superRefine(({ runs }, ctx) => {
    const problem = notOneSweep(runs);
    if (problem) ctx.addIssue({ code: 'custom', path: ['runs'], message: problem });
  });
