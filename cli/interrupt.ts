// Ctrl-C (SIGINT) for long CLI work. The first one is a request to stop cleanly: `requested` turns
// true and `signal` aborts — work that has natural stopping points (training: the end of a step)
// checks `requested` there and stops with its state saved. A second one within 2 seconds means
// "stop now": `onStopNow` handlers run. A later one only repeats the hint. While this is installed
// Node's default (exit at once, nothing saved) is off; release() restores it after a short grace
// period, so a Ctrl-C that lands while the command prints its result cannot cut it off.
//
// SIGTERM (`kill`, a service manager, a container stopping) counts as a Ctrl-C, a second within the
// window as "stop now" too. SIGHUP (the terminal closed) asks for the clean stop only and never
// escalates: a hangup can arrive twice (directly, and forwarded by the CUDA pack's launcher).
//
// Signals reach JavaScript only when the event loop turns: on the main thread, between two ONNX
// Runtime calls (each blocks the thread).

export const STOP_WINDOW_MS = 2000;

/** SIGINT listeners of released interrupts, kept for the grace period: they hear a Ctrl-C, do nothing. */
const graceListeners = new WeakSet<NodeJS.SignalsListener>();

/**
 * Whether a Ctrl-C now would be acted on by some SIGINT listener: not by one of a released
 * catchInterrupts only (the work is done, its result being written and printed).
 */
export function ctrlCActedOn(): boolean {
  return process.listeners('SIGINT').some((l) => !graceListeners.has(l));
}

export interface Interrupts {
  /** True once the first Ctrl-C came. */
  readonly requested: boolean;
  /** Aborted by the first Ctrl-C (for work that stops at once, e.g. a download). */
  readonly signal: AbortSignal;
  /** True once a second Ctrl-C came within the window. */
  readonly stopNow: boolean;
  /** Runs fn on "stop now" (at once if that already happened). */
  onStopNow(fn: () => void): void;
  release(): void;
}

export interface InterruptMessages {
  /** Said on the first Ctrl-C. */
  first: string;
  /** Said on the second. */
  stop: string;
}

export function catchInterrupts(
  say: (message: string) => void,
  messages: InterruptMessages = {
    first: 'stopping (Ctrl-C again within 2 s to stop at once)',
    stop: 'stopping now',
  },
  now: () => number = Date.now,
): Interrupts {
  const ac = new AbortController();
  const handlers: (() => void)[] = [];
  let last = 0;
  let stopNow = false;
  let isReleased = false;
  const onSigint = () => {
    if (isReleased) return;
    const t = now();
    if (!ac.signal.aborted) {
      last = t;
      say(messages.first);
      ac.abort();
      return;
    }
    if (stopNow) return;
    if (t - last > STOP_WINDOW_MS) {
      last = t;
      say(`still stopping; Ctrl-C again within ${STOP_WINDOW_MS / 1000} s to stop at once`);
      return;
    }
    stopNow = true;
    say(messages.stop);
    for (const fn of handlers.splice(0)) fn();
  };
  const onSighup = () => {
    if (!isReleased && !ac.signal.aborted) onSigint();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  process.on('SIGHUP', onSighup);
  return {
    get requested() {
      return ac.signal.aborted;
    },
    signal: ac.signal,
    get stopNow() {
      return stopNow;
    },
    onStopNow(fn) {
      if (stopNow) fn();
      else handlers.push(fn);
    },
    release() {
      if (isReleased) return;
      isReleased = true;
      graceListeners.add(onSigint);
      setTimeout(() => {
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
        process.off('SIGHUP', onSighup);
      }, STOP_WINDOW_MS).unref();
    },
  };
}
