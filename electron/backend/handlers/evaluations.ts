// 'evaluations/*': evaluating an adapter on a dataset version in the engine's 'infer' process; results are
// stored with the adapter (library/evaluations.ts). Progress goes out as 'jobs/progress'.
//
// An evaluation may wait behind another and run for hours: the window starts one ('evaluations/start',
// answered at once with its job) and follows it through 'evaluations/jobs' and the pushes, rather
// than holding one request open (it timed out and showed as failed while the evaluation went on).
// 'evaluations/run' still answers when it ends, for callers that wait (tests, scripts).
// 'evaluations/cancel' stops one: a queued one is dropped unrecorded, a running one is stored
// 'cancelled' with how far it got, as the CLI's Ctrl-C stores it.
// From the moment it is queued until the engine has let go of it, a job is recorded in the database
// (library/evaluation-jobs.ts), so that no process removes its adapter, model or dataset file.

import { z } from 'zod';
import { CancelledError, toWireError, ValidationError } from '../../../native-runtime/errors.ts';
import { EVAL_KINDS, type EvaluationReport } from '../../../native-runtime/evaluation/evaluate.ts';
import { CHAT_TEMPLATE_PLACES } from '../../../native-runtime/evaluation/prompt-reader.ts';
import type { BackendContext } from '../context.ts';
import type { JobInfo, JobQueue } from '../jobs/queue.ts';
import { StudioClosedError } from '../jobs/queue.ts';
import { getAdapter, namingChatTrainedAdapterIn } from '../library/adapters.ts';
import { resolveDatasetVersion } from '../library/dataset-edits.ts';
import { namingVersionsIn } from '../library/datasets.ts';
import { preferredDevice } from '../library/environment.ts';
import { endEvaluationJob } from '../library/evaluation-job-end.ts';
import {
  markStoppingOnAbort,
  recordEvaluationJob,
  setEvaluationJobStatus,
} from '../library/evaluation-jobs.ts';
import {
  createEvaluation,
  type EvaluationRecord,
  finishEvaluation,
  getEvaluation,
  listEvaluations,
} from '../library/evaluations.ts';
import { listModels } from '../library/models.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const RunParams = z
  .object({
    adapterId: z.number().int().positive(),
    datasetId: z.number().int().positive(),
    datasetVersionId: z.number().int().positive().optional(),
    /** A part of a split: of that version's newest split, or the part cut with it. */
    split: z.enum(['train', 'validation', 'test']).optional(),
    kind: z.enum(EVAL_KINDS),
    limit: z.number().int().min(1).max(100_000).optional(),
    maxNewTokens: z.number().int().min(1).max(1024).optional(),
    batchSize: z.number().int().min(1).max(256).optional(),
  })
  .strict();

/** An evaluation's job as the window follows it: which adapter, and its evaluation once recorded. */
export interface EvaluationJob extends JobInfo {
  adapterId: number;
  /**
   * Set once the engine has checked the request and the evaluation is recorded; a job that ended
   * without one was refused (its `error` says why) and is in no adapter's history.
   */
  evaluationId: number | null;
  /** How far it has got (the engine's last count), null before the first example. */
  examples: { done: number; total: number } | null;
}

/** What the engine reports as the job goes: its evaluation once recorded, its count of examples. */
type JobCounts = Pick<EvaluationJob, 'adapterId' | 'evaluationId' | 'examples'>;

type JobNote = JobCounts & {
  /** What decides the work (adapter, model, data, settings): an identical request shares the job. */
  key: string;
  /** Settles when the evaluation has ended and is recorded (what 'evaluations/run' answers). */
  result: Promise<EvaluationRecord>;
  /** Settles once the job's end is stored (what 'evaluations/cancel' waits for). */
  stored: Promise<unknown>;
};

// Per backend (tests run several in one process), as models-hub keeps its downloads.
const notes = new WeakMap<JobQueue, Map<number, JobNote>>();

function notesOf(jobs: JobQueue): Map<number, JobNote> {
  const m = notes.get(jobs) ?? new Map<number, JobNote>();
  notes.set(jobs, m);
  return m;
}

/**
 * Checks the request, queues the evaluation and returns its job at once; `result` settles when it
 * has ended and is recorded (or rejects when the engine refused it: nothing recorded). An identical
 * request while one is queued or running (a second window, a double click) gets that job instead of
 * doing the same work twice.
 */
