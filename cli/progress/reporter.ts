// The one progress reporter of every long CLI command (training, resume, downloads, runtime packs,
// quantization, imports, benchmarks, evaluation). A command asks for a task — train(), transfer()
// or count() — and feeds it numbers; the reporter decides how they are shown:
//   'bar'     a terminal: a live bar redrawn in place (bar.ts, through cli-progress); logs above it
//   'lines'   a pipe, a file, CI: one plain line at a steady interval — every 5% of the total (every
//             ceil(total/20) training steps), at least every 30 s (10 s with no known total) — plus
//             the first and always the last
//   'events'  --json on a streaming command: JSON-lines events on stderr (progress-events.ts), every
//             training step, transfers and counts at most every 250 ms, plus the last; a run's
//             device once its session exists. The result is the command's one object on stdout.
//   'quiet'   --quiet: nothing (results and errors are still printed by the command)
//
// USING IT FROM A COMMAND (see README "Progress and events"):
//   const t = ctx.progress.transfer({ label: 'model.safetensors', totalBytes });
//   t.update(bytesSoFar);            // as often as you like; the reporter throttles
//   t.done();                        // the last value is always shown
//   ctx.progress.log('resolved revision main'); ctx.print(resultJson, () => 'human summary');
// Training: ctx.progress.train({ totalSteps, runId }).update(trainProgress) per optimizer step.

import type {
  ProgressEvent,
  RunCheckpointEvent,
  RunDeviceEvent,
  StreamEvent,
  TrainProgress,
} from '../../electron/backend/jobs/progress-events.ts';
import { BarSink } from './bar.ts';
import type { Sink, TaskView } from './sink.ts';

export type { Sink, TaskView } from './sink.ts';

import { terminalSafeJson } from '../terminal-text.ts';
import { fieldsOf, plainLine } from './format.ts';

export type ReporterMode = 'bar' | 'lines' | 'events' | 'quiet';

export interface ReporterOptions {
  mode: ReporterMode;
  /** Where progress and notes go: stderr (plain lines, or JSON lines in 'events' mode). */
  write: (s: string) => void;
  /** 'events' mode: only checkpoint events and alerts (--json --quiet). */
  quiet?: boolean;
  /** 'bar' mode: the terminal (stderr). */
  stream?: NodeJS.WriteStream;
  /** 'bar' mode: colours (off when NO_COLOR is set). */
  color?: boolean;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface TrainTask {
  /** One optimizer step's numbers (the trainer's TrainProgress). */
  update(p: TrainProgress): void;
  done(): void;
}

export interface TransferTask {
  /** Bytes moved so far (absolute), and the total when it becomes known. */
  update(bytes: number, totalBytes?: number | null): void;
  done(): void;
}

export interface CountTask {
  /**
   * Units done so far (absolute), and the total when it becomes known. `perS`: a rate the caller
   * timed itself, shown instead of the reporter's estimate (whole milliseconds over the last 5 s), so
   * a line can state exactly the figure the command then reports.
   */
  update(done: number, total?: number | null, perS?: number): void;
  done(): void;
}

export interface Reporter {
  readonly mode: ReporterMode;
  train(o: { totalSteps: number; runId?: number }): TrainTask;
  transfer(o: { label: string; totalBytes?: number | null }): TransferTask;
  count(o: { label: string; unit: string; total?: number | null }): CountTask;
  /**
   * A note for people (shown above the bar, as a line, or as a log event). 'alert': a warning that
   * --quiet must not hide (who can reach the studio), a warn event under --json --quiet too.
   */
  log(message: string, level?: 'info' | 'warn' | 'alert'): void;
  /** A checkpoint written (a line, a field of the bar, or a checkpoint event). */
  checkpoint(c: Omit<RunCheckpointEvent, 'event'>): void;
  /** Where a run's steps run, once its session exists (a device event in the stream). */
  device(d: Omit<RunDeviceEvent, 'event'>): void;
  /** Ends the display (the bar's last frame stays on screen). Idempotent. */
  close(): void;
}

/** Progress value and total of a snapshot, in the task's own unit. */
function position(e: ProgressEvent): { value: number; total: number | null } {
  if (e.kind === 'train') return { value: e.step, total: e.totalSteps };
  if (e.kind === 'transfer') return { value: e.bytes, total: e.totalBytes };
  return { value: e.done, total: e.total };
}

const LINES_PER_RUN = 20;
const LINE_EVERY_MS = 30_000;
const LINE_EVERY_MS_UNKNOWN_TOTAL = 10_000;

class LinesSink implements Sink {
  #printed = new Map<number, { value: number; at: number; evalLoss: boolean }>();
  constructor(
    readonly write: (s: string) => void,
    readonly now: () => number,
  ) {}

