// Token counts of a dataset version for a model, as training tokenizes them: counted in the engine's
// 'tokens' process, or kept from an earlier count (kept-token-counts.ts).

import type { TokenLengths } from '../../../native-runtime/training/token-lengths.ts';
import type { Engine } from '../jobs/engine.ts';
import { waitUnless } from '../wait-unless.ts';
import type { DatasetVersion } from './datasets.ts';
import { keptTokenCounts } from './kept-token-counts.ts';

const CANCELLED = 'the token count was cancelled';

/** Counts in flight that their starter may stop: how many other requests joined each since. */
const inFlight = new Map<Promise<TokenLengths>, { stop: AbortController; joined: number }>();

/**
 * The token counts of version `v` for `model` (all rows, or a random `sample`), counted in the
 * engine's 'tokens' process or kept from an earlier count: the Datasets histogram and the check of a
 * run's longest example before it starts (run-memory-check.ts) share them.
 * Aborting `signal` stops this request's wait at once ('cancelled'); the count itself — minutes for a
 * big version, and the 'tokens' process with it — is stopped (its process killed: a tokenization
 * hears no cancel) only if it started for this request and no other request has joined it since.
 */
export function countTokens(
  engine: Engine,
  v: Pick<DatasetVersion, 'contentHash' | 'filePath' | 'format' | 'rowCount'>,
  model: { path: string; fingerprint: string },
  chatTemplate: 'auto' | 'none',
  sample?: number,
  signal?: AbortSignal,
): { counts: Promise<TokenLengths>; cached: boolean } {
  const key = `${v.contentHash}:${model.fingerprint}:${chatTemplate}`;
  // Every row counted answers a request for a sample too.
  const hit =
    keptTokenCounts.get(key) ?? (sample !== undefined ? keptTokenCounts.get(`${key}:${sample}`) : undefined);
  if (hit) {
    const running = inFlight.get(hit);
    if (running) running.joined++;
    return { counts: waitUnless(hit, signal, CANCELLED), cached: true };
  }
  const stop = new AbortController();
  const counts = engine.call(
    'tokenLengths',
    {
      model: model.path,
      data: v.filePath,
      format: v.format,
      chatTemplate,
      sample,
      examples: v.rowCount,
    },
    { signal: stop.signal, killOnAbort: true },
  );
  const entry = { stop, joined: 0 };
  inFlight.set(counts, entry);
  counts.then(
    () => inFlight.delete(counts),
    () => inFlight.delete(counts),
  );
  const at = sample !== undefined ? `${key}:${sample}` : key;
  keptTokenCounts.keep(at, counts);
  signal?.addEventListener(
    'abort',
    () => {
      if (inFlight.get(counts) === entry && entry.joined === 0) stop.abort();
    },
    { once: true },
  );
  return { counts: waitUnless(counts, signal, CANCELLED), cached: false };
}
