// The scale-out bundle: a folder that trains the same ReFT run with pyreft's public API on one or
// many GPUs elsewhere, and whose result imports back into the studio unchanged.
//   train.py     pyreft.ReftConfig + get_reft_model + ReftTrainerForCausalLM with the run's layers,
//                positions, rank, lr, epochs, batch size, …; `torchrun --nproc_per_node N train.py`
//                works because Hugging Face's Trainer does the DDP; rank 0 saves result/
//   data.jsonl   one {"prompt", "completion"} (or {"messages", "completion"} for chat data) per line:
//                exactly the rows the run trains on: not those its held-out share keeps aside, nor
//                those whose prompt places no intervention (the trainer leaves them out)
//   heldout.jsonl  the run's held-out rows, for scoring the result (train.py does not read them):
//                its held-out share's (evalSplit) as the trainer draws them (training/run-rows.ts),
//                or every row of its held-out file (evalData)
//   config.json  the resolved run configuration (train.py reads everything from it)
//   README.md    the exact commands: pip install pyreft; torchrun …; reft-studio import result/
// result/ (written by train.py) = pyreft's own save (config.json + intkey_*.bin) plus the
// reft_studio.json side file naming the base model, positions, prompt format and precision, so
// `reft-studio import result/` needs no flags. The bundle is written atomically; a non-empty --out is refused unless forced.
// Left out: running pyreft here (not installed), multi-node launch scripts, quantized bases, and the
// run's keep the best and early stopping (config.json records them; pyreft's causal-LM trainer cannot
// evaluate, see differs() below: the README and train.py say so).

import { resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { type FileData, writeFully } from '../formats/atomic-write.ts';
import { writeExportableFolder } from '../formats/export-marker.ts';
import { SIDECAR_FILE } from '../formats/pyreft.ts';
import { noTokenizerReason, openModelFolder } from '../models/model-folder.ts';
import { plural } from '../plural.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { ResolvedTrainConfig, TrainConfig } from '../training/config.ts';
import { resolveTrainConfig } from '../training/config.ts';
import { type DataFormat, scanDataset, type TextExample } from '../training/data.ts';
import { parsePositions } from '../training/positions.ts';
import { type RunRowRule, runRowLines, runRowRule } from '../training/run-rows.ts';
import { checkOutFolder } from './folders.ts';
import { TRAIN_PY } from './train-py.ts';

/**
 * The run's resolved trainer options, as train.py reads them (meanings documented on
 * ResolvedTrainConfig). batchSize is the global micro-batch: train.py splits it over the processes.
 */
type BundleTrainOptions = Pick<
  ResolvedTrainConfig,
  | 'intervention'
  | 'layers'
  | 'positions'
  | 'shareWeights'
  | 'rank'
  | 'act'
  | 'dropout'
  | 'lr'
  | 'epochs'
  | 'maxSteps'
  | 'batchSize'
  | 'gradAccum'
  | 'maxLength'
  | 'weightDecay'
  | 'warmupRatio'
  | 'schedule'
  | 'maxGradNorm'
  | 'seed'
  | 'chatTemplate'
  | 'keepBest'
  | 'earlyStoppingPatience'
>;

export interface BundleConfig extends BundleTrainOptions {
  format: 'reft-studio-bundle';
  version: 1;
  /** Model folder or Hugging Face hub id (train.py --model overrides it). */
  model: string;
  /** What the result's reft_studio.json will name as its base model. */
  baseModel: { arch: string; fingerprint: string } | null;
  /** The training rows; sha256 is the source dataset's (the run's data file, held-out rows included). */
  data: { file: 'data.jsonl'; format: DataFormat; rows: number; sha256: string };
  /**
   * The run's held-out rows, or null without any: its share of the data (evalSplit) or its own file
   * (evalData; format and sha256 that file's, as data's), or, that file removed from the library
   * since, no file and why (HELD_OUT_REMOVED).
   */
  heldOut:
    | { file: 'heldout.jsonl'; rows: number; evalSplit: number }
    | { file: 'heldout.jsonl'; rows: number; format: DataFormat; sha256: string }
    | typeof HELD_OUT_REMOVED
    | null;
  runId: string | null;
  datasetVersion: string | null;
}

type BundleRow =
  | { prompt: string; completion: string }
  | { messages: Extract<TextExample, { kind: 'chat' }>['messages']; completion: string };

export const BUNDLE_FILES = ['README.md', 'config.json', 'data.jsonl', 'train.py'] as const;
const HELD_OUT_FILE = 'heldout.jsonl' as const;

/**
 * config.json's heldOut where the run's held-out dataset was removed from the library: the bundle
 * still trains as the run did (on every training row), but has nothing to score the result on.
 */
const HELD_OUT_REMOVED = {
  file: null,
  rows: 0,
  missing: "the run's held-out dataset was removed from the library",
} as const;

/**
 * "16 training examples, 4 held out": what a bundle carries, for the lines that report it; held-out
 * rows it lacks are said too.
 */
export function bundleRowsText(c: BundleConfig): string {
  if (c.heldOut?.file === null)
    return `${plural(c.data.rows, 'training example')}; no held-out rows: ${c.heldOut.missing}`;
  const held = c.heldOut ? `, ${c.heldOut.rows} held out` : '';
  return `${plural(c.data.rows, c.heldOut ? 'training example' : 'example')}${held}`;
}

/** A data.jsonl row of an example: a text prompt as it is, a chat row keeps its messages. */
function bundleRow(e: TextExample): BundleRow {
  return e.kind === 'chat'
    ? { messages: e.messages, completion: e.completion }
    : { prompt: e.prompt, completion: e.completion };
}

export interface MakeBundleInput {
  /** The run's configuration (model and data required; `out` is not used). */
  config: Partial<TrainConfig> & { model: string };
  /** Training data file; defaults to config.data. */
  data?: string;
  /**
   * The run's held-out dataset (its evalData, left out of `config`) was removed from the library:
   * the bundle is written without heldout.jsonl, config.json's heldOut and the README saying why.
   */
  heldOutRemoved?: boolean;
  out: string;
  force?: boolean;
  /** Mark `out` as an export (formats/export-marker.ts); a zip download's folder is not one. */
  asExport?: boolean;
}

export interface BundleResult {
  out: string;
  files: string[];
  config: BundleConfig;
}

/**
 * Resolves the run configuration against its model and data, then writes the bundle. The dataset is
 * streamed into data.jsonl as it is read (scanDataset), never held: 1M rows (120 MB) grew the peak
 * RSS by 273 MB read whole first. README.md and config.json, which count and hash the rows, follow it.
 */
export function makeBundle(input: MakeBundleInput): BundleResult {
  const data = input.data ?? input.config.data;
  if (!data) throw new ConfigError('missing-data', 'no training data for the bundle: give --data FILE');
  checkOutFolder(input.out, null, input.force);
  const folder = openModelFolder(input.config.model);
  const { spec } = folder;
  const cfg = resolveTrainConfig(
    { ...input.config, model: folder.dir, data, out: resolve(input.out, 'unused') } as TrainConfig,
    spec,
  );
  const configOf = (rows: BundleConfig['data'], heldOut: BundleConfig['heldOut']): BundleConfig => ({
    format: 'reft-studio-bundle',
    version: 1,
    model: folder.dir,
    baseModel: { arch: spec.arch, fingerprint: spec.fingerprint },
    intervention: cfg.intervention,
    layers: cfg.layers,
    positions: cfg.positions,
    shareWeights: cfg.shareWeights,
    rank: cfg.rank,
    act: cfg.act,
    dropout: cfg.dropout,
    lr: cfg.lr,
    epochs: cfg.epochs,
    maxSteps: cfg.maxSteps,
    batchSize: cfg.batchSize,
    gradAccum: cfg.gradAccum,
    maxLength: cfg.maxLength,
    weightDecay: cfg.weightDecay,
    warmupRatio: cfg.warmupRatio,
    schedule: cfg.schedule,
    maxGradNorm: cfg.maxGradNorm,
    seed: cfg.seed,
    chatTemplate: cfg.chatTemplate,
    // Recorded, not carried out: train.py's not_carried() and the README say why.
    keepBest: cfg.keepBest,
    earlyStoppingPatience: cfg.earlyStoppingPatience,
    data: rows,
    heldOut: heldOut ?? (input.heldOutRemoved ? HELD_OUT_REMOVED : null),
    runId: cfg.runId,
    datasetVersion: cfg.datasetVersion,
  });
  const copyRows = (fd: number, path: string, keep: (ex: TextExample) => boolean) => {
    const lines = new JsonLines(fd);
    let rows = 0;
    const info = scanDataset(path, cfg.format, (ex) => {
      if (!keep(ex)) return;
      lines.write(bundleRow(ex));
      rows++;
    });
    lines.end();
    return { ...info, rows };
  };
  /** The rows of `path` that `rule` keeps, refused as the trainer would once the file is read. */
  const copyKept = (fd: number, path: string, rule: RunRowRule) => {
    const copied = copyRows(fd, path, (ex) => rule.keeps(ex));
    rule.done(copied.path);
    return copied;
  };
  const tokenizer = needTokenizer(folder);
  const positions = parsePositions(cfg.positions, cfg.maxLength);
  // A held-out share is drawn from the count of the rows kept, so its lines are found by a pass of
  // their own first; otherwise each row is judged as it is copied, the file read once.
  const share = !cfg.evalData && cfg.evalSplit > 0 ? runRowLines(tokenizer, spec, cfg, positions) : null;
  const writeData = (fd: number): BundleConfig['data'] => {
    const copied = share
      ? copyRows(fd, data, (ex) => !share.skipped.has(ex.line) && !share.held.has(ex.line))
      : copyKept(fd, data, runRowRule(tokenizer, spec, cfg, data, positions));
    return { file: 'data.jsonl', format: copied.format, rows: copied.rows, sha256: copied.hash };
  };
  return writeBundleFiles(
    input.out,
    configOf,
    writeData,
    // The held-out rows are never held in memory either: a second pass over the data file for a
    // share, or the held-out file's rows, every one (the trainer scores them all, refusing as it
    // refuses training rows one whose prompt or completion has no tokens).
    share?.held.size
      ? (fd) => {
          copyRows(fd, data, (ex) => share.held.has(ex.line));
          return { file: HELD_OUT_FILE, rows: share.held.size, evalSplit: cfg.evalSplit };
        }
      : cfg.evalData
        ? (fd) => {
            const evalData = cfg.evalData as string;
            const c = copyKept(fd, evalData, runRowRule(tokenizer, spec, cfg, evalData, null));
            return { file: HELD_OUT_FILE, rows: c.rows, format: c.format, sha256: c.hash };
          }
        : null,
    { force: input.force, asExport: input.asExport },
  );
}

/** The model's tokenizer, which finds the rows the run trains on (run-rows.ts). */
function needTokenizer(folder: ReturnType<typeof openModelFolder>): Tokenizer {
  if (!folder.tokenizer)
    throw new ConfigError(
      'missing-tokenizer',
      `${folder.dir}: ${noTokenizerReason(folder.dir)}; the bundle needs it to find the rows the run trains on`,
    );
  return folder.tokenizer;
}

/**
 * The bundle's folder, written atomically: data.jsonl by `writeData` and heldout.jsonl by
 * `writeHeldOut` where there is one, each returning what it wrote, then the files written from the
 * config `configOf` makes of those.
 */
function writeBundleFiles(
  out: string,
  configOf: (data: BundleConfig['data'], heldOut: BundleConfig['heldOut']) => BundleConfig,
  writeData: (fd: number) => BundleConfig['data'],
  writeHeldOut: ((fd: number) => NonNullable<BundleConfig['heldOut']>) | null,
  opts: { force?: boolean; asExport?: boolean },
): BundleResult {
  checkOutFolder(out, null, opts.force);
  let data: BundleConfig['data'] | null = null;
  let heldOut: BundleConfig['heldOut'] = null;
  const described = (): BundleConfig => {
    if (!data) throw new Error('bundle: data.jsonl is written first');
    return configOf(data, heldOut);
  };
  const files: Array<[string, FileData]> = [
    [
      'data.jsonl',
      (fd) => {
        data = writeData(fd);
      },
    ],
    ...(writeHeldOut
      ? [
          [
            HELD_OUT_FILE,
            (fd: number) => {
              heldOut = writeHeldOut(fd);
            },
          ] as [string, FileData],
        ]
      : []),
    ['README.md', (fd) => writeFully(fd, Buffer.from(readme(described()), 'utf8'))],
    ['config.json', (fd) => writeFully(fd, Buffer.from(`${JSON.stringify(described(), null, 2)}\n`, 'utf8'))],
    ['train.py', TRAIN_PY],
  ];
  writeExportableFolder(out, files, opts.asExport ? 'bundle' : undefined);
  const written = writeHeldOut ? [...BUNDLE_FILES, HELD_OUT_FILE] : [...BUNDLE_FILES];
  return { out: resolve(out), files: written, config: described() };
}

/**
 * One JSON line per row, gathered in a 1 MB buffer that is written each time it fills: never the
 * whole file as one string (a dataset can be over V8's ~512 MB string limit) nor as one buffer (a
 * second copy of the dataset in memory).
 */
class JsonLines {
  readonly #buf = Buffer.allocUnsafe(1 << 20);
  #used = 0;

  constructor(private fd: number) {}

  write(row: BundleRow): void {
    const line = `${JSON.stringify(row)}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.#used + bytes > this.#buf.length) {
      writeFully(this.fd, this.#buf.subarray(0, this.#used));
      this.#used = 0;
    }
    if (bytes > this.#buf.length) writeFully(this.fd, Buffer.from(line, 'utf8'));
    else this.#used += this.#buf.write(line, this.#used);
  }

  end(): void {
    writeFully(this.fd, this.#buf.subarray(0, this.#used));
    this.#used = 0;
  }
}

function readme(c: BundleConfig): string {
  const untied = /^f\d+\+l\d+$/.test(c.positions) && !c.shareWeights;
  return `# ReFT training bundle

Exported by ReFT Studio: the same ${c.intervention} run (layers ${c.layers.join(', ')}, positions ${c.positions}${untied ? ' untied' : ''},
rank ${c.rank}, lr ${c.lr}, ${c.maxSteps > 0 ? plural(c.maxSteps, 'step') : plural(c.epochs, 'epoch')}, batch size ${c.batchSize}${c.gradAccum > 1 ? ` × ${c.gradAccum} accumulation` : ''}) with pyreft, on one or many GPUs.
${c.data.rows} training examples are in \`data.jsonl\`; everything else \`train.py\` needs is in \`config.json\`.
${heldOutText(c)}
## Run

\`\`\`
pip install pyreft
torchrun --nproc_per_node N train.py          # N GPUs on this machine; Hugging Face's Trainer runs DDP
python train.py                               # or a single GPU / CPU
\`\`\`

The base model is \`${c.model}\`. On another machine, point at its copy (or its Hugging Face id):
\`torchrun --nproc_per_node N train.py --model PATH_OR_HUB_ID\`. The batch size (${c.batchSize}) is
global: each of the N processes gets ${c.batchSize} / N examples per step. Add \`--bf16\` to load the
model in bfloat16 (the interventions stay float32).

## Back into the studio

\`train.py\` writes \`result/\`: pyreft's own save (\`config.json\`, \`intkey_*.bin\`) plus
\`${SIDECAR_FILE}\`, which names the base model${c.baseModel ? ` (fingerprint ${c.baseModel.fingerprint.slice(0, 16)}…)` : ''} and the positions. Copy it back and run

\`\`\`
reft-studio import result/ --name my-adapter
\`\`\`

The studio refuses to apply the adapter to a model whose weights differ from the base model recorded
here; for a same-shape copy (another download of the same weights), use \`--force-base\`.
${differs(c)}`;
}

/** Where the run's held-out rows are and what they are for, or '' (none kept aside). */
function heldOutText(c: BundleConfig): string {
  if (!c.heldOut) return '';
  if (c.heldOut.file === null)
    return `The studio held out the rows of a dataset of their own to measure the loss on unseen
examples, but ${c.heldOut.missing}: this bundle has none of them.
`;
  const which =
    'evalSplit' in c.heldOut
      ? `held out ${plural(c.heldOut.rows, 'more row')} (a share of ${c.heldOut.evalSplit})`
      : `held out ${plural(c.heldOut.rows, 'row')} of a file of their own`;
  return `The studio ${which} to measure the loss on
unseen examples: they are in \`heldout.jsonl\`, not trained on. \`train.py\` does not read them (pyreft
cannot evaluate); score the imported result on them with
\`reft-studio evaluate --adapter ID --data heldout.jsonl --kind loss\`.
`;
}

/**
 * What the bundle does not do of the run's keep the best and early stopping, or '' (neither set).
 * pyreft's ReftTrainer does load the best checkpoint's interventions (its _load_best_model), but
 * ReftTrainerForCausalLM's compute_loss hands Trainer's evaluation the model's output where a loss is
 * expected (pyreft issue #147), and both options need evaluations: emitting them would crash.
 */
function differs(c: BundleConfig): string {
  const left = [
    ...(c.keepBest ? ['keeps the adapter of its best evaluation'] : []),
    ...(c.earlyStoppingPatience > 0
      ? [`stops after ${plural(c.earlyStoppingPatience, 'evaluation')} without improvement`]
      : []),
  ];
  if (left.length === 0) return '';
  return `
## What differs from the studio

In the studio this run ${left.join(' and ')}. This bundle does not: \`data.jsonl\` holds no held-out
rows, and pyreft's \`ReftTrainerForCausalLM\` cannot measure a held-out loss (its \`compute_loss\`
returns the model's output where Hugging Face's evaluation expects the loss: pyreft issue #147), which
\`load_best_model_at_end\` and \`EarlyStoppingCallback\` both need. \`train.py\` trains every planned
step and \`result/\` is the last step's adapter; it prints a note saying so.
`;
}
