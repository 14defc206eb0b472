// What the Train wizard asks before a run starts, answered by the code that trains: the model's
// shape and the options' problems with it ('runs/check', the same trainOptionIssues the trainer
// refuses with), and one example of the dataset as training will see it ('runs/preview': planRun
// resolves the options exactly as runs/start does, then training/preview.ts tokenizes the example
// and places the interventions with data.ts and positions.ts, in the engine's 'tokens' process:
// run-tokenizing.ts).
// An example is read alone, through the frozen file's row index (frozen-files.ts), so paging through
// examples reads one row each, never the version (read whole and kept, a million rows held hundreds
// of MB in the backend and took seconds of its loop). The index is built in time slices: built at
// once, a 1M-row version's first example held every window for about a second.

import { FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { loadModelSpec, type ModelSpec } from '../../../native-runtime/models/config.ts';
import { exampleOf, normalizeRow } from '../../../native-runtime/training/data.ts';
import {
  type ModelShapeForTraining,
  type OptionIssue,
  type TrainOptions,
  trainOptionIssues,
} from '../../../native-runtime/training/options.ts';
import type { ExamplePreview } from '../../../native-runtime/training/preview.ts';
import type { Engine } from '../jobs/engine.ts';
import type { RunParams } from '../jobs/run-params.ts';
import { frozenRowIndexInSlices, readFrozenRowsAt } from './frozen-files.ts';
import type { Library } from './library.ts';
import { getModel } from './models.ts';
import { planMachine, planRun, probeCheckOf } from './run-plan.ts';

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

/**
 * Example `index` of the run's training data, tokenized and intervened as training will: the row is
 * read here, the tokenizing done in the engine's 'tokens' process (run-tokenizing.ts), which checks
 * the probe prompts in the same call, as planRunChecked would in a call of its own.
 */
export async function previewRun(
  lib: Library,
  engine: Engine,
  p: RunParams,
  index: number,
): Promise<RunPreview> {
  const plan = planRun(lib, p, await planMachine(lib, p));
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
  const { positions, layers, shareWeights, maxLength, chatTemplate } = plan.config;
  const preview = await engine.call('previewTokens', {
    model: plan.model.path,
    example: exampleOf(row, index + 1),
    config: { positions, layers, shareWeights, maxLength, chatTemplate },
    probe: probeCheckOf(plan),
  });
  return { ...preview, index, exampleCount: rowCount };
}
