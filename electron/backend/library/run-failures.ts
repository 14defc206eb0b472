// Whether resuming a failed run can help. A run that failed because the engine refused its own
// settings or its data (a ConfigError or ValidationError while preparing the run: every prompt one
// token, a layer the model does not have, a loss that diverged) fails the same way on every resume:
// the run's config and its dataset version are frozen. Its error code is stored with the run
// (runs.error_code) and the CLI and the studio say what to do instead of offering a resume. Every
// other failure (a moved model folder, a full disk, a device or memory error, a killed engine) can be
// put right, and the run then resumes from its last checkpoint.
// Plain data and functions only: the studio's renderer imports this module.

import type { WireError } from '../../../native-runtime/errors.ts';
import { optionFlag, TRAIN_OPTION_KEYS } from '../../../native-runtime/training/options.ts';

/** What to do about a failed run: resume it once the cause is put right, or start a new one. */
export type FailureRemedy = 'resume' | 'fix-dataset' | 'change-settings';

/** Refusals of the run's frozen dataset version: the dataset must change. */
const DATASET_CODES: ReadonlySet<string> = new Set([
  'bad-data',
  'bad-messages',
  'empty-dataset',
  'empty-prompt',
  'empty-completion',
  'no-intervention-positions',
]);

/** Refusals of the run's stored settings (every option's own code, `bad-<flag>`, among them). */
const SETTINGS_CODES: ReadonlySet<string> = new Set([
  ...TRAIN_OPTION_KEYS.map((k) => `bad-${optionFlag(k)}`),
  'unknown-intervention',
  'unknown-option',
  'bad-positions',
  'bad-layers',
  'layer-out-of-range',
  'hidden-size-mismatch',
  'bad-eval',
  'bad-format',
  'diverged',
  // A step of its batch × length larger than the computer's memory (training/recompute.ts).
  'batch-too-large',
  // Its base weights, in the form the run was started with, larger than the computer's memory
  // (runtime/precision.ts): judged on the machine's total memory, so a resume is refused alike.
  'model-too-large',
]);

/** The engine's error types that refuse a run's settings or data (OptionError is a ConfigError). */
const REFUSALS: ReadonlySet<string> = new Set(['ConfigError', 'OptionError', 'ValidationError']);

/**
 * The code to store with a failed run: the error's code where it refuses the run's settings or data
 * (codes of other error types can mean something else: a FormatError 'bad-dtype' is a broken weights
 * file, which can be replaced), else null.
 */
export function refusalCode(e: WireError): string | null {
  return REFUSALS.has(e.type) ? e.code : null;
}

/** What to do about a run that failed with `errorCode` (null: an error that can be put right). */
export function failureRemedy(errorCode: string | null): FailureRemedy {
  if (errorCode === null) return 'resume';
  if (DATASET_CODES.has(errorCode)) return 'fix-dataset';
  if (SETTINGS_CODES.has(errorCode)) return 'change-settings';
  return 'resume';
}
