// `reft-studio train`: trains a ReFT adapter with native-runtime/training/trainer.ts and writes it to
// --out. Progress goes to stderr, one line per optimizer step; without --json a summary follows on
// stdout, with --json exactly one object {adapter, steps, finalLoss, evalLoss, tokensPerS, …}.
// Ctrl-C saves a checkpoint at the last finished step and exits non-zero naming it;
// `--resume CKPT` continues from such a folder with its stored configuration (flags given on the
// command line override it; options that change the numbers must agree or the resume is refused).
// Recording the run in the studio library is the backend's job; this command only uses --out.

import { ConfigError } from '../../native-runtime/errors.ts';
import { INTERVENTION_TYPES, type InterventionType } from '../../native-runtime/interventions/kinds.ts';
import type { DeviceChoice } from '../../native-runtime/runtime/session.ts';
import type { TrainConfig } from '../../native-runtime/training/config.ts';
import type { DataFormat } from '../../native-runtime/training/data.ts';
import type { ScheduleKind } from '../../native-runtime/training/optimizer.ts';
import { resumeConfig, type TrainProgress, train } from '../../native-runtime/training/trainer.ts';
import { type ArgValues, int, str, UsageError } from '../args.ts';
import type { Command } from '../command.ts';

const S = { type: 'string' } as const;
const B = { type: 'boolean' } as const;

