// The forms of the symbolic dims the builders write (ir/graph.ts): a name an input carries ('B', 'T',
// 'S', 'P', 'Pj', …), 'N' for the batch's rows (B·T), 'k*X' (k times X), 'X+k'; '?' is unknown.
// One reading of them for what computes with them: passes/hoist-shapes.ts rebuilds shapes from the
// inputs, passes/rematerialize.ts sizes values, and tests/training/symbolic-dims.test.ts checks the
// builders' names against runs.

import type { Dim } from './graph.ts';

export type DimForm =
  | { kind: 'name'; name: string }
  | { kind: 'product'; of: [string, string] }
  | { kind: 'times'; k: number; of: string }
  | { kind: 'plus'; of: string; k: number };

/** How a symbolic dim is made; null for '?'. */
export function parseDim(d: string): DimForm | null {
  if (d === '?') return null;
  if (d === 'N') return { kind: 'product', of: ['B', 'T'] };
  const times = /^(\d+)\*(\w+)$/.exec(d);
  if (times) return { kind: 'times', k: Number(times[1]), of: times[2] };
  const plus = /^(\w+)\+(\d+)$/.exec(d);
  if (plus) return { kind: 'plus', of: plus[1], k: Number(plus[2]) };
  return { kind: 'name', name: d };
}

/**
 * A dim's value given the names' values (`lookup`, undefined where unknown): a name it knows is
 * taken as is, else the dim is worked out from its form; null where a name it needs is unknown.
 */
export function dimValue(d: Dim, lookup: (name: string) => number | undefined): number | null {
  if (typeof d === 'number') return d;
  const known = lookup(d);
  if (known !== undefined) return known;
  const form = parseDim(d);
  const of = (name: string) => dimValue(name, lookup);
  switch (form?.kind) {
    case 'product': {
      const [a, b] = form.of.map(of);
      return a === null || b === null ? null : a * b;
    }
    case 'times': {
      const x = of(form.of);
      return x === null ? null : form.k * x;
    }
    case 'plus': {
      const x = of(form.of);
      return x === null ? null : x + form.k;
    }
    default:
      return null;
  }
}
