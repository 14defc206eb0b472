// The params of 'runs/start' and 'runs/estimate': which model and data (library ids), the training
// options (native-runtime/training/options.ts, the one declaration every surface derives from) and
// the studio's extras (a name, probe prompts). The RPC handlers validate with this schema; the CLI
// builds the same object from its flags; the Train wizard checks the extras with the same rules
// (runNameProblem, probeProblem), so it says what Start would refuse before anything is sent.

import { z } from 'zod';
import { TrainOptionsSchema } from '../../../native-runtime/training/options.ts';
import { hiddenCharacterProblem, MAX_NAME } from '../library/names.ts';

const Id = z.number().int().positive();

/** How many probe prompts a run takes, and how long each may be (characters). */
export const PROBE_LIMITS = { prompts: 8, promptChars: 4000 } as const;

export const ProbeSchema = z
  .object({
    /** Prompts answered (greedily) at checkpoints, to watch the behaviour change. */
    prompts: z.array(z.string().min(1).max(PROBE_LIMITS.promptChars)).max(PROBE_LIMITS.prompts),
    /** Take samples at checkpoints whose step is a multiple of this (and at the end). */
    every: Id,
    maxNewTokens: z.number().int().min(1).max(512).optional(),
  })
  .strict();

const SplitPart = z.enum(['train', 'validation', 'test']);

/**
 * What is wrong with a run's name, completing "a run name …" ("is at most 200 characters"), or null.
 * As the library's names (names.ts): no control or text-direction characters, which could make a
 * run's name in a list read as another.
 */
export function runNameProblem(name: string): string | null {
  if (name.length > MAX_NAME) return `is at most ${MAX_NAME} characters`;
  const hidden = hiddenCharacterProblem(name);
  return hidden ? `cannot hold ${hidden}` : null;
}

/**
 * What is wrong with probe prompts (blank ones already left out), completing "probe prompts: …"
 * ("at most 8"), or null.
 */
export function probeProblem(prompts: readonly string[]): string | null {
  if (prompts.length > PROBE_LIMITS.prompts) return `at most ${PROBE_LIMITS.prompts}`;
  const i = prompts.findIndex((p) => p.length > PROBE_LIMITS.promptChars);
  if (i < 0) return null;
  return `prompt ${i + 1} has ${prompts[i]?.length} characters, more than the ${PROBE_LIMITS.promptChars} a prompt may have`;
}

export const RunParamsSchema = TrainOptionsSchema.extend({
  modelId: Id,
  datasetId: Id,
  /** A specific frozen version (default: the dataset's latest full version). */
  datasetVersionId: Id.optional(),
  /** Train on this part of a split: of that version's newest split (or the part cut with it). */
  datasetSplit: SplitPart.optional(),
  /** Held-out data: another version (e.g. a validation split); or evalSplit of the training data. */
  evalDatasetVersionId: Id.optional(),
  /** Held-out data: this part of the split the training data comes from ('validation', 'test'). */
  evalDatasetSplit: SplitPart.optional(),
  name: z
    .string()
    .superRefine((s, ctx) => {
      const problem = runNameProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: `a run name ${problem}` });
    })
    .optional(),
  probe: ProbeSchema.optional(),
}).strict();

export type ProbeConfig = z.infer<typeof ProbeSchema>;

/** What 'runs/start' takes; the CLI may also ask for a pyreft copy of the adapter (a path). */
export type RunParams = z.infer<typeof RunParamsSchema> & { exportPyreft?: string };
