// The studio's run controls: start, pause, resume, cancel (keeping the last checkpoint if asked),
// each run a job on the queue — one training job per device — executed by run-execution.ts on the
// worker engine. Planning and recording are library/run-plan.ts's.

import {
  CancelledError,
  ConfigError,
  ReftError,
  toWireError,
  ValidationError,
} from '../../../native-runtime/errors.ts';
import { plural } from '../../../native-runtime/plural.ts';
import { OptionError } from '../../../native-runtime/training/options.ts';
import { writeTransaction } from '../db/database.ts';
import type { BackendEvents } from '../events.ts';
import type { AdapterRecord } from '../library/adapters.ts';
import { getDataset } from '../library/datasets.ts';
import type { Library } from '../library/library.ts';
import { interruptDeadWork } from '../library/outside-changes.ts';
import { appendRunLog } from '../library/run-logs.ts';
import { type MemoryCheckCount, refuseRunOverMemory } from '../library/run-memory-check.ts';
import {
  createRecordedRun,
  type PlannedRun,
  planRunChecked,
  type RunParams,
  type StoredRunConfig,
} from '../library/run-plan.ts';
import {
  alreadyInterrupted,
  checkResumable,
  getRunRecord,
  lastCheckpointNote,
  type RunRecord,
  requeueRun,
  runStillExecuting,
  setRunStatus,
} from '../library/runs.ts';
import { createSweep } from '../library/sweeps.ts';
import { cleanMessage } from '../rpc/user-errors.ts';
import type { Engine } from './engine.ts';
import type { JobQueue } from './queue.ts';
import { executeRun, keepLastCheckpoint } from './run-execution.ts';
import { repeatedRun, sweepRunName, sweepRunWho, variedOptions } from './sweep-params.ts';

type Intent = 'pause' | 'cancel' | 'shutdown';

/**
 * A sweep run's refusal with `who` (which run) before its words, of the same kind and code: a
 * refused option still names its field, so the wizard shows it beside the field as for one run.
 */
export function refusalOfSweepRun(e: unknown, who: string): unknown {
  if (e instanceof OptionError)
    return new OptionError({
      ...e.issue,
      message: `${who}: ${e.issue.message}`,
      cli: `${who}: ${e.issue.cli}`,
    });
  if (e instanceof ReftError && !(e instanceof CancelledError)) {
    const Kind = e.constructor as new (code: string, message: string, o?: object) => ReftError;
    return new Kind(e.code, `${who}: ${e.message}`, { cause: e, details: e.details });
  }
  return e;
}

export class TrainingService {
  #intent = new Map<number, Intent>();
  /** Runs cancelled with "keep the last checkpoint": kept once their job has stopped. */
  #keep = new Set<number>();

  constructor(
    readonly lib: Library,
    readonly engine: Engine,
    readonly jobs: JobQueue,
    readonly events: BackendEvents,
  ) {}

  /**
   * Plans, checks and records a run, and queues it. `check.signal` (the requester gone, or its Stop)
   * stops it while it checks — the memory check's token count may take minutes — and nothing is
   * recorded; `check.onProgress` hears how far that count is.
   */
  async start(p: RunParams, check: MemoryCheckCount = {}): Promise<RunRecord> {
    const plan = await this.#planChecked(p, check);
    const run = createRecordedRun(this.lib, plan, p.name);
    this.#queued(run.id, plan);
    return getRunRecord(this.lib, run.id);
  }

