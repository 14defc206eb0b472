// Token counts of a dataset version for a model, as training tokenizes them: counted in the engine's
// 'counts' process, or kept from an earlier count (kept-token-counts.ts).

import { CancelledError } from '../../../native-runtime/errors.ts';
import type { TokenLengths } from '../../../native-runtime/training/token-lengths.ts';
import type { Engine } from '../jobs/engine.ts';
import { waitUnless } from '../wait-unless.ts';
import type { DatasetVersion } from './datasets.ts';
import { keptTokenCounts } from './kept-token-counts.ts';

const CANCELLED = 'the token count was cancelled';

/** How far a count is: examples counted of how many it counts (null until known). */
export type CountProgress = (done: number, total: number | null) => void;

interface Running {
  stop: AbortController;
  /** How many other requests joined it since it started. */
  joined: number;
  /** Everyone waiting on it who wants to know how far it is. */
  listeners: Set<CountProgress>;
}

/** Counts in flight, which their starter may stop and every request waiting on them follows. */
const inFlight = new Map<Promise<TokenLengths>, Running>();

export interface CountOptions {
  /** Count only this many rows, picked at random (a first picture of a big version). */
  sample?: number;
  signal?: AbortSignal;
  /** Told how far the count is now and then (a count joined late hears from its next report on). */
  onProgress?: CountProgress;
}

/**
 * The token counts of version `v` for `model` (all rows, or a random `sample`), counted in the
 * engine's 'counts' process or kept from an earlier count: the Datasets histogram and the check of a
 * run's longest example before it starts (run-memory-check.ts) share them.
 * Aborting `signal` stops this request's wait at once ('cancelled'); the count itself — minutes for a
 * big version, and the 'counts' process with it — is stopped (its process killed: a tokenization
 * hears no cancel) only if it started for this request and no other request has joined it since.
 */
export function countTokens(
  engine: Engine,
  v: Pick<DatasetVersion, 'contentHash' | 'filePath' | 'format' | 'rowCount'>,
  model: { path: string; fingerprint: string },
  chatTemplate: 'auto' | 'none',
  { sample, signal, onProgress }: CountOptions = {},
): { counts: Promise<TokenLengths>; cached: boolean } {
  const key = `${v.contentHash}:${model.fingerprint}:${chatTemplate}`;
  // Every row counted answers a request for a sample too.
  const hit =
    keptTokenCounts.get(key) ?? (sample !== undefined ? keptTokenCounts.get(`${key}:${sample}`) : undefined);
  if (hit) {
    const running = inFlight.get(hit);
    if (running) running.joined++;
    return { counts: followed(hit, signal, running, onProgress), cached: true };
  }
  // Stopped before it began (an estimate cancelled while its memory check still planned): the abort
  // below would never fire, and the count would run for minutes for nobody.
  if (signal?.aborted) return { counts: Promise.reject(new CancelledError(CANCELLED)), cached: false };
  const stop = new AbortController();
  const entry: Running = { stop, joined: 0, listeners: new Set() };
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
    {
      signal: stop.signal,
      killOnAbort: true,
      onEvent: (_e, d) => {
        for (const l of entry.listeners) l(d.done, d.total);
      },
    },
  );
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
      if (inFlight.get(counts) !== entry || entry.joined > 0) return;
      keptTokenCounts.discard(at, counts);
      inFlight.delete(counts);
      stop.abort();
    },
    { once: true },
  );
  return { counts: followed(counts, signal, entry, onProgress), cached: false };
}

/** `counts`, followed through `onProgress` while it runs, or a 'cancelled' rejection as soon as `signal` aborts. */
function followed(
  counts: Promise<TokenLengths>,
  signal: AbortSignal | undefined,
  running: Running | undefined,
  onProgress: CountProgress | undefined,
): Promise<TokenLengths> {
  if (!onProgress || !running) return waitUnless(counts, signal, CANCELLED);
  running.listeners.add(onProgress);
  return waitUnless(counts, signal, CANCELLED).finally(() => running.listeners.delete(onProgress));
}