function startEvaluation(
  p: z.output<typeof RunParams>,
  ctx: BackendContext,
): { jobId: number; result: Promise<EvaluationRecord> } {
  const adapter = getAdapter(ctx.lib, p.adapterId);
  const version = resolveDatasetVersion(ctx.lib, {
    datasetId: p.datasetId,
    versionId: p.datasetVersionId,
    split: p.split,
  });
  const model = listModels(ctx.lib).find((m) => m.fingerprint === adapter.baseModelFingerprint);
  if (!model) {
    throw new ValidationError(
      'missing-model',
      `the base model of adapter ${adapter.id} is not in the library; add it first`,
    );
  }
  const known = notesOf(ctx.jobs);
  const key = JSON.stringify([
    adapter.id,
    model.id,
    version.id,
    p.kind,
    p.limit ?? null,
    p.maxNewTokens ?? null,
    p.batchSize ?? null,
  ]);
  for (const [jobId, n] of known) {
    const state = ctx.jobs.get(jobId)?.state;
    if (n.key === key && (state === 'queued' || state === 'running')) return { jobId, result: n.result };
  }
  // Recorded once the engine has checked the request (its 'start' event): a request it refuses (a
  // prompt too long, a chat dataset on a model without a template) is this call's error, not a
  // failed evaluation in the adapter's history.
  const note: JobCounts = {
    adapterId: adapter.id,
    evaluationId: null,
    examples: null,
  };
  const record = (): number => {
    note.evaluationId ??= createEvaluation(ctx.lib, {
      adapterId: adapter.id,
      modelId: model.id,
      datasetVersionId: version.id,
      kind: p.kind,
    }).id;
    ctx.events.emit('library/changed', { kind: 'evaluations', id: note.evaluationId, action: 'added' });
    return note.evaluationId;
  };
  // Its job's row, once queued (the queue gives the job id).
  const row = { id: 0 };
  // Evaluations queue among themselves (one at a time), beside training rather than behind it; they
  // run where the Playground's generation does (Settings → Engine's device). Its dataset may be
  // removed while it waits: the file stays until the engine has let go of it (the evaluation is kept,
  // its version null).
  const job = ctx.jobs.enqueue({
    kind: 'evaluate',
    device: 'evaluations',
    label: `evaluate ${adapter.name} (${p.kind})`,
    run: ({ signal, report }) => {
      setEvaluationJobStatus(ctx.lib, row.id, 'running');
      markStoppingOnAbort(ctx.lib, row.id, signal);
      return ctx.engine
        .call(
          'evaluate',
          {
            model: model.path,
            adapter: adapter.path,
            data: version.filePath,
            kind: p.kind,
            limit: p.limit,
            maxNewTokens: p.maxNewTokens,
            batchSize: p.batchSize,
            device: preferredDevice(ctx.lib),
            quantize: model.quantize,
            dataDir: ctx.lib.dataDir,
          },
          {
            signal,
            onEvent: (e, d) => {
              // Cancelled while the models loaded: the engine's late 'start' must not record a
              // 'running' evaluation that nothing will finish.
              if (signal.aborted) return;
              if (e === 'start') return void record();
              // Until the first example, the job says what loading the models is doing.
              if (e === 'notice') return report({ message: (d as { text: string }).text });
              const p = d as { done: number; total: number };
              note.examples = { done: p.done, total: p.total };
              report({
                progress: p.total ? p.done / p.total : undefined,
                message: `${p.done}/${p.total}`,
                detail: { event: 'evaluate-progress', ...p },
              });
            },
          },
        )
        .catch((e) => {
          // The engine names the file it read: the library's copy, which the user never chose (said
          // here, before the job keeps the error for 'evaluations/jobs'); and the adapter by its
          // folder, where the user knows its id and name.
          const named = namingChatTrainedAdapterIn(
            e,
            [adapter],
            `it is evaluated on model ${model.id} ("${model.name}"), the library's model with its base's weights; give that folder the chat template it was trained with (${CHAT_TEMPLATE_PLACES})`,
          );
          throw namingVersionsIn(ctx.lib, named, [[version.filePath, version.id]]);
        });
    },
  });
  try {
    row.id = recordEvaluationJob(ctx.lib, {
      jobId: job.id,
      adapterId: adapter.id,
      modelId: model.id,
      modelFingerprint: model.fingerprint,
      dataPath: version.filePath,
    });
  } catch (e) {
    ctx.jobs.cancel(job.id);
    throw e;
  }
  // Forget the jobs the queue has forgotten (it keeps the latest finished ones).
  for (const id of known.keys()) if (!ctx.jobs.get(id)) known.delete(id);
  void job.ended.then(() => endEvaluationJob(ctx.lib, row.id, version.filePath));
  const result = finishRecord(ctx, job.done, note, record);
  known.set(job.id, Object.assign(note, { key, result, stored: result.catch(() => {}) }));
  return { jobId: job.id, result };
}

