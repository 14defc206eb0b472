// Curve smoothing for the run charts: an exponential moving average debiased at the start, as
// TensorBoard's slider does, so a noisy per-step loss reads as a trend without lagging at step 1.
// Gaps (null) stay gaps and do not reset the average.

/**
 * Smoothed copy of `values` with weight `w` in [0, 1): 0 returns the values unchanged, 0.9 averages
 * over roughly the last ten points.
 */
export function emaSmooth(values: ReadonlyArray<number | null>, w: number): Array<number | null> {
  const weight = Math.min(Math.max(Number.isFinite(w) ? w : 0, 0), 0.999);
  if (weight === 0) return [...values];
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}
