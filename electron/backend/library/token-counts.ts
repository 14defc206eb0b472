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
  /** Where it is kept (kept-token-counts.ts), to drop it from there when it is stopped. */
  at: string;
  /**
   * How many requests wait on it now: each one's abort takes it off, and the last one's stops the
   * count. A request without a signal never leaves, so a count it waits on always ends.
   */
  waiting: number;
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
 * hears no cancel) once no request waits on it any more, whichever started it.
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
  // Stopped before it began (an estimate cancelled while its memory check still planned): its abort
  // would never fire, and a new count would run for minutes for nobody.
  if (signal?.aborted) return { counts: Promise.reject(new CancelledError(CANCELLED)), cached: !!hit };
  if (hit) return { counts: followed(hit, signal, inFlight.get(hit), onProgress), cached: true };
  const stop = new AbortController();
  const at = sample !== undefined ? `${key}:${sample}` : key;
  const entry: Running = { stop, at, waiting: 0, listeners: new Set() };
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
  keptTokenCounts.keep(at, counts);
  return { counts: followed(counts, signal, entry, onProgress), cached: false };
}

/**
 * `counts`, followed through `onProgress` while it runs, or a 'cancelled' rejection as soon as
 * `signal` aborts — which, for the last request waiting on a count still `running`, stops it.
 */
function followed(
  counts: Promise<TokenLengths>,
  signal: AbortSignal | undefined,
  running: Running | undefined,
  onProgress: CountProgress | undefined,
): Promise<TokenLengths> {
  if (!running) return waitUnless(counts, signal, CANCELLED);
  running.waiting++;
  const leave = () => {
    if (--running.waiting > 0 || inFlight.get(counts) !== running) return;
    keptTokenCounts.discard(running.at, counts);
    inFlight.delete(counts);
    running.stop.abort();
  };
  signal?.addEventListener('abort', leave, { once: true });
  if (onProgress) running.listeners.add(onProgress);
  return waitUnless(counts, signal, CANCELLED).finally(() => {
    signal?.removeEventListener('abort', leave);
    if (onProgress) running.listeners.delete(onProgress);
  });
}
