// The arithmetic behind a run chart's keyboard use, kept out of the component so it can be tested
// without a canvas: which step a key moves the cursor to, and the x range a zoom button shows.
// Steps are the chart's x values, sorted ascending (uPlot's aligned data).

/** The first and last index of `xs` inside [min, max] (the zoomed view), or null when none is. */
export function shownIndexes(xs: ArrayLike<number>, min: number, max: number): [number, number] | null {
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as number;
    if (x < min || x > max) continue;
    if (lo < 0) lo = i;
    hi = i;
  }
  return lo < 0 ? null : [lo, hi];
}

/**
 * The index a key moves the cursor to, from `from` (null: no cursor yet) within the shown indexes
 * [lo, hi]; null for a key the chart leaves alone. Left/Right one step, PageUp/PageDown a tenth of
 * the view, Home/End its ends. No wrapping: a cursor at the end stays there, as a slider's does.
 */
export function cursorTarget(key: string, from: number | null, lo: number, hi: number): number | null {
  const page = Math.max(1, Math.round((hi - lo) / 10));
  const at = from === null ? null : Math.min(Math.max(from, lo), hi);
  switch (key) {
    case 'ArrowRight':
      return at === null ? lo : Math.min(hi, at + 1);
    case 'ArrowLeft':
      return at === null ? hi : Math.max(lo, at - 1);
    case 'PageDown':
      return at === null ? lo : Math.min(hi, at + page);
    case 'PageUp':
      return at === null ? hi : Math.max(lo, at - page);
    case 'Home':
      return lo;
    case 'End':
      return hi;
    default:
      return null;
  }
}

/** The narrowest view a zoom button goes to, in steps. */
export const MIN_SPAN = 2;

/**
 * The x range after zooming the view [min, max] by `factor` (½ in, 2 out) around `center`, kept
 * inside the data's [first, last] and no narrower than MIN_SPAN.
 */
export function zoomed(
  view: { min: number; max: number },
  full: { min: number; max: number },
  factor: number,
  center = (view.min + view.max) / 2,
): { min: number; max: number } {
  const whole = full.max - full.min;
  const span = Math.min(whole, Math.max(Math.min(MIN_SPAN, whole), (view.max - view.min) * factor));
  const min = Math.min(Math.max(center - span / 2, full.min), full.max - span);
  return { min, max: min + span };
}
