// What the Train wizard asks before a run starts, answered by the code that trains: the model's
// shape and the options' problems with it ('runs/check', the same trainOptionIssues the trainer
// refuses with), and one example of the dataset as training will see it ('runs/preview': planRun
// resolves the options exactly as runs/start does, then training/preview.ts tokenizes the example
// and places the interventions with data.ts and positions.ts).
// Tokenizers are kept for the last few models; an example is read alone, through the frozen file's
// row index (frozen-files.ts), so paging through examples reads one row each, never the version
// (read whole and kept, a million rows held hundreds of MB in the backend and took seconds of its
// loop). The index is built in time slices: built at once, a 1M-row version's first example held
// every window for about a second.

import { ConfigError, FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { loadModelSpec, type ModelSpec } from '../../../native-runtime/models/config.ts';
import { openModelFolder } from '../../../native-runtime/models/model-folder.ts';
import type { Tokenizer } from '../../../native-runtime/tokenizer/tokenizer.ts';
import { exampleOf, normalizeRow, specialIds } from '../../../native-runtime/training/data.ts';
import {
  type ModelShapeForTraining,
  type OptionIssue,
  type TrainOptions,
  trainOptionIssues,
} from '../../../native-runtime/training/options.ts';
import { type ExamplePreview, previewExample } from '../../../native-runtime/training/preview.ts';
import type { RunParams } from '../jobs/run-params.ts';
import { frozenRowIndexInSlices, readFrozenRowsAt } from './frozen-files.ts';
import type { Library } from './library.ts';
import { getModel } from './models.ts';
import { planRun } from './run-plan.ts';

const KEEP = 2;

/** A tiny most-recently-used cache. */
function memo<T>(load: (key: string) => T): (key: string) => T {
  const kept = new Map<string, T>();
  return (key) => {
    let v = kept.get(key);
    if (v === undefined) v = load(key);
    kept.delete(key);
    kept.set(key, v);
    while (kept.size > KEEP) kept.delete(kept.keys().next().value as string);
    return v;
  };
}

const folders = memo((dir: string) => openModelFolder(dir));

/** The model facts the option limits depend on. */
export function trainingShape(spec: ModelSpec): ModelShapeForTraining {
  return { numLayers: spec.numLayers, hiddenSize: spec.hiddenSize, maxPositions: spec.maxPositions };
}

export interface RunCheck {
  model: ModelShapeForTraining;
  issues: OptionIssue[];
}

/** The model's shape and every problem of `options` with it (none: []). */
export function checkRun(lib: Library, modelId: number, options: TrainOptions): RunCheck {
  const model = getModel(lib, modelId);
  const shape = trainingShape(loadModelSpec(model.path));
  return { model: shape, issues: trainOptionIssues(options, shape) };
}

export interface RunPreview extends ExamplePreview {
  /** Which example (0-based, in the training version's order) and how many there are. */
  index: number;
  exampleCount: number;
  numLayers: number;
}

/** Example `index` of the run's training data, tokenized and intervened as training will. */
export async function previewRun(lib: Library, p: RunParams, index: number): Promise<RunPreview> {
  const plan = planRun(lib, p);
  const folder = folders(plan.model.path);
  const tok: Tokenizer | null = folder.tokenizer;
  if (!tok)
    throw new ConfigError('missing-tokenizer', `${folder.dir}: no tokenizer.json; training needs one`);
  const { filePath, format, rowCount } = plan.version;
  if (!(index < rowCount))
    throw new ValidationError(
      'not-found',
      `example ${index + 1} does not exist: the dataset version has ${rowCount}`,
    );
  await frozenRowIndexInSlices(filePath);
  // A stored row is normalised already; checked again, as training reads it (data.ts).
  const row = normalizeRow(format, readFrozenRowsAt(filePath, [index])[0]);
  if (typeof row === 'string')
    throw new FormatError('bad-file', `dataset file ${filePath}: row ${index} ${row} (the file is damaged)`);
  const { eosId } = specialIds(tok, folder.spec);
  return {
    ...previewExample(tok, exampleOf(row, index + 1), plan.config, eosId),
    index,
    exampleCount: rowCount,
    numLayers: folder.spec.numLayers,
  };
}
