// Axis helpers for the SVG charts: "nice" tick values and linear scales.

/** About `count` round tick values covering [min, max] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/** A domain widened to whole tick steps around [min, max], with its ticks (for the value axis). */
export function niceDomain(
  min: number,
  max: number,
  count = 5,
): { min: number; max: number; ticks: number[] } {
  const inner = niceTicks(min, max, count);
  if (inner.length < 2) return { min, max, ticks: inner };
  const step = (inner[1] as number) - (inner[0] as number);
  const lo = Number((Math.floor(min / step) * step).toPrecision(12));
  const hi = Number((Math.ceil(max / step) * step).toPrecision(12));
  return {
    min: lo,
    max: hi === lo ? lo + step : hi,
    ticks: niceTicks(lo, hi === lo ? lo + step : hi, count),
  };
}

/** Linear map from [d0, d1] to [r0, r1]; a degenerate domain maps to the middle of the range. */
export function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  if (d1 === d0) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}
