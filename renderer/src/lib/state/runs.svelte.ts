// Runs page state: the run list, the selected run's detail, metric curve, probe answers and log,
// kept live from 'jobs/progress' and 'runs/log' pushes, and the run controls (pause, resume, cancel
// keeping the last checkpoint, delete). Arrays are $state.raw and replaced whole on every update.

import { errorMessage, type RpcClient, RpcError } from '../rpc/client.ts';
import type {
  DataProgress,
  JobProgress,
  JobState,
  RunDetail,
  RunListEntry,
  RunLogLine,
  RunMetric,
  RunRecord,
  RunSample,
} from '../rpc/handlers.ts';
import { SearchedResource } from './resource.svelte.ts';

/** What the Runs page takes from one 'jobs/progress' push. */
export interface Progress {
  runId: number;
  /** The job's state (a job that ends is not yet the run's final status: the record says). */
  status: JobState;
  /** The new metric point, when the push reports a training step. */
  metrics: RunMetric[];
  /** The live counters of a training report, when the push carries them. */
  live: LiveProgress | null;
  /** Rows of the data preparation done, when the push reports them (before the first step). */
  preparing: DataProgress | null;
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
  if (d?.event === 'data-progress') {
    const preparing = { done: d.done, total: d.total };
    return { runId: p.runId, status: p.state, metrics: [], live: null, preparing };
  }
  if (d?.event !== 'progress')
    return { runId: p.runId, status: p.state, metrics: [], live: null, preparing: null };
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
  return { runId: p.runId, status: p.state, metrics: [metric], live, preparing: null };
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

/** The run the page has open: its list row while the list has it, else its full record. */
export type SelectedRun = RunListEntry | RunDetail;

export class RunsState {
  readonly list: SearchedResource<RunListEntry[]>;
  selectedId = $state<number | null>(null);
  detail = $state.raw<RunDetail | null>(null);
  metrics = $state.raw<RunMetric[]>([]);
  /** Probe answers of the selected run, oldest first (the detail's, then live ones). */
  samples = $state.raw<RunSample[]>([]);
  /** The selected run's log, oldest first. */
  logs = $state.raw<RunLogLine[]>([]);
  detailError = $state<string | null>(null);
  actionError = $state<string | null>(null);
  /** A one-line confirmation of the last action (e.g. "Run 3 cancelled; …"). */
  notice = $state<string | null>(null);
  /** Live counters per run id, from 'jobs/progress'; replaced whole. */
  live = $state.raw<Record<number, LiveProgress>>({});
  /**
   * How far each run's data preparation is, from its job's 'data-progress' pushes; a run leaves it at
   * its first step or when its job ends. Replaced whole.
   */
  preparing = $state.raw<Record<number, DataProgress>>({});
  /** Run ids with a request in flight. */
  busy = $state.raw<ReadonlySet<number>>(new Set());
  /**
   * Runs asked to pause that still run: a run stops after the step under way (or, still reading its
   * data, after its first), which may take a while; until then the page says so.
   */
  pausing = $state.raw<ReadonlySet<number>>(new Set());
  /** Runs ticked in the list for comparison. */
  checked = $state.raw<ReadonlySet<number>>(new Set());
  #rpc: RpcClient;
  #unsubscribe: Array<() => void> = [];
  #selected: SelectedRun | null;
  #byId: ReadonlyMap<number, RunListEntry>;
  /** Where the selected run's log was last read to (its byte offset); null until first read. */
  #logEnd: number | null = null;
  /** A log read in flight, and whether another change came meanwhile (read again after it). */
  #logRead: Promise<void> | null = null;
  #logStale = false;

