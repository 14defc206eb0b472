// The terminal form of the progress reporter: one live line per task, redrawn in place by
// cli-progress (its MultiBar, so notes print above the bars without breaking them). The line is
// built here from compact fields (format.ts barFields) fitted to the terminal's width — low-priority
// fields go first on a narrow terminal — with elapsed time and ETA ticking between updates. Widths are
// terminal columns (display-width.ts): a label's CJK characters and emoji take two. Colour
// only on the bar itself, and none when NO_COLOR is set.
//
// cli-progress switches the terminal's line wrapping off while it draws (so a line one column too
// wide cannot scroll) and back on when it stops; a process 'exit' hook switches it back on too, in
// case the process ends without closing the reporter.

import { createRequire } from 'node:module';
import type { MultiBar, SingleBar } from 'cli-progress';
import type { ProgressEvent, RunCheckpointEvent } from '../../electron/backend/jobs/progress-events.ts';
import { visibleControls } from '../../native-runtime/control-characters.ts';
import { clipToWidth, displayWidth } from '../display-width.ts';
import { barFields, fitFields, fractionOf } from './format.ts';
import type { Sink, TaskView } from './sink.ts';

const FULL = '\u2588';
const EMPTY = '\u2591';
const CYAN = '\x1b[36m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';
const WRAP_ON = '\x1b[?7h';
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
  #multi: MultiBar | null = null;
  #bars = new Map<number, { bar: SingleBar; view: TaskView }>();
  #lastDraw = 0;
  #closed = false;
  #restoreWrap = () => this.stream.write(WRAP_ON);

  constructor(
    readonly stream: NodeJS.WriteStream,
    readonly color: boolean,
    readonly now: () => number,
  ) {}

  #multiBar(): MultiBar {
    if (!this.#multi) {
      // Loaded on first use: only a terminal needs it.
      const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
      this.#multi = new cliProgress.MultiBar({
        stream: this.stream,
        fps: 10,
        linewrap: false,
        hideCursor: false,
        clearOnComplete: false,
        format: (_o, params, payload: { view: TaskView }) => this.line(payload.view, params.maxWidth),
      });
      process.once('exit', this.#restoreWrap);
    }
    return this.#multi;
  }

  /** One task's line for a terminal `width` columns wide (fewer visible characters than that). */
  line(v: TaskView, width: number): string {
    const e = live(v, this.now());
    const [head, ...rest] = barFields(e, v.smoothedLoss, v.checkpointStep);
    const fraction = fractionOf(e);
    // The bar is a field too: at least 10 columns, kept before the rate and after the ETA (known by
    // identity, its text only holding its place's width).
    const bar = { text: ' '.repeat(10), rank: 1.5 };
    const fields = [head, ...(fraction !== null ? [bar] : []), ...rest];
    const kept = fitFields(fields, width - 1, 1);
    const used = kept.reduce((n, f) => n + displayWidth(f.text), 0) + kept.length - 1;
    const parts = kept.map((f) => {
      if (f !== bar || fraction === null) return f.text;
      const size = 10 + Math.max(0, Math.min(20, width - 1 - used));
      const full = Math.round(fraction * size);
      return this.color
        ? `${CYAN}${FULL.repeat(full)}${RESET}${DIM}${EMPTY.repeat(size - full)}${RESET}`
        : `${FULL.repeat(full)}${EMPTY.repeat(size - full)}`;
    });
    // Only the always-shown fields and still too wide: cut at the edge, between whole characters.
    return used < width ? parts.join(' ') : clipToWidth(parts.join(' '), width - 1);
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
    // Straight to the terminal, not through main's writer: its controls are made visible here.
    const text = `${level === 'warn' ? 'warning: ' : ''}${visibleControls(message)}\n`;
    if (!this.#multi || this.#closed) {
      this.stream.write(text);
      return;
    }
    this.#multi.log(text);
    this.#draw();
  }

  checkpoint(_c: RunCheckpointEvent): void {
    // Shown as the bar's `ckpt N` field (the reporter keeps the step): a line per checkpoint would
    // scroll the terminal.
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#multi?.stop();
    process.off('exit', this.#restoreWrap);
  }
}
