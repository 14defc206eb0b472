// `reft-studio evaluate`: an adapter on a dataset — held-out loss and perplexity (adapter and base
// side by side), exact match, multiple choice, or base and adapter outputs compared — through the
// engine's own 'evaluate' task (native-runtime/evaluation/evaluate.ts, as the studio's
// 'evaluations/run'). A library adapter keeps the result with it (library/evaluations.ts), as in the
// studio. Progress: examples done, on the reporter. Ctrl-C stops it as train's does: a summary of
// how far it got, that it was kept as cancelled, and how to see it and run it again (exit 130).
// --json prints one object (the evaluation, or the stop), like bench. From before the engine starts
// until it has let go, the evaluation is an evaluation job (library/evaluation-jobs.ts), so that the
// studio beside it leaves its adapter, model and dataset file alone; a killed process's job is
// marked interrupted at the next start-up, through this process's owner lock.

import { InProcessEngine } from '../../electron/backend/jobs/engine.ts';
import type { Notice } from '../../electron/backend/jobs/engine-tasks.ts';
import {
  namingChatTrainedAdapterIn,
  resolveAdapterRef,
  resolveModelRef,
} from '../../electron/backend/library/adapters.ts';
import { datasetVersionFromRef } from '../../electron/backend/library/dataset-import.ts';
import { namingVersionsIn } from '../../electron/backend/library/datasets.ts';
import { endEvaluationJob } from '../../electron/backend/library/evaluation-job-end.ts';
import { markStoppingOnAbort, recordEvaluationJob } from '../../electron/backend/library/evaluation-jobs.ts';
import { createEvaluation, finishEvaluation } from '../../electron/backend/library/evaluations.ts';
import { getModel } from '../../electron/backend/library/models.ts';
import { CancelledError, toWireError } from '../../native-runtime/errors.ts';
import {
  EVAL_KINDS,
  type EvalKind,
  type EvaluationReport,
} from '../../native-runtime/evaluation/evaluate.ts';
import { CHAT_TEMPLATE_PLACES } from '../../native-runtime/evaluation/prompt-reader.ts';
import { plural } from '../../native-runtime/plural.ts';
import { deviceText } from '../../native-runtime/runtime/device-choice.ts';
import { badValue, intAtLeast, positionsFlag, str, UsageError } from '../args.ts';
import { DEVICE_OPTION, DEVICE_VALUE, deviceFlag, sessionNotices } from '../base-form.ts';
import { type Command, type CommandContext, nextCommand, table } from '../command.ts';
import { MAP_OPTION, parseMapping, refuseMappedId } from '../data-flags.ts';
import { catchInterrupts } from '../interrupt.ts';
import { adapterBaseModel, warnModelNote } from '../model-flag.ts';
import type { CountTask } from '../progress/reporter.ts';

function kindOf(v: string | undefined): EvalKind {
  const k = v ?? 'loss';
  if (!(EVAL_KINDS as readonly string[]).includes(k))
    throw badValue('--kind', `one of ${EVAL_KINDS.join(', ')}`, k);
  return k as EvalKind;
}

function reportText(r: EvaluationReport, id: number | null): string {
  const metrics = Object.entries(r.metrics).map(([k, v]) => [k, Number.isInteger(v) ? v : v.toPrecision(5)]);
  const samples = r.samples
    .slice(0, 3)
    .flatMap((s) => [
      `  prompt:    ${JSON.stringify(s.prompt)}`,
      ...(s.output !== undefined ? [`  adapter:   ${JSON.stringify(s.output)}`] : []),
      ...(s.baseOutput !== undefined ? [`  base:      ${JSON.stringify(s.baseOutput)}`] : []),
      `  reference: ${JSON.stringify(s.reference)}${s.correct !== undefined ? (s.correct ? '  (right)' : '  (wrong)') : ''}`,
    ]);
  return [
    `${r.kind} on ${plural(r.examples, 'example')}${id !== null ? ` (evaluation ${id}, kept with the adapter)` : ''}`,
    deviceText(r.device),
    table(['METRIC', 'VALUE'], metrics),
    ...(samples.length ? ['first examples:', ...samples] : []),
  ].join('\n');
}

/** How far a stopped evaluation got: examples scored of the total (null before the first count). */
interface Counted {
  done: number;
  total: number | null;
}

/** The same evaluation as a command line, on the library's copy of the data (--map is in it). */
function rerunCommand(ctx: CommandContext, adapter: string, datasetId: number, kind: EvalKind): string {
  const flags = ['model', 'limit', 'max-new-tokens', 'batch-size', 'positions', 'device'].flatMap((k) => {
    const v = str(ctx.values, k);
    return v === undefined ? [] : [`--${k}`, v];
  });
  return nextCommand(
    ctx.values,
    'evaluate',
    '--adapter',
    adapter,
    '--data',
    datasetId,
    '--kind',
    kind,
    ...flags,
  );
}

