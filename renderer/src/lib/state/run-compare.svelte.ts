// The Runs page's compare view: several runs' details loaded together, their curves kept live from
// 'jobs/progress' pushes, for one chart and a side-by-side configuration table.

import { COMPARE_MAX_RUNS } from '../../../../electron/backend/jobs/sweep-params.ts';
import { errorMessage, type RpcClient, RpcError } from '../rpc/client.ts';
import type { RunDetail, RunSweep } from '../rpc/handlers.ts';
import { router } from './router.svelte.ts';
import { mergeMetrics, parseProgress } from './runs.svelte.ts';

/** '#/runs/compare/3,5,8' → [3, 5, 8] (at most COMPARE_MAX_RUNS runs, no repeats). */
export function compareIdsFrom(rest: readonly string[]): number[] | null {
  if (rest[0] !== 'compare' || !rest[1]) return null;
  const ids = [
    ...new Set(
      rest[1]
        .split(',')
        .filter((x) => /^\d+$/.test(x))
        .map(Number),
    ),
  ];
  return ids.length ? ids.slice(0, COMPARE_MAX_RUNS) : null;
}

/** Where "Compare this sweep" goes: the comparison of the sweep's runs still in the library. */
export function sweepCompareHref(sweep: Pick<RunSweep, 'runIds'>): string {
  return router.href('runs', 'compare', sweep.runIds.join(','));
}

export class RunCompare {
  runs = $state.raw<RunDetail[]>([]);
  error = $state<string | null>(null);
  loading = $state(false);
  #rpc: RpcClient;
  #seq = 0;
  #unsubscribe: () => void;

  constructor(rpc: RpcClient) {
    this.#rpc = rpc;
    this.#unsubscribe = rpc.subscribe('jobs/progress', (d) => {
      const p = parseProgress(d);
      if (!p || p.metrics.length === 0 || !this.runs.some((r) => r.id === p.runId)) return;
      this.runs = this.runs.map((r) =>
        r.id === p.runId ? { ...r, metrics: mergeMetrics(r.metrics, p.metrics) } : r,
      );
    });
  }

  async load(ids: number[]): Promise<void> {
    const seq = ++this.#seq;
    this.loading = true;
    this.error = null;
    // Each run on its own: one deleted (here or in another window) leaves the others compared.
    const got = await Promise.allSettled(ids.map((id) => this.#rpc.call('runs/get', { id })));
    if (seq !== this.#seq) return;
    this.runs = got.flatMap((g) => (g.status === 'fulfilled' ? [g.value] : []));
    const failed = got.flatMap((g, i) => (g.status === 'rejected' ? [{ id: ids[i], err: g.reason }] : []));
    const other = failed.find((f) => !(f.err instanceof RpcError && f.err.code === 'not-found'));
    if (other) this.error = errorMessage(other.err);
    else if (failed.length)
      this.error = `${failed.length === 1 ? 'Run' : 'Runs'} ${failed.map((f) => f.id).join(', ')} no longer ${failed.length === 1 ? 'exists' : 'exist'} (deleted); ${this.runs.length ? 'comparing the others' : 'nothing to compare'}.`;
    this.loading = false;
  }

  dispose(): void {
    this.#unsubscribe();
  }
}
