// Next-token selection from a logits row: repetition penalty, temperature, top-k, top-p, greedy
// argmax and a seeded PRNG, as pure functions on Float32Array (V = vocabulary size).
//
// Order follows transformers' default logits processors: repetition penalty → temperature →
// top-k → top-p, then softmax and a draw. Filters write -Infinity into a copy; inputs are never
// modified. Leaves out: min-p, typical-p, beam search, and the generation loop itself.

// ---------------------------------------------------------------------------------------------
// PRNG: mulberry32. 32-bit state, tiny and fast; the quality is ample for drawing tokens, and the
// same seed gives the same sequence on every platform (only 32-bit integer maths).

export type Rng = () => number;

/** A seeded generator of uniform floats in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------

/** Index of the largest logit (the first one on ties, like torch.argmax). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    // NaN never wins; -Infinity only if everything is -Infinity (then index 0).
    if (logits[i] > bestV) {
      bestV = logits[i];
      best = i;
    }
  }
  return best;
}

/**
 * transformers' RepetitionPenaltyLogitsProcessor: for each distinct token already seen (prompt or
 * generated), a positive logit is divided by `penalty` and a negative one multiplied by it, so the
 * token becomes less likely either way. penalty 1 is a no-op.
 */
export function applyRepetitionPenalty(
  logits: Float32Array,
  seen: Iterable<number>,
  penalty: number,
): Float32Array {
  const out = new Float32Array(logits);
  if (penalty === 1) return out;
  if (!(penalty > 0)) throw new RangeError(`repetition penalty must be > 0, got ${penalty}`);
  const done = new Set<number>();
  for (const id of seen) {
    if (id < 0 || id >= out.length || done.has(id)) continue;
    done.add(id);
    const v = out[id];
    out[id] = v < 0 ? v * penalty : v / penalty;
  }
  return out;
}

/**
 * Divides logits by the temperature (> 0; temperature 0 means greedy and is handled by sample()),
 * after subtracting the largest one: softmax, top-k and top-p do not change under that shift, and a
 * tiny temperature (1e-40) cannot overflow float32 to +Infinity, whose softmax is NaN (every draw
 * then fell on the vocabulary's last id). The best tokens stay at 0, the rest go towards −Infinity.
 */
