// Token counts of a dataset version for a model, as training tokenizes them: counted in the engine's
// 'tokens' process, or kept from an earlier count (kept-token-counts.ts).

import type { TokenLengths } from '../../../native-runtime/training/token-lengths.ts';
import type { Engine } from '../jobs/engine.ts';
import type { DatasetVersion } from './datasets.ts';
import { keptTokenCounts } from './kept-token-counts.ts';

/**
 * The token counts of version `v` for `model` (all rows, or a random `sample`), counted in the
 * engine's 'tokens' process or kept from an earlier count: the Datasets histogram and the check of a
 * run's longest example before it starts (run-memory-check.ts) share them.
 */
export function countTokens(
  engine: Engine,
  v: Pick<DatasetVersion, 'contentHash' | 'filePath' | 'format' | 'rowCount'>,
  model: { path: string; fingerprint: string },
  chatTemplate: 'auto' | 'none',
  sample?: number,
): { counts: Promise<TokenLengths>; cached: boolean } {
  const key = `${v.contentHash}:${model.fingerprint}:${chatTemplate}`;
  // Every row counted answers a request for a sample too.
  const hit =
    keptTokenCounts.get(key) ?? (sample !== undefined ? keptTokenCounts.get(`${key}:${sample}`) : undefined);
  if (hit) return { counts: hit, cached: true };
  const counts = engine.call('tokenLengths', {
    model: model.path,
    data: v.filePath,
    format: v.format,
    chatTemplate,
    sample,
    examples: v.rowCount,
  });
  const at = sample !== undefined ? `${key}:${sample}` : key;
  keptTokenCounts.keep(at, counts);
  return { counts, cached: false };
}
