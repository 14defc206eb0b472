// Runs page state: the run list, the selected run's detail and its metric curve, kept live from
// 'jobs/progress' pushes. Metric arrays are $state.raw and replaced whole on every update.

import { errorMessage, type RpcClient } from '../rpc/client.ts';
import type { JobProgress, JobState, RunDetail, RunMetric, RunRecord } from '../rpc/handlers.ts';
import { Resource } from './resource.svelte.ts';

/** What the Runs page takes from one 'jobs/progress' push. */
export interface Progress {
  runId: number;
  /** The job's state (a job that ends is not yet the run's final status: the record says). */
  status: JobState;
  /** The new metric point, when the push reports a training step. */
  metrics: RunMetric[];
  /** The live counters of a training report, when the push carries them. */
  live: LiveProgress | null;
}

/** What a running job reports besides the metric point: how far it is and how fast it goes. */
export interface LiveProgress {
  step: number;
  totalSteps: number | null;
  etaS: number | null;
  tokensPerS: number | null;
}

/**
 * Reads a 'jobs/progress' push for the Runs page: a job that executes a library run, and the metric
 * point and live counters when the push reports a training step. Null for other jobs.
 */
export function parseProgress(p: JobProgress): Progress | null {
  if (p.runId === null) return null;
  const d = p.detail;
  if (d?.event !== 'progress') return { runId: p.runId, status: p.state, metrics: [], live: null };
  const metric: RunMetric = {
    step: d.step,
    loss: d.loss,
    epoch: d.epoch,
    lr: d.lr,
    gradNorm: d.gradNorm,
    tokensPerS: d.tokensPerS,
    evalLoss: d.evalLoss ?? null,
  };
  const live = { step: d.step, totalSteps: d.totalSteps, etaS: d.etaS, tokensPerS: d.tokensPerS };
  return { runId: p.runId, status: p.state, metrics: [metric], live };
}

/** Adds or replaces points by step, keeping steps ascending. Returns a new array. */
export function mergeMetrics(metrics: readonly RunMetric[], add: readonly RunMetric[]): RunMetric[] {
  let out = [...metrics];
  for (const m of add) {
    const last = out.at(-1);
    if (!last || last.step < m.step) out.push(m);
    else {
      out = out.filter((x) => x.step !== m.step);
      out.push(m);
      out.sort((a, b) => a.step - b.step);
    }
  }
  return out;
}

export class RunsState {
  readonly list: Resource<RunRecord[]>;
  selectedId = $state<number | null>(null);
  detail = $state.raw<RunDetail | null>(null);
  metrics = $state.raw<RunMetric[]>([]);
  detailError = $state<string | null>(null);
  actionError = $state<string | null>(null);
  /** Live counters per run id, from 'jobs/progress'; replaced whole. */
  live = $state.raw<Record<number, LiveProgress>>({});
  /** Run ids with a pause/resume/cancel request in flight. */
  busy = $state.raw<ReadonlySet<number>>(new Set());
  #rpc: RpcClient;
  #unsubscribe: Array<() => void> = [];
  #selected: RunRecord | null;

  constructor(rpc: RpcClient) {
    this.#rpc = rpc;
    this.list = new Resource(() => rpc.call('runs/list'));
    this.#selected = $derived(this.list.value?.find((r) => r.id === this.selectedId) ?? this.detail);
    this.#unsubscribe.push(rpc.subscribe('jobs/progress', (d) => this.#onProgress(d)));
    this.#unsubscribe.push(
      rpc.subscribe('library/changed', (d) => {
        if (d.kind !== 'runs') return;
        void this.list.refresh();
        if (this.selectedId !== null && d.id === this.selectedId) void this.#reloadDetail(this.selectedId);
      }),
    );
  }

  get selected(): RunRecord | null {
    return this.#selected;
  }

  async select(id: number | null): Promise<void> {
    this.selectedId = id;
    this.detail = null;
    this.metrics = [];
    this.detailError = null;
    if (id !== null) await this.#reloadDetail(id);
  }

  cancel(id: number): Promise<void> {
    return this.#act(id, 'runs/cancel');
  }

  pause(id: number): Promise<void> {
    return this.#act(id, 'runs/pause');
  }

  resume(id: number): Promise<void> {
    return this.#act(id, 'runs/resume');
  }

  async #act(id: number, method: 'runs/cancel' | 'runs/pause' | 'runs/resume'): Promise<void> {
    this.actionError = null;
    this.busy = new Set([...this.busy, id]);
    try {
      const rec = await this.#rpc.call(method, { id });
      const runs = this.list.value;
      if (runs) this.list.value = runs.map((r) => (r.id === id ? { ...r, status: rec.status } : r));
      await this.list.refresh();
      if (id === this.selectedId) await this.#reloadDetail(id);
    } catch (err) {
      this.actionError = `Run ${id}: ${errorMessage(err)}`;
    } finally {
      const next = new Set(this.busy);
      next.delete(id);
      this.busy = next;
    }
  }

  dispose(): void {
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
  }

  async #reloadDetail(id: number): Promise<void> {
    try {
      const d = await this.#rpc.call('runs/get', { id });
      if (this.selectedId !== id) return;
      this.detail = d;
      // Keep points that arrived by push while the request was in flight.
      this.metrics = mergeMetrics(d.metrics ?? [], this.metrics);
      this.detailError = null;
    } catch (err) {
      if (this.selectedId === id) this.detailError = errorMessage(err);
    }
  }

  #onProgress(data: JobProgress): void {
    const p = parseProgress(data);
    if (!p) return;
    if (p.live) this.live = { ...this.live, [p.runId]: p.live };
    const runs = this.list.value;
    if (runs && !runs.some((r) => r.id === p.runId)) {
      void this.list.refresh(); // a run we have not seen yet
    } else if (runs) {
      const last = p.metrics.at(-1);
      // A job's end state is not the run's (a paused run's job ends too): reload the record instead.
      const live = p.status === 'running' || p.status === 'queued';
      if (!live) void this.list.refresh();
      this.list.value = runs.map((r) =>
        r.id === p.runId
          ? {
              ...r,
              status: live ? p.status : r.status,
              lastStep: last?.step ?? r.lastStep,
              lastLoss: last?.loss ?? r.lastLoss,
            }
          : r,
      );
    }
    if (p.runId === this.selectedId && p.metrics.length > 0)
      this.metrics = mergeMetrics(this.metrics, p.metrics);
  }
}
