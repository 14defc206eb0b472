// The terminal form of the progress reporter: one live line per task, redrawn in place by
// cli-progress (its MultiBar, so notes print above the bars without breaking them). The line is
// built here from the same fields as the plain lines (format.ts), fitted to the terminal's width —
// low-priority fields go first on a narrow terminal — with elapsed time and ETA ticking between
// updates. Colour only on the bar itself, and none when NO_COLOR is set.
//
// The line never exceeds the width: cli-progress then leaves the terminal's line wrapping alone
// (linewrap: true), so a killed process cannot leave the terminal with wrapping switched off.

import cliProgress from 'cli-progress';
import type { CheckpointEvent, ProgressEvent } from '../../electron/backend/jobs/progress-events.ts';
import { type Field, fieldsOf, fitFields, fractionOf } from './format.ts';
import type { Sink, TaskView } from './reporter.ts';

const FULL = '\u2588';
const EMPTY = '\u2591';
const CYAN = '\x1b[36m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';
/** Redraw from update() itself when the event loop is busy (work on the main thread). */
const SYNC_REDRAW_MS = 200;

/** The snapshot with elapsed time and ETA advanced to `now` (they tick between updates). */
function live(v: TaskView, now: number): ProgressEvent {
  const e = v.event;
  const elapsedS = v.finished ? e.elapsedS : (now - v.startedAt) / 1000;
  if (v.finished || e.etaS === null) return { ...e, elapsedS };
  return { ...e, elapsedS, etaS: Math.max(0, e.etaS - (now - v.at) / 1000) };
}

export class BarSink implements Sink {
  #multi: cliProgress.MultiBar | null = null;
  #bars = new Map<number, { bar: cliProgress.SingleBar; view: TaskView }>();
  #lastDraw = 0;
  #closed = false;

  constructor(
    readonly stream: NodeJS.WriteStream,
    readonly color: boolean,
    readonly now: () => number,
  ) {}

  #multiBar(): cliProgress.MultiBar {
    this.#multi ??= new cliProgress.MultiBar({
      stream: this.stream,
      fps: 10,
      linewrap: true,
      hideCursor: false,
      clearOnComplete: false,
      format: (_o, params, payload: { view: TaskView }) => this.line(payload.view, params.maxWidth),
    });
    return this.#multi;
  }

  /** One task's line for a terminal `width` columns wide (visible characters < width). */
  line(v: TaskView, width: number): string {
    const e = live(v, this.now());
    const fields: Field[] = fieldsOf(e, v.smoothedLoss);
    if (v.checkpointStep !== null && e.kind === 'train')
      fields.splice(fields.length - 1, 0, { text: `ckpt ${v.checkpointStep}`, rank: 7 });
    const fraction = fractionOf(e);
    // Escape codes count against cli-progress's width cut-off although they take no columns.
    const escapes = this.color ? CYAN.length + DIM.length + 2 * RESET.length : 0;
    const room = width - 1 - escapes;
    const barWidth = fraction === null ? 0 : Math.max(10, Math.min(30, Math.floor(room / 4)));
    const kept = fitFields(fields, room - (barWidth ? barWidth + 2 : 0));
    const [head, ...rest] = kept.map((f) => f.text);
    let bar = '';
    if (fraction !== null) {
      const full = Math.round(fraction * barWidth);
      bar = this.color
        ? `${CYAN}${FULL.repeat(full)}${RESET}${DIM}${EMPTY.repeat(barWidth - full)}${RESET}`
        : `${FULL.repeat(full)}${EMPTY.repeat(barWidth - full)}`;
    }
    const text = [head, ...(bar ? [bar] : []), ...rest].join('  ');
    if (text.length - (bar && this.color ? escapes : 0) <= room) return text;
    // Only the always-shown fields and still too wide: plain text, cut at the edge.
    return kept
      .map((f) => f.text)
      .join('  ')
      .slice(0, width - 1);
  }

  progress(v: TaskView): void {
    if (this.#closed) return;
    const known = this.#bars.get(v.id);
    if (!known) {
      const multi = this.#multiBar();
      this.#bars.set(v.id, { bar: multi.create(1, 0, { view: v }), view: v });
    }
    // The timer redraws at 10 fps while the event loop is free; when the work runs on this thread
    // (no timer gets a turn) the update draws itself.
    if (this.now() - this.#lastDraw >= SYNC_REDRAW_MS) this.#draw();
  }

  #draw(): void {
    this.#lastDraw = this.now();
    this.#multi?.update();
  }

  finish(v: TaskView): void {
    if (!this.#bars.has(v.id)) this.progress(v);
    this.#draw();
  }

  log(message: string, level: 'info' | 'warn'): void {
    const text = `${level === 'warn' ? 'warning: ' : ''}${message}\n`;
    if (!this.#multi || this.#closed) {
      this.stream.write(text);
      return;
    }
    this.#multi.log(text);
    this.#draw();
  }

  checkpoint(_c: CheckpointEvent): void {
    // Shown as the bar's `ckpt N` field (the reporter keeps the step): a line per checkpoint would
    // scroll the terminal.
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#multi?.stop();
  }
}