  #print(t: TaskView): void {
    const evalLoss = t.event.kind === 'train' && t.event.evalLoss !== undefined;
    this.#printed.set(t.id, { value: position(t.event).value, at: this.now(), evalLoss });
    this.write(`${plainLine(fieldsOf(t.event, t.smoothedLoss))}\n`);
  }

  progress(t: TaskView): void {
    if (this.#due(t)) this.#print(t);
  }

  /** First value, last value, each 5% of the total, or the time interval since the last line. */
  #due(t: TaskView): boolean {
    const { value, total } = position(t.event);
    const last = this.#printed.get(t.id);
    if (!last) return true;
    // A step reported again is printed when it brings the held-out loss its line lacked (a resume).
    if (value === last.value)
      return !last.evalLoss && t.event.kind === 'train' && t.event.evalLoss !== undefined;
    if (total !== null && value >= total) return true;
    if (total) {
      const every = Math.max(1, Math.ceil(total / LINES_PER_RUN));
      if (Math.floor(value / every) > Math.floor(last.value / every)) return true;
    }
    return this.now() - last.at >= (total ? LINE_EVERY_MS : LINE_EVERY_MS_UNKNOWN_TOTAL);
  }

  finish(t: TaskView): void {
    if (this.#printed.get(t.id)?.value !== position(t.event).value) this.#print(t);
  }

  log(message: string, level: 'info' | 'warn'): void {
    this.write(`${level === 'warn' ? 'warning: ' : ''}${message}\n`);
  }

  checkpoint(c: RunCheckpointEvent): void {
    this.write(`checkpoint: ${c.dir}\n`);
  }

  close(): void {}
}

const EVENT_EVERY_MS = 250;

class EventsSink implements Sink {
  #emitted = new Map<number, { value: number; at: number }>();
  constructor(
    readonly write: (s: string) => void,
    readonly quiet: boolean,
    readonly now: () => number,
  ) {}

  #emit(e: StreamEvent): void {
    this.write(`${terminalSafeJson(e)}\n`);
  }

  #progress(t: TaskView): void {
    this.#emitted.set(t.id, { value: position(t.event).value, at: this.now() });
    this.#emit(t.event);
  }

  progress(t: TaskView): void {
    if (!this.quiet && this.#due(t)) this.#progress(t);
  }

  /** Every training step (as the backend pushes them); bytes and counts at most every 250 ms. */
  #due(t: TaskView): boolean {
    const last = this.#emitted.get(t.id);
    const { value, total } = position(t.event);
    if (t.event.kind === 'train' || !last || (total !== null && value >= total)) return true;
    return value !== last.value && this.now() - last.at >= EVENT_EVERY_MS;
  }

  finish(t: TaskView): void {
    if (!this.quiet && this.#emitted.get(t.id)?.value !== position(t.event).value) this.#progress(t);
  }

  log(message: string, level: 'info' | 'warn', evenQuiet = false): void {
    if (!this.quiet || evenQuiet)
      this.#emit({ event: 'log', message, ...(level === 'warn' ? { level } : {}) });
  }

  checkpoint(c: RunCheckpointEvent): void {
    this.#emit(c);
  }

  device(d: RunDeviceEvent): void {
    if (!this.quiet) this.#emit(d);
  }

  close(): void {}
}

const quietSink: Sink = { progress() {}, finish() {}, log() {}, checkpoint() {}, close() {} };

