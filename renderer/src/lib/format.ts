// Small display formatters shared by the pages.

import { byteSize } from '../../../native-runtime/byte-size.ts';

export function formatParams(n: unknown): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}K`;
  return String(n);
}

export function formatDate(v: unknown): string {
  if (typeof v !== 'string' && typeof v !== 'number') return '—';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function text(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Decimal units, one convention with the CLI and the engine's messages (native-runtime/byte-size.ts). */
export function formatBytes(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? byteSize(n) : '—';
}

export function formatDuration(s: number | null | undefined): string {
  if (typeof s !== 'number' || !Number.isFinite(s)) return '—';
  if (s < 1) return '< 1 s';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  const h = Math.floor(s / 3600);
  return `${h} h ${Math.round((s - h * 3600) / 60)} min`;
}

/** People's names for the metric keys the engine records (adapter manifests, evaluations, runs). */
const METRIC_LABELS: Record<string, string> = {
  finalLoss: 'Final loss',
  finalEvalLoss: 'Final eval loss',
  steps: 'Steps',
  epochs: 'Epochs',
  trainExamples: 'Training examples',
  evalExamples: 'Held-out examples',
  step: 'Step',
  epoch: 'Epoch',
  loss: 'Loss',
  evalLoss: 'Eval loss',
  lr: 'Learning rate',
  gradNorm: 'Grad norm',
  tokensPerS: 'Tokens/s',
  perplexity: 'Perplexity',
  exactMatch: 'Exact match',
  accuracy: 'Accuracy',
  examples: 'Examples',
  tokens: 'Tokens',
};

/** "tokensPerS" → "Tokens per s" for keys without a label of their own. */
function humanizeKey(k: string): string {
  const words = k
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** One metric for people: its label and its value at a sensible precision (never raw floats). */
export function formatMetric(key: string, value: number): { label: string; text: string } {
  const label = METRIC_LABELS[key] ?? humanizeKey(key);
  if (!Number.isFinite(value)) return { label, text: '—' };
  let text: string;
  if (key === 'lr') text = value.toExponential(2);
  else if (key === 'tokensPerS') text = formatCount(Math.round(value));
  else if (key === 'exactMatch' || key === 'accuracy')
    text = value <= 1 ? `${(value * 100).toFixed(1)}%` : String(Number(value.toPrecision(4)));
  else if (Number.isInteger(value)) text = formatCount(value);
  else if (Math.abs(value) >= 1000) text = formatCount(Math.round(value));
  else text = String(Number(value.toPrecision(4)));
  return { label, text };
}

/** A metrics object as "Loss 1.234 · Tokens/s 11,826" (in a stable, sensible order). */
export function formatMetrics(m: Record<string, number>): string {
  const order = Object.keys(METRIC_LABELS);
  const keys = Object.keys(m).sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  return (
    keys
      .map((k) => {
        const f = formatMetric(k, m[k] as number);
        return `${f.label} ${f.text}`;
      })
      .join(' · ') || '—'
  );
}

/**
 * A count for people, its thousands grouped: "20,287", as the metrics and token counts show them.
 * One locale everywhere (the CLI's and the engine's messages group the same way), not the system's.
 */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** A count and the noun agreeing with it: "1 row", "20,287 rows" (native-runtime/plural.ts, grouped). */
export function countText(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** "1 row", "20,287 rows". */
export function rowsText(n: number): string {
  return countText(n, 'row');
}

/**
 * Why an answer ended, in words: the engine's finish reasons ('eos', 'length', …) are its own
 * vocabulary, and the Playground showed 'eos' as it came.
 */
export function finishText(reason: string | null): string {
  switch (reason) {
    case 'eos':
      return 'the model ended its answer';
    case 'length':
      return 'hit the token limit';
    case 'context':
      return "filled the model's context";
    case 'stop':
      return 'reached a stop text';
    default:
      return reason ?? '';
  }
}

/**
 * A fraction as the percent a person typed (0.125 → 12.5, 0.07 → 7): not rounded to a whole
 * percent, which would show a held-out 12.5% as 13 while the run holds out 12.5%, and without
 * the float noise of 0.07 × 100 (7.000000000000001).
 */
export function percentOf(fraction: number): number {
  return Number((fraction * 100).toPrecision(12));
}