export function applyTemperature(logits: Float32Array, temperature: number): Float32Array {
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0 here, got ${temperature}`);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const shift = Number.isFinite(max) ? max : 0;
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = (logits[i] - shift) / temperature;
  return out;
}

/**
 * Keeps the k largest logits (ties with the k-th value are kept, as transformers does), setting
 * the rest to -Infinity. k <= 0 or k >= V keeps everything.
 */
export function applyTopK(logits: Float32Array, k: number): Float32Array {
  const out = new Float32Array(logits);
  if (k <= 0 || k >= logits.length) return out;
  const kth = kthLargest(Float64Array.from(logits), Math.floor(k));
  for (let i = 0; i < out.length; i++) if (out[i] < kth) out[i] = -Infinity;
  return out;
}

/**
 * The k-th largest value (1-based) of `a`, which is reordered: Hoare quickselect, O(V) on average.
 * A full sort of a 150k vocabulary took ~20 ms per token here, a sort with a comparator ~100 ms;
 * this takes ~1–2 ms. NaN counts as the smallest value (Float32Array.sort puts it last).
 */
function kthLargest(a: Float64Array, k: number): number {
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i])) a[i] = -Infinity;
  let lo = 0;
  let hi = a.length - 1;
  const target = k - 1; // index in descending order
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/** Softmax in float64 for the accumulation (a 150k vocabulary loses precision in float32 sums). */
export function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const p = new Float64Array(logits.length);
  if (max === -Infinity) return p;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = logits[i] === -Infinity ? 0 : Math.exp(logits[i] - max);
    p[i] = e;
    sum += e;
  }
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

/**
 * Nucleus filtering: keeps the smallest set of most likely tokens whose probabilities add up to
 * at least `p`, always at least one (order: probability, then lower id first). p >= 1 keeps
 * everything. No sort: a weighted quickselect finds the probability t of the token that crosses p,
 * then every token above t is kept and, among those equal to t, the lowest ids until p is reached.
 * (Sorting a 150k vocabulary with a comparator took ~100 ms per token.)
 */
export function applyTopP(logits: Float32Array, p: number): Float32Array {
  const out = new Float32Array(logits);
  if (p >= 1) return out;
  if (!(p > 0)) throw new RangeError(`top-p must be in (0, 1], got ${p}`);
  const probs = softmax(logits);
  const t = crossingProbability(probs, p);
  let cum = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > t) cum += probs[i];
  for (let i = 0; i < out.length; i++) {
    if (probs[i] > t) continue;
    if (probs[i] === t && t > 0 && cum < p) cum += probs[i];
    else out[i] = -Infinity;
  }
  return out;
}

/**
 * The largest t such that the tokens with probability >= t hold at least p of the mass (or the
 * smallest nonzero probability when rounding leaves the total just under p).
 */
function crossingProbability(probs: Float64Array, p: number): number {
  let n = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > 0) n++;
  const a = new Float64Array(n); // typed-array filter() with a callback was ~15 ms on 150k entries
  n = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > 0) a[n++] = probs[i];
  let lo = 0;
  let hi = a.length; // the unsettled range a[lo, hi); everything before lo is above it
  let above = 0; // mass of the values known to be above the range
  while (hi - lo > 0) {
    const pivot = a[lo + ((hi - lo) >>> 1)];
    // Three-way partition of a[lo, hi): > pivot | == pivot | < pivot.
    let gt = lo;
    let i = lo;
    let lt = hi;
    let massGt = 0;
    let massEq = 0;
    while (i < lt) {
      const x = a[i];
      if (x > pivot) {
        a[i] = a[gt];
        a[gt] = x;
        massGt += x;
        gt++;
        i++;
      } else if (x < pivot) {
        lt--;
        a[i] = a[lt];
        a[lt] = x;
      } else {
        massEq += x;
        i++;
      }
    }
    if (above + massGt >= p) hi = gt;
    else if (above + massGt + massEq >= p) return pivot;
    else {
      above += massGt + massEq;
      lo = lt;
    }
  }
  // Rounding left the whole nonzero mass under p: the smallest nonzero probability keeps it all.
  let smallest = 0;
  for (const x of a) if (smallest === 0 || x < smallest) smallest = x;
  return smallest;
}

/** Draws an index from a probability vector with one uniform number in [0, 1). */
export function drawFrom(probs: Float64Array, u: number): number {
  let cum = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    cum += probs[i];
    last = i;
    if (u < cum) return i;
  }
  // Rounding left the total just under 1 and u above it: the last possible token.
  return Math.max(last, 0);
}

export interface SamplingOptions {
  /** 0 (or greedy: true) picks the argmax. Default 1. */
  temperature?: number;
  /** <= 0 or >= V: off. */
  topK?: number;
  /** 1: off. */
  topP?: number;
  /** 1: off. */
  repetitionPenalty?: number;
  greedy?: boolean;
}

/**
 * Picks the next token. `seen` are the prompt and generated ids (for the repetition penalty);
 * `rng` is needed unless the choice is greedy.
 */
export function sample(
  logits: Float32Array,
  opts: SamplingOptions,
  seen: Iterable<number> = [],
  rng?: Rng,
): number {
  let x = logits;
  if (opts.repetitionPenalty !== undefined && opts.repetitionPenalty !== 1)
    x = applyRepetitionPenalty(x, seen, opts.repetitionPenalty);
  const temperature = opts.temperature ?? 1;
  if (opts.greedy || temperature === 0) return argmax(x);
  if (!rng) throw new RangeError('sampling needs a random generator (pass mulberry32(seed)) unless greedy');
  if (temperature !== 1) x = applyTemperature(x, temperature);
  if (opts.topK !== undefined && opts.topK > 0) x = applyTopK(x, opts.topK);
  if (opts.topP !== undefined && opts.topP < 1) x = applyTopP(x, opts.topP);
  return drawFrom(softmax(x), rng());
}
