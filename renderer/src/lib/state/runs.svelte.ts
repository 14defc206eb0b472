// Runs page state: the run list, the selected run's detail and its metric curve, kept live from
// 'jobs/progress' pushes. Metric arrays are $state.raw and replaced whole on every update.

import { errorMessage, type RpcClient } from '../rpc/client.ts';
import type { JobProgress, RunDetail, RunMetric, RunRecord, RunStatus } from '../rpc/handlers.ts';
import { Resource } from './resource.svelte.ts';

/** What the Runs page takes from one 'jobs/progress' push. */
export interface Progress {
  runId: number;
  status: RunStatus;
  /** New metric points, when the engine reports them (top level or in the push's `data`). */
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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function toMetric(v: unknown): RunMetric | null {
  if (!isRecord(v)) return null;
  const step = num(v.step);
  const loss = num(v.loss);
  if (step === null || loss === null) return null;
  return {
    step,
    loss,
    epoch: num(v.epoch),
    lr: num(v.lr),
    gradNorm: num(v.gradNorm),
    tokensPerS: num(v.tokensPerS),
    evalLoss: num(v.evalLoss),
  };
}

/**
 * Reads a JobProgress push. The engine's `data` may be one metric ({step, loss, ...}), or hold it
 * under `metric`, or a list under `metrics`; anything else carries no points.
 */
export function parseProgress(p: JobProgress): Progress | null {
  if (!isRecord(p) || typeof p.runId !== 'number') return null;
  const d = p.data;
  let metrics: RunMetric[] = [];
  const top = toMetric(p);
  if (top) metrics = [top];
  else if (isRecord(d)) {
    const one = toMetric(d) ?? toMetric(d.metric);
    if (one) metrics = [one];
    else if (Array.isArray(d.metrics)) metrics = d.metrics.map(toMetric).filter((m) => m !== null);
  }
  const src =
    typeof (p as { step?: unknown }).step === 'number'
      ? (p as Record<string, unknown>)
      : isRecord(d)
        ? d
        : {};
  const step = num(src.step);
  const live =
    step === null
      ? null
      : { step, totalSteps: num(src.totalSteps), etaS: num(src.etaS), tokensPerS: num(src.tokensPerS) };
  return { runId: p.runId, status: p.state, metrics, live };
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
    this.#unsubscribe.push(rpc.subscribe('jobs/progress', (d) => this.#onProgress(d as JobProgress)));
    this.#unsubscribe.push(
      rpc.subscribe('library/changed', (d) => {
        if (isRecord(d) && d.kind !== 'runs') return;
        void this.list.refresh();
        if (this.selectedId !== null && isRecord(d) && d.id === this.selectedId)
          void this.#reloadDetail(this.selectedId);
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
