// The Train page's cost estimate ('runs/estimate'): re-asked without calibration (cheap, no engine
// run) a moment after each form change, and with calibration (two real training steps) on request.
// Answers that arrive after a newer request are dropped, and a failure clears the last answer, so
// the panel always matches the form. A measurement holds the training device for minutes at desktop
// sizes, and a batch refused at the max length waits on the data's token count (its longest example
// decides the memory check: minutes for a big dataset, said as it goes): either can be stopped
// (stop()), and one whose answer nobody would see any more — the form changed, the page was left —
// is stopped too, so that it never keeps the device or the count busy for nothing.

import { errorMessage, newRequestId, type RpcClient, RpcError } from '../rpc/client.ts';
import type { RunEstimate, RunParams } from '../rpc/handlers.ts';
import { MemoryCheckCount } from './memory-check-count.svelte.ts';

const DEBOUNCE_MS = 300;

export class Estimate {
  current = $state.raw<RunEstimate | null>(null);
  error = $state<string | null>(null);
  loading = $state(false);
  measuring = $state(false);
  /** What the measurement is doing ("step 1 of 3", a model loading): minutes at desktop sizes. */
  measuringNote = $state<string | null>(null);
  /** The last measurement was stopped before it measured anything. */
  stopped = $state(false);
  /** The token count the estimate waits on (its memory check), as far as it is. */
  readonly count = new MemoryCheckCount();
  /** The last estimate was stopped while it waited on that count: it has no numbers. */
  countStopped = $state(false);
  /** The params `current` answers (JSON), so a refusal is never read against other params. */
  #answered = $state('');
  #rpc: RpcClient;
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #key = '';
  /** The estimate in flight (its requestId, for runs/estimate-cancel and its count's progress). */
  #requestId: string | null = null;

  constructor(rpc: RpcClient) {
    this.#rpc = rpc;
  }

  /** How far that count is; null when the estimate waits on none. */
  get counting(): { done: number; total: number | null } | null {
    return this.count.progress;
  }

  /** What the estimate waits for while it counts: "Counting the data’s tokens…: 1,000 of 60,000 examples". */
  get countingNote(): string | null {
    return this.count.note;
  }

  /** Schedules an uncalibrated estimate for these params (skipped when they did not change). */
  update(params: RunParams | null): void {
    const key = JSON.stringify(params);
    if (key === this.#key) return;
    this.#key = key;
    this.stopped = false;
    this.countStopped = false;
    this.stop();
    if (this.#timer) clearTimeout(this.#timer);
    if (!params) {
      this.#seq++;
      this.current = null;
      this.error = null;
      this.loading = false;
      return;
    }
    this.#timer = setTimeout(() => void this.#ask(params, false), DEBOUNCE_MS);
  }

  /** Measures real speed on the device (slower: runs a few training steps). */
  measure(params: RunParams): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    return this.#ask(params, true);
  }

  /** Asks again, unmeasured, after a stopped count (the count starts over). */
  again(params: RunParams): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    return this.#ask(params, false);
  }

  /**
   * Why runs/start would refuse `params` for memory (the engine's own check, worded for the wizard),
   * once the estimate of these very params says so; null otherwise (runs/start still judges).
   */
  refusalFor(params: RunParams | null): string | null {
    if (!params || JSON.stringify(params) !== this.#answered) return null;
    return this.current?.memory.problem ?? null;
  }

  /**
   * Stops the estimate in flight: its measurement ("Measurement stopped"), or the token count it
   * waits on (stopped in the backend unless another request waits on it too).
   */
  stop(): void {
    if (this.#requestId)
      this.#rpc.call('runs/estimate-cancel', { requestId: this.#requestId }).catch(() => {});
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.stop();
    this.#seq++;
  }

  async #ask(params: RunParams, calibrate: boolean): Promise<void> {
    // A measurement still going answers for params the form no longer has: stopped, not waited on.
    this.stop();
    const seq = ++this.#seq;
    const requestId = newRequestId(calibrate ? 'measure' : 'estimate');
    this.#requestId = requestId;
    this.loading = true;
    this.measuring = calibrate;
    this.measuringNote = null;
    this.countStopped = false;
    if (calibrate) this.stopped = false;
    const unfollowMeasuring = calibrate
      ? this.#rpc.subscribe('jobs/progress', (j) => {
          if (seq === this.#seq && j.kind === 'calibrate' && j.state === 'running' && j.message)
            this.measuringNote = j.message;
        })
      : null;
    const unfollowCount = this.count.follow(this.#rpc, requestId, () => seq === this.#seq);
    try {
      // No deadline: measuring runs real training steps at the form's batch and length, minutes at
      // desktop sizes (a 1.1B model's three steps of 4 × 512 on a loaded 2-core CPU ran past the 5
      // minutes once allowed, while the measurement went on), and the memory check may wait minutes
      // on the data's token count (it gave up after 60 s while the count went on, unsaid). Both
      // show how far they are and can be stopped.
      const res = await this.#rpc.callWith(
        'runs/estimate',
        { ...params, calibrate, requestId },
        { timeoutMs: null },
      );
      if (seq !== this.#seq) return;
      this.current = res;
      this.#answered = JSON.stringify(params);
      this.error = null;
    } catch (err) {
      if (seq !== this.#seq) return;
      const cancelled = err instanceof RpcError && err.code === 'cancelled';
      // Stopped while it counted the data's tokens: no numbers for these params, and the count is
      // not started again by itself (again() does).
      if (cancelled && this.counting) {
        this.current = null;
        this.error = null;
        this.countStopped = true;
        return;
      }
      // Stopped on request: the numbers shown stay (asked again, unmeasured, if they were for others).
      if (cancelled && calibrate) {
        this.stopped = true;
        this.#requestId = null;
        const key = JSON.stringify(params);
        if (this.#answered !== key && this.#key === key) void this.#ask(params, false);
        return;
      }
      // The old numbers were for another configuration: never leave them beside the error.
      this.current = null;
      this.error = errorMessage(err);
    } finally {
      unfollowMeasuring?.();
      unfollowCount();
      if (this.#requestId === requestId) this.#requestId = null;
      if (seq === this.#seq) {
        this.loading = false;
        this.measuring = false;
        this.measuringNote = null;
        this.count.progress = null;
      }
    }
  }
}
