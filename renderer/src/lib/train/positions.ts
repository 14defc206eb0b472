// The Positions option as the wizard edits it: "first N" and "last M" prompt tokens (either may be
// 0, not both) instead of the "fN+lM" text the backend and the CLI take. Parsing goes through the
// engine's parsePositions.

import { parsePositions } from '../../../../native-runtime/training/positions.ts';

export interface PositionCounts {
  first: number;
  last: number;
}

/**
 * What the control stores when both counts are 0: not a valid option (the engine refuses it in CLI
 * words), so the form recognizes it and asks for a token in its own.
 */
export const NO_POSITIONS = 'f0';

/** The counts of a positions text ({0, 0} for NO_POSITIONS); null when it does not parse. */
export function positionCounts(text: string | undefined): PositionCounts | null {
  if (text === NO_POSITIONS) return { first: 0, last: 0 };
  try {
    const p = parsePositions(text ?? 'f1+l1', Number.MAX_SAFE_INTEGER);
    return { first: p.first, last: p.last };
  } catch {
    return null;
  }
}

/**
 * Why a count typed in the control is not a count of tokens ('' is 0), or null: a fraction or a
 * negative number, or one past any prompt (1e21, which the option's text would spell "f1e+21").
 */
export function countProblem(typed: string, side: 'first' | 'last'): string | null {
  const t = typed.trim();
  if (t === '') return null;
  const n = Number(t);
  if (!Number.isInteger(n) || n < 0) return `${side} tokens must be a whole number (got ${t})`;
  if (!Number.isSafeInteger(n))
    return `${t} is too big for a count of ${side} tokens: at most the max length`;
  return null;
}

/** The option's text for counts ("f3+l3", "l1"); null when both are 0 (no token selected). */
export function positionsText(c: PositionCounts): string | null {
  const f = Math.max(0, Math.floor(c.first));
  const l = Math.max(0, Math.floor(c.last));
  if (f && l) return `f${f}+l${l}`;
  if (f) return `f${f}`;
  if (l) return `l${l}`;
  return null;
}