/** Stores how the evaluation's job ended, once it has; rethrows when it never started. */
async function finishRecord(
  ctx: BackendContext,
  done: Promise<EvaluationReport>,
  /** The job's counts: its evaluationId once recorded, its count of examples so far. */
  note: JobCounts,
  record: () => number,
): Promise<EvaluationRecord> {
  let out: EvaluationRecord;
  let id: number;
  try {
    const report = await done;
    id = note.evaluationId ?? record();
    out = finishEvaluation(ctx.lib, id, {
      status: 'completed',
      metrics: report.metrics,
      samples: report.samples,
      examples: report.examples,
      device: report.device,
    });
  } catch (e) {
    if (note.evaluationId === null) throw e;
    id = note.evaluationId;
    // The studio closing stops it as a crash would ('interrupted'), not as a user's cancel.
    out = finishEvaluation(ctx.lib, id, {
      status:
        e instanceof StudioClosedError ? 'interrupted' : e instanceof CancelledError ? 'cancelled' : 'failed',
      error:
        e instanceof CancelledError && !(e instanceof StudioClosedError)
          ? cancelledAfter(note.examples)
          : toWireError(e).message,
    });
  }
  ctx.events.emit('library/changed', { kind: 'evaluations', id, action: 'updated' });
  return out;
}

/** A cancelled evaluation's stored reason: how far it got, as the CLI's Ctrl-C says it. */
function cancelledAfter(examples: EvaluationJob['examples']): string {
  return examples
    ? `cancelled after ${examples.done} of ${examples.total} examples`
    : 'cancelled before its first example';
}

/** The job as the window sees it: the queue's, with the evaluation's own fields. */
function jobOf(j: JobInfo, n: JobCounts): EvaluationJob {
  return { ...j, adapterId: n.adapterId, evaluationId: n.evaluationId, examples: n.examples };
}

export const evaluationsHandlers = defineHandlers({
  /**
   * Runs an evaluation to its end and returns it (status 'failed' with `error` when the engine failed
   * once it had started); a request the engine refuses is an error reply, and nothing is recorded.
   */
  'evaluations/run': handler(RunParams, (p, ctx) => startEvaluation(p, ctx).result),
  /**
   * Queues an evaluation and answers at once with its job; follow it with 'evaluations/jobs' (and
   * the 'jobs/progress' pushes). A request the engine refuses ends its job 'failed' with the reason
   * and no evaluationId; nothing is recorded.
   */
  'evaluations/start': handler(RunParams, (p, ctx): { jobId: number } => {
    const { jobId, result } = startEvaluation(p, ctx);
    result.catch(() => {}); // its job keeps the error
    return { jobId };
  }),
  /** An adapter's evaluation jobs still held by the queue (queued, running and recent), newest first. */
  'evaluations/jobs': handler(
    z.object({ adapterId: z.number().int().positive() }).strict(),
    (p, ctx): EvaluationJob[] => {
      const known = notesOf(ctx.jobs);
      return ctx.jobs
        .list()
        .flatMap((j) => {
          const n = known.get(j.id);
          return n?.adapterId === p.adapterId ? [jobOf(j, n)] : [];
        })
        .reverse();
    },
  ),
  /**
   * Stops an evaluation's job: a queued one ends 'cancelled' with nothing recorded; a running one
   * is stored 'cancelled' with how far it got. Answers once that is stored, with the job as
   * 'evaluations/jobs' shows it.
   */
  'evaluations/cancel': handler(
    z.object({ jobId: z.number().int().positive() }).strict(),
    async (p, ctx): Promise<EvaluationJob> => {
      const n = notesOf(ctx.jobs).get(p.jobId);
      const job = ctx.jobs.get(p.jobId);
      if (!n || !job) throw new ValidationError('not-found', `no evaluation job with id ${p.jobId}`);
      if (!ctx.jobs.cancel(p.jobId))
        throw new ValidationError(
          'not-cancellable',
          `evaluation job ${p.jobId} has already ${job.state === 'cancelled' ? 'been cancelled' : job.state}`,
        );
      await n.stored;
      return jobOf(ctx.jobs.get(p.jobId) ?? { ...job, state: 'cancelled' }, n);
    },
  ),
  'evaluations/list': handler(
    z.object({ adapterId: z.number().int().positive().optional() }).strict(),
    (p, ctx): EvaluationRecord[] => listEvaluations(ctx.lib, p),
  ),
  'evaluations/get': handler(
    z.object({ id: z.number().int().positive() }).strict(),
    (p, ctx): EvaluationRecord => getEvaluation(ctx.lib, p.id),
  ),
});

export type EvaluationsHandlers = ClientApi<typeof evaluationsHandlers>;
