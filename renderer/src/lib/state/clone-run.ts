// "Clone into the wizard": the Runs page links to #/train/clone/<run id>; the Train wizard reads the
// id from its route, loads the run and fills its form with runToTrainParams. One typed function on
// each side, so the two pages agree on the route and the fields without knowing each other.

import { MAX_NAME } from '../../../../electron/backend/library/names.ts';
import { optionIssues, TRAIN_OPTION_KEYS } from '../../../../native-runtime/training/options.ts';
import type { RunDetail, RunParams, TrainOptions } from '../rpc/handlers.ts';

/** The wizard's route for cloning run `runId` (a hash href, like router.href). */
export function cloneRunHref(runId: number): string {
  return `#/train/clone/${runId}`;
}

/** The run to clone from the Train route's segments after 'train' (['clone', '12'] → 12). */
export function cloneRunIdFrom(rest: readonly string[]): number | null {
  return rest[0] === 'clone' && rest[1] !== undefined && /^\d+$/.test(rest[1]) ? Number(rest[1]) : null;
}

type Config = Record<string, unknown>;

const num = (c: Config, k: string): number | undefined =>
  typeof c[k] === 'number' && Number.isFinite(c[k]) ? (c[k] as number) : undefined;

/** A run's settings for the wizard: runs/start's params, without the model or dataset it no longer has. */
export type ClonedParams = Omit<RunParams, 'modelId' | 'datasetId'> & {
  modelId: number | null;
  datasetId: number | null;
};

/**
 * The 'runs/start' params that repeat `run` (its stored, resolved config): the same model, dataset
 * version, held-out data, probe prompts and every training option (those of options.ts that the
 * stored value still satisfies). The name says it is a copy; nothing else is changed. A model or
 * dataset removed since is null (the run keeps no id of it), for the wizard to ask for another: the
 * settings are still worth copying.
 */
export function runToTrainParams(run: RunDetail): ClonedParams {
  const c = run.config as Config;
  // Removing a dataset removes its versions: the run's version id is then null, its dataset id stale.
  const datasetId = run.datasetVersionId !== null ? (num(c, 'datasetId') ?? null) : null;
  const options: Record<string, unknown> = {};
  for (const k of TRAIN_OPTION_KEYS) {
    const v = k === 'layers' && Array.isArray(c.layers) ? c.layers.join(';') : c[k];
    if (v !== undefined && v !== null && optionIssues({ [k]: v }).length === 0) options[k] = v;
  }
  const probe = c.probe as { prompts?: unknown; every?: unknown; maxNewTokens?: unknown } | null | undefined;
  const evalVersion = datasetId !== null ? num(c, 'evalDatasetVersionId') : undefined;
  return {
    ...(options as TrainOptions),
    modelId: run.modelId,
    datasetId,
    ...(datasetId !== null && run.datasetVersionId !== null
      ? { datasetVersionId: run.datasetVersionId }
      : {}),
    ...(evalVersion !== undefined ? { evalDatasetVersionId: evalVersion } : {}),
    // A name is at most MAX_NAME characters: a long one is cut to leave room.
    name: `${(run.name ?? `Run ${run.id}`).slice(0, MAX_NAME - ' (copy)'.length).trimEnd()} (copy)`,
    ...(probe && Array.isArray(probe.prompts) && probe.prompts.length && typeof probe.every === 'number'
      ? {
          probe: {
            prompts: probe.prompts.filter((x): x is string => typeof x === 'string'),
            every: probe.every,
            ...(typeof probe.maxNewTokens === 'number' ? { maxNewTokens: probe.maxNewTokens } : {}),
          },
        }
      : {}),
  };
}

/** The wizard's note once `run` is copied into it: whose settings, and what to choose again. */
export function cloneNote(run: Pick<RunDetail, 'id' | 'name'>, p: ClonedParams): string {
  const copied = `Settings copied from “${run.name ?? `Run ${run.id}`}”.`;
  const gone = [p.modelId === null ? 'model' : null, p.datasetId === null ? 'dataset' : null].filter(
    (x) => x !== null,
  );
  if (gone.length === 0) return `${copied} Change what you like, then start.`;
  return gone.length === 2
    ? `${copied} Its model and dataset are no longer in the library: choose others.`
    : `${copied} Its ${gone[0]} is no longer in the library: choose another.`;
}
