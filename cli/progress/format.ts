// The human text of a progress snapshot, shared by the live bar and the plain interval lines:
// durations, rates and the fields of each kind of task (training, transfer, count). Pure functions
// of the event (see electron/backend/jobs/progress-events.ts) plus the smoothed loss.
//
// Two losses, each under its own name: `loss` is the step's own (what --json, `runs show`, the
// studio's Last loss and the summary's "final loss" say), `avg` the moving average of recent steps
// (the reporter's smoothedLoss), which the live bar shows because a step's loss is noisy. The lines
// once printed the average as "loss", so the last step's line disagreed with the final loss below it.

import type {
  CountProgressEvent,
  ProgressEvent,
  TrainStepEvent,
  TransferProgressEvent,
} from '../../electron/backend/jobs/progress-events.ts';
import { displayWidth } from '../display-width.ts';
import { formatBytes } from '../units.ts';

/** 7s, 1m05s, 2h03m; '?' when unknown. */
export function formatDuration(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s) || s < 0) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/** 00:07, 01:05, 2:03:00 (tqdm's clock); ?? when unknown. */
export function formatClock(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s) || s < 0) return '??';
  const t = Math.round(s);
  const mm = String(Math.floor((t % 3600) / 60)).padStart(2, '0');
  const ss = String(t % 60).padStart(2, '0');
  return t >= 3600 ? `${Math.floor(t / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** 950, 15.9k, 1.2M: rates and counts in a narrow column. */
export function formatRate(x: number): string {
  if (!Number.isFinite(x)) return '?';
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)}M`;
  if (x >= 1e4) return `${Math.round(x / 1e3)}k`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x >= 100 ? String(Math.round(x)) : x.toFixed(1);
}

/** One field of a progress line, with a priority: the bar drops low ones on a narrow terminal. */
export interface Field {
  text: string;
  /** 0 = always shown; higher numbers are dropped first. */
  rank: number;
}

function trainFields(e: TrainStepEvent, smoothedLoss: number): Field[] {
  const w = String(e.totalSteps).length;
  // The average only once it differs from the step's loss (after the first step).
  const avg = smoothedLoss.toFixed(4) !== e.loss.toFixed(4) ? smoothedLoss : Number.NaN;
  return [
    { text: `step ${String(e.step).padStart(w)}/${e.totalSteps}`, rank: 0 },
    { text: `epoch ${e.epoch.toFixed(2)}`, rank: 3 },
    { text: `loss ${e.loss.toFixed(4)}`, rank: 0 },
    ...(Number.isFinite(avg) ? [{ text: `avg ${avg.toFixed(4)}`, rank: 1 }] : []),
    ...(e.evalLoss !== undefined ? [{ text: `eval ${e.evalLoss.toFixed(4)}`, rank: 2 }] : []),
    { text: `lr ${e.lr.toExponential(2)}`, rank: 4 },
    { text: `|g| ${e.gradNorm.toFixed(3)}`, rank: 6 },
    { text: `${formatRate(e.tokensPerS)} tok/s`, rank: 2 },
    { text: `elapsed ${formatDuration(e.elapsedS)}`, rank: 5 },
    { text: `eta ${formatDuration(e.etaS)}`, rank: 1 },
  ];
}

function transferFields(e: TransferProgressEvent): Field[] {
  const of = e.totalBytes !== null ? ` of ${formatBytes(e.totalBytes)}` : '';
  const pct = e.totalBytes ? ` (${Math.floor((100 * e.bytes) / e.totalBytes)}%)` : '';
  return [
    { text: `${e.label}:`, rank: 0 },
    { text: `${formatBytes(e.bytes)}${of}${pct}`, rank: 0 },
    { text: `${formatBytes(e.bytesPerS)}/s`, rank: 1 },
    { text: `elapsed ${formatDuration(e.elapsedS)}`, rank: 3 },
    { text: `eta ${formatDuration(e.etaS)}`, rank: 1 },
  ];
}