  /**
   * A sweep (runs/start-many): every run planned and checked as start checks one, then all recorded
   * in one transaction with their sweep, and queued. One refused run refuses the sweep, naming the
   * run ("run 2 of 3, “lr 1e-2”: …"): nothing is recorded or queued.
   */
  async startMany(
    ps: readonly RunParams[],
    check: MemoryCheckCount = {},
  ): Promise<{ sweepId: number; runs: RunRecord[] }> {
    const plans: PlannedRun[] = [];
    for (const [i, p] of ps.entries()) {
      try {
        plans.push(await this.#planChecked(p, check));
      } catch (e) {
        throw refusalOfSweepRun(e, sweepRunWho(i, ps.length, p.name));
      }
    }
    // As resolved for the model: layers "all" and the list of its every layer are one run twice,
    // which StartManySchema, without the model, cannot tell.
    const again = repeatedRun(plans.map((plan) => plan.config));
    if (again) throw new ValidationError('invalid-params', `runs: ${again}`);
    const { sweepId, ids } = writeTransaction(this.lib.db, () => {
      const varied = variedOptions(ps);
      const sweepId = createSweep(this.lib, varied);
      const ids = plans.map(
        (plan, i) =>
          createRecordedRun(this.lib, plan, (id) => sweepRunName(id, ps[i]?.name, varied), { sweepId }).id,
      );
      return { sweepId, ids };
    });
    for (const [i, id] of ids.entries()) this.#queued(id, plans[i] as PlannedRun, sweepId);
    return { sweepId, runs: ids.map((id) => getRunRecord(this.lib, id)) };
  }

  /**
   * Plans a run and refuses it as the engine would at its start (its probe prompts, its memory).
   * Stopped by `check.signal` ('cancelled'), up to the moment its caller records it.
   */
  async #planChecked(p: RunParams, check: MemoryCheckCount): Promise<PlannedRun> {
    const plan = await planRunChecked(this.lib, this.engine, p);
    // Refused here, as its estimate says, rather than recorded to fail at the engine's same check.
    await refuseRunOverMemory(this.engine, plan, check);
    // Stopped after its count ended (the last ask of the check): still nothing to record.
    if (check.signal?.aborted) throw new CancelledError('the run was not started: its request was stopped');
    return plan;
  }