function float(values: ArgValues, key: string): number | undefined {
  const v = str(values, key);
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${key} must be a number, got "${v}"`);
  return x;
}

function oneOf<T extends string>(values: ArgValues, key: string, allowed: readonly T[]): T | undefined {
  const v = str(values, key);
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T))
    throw new ConfigError(`bad-${key}`, `--${key} must be one of ${allowed.join(', ')} (got "${v}")`);
  return v as T;
}

/** TrainConfig fields given on the command line (undefined = not given). */
function flagsToConfig(v: ArgValues): Partial<TrainConfig> {
  const c: Partial<TrainConfig> = {
    model: str(v, 'model'),
    data: str(v, 'data'),
    format: oneOf<DataFormat | 'auto'>(v, 'format', ['auto', 'prompt-completion', 'alpaca', 'chat']),
    intervention: oneOf<InterventionType>(v, 'intervention', INTERVENTION_TYPES),
    layers: str(v, 'layers'),
    positions: str(v, 'positions'),
    shareWeights: v['share-weights'] === true ? true : undefined,
    rank: int(v, 'rank'),
    lr: float(v, 'lr'),
    epochs: int(v, 'epochs'),
    maxSteps: int(v, 'max-steps'),
    batchSize: int(v, 'batch-size'),
    gradAccum: int(v, 'grad-accum'),
    maxLength: int(v, 'max-length'),
    dropout: float(v, 'dropout'),
    weightDecay: float(v, 'weight-decay'),
    warmupRatio: float(v, 'warmup-ratio'),
    schedule: oneOf<ScheduleKind>(v, 'schedule', ['linear', 'cosine', 'constant']),
    maxGradNorm: float(v, 'max-grad-norm'),
    seed: int(v, 'seed'),
    evalData: str(v, 'eval-data'),
    evalSplit: float(v, 'eval-split'),
    evalEvery: int(v, 'eval-every'),
    checkpointEvery: int(v, 'checkpoint-every'),
    checkpointDir: str(v, 'checkpoint-dir'),
    chatTemplate: oneOf<'auto' | 'none'>(v, 'chat-template', ['auto', 'none']),
    exportPyreft: str(v, 'export-pyreft'),
    device: oneOf<DeviceChoice>(v, 'device', ['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml']),
    out: str(v, 'out'),
  };
  return Object.fromEntries(Object.entries(c).filter(([, x]) => x !== undefined)) as Partial<TrainConfig>;
}

function progressLine(p: TrainProgress): string {
  const w = String(p.totalSteps).length;
  const eta = p.etaS >= 90 ? `${Math.round(p.etaS / 60)}m` : `${Math.round(p.etaS)}s`;
  return [
    `step ${String(p.step).padStart(w)}/${p.totalSteps}`,
    `epoch ${p.epoch.toFixed(2)}`,
    `loss ${p.loss.toFixed(4)}`,
    `lr ${p.lr.toExponential(2)}`,
    `|g| ${p.gradNorm.toFixed(3)}`,
    `${Math.round(p.tokensPerS)} tok/s`,
    `eta ${eta}`,
    ...(p.evalLoss !== undefined ? [`eval ${p.evalLoss.toFixed(4)}`] : []),
  ].join('  ');
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a ReFT adapter on a dataset file and write it to --out',
  usage:
    'train --model DIR --data FILE --out DIR [--format auto|prompt-completion|alpaca|chat] ' +
    '[--intervention loreft|noreft|direft|nodireft|consreft|lobireft] [--layers all|2;10;18] [--positions f1+l1] ' +
    '[--share-weights] [--rank R] [--lr X] [--epochs N] [--max-steps N] [--batch-size B] [--grad-accum G] ' +
    '[--max-length T] [--dropout P] [--weight-decay X] [--warmup-ratio X] [--schedule linear|cosine|constant] ' +
    '[--max-grad-norm X] [--seed S] [--eval-data FILE | --eval-split X] [--eval-every N] [--checkpoint-every N] ' +
    '[--checkpoint-dir DIR] [--chat-template auto|none] [--export-pyreft DIR] [--device auto|cpu|cuda|webgpu|dml|coreml] ' +
    '[--resume CHECKPOINT_DIR]',
  options: {
    model: S,
    data: S,
    format: S,
    intervention: S,
    layers: S,
    positions: S,
    'share-weights': B,
    rank: S,
    lr: S,
    epochs: S,
    'max-steps': S,
    'batch-size': S,
    'grad-accum': S,
    'max-length': S,
    dropout: S,
    'weight-decay': S,
    'warmup-ratio': S,
    schedule: S,
    'max-grad-norm': S,
    seed: S,
    'eval-data': S,
    'eval-split': S,
    'eval-every': S,
    'checkpoint-every': S,
    'checkpoint-dir': S,
    'chat-template': S,
    'export-pyreft': S,
    device: S,
    out: S,
    resume: S,
  },
  async run(ctx) {
    if (ctx.args.length) throw new UsageError(`train: unexpected argument "${ctx.args[0]}"`);
    const flags = flagsToConfig(ctx.values);
    const resume = str(ctx.values, 'resume');
    const config: TrainConfig = resume
      ? { ...resumeConfig(resume), ...flags, resumeFrom: resume }
      : (flags as TrainConfig);
    if (!config.model) throw new UsageError('train: --model DIR is required');
    if (!config.data) throw new UsageError('train: --data FILE is required');
    if (!config.out) throw new UsageError('train: --out DIR is required (the adapter folder to write)');

    const err = (s: string) => process.stderr.write(`${s}\n`);
    const ac = new AbortController();
    const onSigint = () => {
      err('cancelling: saving a checkpoint at the end of this step (Ctrl-C again to stop at once)');
      ac.abort();
    };
    process.once('SIGINT', onSigint);
    try {
      const r = await train(config, {
        signal: ac.signal,
        onLog: err,
        onProgress: (p) => err(progressLine(p)),
        onCheckpoint: (c) => err(`checkpoint: ${c.dir}`),
      });
      const out = {
        adapter: r.adapter,
        pyreft: r.pyreft,
        steps: r.steps,
        totalSteps: r.totalSteps,
        epochs: r.epochs,
        finalLoss: r.finalLoss,
        evalLoss: r.evalLoss,
        tokensPerS: r.tokensPerS,
        stepsPerS: r.stepsPerS,
        elapsedS: r.elapsedS,
        trainExamples: r.trainExamples,
        evalExamples: r.evalExamples,
        truncatedExamples: r.truncatedExamples,
        interventions: r.interventions,
        trainableParams: r.trainableParams,
        checkpoints: r.checkpoints,
        resumedFrom: r.resumedFrom,
      };
      ctx.print(out, () =>
        [
          `adapter: ${r.adapter}`,
          ...(r.pyreft ? [`pyreft export: ${r.pyreft}`] : []),
          `steps: ${r.steps}  final loss: ${r.finalLoss.toFixed(4)}${r.evalLoss !== null ? `  eval loss: ${r.evalLoss.toFixed(4)}` : ''}`,
          `${r.interventions} interventions, ${r.trainableParams} trainable parameters, ${Math.round(r.tokensPerS)} tok/s`,
        ].join('\n'),
      );
      return 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  },
};