function countFields(e: CountProgressEvent): Field[] {
  const of = e.total !== null ? `/${e.total}` : '';
  return [
    { text: `${e.label}:`, rank: 0 },
    { text: `${e.done}${of} ${e.unit}`, rank: 0 },
    { text: `${formatRate(e.perS)} ${e.unit}/s`, rank: 2 },
    { text: `elapsed ${formatDuration(e.elapsedS)}`, rank: 3 },
    { text: `eta ${formatDuration(e.etaS)}`, rank: 1 },
  ];
}

/** The fields of a snapshot, in display order, for plain lines. `smoothedLoss` is used for training. */
export function fieldsOf(e: ProgressEvent, smoothedLoss = Number.NaN): Field[] {
  if (e.kind === 'train') return trainFields(e, Number.isNaN(smoothedLoss) ? e.loss : smoothedLoss);
  if (e.kind === 'transfer') return transferFields(e);
  return countFields(e);
}

/**
 * The terminal bar's compact fields: the first one goes before the bar, the rest after it.
 * `[elapsed<eta]` as tqdm writes it. Rank decides what a narrow terminal drops first.
 */
export function barFields(e: ProgressEvent, smoothedLoss: number, checkpointStep: number | null): Field[] {
  const clock = { text: `[${formatClock(e.elapsedS)}<${formatClock(e.etaS)}]`, rank: 1 };
  if (e.kind === 'train') {
    const loss = Number.isNaN(smoothedLoss) ? e.loss : smoothedLoss;
    return [
      { text: `${String(e.step).padStart(String(e.totalSteps).length)}/${e.totalSteps}`, rank: 0 },
      { text: `ep ${e.epoch.toFixed(2)}`, rank: 3 },
      { text: `avg loss ${loss.toFixed(4)}`, rank: 0 },
      ...(e.evalLoss !== undefined ? [{ text: `eval ${e.evalLoss.toFixed(4)}`, rank: 5 }] : []),
      { text: `lr ${e.lr.toExponential(1)}`, rank: 4 },
      { text: `${formatRate(e.tokensPerS)} tok/s`, rank: 2 },
      ...(checkpointStep !== null ? [{ text: `ckpt ${checkpointStep}`, rank: 6 }] : []),
      clock,
    ];
  }
  if (e.kind === 'transfer') {
    const of = e.totalBytes !== null ? `/${formatBytes(e.totalBytes)}` : '';
    return [
      { text: e.label, rank: 0 },
      { text: `${formatBytes(e.bytes)}${of}`, rank: 0 },
      { text: `${formatBytes(e.bytesPerS)}/s`, rank: 2 },
      clock,
    ];
  }
  return [
    { text: e.label, rank: 0 },
    { text: `${e.done}${e.total !== null ? `/${e.total}` : ''} ${e.unit}`, rank: 0 },
    { text: `${formatRate(e.perS)} ${e.unit}/s`, rank: 2 },
    clock,
  ];
}

/** The fields joined as one plain line (the non-terminal form). */
export function plainLine(fields: Field[]): string {
  return fields.map((f) => f.text).join('  ');
}

/**
 * The highest-priority fields that fit in `width` columns (joined by `sep` spaces), keeping their
 * order. Rank-0 fields always stay, even if the line then overflows. Widths are terminal columns.
 */
export function fitFields(fields: Field[], width: number, sep = 2): Field[] {
  let kept = fields;
  const len = (fs: Field[]) =>
    fs.reduce((n, f) => n + displayWidth(f.text), 0) + sep * Math.max(0, fs.length - 1);
  while (len(kept) > width) {
    const worst = Math.max(...kept.map((f) => f.rank));
    if (worst === 0) break;
    const i = kept.findLastIndex((f) => f.rank === worst);
    kept = kept.filter((_, j) => j !== i);
  }
  return kept;
}

/** 0..1 progress of a snapshot, or null when the total is unknown. */
export function fractionOf(e: ProgressEvent): number | null {
  if (e.kind === 'train') return e.totalSteps > 0 ? Math.min(1, e.step / e.totalSteps) : null;
  if (e.kind === 'transfer') return e.totalBytes ? Math.min(1, e.bytes / e.totalBytes) : null;
  return e.total ? Math.min(1, e.done / e.total) : null;
}
