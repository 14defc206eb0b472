// A run's metrics as its charts get them (runs/get). A long run logs a point per step, 100k points
// and more for an 8B model; reading them in one query held the RPC loop ~200 ms at 100k points and
// sent megabytes no chart can draw (it is ~1000 px wide). Points are read in pages by step, the loop
// turning between pages, and a long curve is thinned per step bucket to the points with the lowest
// and highest loss, eval loss and grad norm, so spikes and dips stay visible; the first and last
// points are always kept (the run page shows the last). The CLI's `runs show` still gets every point.

import type { Library } from './library.ts';
import { runInSlices } from './sliced-scans.ts';

/** One logged point of a run (one row of run_metrics). */
export interface RunMetric {
  step: number;
  epoch: number | null;
  loss: number | null;
  lr: number | null;
  gradNorm: number | null;
  tokensPerS: number | null;
  evalLoss: number | null;
}

export const METRIC_COLUMNS =
  'step, epoch, loss, lr, grad_norm AS gradNorm, tokens_per_s AS tokensPerS, eval_loss AS evalLoss';

/** Step buckets of a thinned curve: at most 6 points each, ~2000 in practice. */
export const CHART_BUCKETS = 1000;
// ~2 ms a page on a slow 2-core machine: runInSlices turns the loop every few pages.
const PAGE_ROWS = 500;

/** The fields whose extremes a thinned curve keeps. */
const KEPT_EXTREMES = ['loss', 'evalLoss', 'gradNorm'] as const;

/** The bucket's points with the lowest and highest value of each kept field. */
function extremes(points: RunMetric[]): Set<RunMetric> {
  const kept = new Set<RunMetric>();
  for (const field of KEPT_EXTREMES) {
    let low: RunMetric | null = null;
    let high: RunMetric | null = null;
    for (const p of points) {
      const v = p[field];
      if (v === null || !Number.isFinite(v)) continue;
      if (low === null || v < (low[field] as number)) low = p;
      if (high === null || v > (high[field] as number)) high = p;
    }
    if (low) kept.add(low);
    if (high) kept.add(high);
  }
  return kept;
}

/** Reads the run's points page by page (yielding between pages), thinned past 2 × `buckets` steps. */
export function* chartMetricsScan(
  lib: Library,
  runId: number,
  buckets = CHART_BUCKETS,
): Generator<void, RunMetric[]> {
  const span = lib.db
    .prepare('SELECT MIN(step) AS first, MAX(step) AS last FROM run_metrics WHERE run_id = ?')
    .get(runId) as { first: number | null; last: number | null };
  if (span.first === null || span.last === null) return [];
  const page = lib.db.prepare(
    `SELECT ${METRIC_COLUMNS} FROM run_metrics WHERE run_id = ? AND step > ? ORDER BY step LIMIT ?`,
  );
  // Steps are unique integers, so a span this short holds few enough points to send them all.
  const width =
    span.last - span.first + 1 <= 2 * buckets ? 0 : Math.ceil((span.last - span.first + 1) / buckets);
  const out: RunMetric[] = [];
  /** Adds a bucket's extremes in step order (with the run's first or last point where asked). */
  const flush = (points: RunMetric[], isLast: boolean) => {
    const kept = extremes(points);
    if (out.length === 0) kept.add(points[0] as RunMetric);
    if (isLast) kept.add(points.at(-1) as RunMetric);
    for (const p of points) if (kept.has(p)) out.push(p);
  };
  let bucket: RunMetric[] = [];
  let bucketNo = 0;
  let after = span.first - 1;
  for (;;) {
    const rows = page.all(runId, after, PAGE_ROWS) as RunMetric[];
    for (const m of rows) {
      if (width === 0) {
        out.push(m);
        continue;
      }
      const no = Math.floor((m.step - span.first) / width);
      if (no !== bucketNo && bucket.length) {
        flush(bucket, false);
        bucket = [];
      }
      bucketNo = no;
      bucket.push(m);
    }
    if (rows.length < PAGE_ROWS) break;
    after = (rows.at(-1) as RunMetric).step;
    yield;
  }
  if (bucket.length) flush(bucket, true);
  return out;
}

/** The run's points for its charts, read in time slices on the RPC loop. */
export function chartMetrics(lib: Library, runId: number): Promise<RunMetric[]> {
  return runInSlices(chartMetricsScan(lib, runId));
}
