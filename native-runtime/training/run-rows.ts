// Which rows of a run's dataset it trains on and which it holds out: read by the trainer
// (prepareRun) and by the scale-out bundle (adapters/bundle.ts), whose data.jsonl must hold exactly
// the rows the studio trains on. Examples whose prompt places no intervention are left out; a
// held-out share (evalSplit) is drawn with mulberry32(mix(seed, EVAL_SALT)) over the rest, so the
// same seed and data always hold out the same rows. The bundle finds both from the prompts alone
// (runRowRule, one example at a time as it copies them; runRowLines for a share, which needs the
// count first), tokenizing only those too short to decide by their length. Imports
// nothing of ONNX Runtime: the bundle is written where no session runs (a worker thread of the CLI).

import { ConfigError } from '../errors.ts';
import { mulberry32, type Rng } from '../generation/sampling.ts';
import type { ModelSpec } from '../models/config.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { ResolvedTrainConfig } from './config.ts';
import {
  type DatasetInfo,
  noTokens,
  type PrepareWatch,
  promptText,
  readTokenizedDataset,
  scanDataset,
  specialIds,
  type TextExample,
} from './data.ts';
import { optionError } from './options.ts';
import { type Positions, placesInterventions } from './positions.ts';
import { TokenizedRows } from './tokenized-rows.ts';

const EVAL_SALT = 0x5eed;

