// Whether the engine would refuse a planned run at its start for the computer's memory, asked before
// the run is recorded: runs/start and the CLI's `train` refuse such a run (a run that cannot start is
// never recorded, to fail at once), and the run estimate says the same in the same words. One rule,
// the engine's own (runtime/precision.ts trainingStartIssue, run in the 'tokens' engine process,
// which plans sessions as the trainer does): the weights in the form the run resolves to, then one step at the largest
// micro-batch the run feeds — its batch, as long as the data's longest example (trainer.ts
// refuseStepOverMemory), not the max length, which only caps it.

import type { ResolvedTrainConfig } from '../../../native-runtime/training/config.ts';
import { OptionError, type OptionIssue } from '../../../native-runtime/training/options.ts';
import type { Engine } from '../jobs/engine.ts';
import type { DatasetVersion } from './datasets.ts';
import type { ModelRecord } from './models.ts';
import { type CountOptions, countTokens } from './token-counts.ts';

/**
 * What the check reads of a planned run (run-plan.ts PlannedRun), declared here: run-plan.ts calls
 * this module, which must not import it back.
 */
export interface CheckedPlan {
  model: ModelRecord;
  version: DatasetVersion;
  evalVersion: DatasetVersion | null;
  config: ResolvedTrainConfig;
  trainExamples: number;
}

/** What stops the token count a memory check may wait on, and hears how far it is. */
export type MemoryCheckCount = Pick<CountOptions, 'signal' | 'onProgress'>;

/**
 * Why the engine would refuse `plan` for memory at its start (studio and CLI words), or null.
 * `count`: the token count it may wait on (minutes for a big version) — `signal` stops the wait, and
 * the count too where no one else waits on it ('cancelled'); `onProgress` hears how far it is.
 */
export async function runMemoryIssue(
  engine: Engine,
  plan: CheckedPlan,
  count: MemoryCheckCount = {},
): Promise<OptionIssue | null> {
  const c = plan.config;
  const batch = Math.min(c.batchSize, plan.trainExamples);
  const ask = (tokens: number) =>
    engine.call('trainingStartIssue', {
      model: plan.model.path,
      device: c.device,
      quantize: c.quantize,
      batch,
      tokens,
    });
  const atMaxLength = await ask(c.maxLength);
  // A step's memory grows with its tokens: only a step refused at the max length can fit at the
  // data's longest example, which needs the data tokenized (kept for the next ask).
  if (atMaxLength?.code !== 'batch-too-large') return atMaxLength;
  const longest = await longestExample(engine, plan, count);
  return longest < c.maxLength ? ask(longest) : atMaxLength;
}

/**
 * Refuses `plan` where the engine would refuse it for memory at its start (an OptionError, studio
 * and CLI words), before it is recorded: the studio's runs/start and the CLI's `train` alike.
 * `count.signal` (the requester gone or stopping it, a Ctrl-C) stops the token count it may wait on
 * ('cancelled'), and the count with it where no one else waits on it, as the estimate's check
 * stops; `count.onProgress` hears how far that count is (the Train page's start says so).
 */
export async function refuseRunOverMemory(
  engine: Engine,
  plan: CheckedPlan,
  count: MemoryCheckCount = {},
): Promise<void> {
  const issue = await runMemoryIssue(engine, plan, count);
  if (issue) throw new OptionError(issue);
}

/** Tokens of the longest example of the run's data and held-out data, as training tokenizes them. */
async function longestExample(engine: Engine, plan: CheckedPlan, count: MemoryCheckCount): Promise<number> {
  let longest = 0;
  for (const v of [plan.version, plan.evalVersion]) {
    if (!v) continue;
    const { lengths } = await countTokens(engine, v, plan.model, plan.config.chatTemplate, count).counts;
    for (const n of lengths) longest = Math.max(longest, n);
  }
  return longest;
}
