// "Clone into the wizard": the Runs page links to #/train/clone/<run id>; the Train wizard reads the
// id from its route, loads the run and fills its form with runToTrainParams. One typed function on
// each side, so the two pages agree on the route and the fields without knowing each other.

import type { RunDetail, RunParams } from '../rpc/handlers.ts';

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
const str = (c: Config, k: string): string | undefined =>
  typeof c[k] === 'string' ? (c[k] as string) : undefined;

/**
 * The 'runs/start' params that repeat `run` (its stored, resolved config): the same model, dataset
 * version, intervention and hyperparameters. The name says it is a copy; nothing else is changed.
 */
export function runToTrainParams(run: RunDetail): RunParams | null {
  const c = run.config as Config;
  const datasetId = num(c, 'datasetId');
  if (run.modelId === null || datasetId === undefined) return null;
  const layers = Array.isArray(c.layers) ? (c.layers as unknown[]).filter((x) => typeof x === 'number') : [];
  const schedule = str(c, 'schedule');
  const probe = c.probe as { prompts?: unknown; every?: unknown; maxNewTokens?: unknown } | null | undefined;
  const p: RunParams = {
    modelId: run.modelId,
    datasetId,
    ...(run.datasetVersionId !== null ? { datasetVersionId: run.datasetVersionId } : {}),
    ...(num(c, 'evalDatasetVersionId') !== undefined
      ? { evalDatasetVersionId: num(c, 'evalDatasetVersionId') }
      : {}),
    name: `${run.name ?? `Run ${run.id}`} (copy)`,
    ...(layers.length ? { layers: layers.join(';') } : {}),
    shareWeights: c.shareWeights === true,
    ...(schedule === 'linear' || schedule === 'cosine' || schedule === 'constant' ? { schedule } : {}),
  };
  const copy: Record<string, number | string | undefined> = {
    intervention: str(c, 'intervention'),
    positions: str(c, 'positions'),
    rank: num(c, 'rank'),
    lr: num(c, 'lr'),
    epochs: num(c, 'epochs'),
    maxSteps: num(c, 'maxSteps'),
    batchSize: num(c, 'batchSize'),
    gradAccum: num(c, 'gradAccum'),
    maxLength: num(c, 'maxLength'),
    dropout: num(c, 'dropout'),
    weightDecay: num(c, 'weightDecay'),
    warmupRatio: num(c, 'warmupRatio'),
    maxGradNorm: num(c, 'maxGradNorm'),
    seed: num(c, 'seed'),
    evalSplit: num(c, 'evalSplit'),
    evalEvery: num(c, 'evalEvery'),
    quantize: ['none', 'int8', 'int4'].includes(str(c, 'quantize') ?? '') ? str(c, 'quantize') : undefined,
  };
  for (const [k, v] of Object.entries(copy)) if (v !== undefined) (p as Record<string, unknown>)[k] = v;
  if (probe && Array.isArray(probe.prompts) && probe.prompts.length && typeof probe.every === 'number') {
    p.probe = {
      prompts: probe.prompts.filter((x): x is string => typeof x === 'string'),
      every: probe.every,
      ...(typeof probe.maxNewTokens === 'number' ? { maxNewTokens: probe.maxNewTokens } : {}),
    };
  }
  return p;
}