/**
 * Prints where a Ctrl-C stopped the evaluation (as train prints where it paused) and returns 130:
 * the examples scored, that the library adapter keeps it as cancelled, how to see it and rerun it.
 */
function printStopped(
  ctx: CommandContext,
  stop: { evaluationId: number | null; adapterId: number | null; counted: Counted; rerun: string },
): number {
  const { evaluationId, adapterId, counted, rerun } = stop;
  const show = adapterId !== null ? nextCommand(ctx.values, 'adapters', 'show', adapterId) : null;
  const got = `${counted.done} of ${counted.total ?? '?'} examples`;
  ctx.print(
    {
      status: 'cancelled',
      evaluationId,
      adapterId,
      examplesDone: counted.done,
      examplesTotal: counted.total,
      show,
      rerun,
    },
    () =>
      [
        evaluationId !== null
          ? `evaluation ${evaluationId} cancelled after ${got}; kept with adapter ${adapterId} as cancelled, without metrics`
          : `evaluation cancelled after ${got}; nothing kept (the adapter is not in the library)`,
        ...(show ? [`see it with: ${show}`] : []),
        `run it again with: ${rerun}`,
      ].join('\n'),
  );
  return 130;
}

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'evaluate an adapter on a dataset: loss and perplexity, exact match, multiple choice, or compare',
  usage:
    'evaluate --adapter ID|DIR --data ID|FILE [--kind loss|exact-match|multiple-choice|compare] [--model ID|DIR] ' +
    `[--map FIELD=COLUMN]... [--limit N] [--max-new-tokens N] [--batch-size N] [--positions f1+l1] [--device ${DEVICE_VALUE}]`,
  options: {
    adapter: { type: 'string', description: 'the adapter: a library id or a folder (studio or pyreft)' },
    data: { type: 'string', description: 'the examples: a library dataset id or a file (imported)' },
    map: MAP_OPTION,
    kind: {
      type: 'string',
      value: EVAL_KINDS.join('|'),
      description: 'what to measure (default loss: the adapter against the base model)',
    },
    model: {
      type: 'string',
      description: "the base model (default: the adapter's, found in the library by fingerprint)",
    },
    limit: { type: 'string', description: 'only the first N examples' },
    'max-new-tokens': { type: 'string', description: 'longest generated answer (generating kinds)' },
    'batch-size': { type: 'string', description: 'examples per forward pass (default 8)' },
    positions: {
      type: 'string',
      description: 'the intervention positions of a pyreft folder that does not record them',
    },
    ...DEVICE_OPTION,
  },
  stream: true,
  examples: [
    'evaluate --adapter 3 --data 2 --kind loss',
    'evaluate --adapter ./pirate --model ./SmolLM2-135M --data test.jsonl --kind compare --limit 20 --json',
  ],
  async run(ctx) {
    const adapterRef = str(ctx.values, 'adapter');
    const dataRef = str(ctx.values, 'data');
    if (!adapterRef) throw new UsageError('evaluate: --adapter ID|DIR is required');
    if (!dataRef) throw new UsageError('evaluate: --data ID|FILE is required');
    const kind = kindOf(str(ctx.values, 'kind'));
    const mapping = parseMapping(ctx.values.map);
    refuseMappedId('evaluate', { data: '--data', map: '--map' }, dataRef, mapping);
    const limit = intAtLeast(ctx.values, 'limit', 1);
    const maxNewTokens = intAtLeast(ctx.values, 'max-new-tokens', 1);
    const batchSize = intAtLeast(ctx.values, 'batch-size', 1);
    const positions = positionsFlag(ctx.values);
    // Absent: the engine's own default (REFT_STUDIO_DEVICE, else the CPU).
    const device = str(ctx.values, 'device') === undefined ? undefined : deviceFlag(ctx.values, 'evaluate');
    return ctx.withLibrary(async (lib) => {
      const adapter = resolveAdapterRef(lib, adapterRef);
      const modelRef = str(ctx.values, 'model');
      const model = modelRef ? resolveModelRef(lib, modelRef) : adapterBaseModel(lib, adapterRef, adapter);
      if ('note' in model) warnModelNote(ctx, model.note); // as `train --model` says it
      // As the studio's evaluations: the model's "Base weights" form, converted once into the
      // library's store. Without it a bf16 model was cast in each session (two private float32
      // copies: 10.9 GB for TinyLlama) and one needing int8 or int4 to fit was refused.
      const quantize = model.modelId !== null ? getModel(lib, model.modelId).quantize : undefined;
      const version = await datasetVersionFromRef(lib, dataRef, undefined, mapping);
      // A library adapter's evaluation is recorded once the engine has checked the request (its
      // 'start'), as in the studio: a refused request is bad input, not a failed evaluation.
      const recorded: { ev: { id: number } | null } = { ev: null };
      const record = () => {
        if (adapter.record && !recorded.ev)
          recorded.ev = createEvaluation(lib, {
            adapterId: adapter.record.id,
            modelId: model.modelId,
            datasetVersionId: version.id,
            kind,
          });
      };
      const progress: { task: CountTask | null } = { task: null };
      const counted: Counted = { done: 0, total: null };
      const stopped = (): number => {
        progress.task?.done();
        if (recorded.ev)
          finishEvaluation(lib, recorded.ev.id, {
            status: 'cancelled',
            error: `stopped with Ctrl-C after ${counted.done} of ${counted.total ?? '?'} examples`,
          });
        return printStopped(ctx, {
          evaluationId: recorded.ev?.id ?? null,
          adapterId: adapter.record?.id ?? null,
          counted,
          rerun: rerunCommand(
            ctx,
            adapter.record ? String(adapter.record.id) : adapter.path,
            version.datasetId,
            kind,
          ),
        });
      };
      const ctrlC = catchInterrupts((m) => ctx.progress.log(m), {
        first: 'stopping the evaluation (Ctrl-C again within 2 s to stop at once)',
        stop: 'stopping now',
      });
      const job = recordEvaluationJob(lib, {
        jobId: null,
        adapterId: adapter.record?.id ?? null,
        modelId: model.modelId,
        modelFingerprint: model.fingerprint,
        dataPath: version.filePath,
      });
      const endJob = () => endEvaluationJob(lib, job, version.filePath);
      markStoppingOnAbort(lib, job, ctrlC.signal);
      // A second Ctrl-C does not wait for the batch in flight (on this thread, between ORT calls).
      ctrlC.onStopNow(() => {
        const code = stopped();
        endJob();
        ctx.progress.close();
        process.exit(code);
      });
      const notice = sessionNotices(ctx.progress);
      try {
        const report = await new InProcessEngine().call(
          'evaluate',
          {
            model: model.path,
            adapter: adapter.path,
            data: version.filePath,
            kind,
            limit,
            maxNewTokens,
            batchSize,
            positions,
            device,
            quantize,
            dataDir: lib.dataDir,
          },
          {
            signal: ctrlC.signal,
            onEvent: (e, data) => {
              if (e === 'start') return record();
              // What loading the models says (a conversion, the session opening), before any example.
              if (e === 'notice') return notice((data as Notice).text, (data as Notice).level);
              const d = data as { done: number; total: number };
              progress.task ??= ctx.progress.count({
                label: `evaluate ${kind}`,
                unit: 'examples',
                total: d.total,
              });
              progress.task.update(d.done, d.total);
              Object.assign(counted, { done: d.done, total: d.total });
            },
          },
        );
        progress.task?.done();
        record();
        if (recorded.ev)
          finishEvaluation(lib, recorded.ev.id, {
            status: 'completed',
            metrics: report.metrics,
            samples: report.samples,
            examples: report.examples,
            device: report.device,
          });
        ctx.print({ evaluationId: recorded.ev?.id ?? null, adapter: adapter.path, ...report }, () =>
          reportText(report, recorded.ev?.id ?? null),
        );
        return 0;
      } catch (caught) {
        // The engine names the adapter by its folder: a library adapter by its id and name, as the
        // user gave it.
        const e = adapter.record
          ? namingChatTrainedAdapterIn(
              caught,
              [adapter.record],
              `it is evaluated on ${model.path}; give that folder the chat template it was trained with (${CHAT_TEMPLATE_PLACES}), or choose another with --model`,
            )
          : caught;
        // The engine names the file it read: the library's copy, which the user never chose.
        namingVersionsIn(lib, e, [[version.filePath, version.id]]);
        // A stop the user asked for is not an error: say how far it got.
        if (e instanceof CancelledError && ctrlC.requested) return stopped();
        if (recorded.ev)
          finishEvaluation(lib, recorded.ev.id, {
            status: e instanceof CancelledError ? 'cancelled' : 'failed',
            error: toWireError(e).message,
          });
        throw e;
      } finally {
        ctrlC.release();
        endJob();
      }
    });
  },
};
