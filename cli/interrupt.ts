// Ctrl-C (SIGINT) for long CLI work. The first one asks the work to stop cleanly: `signal` aborts,
// and training finishes its step, saves a checkpoint and returns paused. A second one within
// 2 seconds means "stop now": `onStopNow` handlers run (training terminates its engine worker,
// keeping the last checkpoint already on disk). A later one repeats the hint. While this is
// installed Node's default (exit at once, nothing saved) is off; `release()` restores it.

export const STOP_WINDOW_MS = 2000;

export interface Interrupts {
  /** Aborted by the first Ctrl-C. */
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
    first: 'stopping after this step (Ctrl-C again within 2 s to stop at once)',
    stop: 'stopping now',
  },
  now: () => number = Date.now,
): Interrupts {
  const ac = new AbortController();
  const handlers: (() => void)[] = [];
  let last = 0;
  let stopNow = false;
  const onSigint = () => {
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
  process.on('SIGINT', onSigint);
  return {
    signal: ac.signal,
    get stopNow() {
      return stopNow;
    },
    onStopNow(fn) {
      if (stopNow) fn();
      else handlers.push(fn);
    },
    release() {
      process.off('SIGINT', onSigint);
    },
  };
}