/** A 32-bit seed from a seed and a counter. */
export function mix(seed: number, k: number): number {
  let h = (seed ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A seeded Fisher–Yates permutation of 0…n−1. */
export function permutation(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** A dataset none of whose examples the run can train on. */
function noInterventionPositions(path: string): ConfigError {
  return new ConfigError(
    'no-intervention-positions',
    `${path}: every example's prompt is 1 token, where no intervention can be placed: give the prompts 2 tokens or more`,
  );
}

/**
 * The training examples whose prompt gets an intervention position. Any other (a 1-token prompt:
 * a one-word prompt without bos or chat template) would only add a loss no step can lower, so it is
 * left out; a dataset with none left is refused before a run starts.
 */
/**
 * The trainer's rule for an example: it is trained on when its prompt, as tokenized and truncated
 * for the run (`promptLen` tokens), places an intervention; more tokens never place fewer.
 */
function trainsOn(promptLen: number, positions: Positions): boolean {
  return placesInterventions(promptLen, positions);
}

function examplesWithInterventions(
  rows: TokenizedRows,
  positions: Positions,
  path: string,
): { kept: TokenizedRows; skippedLines: number[] } {
  const skippedLines: number[] = [];
  for (let i = 0; i < rows.length; i++)
    if (!trainsOn(rows.promptLen(i), positions)) skippedLines.push(rows.line(i));
  if (skippedLines.length === rows.length) throw noInterventionPositions(path);
  // Nothing left out (the usual case): the same store, not a copy of it.
  const kept = skippedLines.length ? rows.filter((i) => trainsOn(rows.promptLen(i), positions)) : rows;
  return { kept, skippedLines };
}

export interface RunRows {
  train: TokenizedRows;
  /** The held-out rows: evalData's, or evalSplit's share of the training data's (none: empty). */
  eval: TokenizedRows;
  dataset: DatasetInfo;
  evalDataset: DatasetInfo | null;
  /** Lines of the training examples left out: their prompt has no intervention position. */
  skippedLines: number[];
}

/**
 * Tokenizes the run's data (and held-out file) and splits them as the run trains on them; `watch`
 * stops it and sees its rows (readTokenizedDataset).
 */
export async function readRunRows(
  tokenizer: Tokenizer,
  spec: ModelSpec,
  cfg: ResolvedTrainConfig,
  positions: Positions,
  watch: PrepareWatch = {},
): Promise<RunRows> {
  const { eosId } = specialIds(tokenizer, spec);
  const topts = { maxLength: cfg.maxLength, chatTemplate: cfg.chatTemplate, eosId };
  const read = await readTokenizedDataset(tokenizer, cfg.data, cfg.format, topts, spec.vocabSize, watch);
  const dataset = read.info;
  const { kept, skippedLines } = examplesWithInterventions(read.rows, positions, dataset.path);
  if (cfg.evalData) {
    const evalRead = await readTokenizedDataset(
      tokenizer,
      cfg.evalData,
      cfg.format,
      topts,
      spec.vocabSize,
      watch,
    );
    return { train: kept, eval: evalRead.rows, dataset, evalDataset: evalRead.info, skippedLines };
  }
  if (!(cfg.evalSplit > 0))
    return { train: kept, eval: new TokenizedRows(0, 0), dataset, evalDataset: null, skippedLines };
  const held = drawHeldOut(kept.length, cfg);
  return {
    train: kept.filter((i) => held[i] === 0),
    eval: kept.filter((i) => held[i] === 1),
    dataset,
    evalDataset: null,
    skippedLines,
  };
}

/** Which of the `n` examples kept for training the held-out share takes (1) and which it leaves (0). */
function drawHeldOut(n: number, cfg: Pick<ResolvedTrainConfig, 'evalSplit' | 'seed'>): Uint8Array {
  const nEval = Math.max(1, Math.floor(n * cfg.evalSplit));
  if (nEval >= n) {
    throw optionError(
      'evalSplit',
      'bad-eval-split',
      `${cfg.evalSplit} leaves no training examples out of ${n}`,
    );
  }
  const order = permutation(n, mulberry32(mix(cfg.seed, EVAL_SALT)));
  const held = new Uint8Array(n);
  for (const i of order.slice(n - nEval)) held[i] = 1;
  return held;
}

/** The lines of a run's data file that it does not train on (runRowLines). */
export interface RunRowLines {
  /** Examples left out: their prompt places no intervention (as readRunRows' skippedLines). */
  skipped: Set<number>;
  /** Examples its held-out share (evalSplit) keeps aside: readRunRows' `eval`. */
  held: Set<number>;
}

/**
 * Which lines of the run's data file readRunRows leaves out and holds out (runRowRule's), in one
 * pass over the file: a held-out share is drawn from the count of examples kept. Only for a run
 * that draws one (evalSplit > 0, no evalData); any other is judged row by row with runRowRule.
 */
export function runRowLines(
  tokenizer: Tokenizer,
  spec: ModelSpec,
  cfg: ResolvedTrainConfig,
  positions: Positions,
): RunRowLines {
  if (cfg.evalData || !(cfg.evalSplit > 0)) throw new Error('runRowLines: the run draws no held-out share');
  const kept: number[] = [];
  const skipped = new Set<number>();
  const rule = runRowRule(tokenizer, spec, cfg, cfg.data, positions);
  const { path } = scanDataset(cfg.data, cfg.format, (ex) => {
    if (rule.keeps(ex)) kept.push(ex.line);
    else skipped.add(ex.line);
  });
  rule.done(path);
  const held = drawHeldOut(kept.length, cfg);
  return { skipped, held: new Set(kept.filter((_, i) => held[i] === 1)) };
}

/** The trainer's rule over a dataset file's examples, one at a time as the file is read (runRowRule). */
export interface RunRowRule {
  /** Whether the run trains on (or scores) `ex`; false for every example once one was refused. */
  keeps(ex: TextExample): boolean;
  /**
   * Once the whole file was read (its bad rows refused first, by scanDataset, which says its `path`):
   * throws the first example refused, as readRunRows would, or that no training example is left.
   */
  done(path: string): void;
}

/**
 * Decides, from the examples' texts, what readRunRows does with a file's rows without tokenizing
 * whole rows (that took 6× the scale-out bundle's time). `positions` given (the training data): an
 * example is kept when trainsOn(its prompt as tokenizeExample truncates it); truncation keeps at
 * least min(P, ⌈maxLength/2⌉) of a prompt's P tokens and never more than P, and trainsOn grows with
 * the length, so trainsOn(min(P, ⌈maxLength/2⌉)) decides it alike. That needs only whether P
 * reaches the shortest length trainsOn takes, which a long prompt does by its length alone
 * (Tokenizer.minTokens): only the others are tokenized. `positions` null (a held-out file): every
 * example is kept, the trainer scores them all. Either way refuses as tokenizeExample does a prompt
 * of no tokens, and a completion of none (only possible where the model has no eos to append).
 */
export function runRowRule(
  tokenizer: Tokenizer,
  spec: ModelSpec,
  cfg: ResolvedTrainConfig,
  path: string,
  positions: Positions | null,
): RunRowRule {
  const { eosId } = specialIds(tokenizer, spec);
  const keptAfterTruncation = Math.ceil(cfg.maxLength / 2);
  const trainsOnLength = (promptLen: number) =>
    positions === null || trainsOn(Math.min(promptLen, keptAfterTruncation), positions);
  const enough = shortestTrained(keptAfterTruncation, trainsOnLength);
  /** How many tokens `text` encodes to, counted up to `n`: tokenized only where its length cannot tell. */
  const tokensUpTo = (text: string, n: number, addSpecialTokens: boolean): number => {
    const bound = tokenizer.minTokens(text, n);
    return bound >= n ? bound : tokenizer.encode(text, { addSpecialTokens }).length;
  };
  /** The example's refusal (tokenizeExample's), or its prompt's length counted up to `enough`. */
  const promptLength = (ex: TextExample): number | ConfigError => {
    try {
      const { text, addSpecialTokens } = promptText(tokenizer, ex, cfg.chatTemplate);
      const promptLen = tokensUpTo(text, enough, addSpecialTokens);
      if (promptLen === 0) return noTokens('prompt', ex.line, path);
      if (eosId === null && tokensUpTo(ex.completion, 1, false) === 0)
        return noTokens('completion', ex.line, path);
      return promptLen;
    } catch (e) {
      return new ConfigError('bad-data', `${path}: line ${ex.line}: ${(e as Error).message}`);
    }
  };
  let keptCount = 0;
  let refused: ConfigError | null = null; // thrown once the whole file is known to be readable, as readRunRows
  return {
    keeps(ex) {
      if (refused) return false;
      const promptLen = promptLength(ex);
      if (typeof promptLen !== 'number') refused = promptLen;
      else if (trainsOnLength(promptLen)) {
        keptCount++;
        return true;
      }
      return false;
    },
    done(file) {
      if (refused) throw refused;
      if (keptCount === 0) throw noInterventionPositions(file);
    },
  };
}

/** The shortest prompt length (1…max) that `trains` takes, which decides every longer one; max + 1 if none. */
function shortestTrained(max: number, trains: (promptLen: number) => boolean): number {
  for (let n = 1; n <= max; n++) if (trains(n)) return n;
  return max + 1;
}
