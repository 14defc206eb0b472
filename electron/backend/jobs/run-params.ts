// The params of 'runs/start' and 'runs/estimate': which model and data (library ids), the training
// options (native-runtime/training/options.ts, the one declaration every surface derives from) and
// the studio's extras (a name, probe prompts). The RPC handlers validate with this schema; the CLI
// builds the same object from its flags.

import { z } from 'zod';
import { TrainOptionsSchema } from '../../../native-runtime/training/options.ts';
import { hiddenCharacterProblem, MAX_NAME } from '../library/names.ts';

const Id = z.number().int().positive();

export const ProbeSchema = z
  .object({
    /** Prompts answered (greedily) at checkpoints, to watch the behaviour change. */
    prompts: z.array(z.string().min(1).max(4000)).max(8),
    /** Take samples at checkpoints whose step is a multiple of this (and at the end). */
    every: Id,
    maxNewTokens: z.number().int().min(1).max(512).optional(),
  })
  .strict();

const SplitPart = z.enum(['train', 'validation', 'test']);

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
  // As the library's names (names.ts): no control or text-direction characters, which could make a
  // run's name in a list read as another.
  name: z
    .string()
    .max(MAX_NAME)
    .superRefine((s, ctx) => {
      const hidden = hiddenCharacterProblem(s);
      if (hidden) ctx.addIssue({ code: 'custom', message: `a run name cannot hold ${hidden}` });
    })
    .optional(),
  probe: ProbeSchema.optional(),
}).strict();

export type ProbeConfig = z.infer<typeof ProbeSchema>;

/** What 'runs/start' takes; the CLI may also ask for a pyreft copy of the adapter (a path). */
export type RunParams = z.infer<typeof RunParamsSchema> & { exportPyreft?: string };
