// How many tokens each example of a dataset file is for a model, counted exactly as training will
// tokenize it (data.ts: the same file reader, the chat template rule, the completion plus eos), before
// truncation: the Datasets page draws their histogram and flags the examples longer than maxLength,
// which training would cut. Runs in an engine process (tokenizing thousands of rows takes seconds:
// the tokenizer is JavaScript). `sample` counts only a random (seeded) sample of the examples, for a
// first picture of a big dataset while the rest is counted — random, not every k-th row, because a
// generated dataset is often periodic and every k-th row would see one phase of it.
// Leaves out: the histogram itself (the backend bins the lengths) and truncation (only flagged).

import { ConfigError } from '../errors.ts';
import { mulberry32 } from '../generation/sampling.ts';
import { keptModelFolder } from '../models/model-folder.ts';
import { type DataFormat, encodePrompt, scanDataset, trainsThroughChatTemplate } from './data.ts';

export interface TokenLengthsInput {
  /** A model folder with a tokenizer. */
  model: string;
  /** A dataset file (a library version's frozen JSONL). */
  data: string;
  format?: DataFormat | 'auto';
  chatTemplate?: 'auto' | 'none';
  /** Count at most this many examples, a seeded random sample (all when absent or there are fewer). */
  sample?: number;
  /**
   * How many examples the file holds, when the caller knows (a library version's row count): a
   * sample then needs no pass that only counts them.
   */
  examples?: number;
  /**
   * Told every PROGRESS_EVERY examples counted, and at the end: how many are counted of how many
   * will be (the sample's size, or the file's examples when known; null until the file is read).
   */
  onProgress?: (done: number, total: number | null) => void;
}

/** How many examples are counted between two progress reports (about a second on a slow tokenizer). */
export const PROGRESS_EVERY = 1000;

export interface TokenLengths {
  /** Prompt + completion (+ eos) tokens of each counted example, in file order. */
  lengths: number[];
  /** The prompt's part of each. */
  promptLengths: number[];
  /** The example index of each count (null: every example was counted, in order). */
  indices: number[] | null;
  /** How many examples the file has. */
  total: number;
  /** Whether the prompt was put through the model's chat template. */
  chatTemplate: boolean;
  /** The model's context length (training's maxLength is at most this). */
  maxPositions: number;
}

/**
 * Token counts of the completions seen, so that repeats (short labels, shared answers) are tokenized
 * once: the most recently used, up to `maxWeight` (a completion weighs its length in characters plus
 * ENTRY_WEIGHT for its entry); longer completions than LONGEST_KEPT are counted, not kept. Unbounded,
 * it kept every distinct completion of the file: all of a million-row version's answers, hundreds of
 * MB in the 'files' process.
 */
export class CompletionCounts {
  static readonly ENTRY_WEIGHT = 64;
  static readonly LONGEST_KEPT = 1000;
  readonly #counts = new Map<string, number>();
  #weight = 0;

  constructor(readonly maxWeight = 8_000_000) {}

  /** What the kept counts weigh (at most maxWeight). */
  get weight(): number {
    return this.#weight;
  }

  get size(): number {
    return this.#counts.size;
  }

  /** The token count of `text`, from `encode` unless kept. */
  count(text: string, encode: (text: string) => number): number {
    const hit = this.#counts.get(text);
    if (hit !== undefined) {
      this.#counts.delete(text); // re-inserted: the most recently used is kept longest
      this.#counts.set(text, hit);
      return hit;
    }
    const n = encode(text);
    if (text.length > CompletionCounts.LONGEST_KEPT) return n;
    this.#counts.set(text, n);
    this.#weight += text.length + CompletionCounts.ENTRY_WEIGHT;
    for (const oldest of this.#counts.keys()) {
      if (this.#weight <= this.maxWeight) break;
      this.#counts.delete(oldest);
      this.#weight -= oldest.length + CompletionCounts.ENTRY_WEIGHT;
    }
    return n;
  }
}

/** `k` of the indices 0..n-1, chosen at random with a fixed seed (a partial Fisher–Yates), sorted. */
export function sampleIndices(n: number, k: number): number[] {
  const rng = mulberry32(0x5eed);
  const pool = new Map<number, number>(); // the swapped part of a virtual 0..n-1 array
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (n - i));
    out.push(pool.get(j) ?? j);
    pool.set(j, pool.get(i) ?? i);
  }
  return out.sort((a, b) => a - b);
}

export function tokenLengths(input: TokenLengthsInput): TokenLengths {
  // The worker counts one dataset after another for the same model: its folder is kept.
  const folder = keptModelFolder(input.model);
  const tok = folder.tokenizer;
  if (!tok)
    throw new ConfigError('missing-tokenizer', `${folder.dir}: no tokenizer.json to count tokens with`);
  const mode = input.chatTemplate ?? 'auto';
  // As prepareRun: the tokenizer's eos, else the model config's.
  const eos = (tok.eosTokenId ?? folder.spec.eosTokenIds[0] ?? null) !== null ? 1 : 0;
  const format = input.format ?? 'auto';
  // A sample needs the count first (given, or a pass that only reads), then one pass measures the
  // rows picked. No example is kept, only its lengths (a whole version held as texts was hundreds
  // of MB in the 'files' process for a million rows).
  let indices: number[] | null = null;
  if (input.sample !== undefined) {
    const n = input.examples ?? scanDataset(input.data, format, () => {}).count;
    if (input.sample < n) indices = sampleIndices(n, input.sample);
  }
  const completions = new CompletionCounts();
  const completionLength = (text: string) => tok.encode(text, { addSpecialTokens: false }).length;
  const lengths: number[] = [];
  const promptLengths: number[] = [];
  let row = 0;
  const total = indices?.length ?? input.examples ?? null;
  const ds = scanDataset(input.data, format, (ex) => {
    if (indices && indices[lengths.length] !== row++) return;
    const p = encodePrompt(tok, ex, mode).length;
    const c = completions.count(ex.completion, completionLength);
    promptLengths.push(p);
    lengths.push(p + c + eos);
    if (lengths.length % PROGRESS_EVERY === 0) input.onProgress?.(lengths.length, total);
  });
  const n = ds.count;
  if (input.examples !== undefined && input.examples !== n)
    throw new ConfigError(
      'bad-data',
      `${input.data}: holds ${n} examples, not the ${input.examples} expected`,
    );
  input.onProgress?.(lengths.length, lengths.length);
  const templated = trainsThroughChatTemplate(ds.format, mode, tok);
  return {
    lengths,
    promptLengths,
    indices,
    total: n,
    chatTemplate: templated,
    maxPositions: folder.spec.maxPositions,
  };
}