/** Rate over the last few seconds of (time, value) samples. */
class RateMeter {
  #samples: [number, number][] = [];
  push(at: number, value: number): void {
    this.#samples.push([at, value]);
    while (this.#samples.length > 2 && at - this.#samples[0][0] > 5000) this.#samples.shift();
  }
  perS(): number {
    if (this.#samples.length < 2) return 0;
    const [t0, v0] = this.#samples[0];
    const [t1, v1] = this.#samples[this.#samples.length - 1];
    return t1 > t0 ? ((v1 - v0) * 1000) / (t1 - t0) : 0;
  }
}

const LOSS_SMOOTHING = 0.9;

export function createReporter(o: ReporterOptions): Reporter {
  const now = o.now ?? Date.now;
  const sink: Sink =
    o.mode === 'events'
      ? new EventsSink(o.write, o.quiet === true, now)
      : o.mode === 'lines'
        ? new LinesSink(o.write, now)
        : o.mode === 'bar' && o.stream
          ? new BarSink(o.stream, o.color !== false, now)
          : quietSink;
  let nextId = 1;
  let closed = false;

  const newView = (event: ProgressEvent): TaskView => ({
    id: nextId++,
    startedAt: now(),
    event,
    at: now(),
    smoothedLoss: Number.NaN,
    checkpointStep: null,
    finished: false,
    updated: false,
  });
  const elapsed = (v: TaskView) => (now() - v.startedAt) / 1000;
  const finish = (v: TaskView) => {
    if (v.finished) return;
    v.finished = true;
    // A task that never got a number (stopped before its first step) has nothing to show.
    if (v.updated) sink.finish(v);
  };
  let lastTrain: TaskView | null = null;

  return {
    mode: o.mode,
    train({ totalSteps, runId }) {
      const v = newView({
        event: 'progress',
        kind: 'train',
        ...(runId !== undefined ? { runId } : {}),
        step: 0,
        totalSteps,
        epoch: 0,
        loss: Number.NaN,
        lr: 0,
        gradNorm: 0,
        tokensPerS: 0,
        etaS: 0,
        elapsedS: 0,
      });
      lastTrain = v;
      let ema = 0;
      let n = 0;
      // A resumed run may report its checkpoint's step again (with the held-out loss a pause
      // stopped): the same step's loss, averaged once.
      let averagedStep = -1;
      return {
        update(p) {
          if (Number.isFinite(p.loss) && p.step !== averagedStep) {
            averagedStep = p.step;
            ema = LOSS_SMOOTHING * ema + (1 - LOSS_SMOOTHING) * p.loss;
            n++;
            v.smoothedLoss = ema / (1 - LOSS_SMOOTHING ** n);
          }
          v.event = {
            event: 'progress',
            kind: 'train',
            ...(runId !== undefined ? { runId } : {}),
            step: p.step,
            totalSteps: p.totalSteps,
            epoch: p.epoch,
            loss: p.loss,
            lr: p.lr,
            gradNorm: p.gradNorm,
            tokensPerS: p.tokensPerS,
            etaS: p.etaS,
            ...(p.evalLoss !== undefined ? { evalLoss: p.evalLoss } : {}),
            elapsedS: elapsed(v),
          };
          v.at = now();
          v.updated = true;
          sink.progress(v);
        },
        done: () => finish(v),
      };
    },
    transfer({ label, totalBytes = null }) {
      const rate = new RateMeter();
      const v = newView({
        event: 'progress',
        kind: 'transfer',
        label,
        bytes: 0,
        totalBytes,
        bytesPerS: 0,
        etaS: null,
        elapsedS: 0,
      });
      return {
        update(bytes, total) {
          const t = total === undefined ? (v.event as { totalBytes: number | null }).totalBytes : total;
          rate.push(now(), bytes);
          const perS = rate.perS();
          v.event = {
            event: 'progress',
            kind: 'transfer',
            label,
            bytes,
            totalBytes: t,
            bytesPerS: perS,
            etaS: t !== null && perS > 0 ? Math.max(0, t - bytes) / perS : null,
            elapsedS: elapsed(v),
          };
          v.at = now();
          v.updated = true;
          sink.progress(v);
        },
        done: () => finish(v),
      };
    },
    count({ label, unit, total = null }) {
      const rate = new RateMeter();
      const v = newView({
        event: 'progress',
        kind: 'count',
        label,
        unit,
        done: 0,
        total,
        perS: 0,
        etaS: null,
        elapsedS: 0,
      });
      return {
        update(done, newTotal, measured) {
          const t = newTotal === undefined ? (v.event as { total: number | null }).total : newTotal;
          rate.push(now(), done);
          const perS = measured ?? rate.perS();
          v.event = {
            event: 'progress',
            kind: 'count',
            label,
            unit,
            done,
            total: t,
            perS,
            etaS: t !== null && perS > 0 ? Math.max(0, t - done) / perS : null,
            elapsedS: elapsed(v),
          };
          v.at = now();
          v.updated = true;
          sink.progress(v);
        },
        done: () => finish(v),
      };
    },
    log(message, level = 'info') {
      sink.log(message, level === 'alert' ? 'warn' : level, level === 'alert');
    },
    checkpoint(c) {
      if (lastTrain && (c.runId === undefined || c.runId === (lastTrain.event as { runId?: number }).runId))
        lastTrain.checkpointStep = c.step;
      sink.checkpoint({ event: 'checkpoint', ...c });
    },
    device(d) {
      sink.device?.({ event: 'device', ...d });
    },
    close() {
      if (closed) return;
      closed = true;
      sink.close();
    },
  };
}