  constructor(rpc: RpcClient) {
    this.#rpc = rpc;
    // A search asks runs/list's query: name, status, model, dataset.
    this.list = new SearchedResource((query) => rpc.call('runs/list', query ? { query } : {}));
    // The list by id: each row asks for its run's progress, and a search of the list per row was
    // quadratic (2,000 runs: 2M comparisons per render).
    this.#byId = $derived(new Map((this.list.value ?? []).map((r) => [r.id, r])));
    this.#selected = $derived(
      (this.selectedId === null ? undefined : this.#byId.get(this.selectedId)) ?? this.detail,
    );
    this.#unsubscribe.push(rpc.subscribe('jobs/progress', (d) => this.#onProgress(d)));
    this.#unsubscribe.push(
      rpc.subscribe('runs/log', (d) => {
        if (d.runId === this.selectedId) this.logs = [...this.logs, d.line];
      }),
    );
    this.#unsubscribe.push(
      rpc.subscribe('library/changed', (d) => {
        if (d.kind === 'adapters' && this.selectedId !== null) void this.#reloadDetail(this.selectedId);
        if (d.kind !== 'runs') return;
        // A run the CLI trains changes each step: only the run a change names is read again.
        if (d.id === undefined) void this.list.refresh();
        else void this.#refreshRuns([d.id]);
        if (this.selectedId === null || d.id !== this.selectedId) return;
        void this.#reloadDetail(this.selectedId);
        // A run trained by another process (the CLI) sends no 'runs/log' pushes: what its log gained is read.
        if (d.elsewhere) this.#followLogs(this.selectedId);
      }),
    );
  }

  get selected(): SelectedRun | null {
    return this.#selected;
  }

  /** The search the list shows; '' for every run. */
  get searched(): string {
    return this.list.searched;
  }

  /** Lists the runs matching `query` (every run for ''). */
  search(query: string): Promise<void> {
    return this.list.search(query);
  }

  /**
   * Reads again only runs `ids` (those a change names) and puts them in the list in place; one
   * deleted, or no longer matching the search, leaves it. The whole list was 3 MB at 2,000 runs.
   */
  async #refreshRuns(ids: number[]): Promise<void> {
    const query = this.searched;
    let fresh: RunListEntry[];
    try {
      fresh = await this.#rpc.call('runs/list', { ids, ...(query ? { query } : {}) });
    } catch {
      return this.list.refresh(); // says why in the list's own error
    }
    const runs = this.list.value;
    // The list shows another search now: what was read for the one before is no answer to it.
    if (!runs || this.searched !== query) return;
    const named = new Set(ids);
    const stillRunning = new Set(fresh.filter((r) => r.status === 'running').map((r) => r.id));
    if (ids.some((id) => this.pausing.has(id) && !stillRunning.has(id)))
      this.pausing = new Set([...this.pausing].filter((id) => !named.has(id) || stillRunning.has(id)));
    this.list.replace([...runs.filter((r) => !named.has(r.id)), ...fresh].sort((a, b) => b.id - a.id));
  }

  /**
   * How far a running run is and how fast it goes: its job's pushes, else what runs/list derived
   * from its stored steps (a run the CLI trains sends no 'jobs/progress': library/run-pace.ts).
   */
  progressOf(id: number): LiveProgress | undefined {
    const pushed = this.live[id];
    if (pushed) return pushed;
    const r = this.#byId.get(id);
    if (!r?.pace || r.lastStep === null) return undefined;
    return { step: r.lastStep, totalSteps: r.totalSteps, ...r.pace };
  }

  /**
   * How far a running run's data preparation is: its job's pushes, else what the process training it
   * recorded (a run the CLI trains sends no 'jobs/progress': runs/list's `preparing`).
   */
  preparingOf(id: number): DataProgress | undefined {
    return this.preparing[id] ?? this.#byId.get(id)?.preparing ?? undefined;
  }

  async select(id: number | null): Promise<void> {
    this.selectedId = id;
    this.detail = null;
    this.metrics = [];
    this.samples = [];
    this.logs = [];
    this.#logEnd = null;
    this.#logRead = null;
    this.detailError = null;
    if (id !== null) await Promise.all([this.#reloadDetail(id), this.#reloadLogs(id)]);
  }

  toggleChecked(id: number): void {
    const next = new Set(this.checked);
    if (!next.delete(id)) next.add(id);
    this.checked = next;
  }

  /** Stops a run for good; with keepCheckpoint its last checkpoint becomes an adapter. */
  cancel(id: number, keepCheckpoint = false): Promise<void> {
    return this.#act(id, async () => {
      const r = await this.#rpc.call('runs/cancel', { id, keepCheckpoint });
      this.notice = keepCheckpoint
        ? r.keptAdapterId !== null
          ? `Run ${id} cancelled. Its last checkpoint is now an adapter.`
          : `Run ${id} is stopping at a checkpoint; that checkpoint will appear in Adapters.`
        : `Run ${id} cancelled.`;
      return r;
    });
  }

  pause(id: number): Promise<void> {
    return this.#act(id, async () => {
      const r = await this.#rpc.call('runs/pause', { id });
      if (r.status === 'running') this.pausing = new Set([...this.pausing, id]);
      return r;
    });
  }

  resume(id: number): Promise<void> {
    return this.#act(id, () => this.#rpc.call('runs/resume', { id }));
  }

  /** A stopped run's last checkpoint as an adapter. */
  keepCheckpoint(id: number): Promise<void> {
    return this.#act(id, async () => {
      const a = await this.#rpc.call('runs/keep-checkpoint', { id });
      this.notice = `Kept as adapter “${a.name}”.`;
      return null;
    });
  }

  /** Deletes a stopped run (its adapters stay); true when it is gone. */
  async remove(id: number): Promise<boolean> {
    let ok = false;
    await this.#act(id, async () => {
      await this.#rpc.call('runs/delete', { id });
      ok = true;
      this.notice = `Run ${id} deleted. Its adapters are still in Adapters.`;
      const next = new Set(this.checked);
      next.delete(id);
      this.checked = next;
      return null;
    });
    return ok;
  }

  async #act(id: number, fn: () => Promise<RunRecord | null>): Promise<void> {
    this.actionError = null;
    this.notice = null;
    this.busy = new Set([...this.busy, id]);
    try {
      const rec = await fn();
      const runs = this.list.value;
      if (rec && runs) this.list.replace(runs.map((r) => (r.id === id ? { ...r, status: rec.status } : r)));
      await this.#refreshRuns([id]);
      if (id === this.selectedId && this.list.value?.some((r) => r.id === id)) await this.#reloadDetail(id);
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
      // Keep points and answers that arrived by push while the request was in flight.
      this.metrics = mergeMetrics(d.metrics ?? [], this.metrics);
      this.samples = mergeSamples(d.samples ?? [], this.samples);
      this.detailError = null;
    } catch (err) {
      if (this.selectedId !== id) return;
      this.detailError = errorMessage(err);
      // Deleted (in another window too): nothing of it is left to show or act on.
      if (err instanceof RpcError && err.code === 'not-found') {
        this.detail = null;
        this.metrics = [];
        this.samples = [];
        this.logs = [];
      }
    }
  }

  async #reloadLogs(id: number): Promise<void> {
    try {
      const { lines, end } = await this.#rpc.call('runs/log-since', { id });
      if (this.selectedId !== id) return;
      // Lines pushed while loading are newer than the file's last line.
      const lastAt = lines.at(-1)?.at ?? 0;
      this.logs = [...lines, ...this.logs.filter((l) => l.at > lastAt)];
      this.#logEnd = end;
    } catch {
      // the detail's own error says enough
    }
  }

  /**
   * Reads what the selected run's log gained since the last read: each step of a CLI run is one
   * change, and reading the tail again each time cost in proportion to the log, not to the step.
   * One read at a time (two at one offset would add its lines twice); a change during a read is read
   * after it.
   */
  #followLogs(id: number): void {
    if (this.#logRead) {
      this.#logStale = true;
      return;
    }
    const read = (async () => {
      do {
        this.#logStale = false;
        const from = this.#logEnd;
        if (from === null) {
          await this.#reloadLogs(id);
          continue;
        }
        try {
          const { lines, end } = await this.#rpc.call('runs/log-since', { id, offset: from });
          if (this.selectedId !== id || this.#logEnd !== from) return;
          this.logs = appendNewLines(this.logs, lines);
          this.#logEnd = end;
        } catch {
          return; // the detail's own error says enough
        }
      } while (this.#logStale && this.selectedId === id);
    })().finally(() => {
      if (this.#logRead === read) this.#logRead = null;
    });
    this.#logRead = read;
  }

  #onProgress(data: JobProgress): void {
    const p = parseProgress(data);
    if (!p) return;
    // A job's counters last as long as the job: a run resumed later by another process (the CLI)
    // must not show the ended job's step, ETA and speed in place of its own (runs/list's pace).
    const jobLive = p.status === 'running' || p.status === 'queued';
    if (p.live) this.live = { ...this.live, [p.runId]: p.live };
    else if (!jobLive && this.live[p.runId]) {
      const { [p.runId]: _ended, ...others } = this.live;
      this.live = others;
    }
    if (p.preparing) this.preparing = { ...this.preparing, [p.runId]: p.preparing };
    else if ((p.live || !jobLive) && this.preparing[p.runId]) {
      const { [p.runId]: _prepared, ...others } = this.preparing;
      this.preparing = others;
    }
    if (data.detail?.event === 'sample' && p.runId === this.selectedId) {
      const { step, prompt, output, emptyNote } = data.detail;
      this.samples = mergeSamples(this.samples, [
        { id: -Date.now(), step, prompt, output, emptyNote: emptyNote ?? null, createdAt: Date.now() },
      ]);
    }
    const runs = this.list.value;
    if (runs && !runs.some((r) => r.id === p.runId)) {
      // A run we have not seen yet, read when its job changes state (not at each step: a run the
      // search leaves out is never in the list).
      if (data.detail === null) void this.#refreshRuns([p.runId]);
    } else if (runs) {
      const last = p.metrics.at(-1);
      // A job's end state is not the run's (a paused run's job ends too): reload the record instead.
      if (!jobLive) void this.#refreshRuns([p.runId]);
      this.list.replace(
        runs.map((r) =>
          r.id === p.runId
            ? {
                ...r,
                status: jobLive ? p.status : r.status,
                lastStep: last?.step ?? r.lastStep,
                lastLoss: last?.loss ?? r.lastLoss,
              }
            : r,
        ),
      );
    }
    if (p.runId === this.selectedId && p.metrics.length > 0)
      this.metrics = mergeMetrics(this.metrics, p.metrics);
  }
}

/**
 * `logs` with `read` (lines read from the log file) after it, less those already there: the studio's
 * own lines come by push and are in the file too.
 */
export function appendNewLines(logs: readonly RunLogLine[], read: readonly RunLogLine[]): RunLogLine[] {
  const first = read[0];
  if (!first) return [...logs];
  const key = (l: RunLogLine) => `${l.at}\u0000${l.source}\u0000${l.text}`;
  const shown = new Set(logs.filter((l) => l.at >= first.at).map(key));
  return [...logs, ...read.filter((l) => !shown.has(key(l)))];
}

/** Probe answers by (step, prompt): a later one replaces an earlier one (a resumed run repeats steps). */
export function mergeSamples(a: readonly RunSample[], b: readonly RunSample[]): RunSample[] {
  const m = new Map<string, RunSample>();
  for (const s of [...a, ...b]) m.set(`${s.step}\u0000${s.prompt}`, s);
  return [...m.values()].sort((x, y) => (x.step ?? 0) - (y.step ?? 0));
}