  /** Logs a recorded run's queueing, queues it and says so. */
  #queued(id: number, plan: PlannedRun, sweepId?: number): void {
    const ds = getDataset(this.lib, plan.version.datasetId);
    this.#log(
      id,
      `queued${sweepId === undefined ? '' : ` in sweep ${sweepId}`}: ${plural(plan.totalSteps, 'step')} on ${plural(plan.trainExamples, 'example')} of “${ds.name}” v${plan.version.version}`,
    );
    this.#enqueue(id);
    this.#changed(id);
  }

  /** Continues a paused, interrupted or failed run from its last checkpoint (or from the start). */
  resume(id: number): RunRecord {
    const run = getRunRecord(this.lib, id);
    if (this.jobs.findByRun(id))
      throw new ValidationError('already-running', `run ${id} is already ${run.status}`);
    checkResumable(run);
    if (!requeueRun(this.lib, id))
      throw new ValidationError('not-resumable', `run ${id} cannot be resumed now`);
    // Said now: it may wait behind another run on its device before "resuming from …" is logged.
    this.#log(id, 'queued to resume');
    this.#enqueue(id);
    this.#changed(id);
    return getRunRecord(this.lib, id);
  }

  /** Stops a running run after a checkpoint and keeps it resumable; a queued run just waits as paused. */
  pause(id: number): RunRecord {
    const run = getRunRecord(this.lib, id);
    const job = this.jobs.findByRun(id);
    if (!job || (run.status !== 'running' && run.status !== 'queued')) {
      throw new ValidationError(
        'not-pausable',
        `run ${id} is ${run.status}; only a queued or running run can be paused`,
      );
    }
    this.#intent.set(id, 'pause');
    // A running run logs its stop when its step ends (run-execution.ts); a queued one, never started, here.
    if (job.state === 'queued') {
      setRunStatus(this.lib, id, 'paused');
      this.#log(id, `paused${lastCheckpointNote(this.lib, id)}`);
    }
    this.jobs.cancel(job.id);
    this.#changed(id);
    return getRunRecord(this.lib, id);
  }

  /**
   * Cancels a run: a running one saves a checkpoint at its last step, then stops. With
   * `keepCheckpoint` that last checkpoint becomes an adapter (at once for a stopped run, else when
   * its job has stopped; 'library/changed' adapters then says so).
   */
  cancel(id: number, opts: { keepCheckpoint?: boolean } = {}): RunRecord & { keptAdapterId: number | null } {
    const run = getRunRecord(this.lib, id);
    if (run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled') {
      throw new ValidationError('not-cancellable', `run ${id} is already ${run.status}`);
    }
    const job = this.jobs.findByRun(id);
    // A run another process trained, reading running though that process died (killed with -9)
    // before the library watcher's next look: marked interrupted as that look would, and said so.
    if (!job && (run.status === 'running' || run.status === 'queued') && !runStillExecuting(this.lib, id)) {
      interruptDeadWork(this.lib, this.events);
      throw alreadyInterrupted(getRunRecord(this.lib, id));
    }
    this.#intent.set(id, 'cancel');
    setRunStatus(this.lib, id, 'cancelled', 'cancelled by the user');
    let keptAdapterId: number | null = null;
    if (job) {
      if (opts.keepCheckpoint) this.#keep.add(id);
      this.jobs.cancel(job.id);
    } else {
      this.#log(id, `cancelled${lastCheckpointNote(this.lib, id)}`);
      if (opts.keepCheckpoint) keptAdapterId = this.#keepNow(id);
    }
    this.#changed(id);
    return { ...getRunRecord(this.lib, id), keptAdapterId };
  }

  /**
   * Keeps a stopped run's last checkpoint as an adapter (see keepLastCheckpoint). Logged and
   * announced once: keeping it again (a cancel with keep after a keep) returns the same adapter quietly.
   */
  keepCheckpoint(id: number): AdapterRecord {
    const { adapter: a, added } = keepLastCheckpoint(this.lib, id);
    if (!added) return a;
    this.#log(
      id,
      `kept the checkpoint at step ${(a.manifest as { metrics?: { step?: number } }).metrics?.step ?? '?'} as adapter #${a.id}`,
    );
    this.events.emit('library/changed', { kind: 'adapters', id: a.id, action: 'added' });
    this.#changed(id);
    return a;
  }

  #keepNow(id: number): number | null {
    try {
      return this.keepCheckpoint(id).id;
    } catch (e) {
      this.#log(
        id,
        `could not keep the last checkpoint: ${cleanMessage(toWireError(e).message, this.lib.dataDir)}`,
      );
      return null;
    }
  }

  #log(id: number, text: string): void {
    this.events.emit('runs/log', { runId: id, line: appendRunLog(this.lib, id, 'studio', text) });
  }

  /** Host shutdown: running runs stop at a checkpoint and stay resumable ('interrupted'). */
  shutdown(): void {
    for (const j of this.jobs.list()) {
      if (j.runId !== null && (j.state === 'running' || j.state === 'queued'))
        this.#intent.set(j.runId, 'shutdown');
    }
  }

  #changed(id: number): void {
    this.events.emit('library/changed', { kind: 'runs', id, action: 'updated' });
  }

  #enqueue(runId: number): void {
    const run = getRunRecord(this.lib, runId);
    const cfg = run.config as unknown as StoredRunConfig;
    this.#intent.delete(runId);
    this.jobs.enqueue({
      kind: 'train',
      device: cfg.device ?? 'cpu',
      runId,
      label: run.name ?? `run ${runId}`,
      run: async ({ signal, report }) => {
        if (getRunRecord(this.lib, runId).status !== 'queued') return 'skipped';
        const outcome = await executeRun(this.lib, this.engine, runId, {
          signal,
          abortReason: () => this.#intent.get(runId) ?? 'cancel',
          onChange: () => this.#changed(runId),
          onLogLine: (line) => this.events.emit('runs/log', { runId, line }),
          onSample: (s) => report({ detail: { event: 'sample', ...s } }),
          // The run's page says how far the data preparation is from these numbers (no log line's words).
          onDataProgress: (p) =>
            report({
              message: `preparing data: ${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')} rows`,
              detail: { event: 'data-progress', ...p },
            }),
          onProgress: (p) =>
            report({
              progress: p.totalSteps ? p.step / p.totalSteps : undefined,
              message: `step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)}`,
              detail: { event: 'progress', ...p },
            }),
        });
        this.#intent.delete(runId);
        if (this.#keep.delete(runId) && outcome === 'cancelled') this.#keepNow(runId);
        if (outcome === 'completed')
          this.events.emit('library/changed', { kind: 'adapters', action: 'added' });
        if (outcome === 'failed')
          throw new ConfigError('run-failed', getRunRecord(this.lib, runId).error ?? 'training failed');
        if (outcome !== 'completed') throw new CancelledError(`run ${runId} ${outcome}`);
        return outcome;
      },
    });
  }
}
