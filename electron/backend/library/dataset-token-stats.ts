// The token-length report of a dataset version for a model: a histogram of the examples' lengths
// (after the chat template, as training tokenizes them; counted by native-runtime/training/
// token-lengths.ts in an engine process), summary numbers, and which examples exceed maxLength
// (training would cut those: the completion's end, then the prompt's start). A report from a sample
// of the rows (random; a first picture of a big dataset) scales its counts to the whole and says so.

export interface TokenBin {
  /** Lengths from `from` (inclusive) to `to` (exclusive). */
  from: number;
  to: number;
  count: number;
}

export interface TokenLengthReport {
  versionId: number;
  modelId: number;
  maxLength: number;
  /** Whether prompts went through the model's chat template. */
  chatTemplate: boolean;
  /** Examples in the version. */
  count: number;
  /** Set when only some examples were counted: the counts are estimates scaled to `of`. */
  sampled: { counted: number; of: number } | null;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p95: number;
  /** Examples longer than maxLength, and the first of their row indices (of those counted). */
  over: number;
  overIndices: number[];
  bins: TokenBin[];
  /** Every example's length by row index (left out for a sample and for very large versions). */
  lengths: number[] | null;
  /** How long counting took (0 when the counts were cached). */
  countMs: number;
}

/** Row indices listed as over maxLength (the count is always exact). */
const OVER_LISTED = 10_000;
/** Versions up to this many rows send every length (the row list shows each). */
const LENGTHS_SENT = 200_000;
const MAX_BINS = 40;

/** A bin width of 1, 2 or 5 × 10^k giving at most MAX_BINS bins up to `top`. */
export function binWidth(top: number): number {
  const raw = Math.max(1, top / MAX_BINS);
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function quantile(sorted: Uint32Array, q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))];
}

/**
 * Bins, summary and over-length rows of `lengths` against `maxLength`. With `sample`, the lengths
 * are those of the rows `sample.indices` out of `sample.total`.
 */
export function tokenLengthReport(
  lengths: readonly number[],
  maxLength: number,
  ids: { versionId: number; modelId: number; chatTemplate: boolean; countMs: number },
  sample: { indices: readonly number[]; total: number } | null = null,
): TokenLengthReport {
  const sorted = Uint32Array.from(lengths).sort();
  const max = sorted.length ? sorted[sorted.length - 1] : 0;
  // The bins reach past maxLength, so the flagged part of the histogram is always visible.
  const width = binWidth(Math.max(max + 1, maxLength + 1));
  const nBins = Math.max(1, Math.ceil((Math.max(max, maxLength) + 1) / width));
  const counts = new Array<number>(nBins).fill(0);
  let sum = 0;
  const overIndices: number[] = [];
  let over = 0;
  lengths.forEach((n, i) => {
    counts[Math.min(nBins - 1, Math.floor(n / width))]++;
    sum += n;
    if (n > maxLength) {
      over++;
      if (overIndices.length < OVER_LISTED) overIndices.push(sample ? sample.indices[i] : i);
    }
  });
  const scale = sample && lengths.length ? sample.total / lengths.length : 1;
  return {
    ...ids,
    maxLength,
    count: sample ? sample.total : lengths.length,
    sampled: sample ? { counted: lengths.length, of: sample.total } : null,
    min: sorted.length ? sorted[0] : 0,
    max,
    mean: lengths.length ? sum / lengths.length : 0,
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    over: Math.round(over * scale),
    overIndices,
    bins: counts.map((count, i) => ({
      from: i * width,
      to: (i + 1) * width,
      count: Math.round(count * scale),
    })),
    lengths: !sample && lengths.length <= LENGTHS_SENT ? [...lengths] : null,
  };
}
