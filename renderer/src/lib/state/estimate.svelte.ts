// The Train page's cost estimate ('runs/estimate'): re-asked without calibration (cheap, no engine
// run) a moment after each form change, and with calibration (two real training steps) on request.
// Answers that arrive after a newer request are dropped, and a failure clears the last answer, so
// the panel always matches the form.

import { errorMessage, type RpcClient } from '../rpc/client.ts';
import type { RunEstimate, RunParams } from '../rpc/handlers.ts';

const DEBOUNCE_MS = 300;

export class Estimate {
  current = $state.raw<RunEstimate | null>(null);
  error = $state<string | null>(null);
  loading = $state(false);
  measuring = $state(false);
  /** What the measurement is doing ("step 1 of 3", a model loading): minutes at desktop sizes. */
  measuringNote = $state<string | null>(null);
  /** The params `current` answers (JSON), so a refusal is never read against other params. */
  #answered = $state('');
  #rpc: RpcClient;
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #key = '';

  constructor(rpc: RpcClient) {
    this.#rpc = rpc;
  }

  /** Schedules an uncalibrated estimate for these params (skipped when they did not change). */
  update(params: RunParams | null): void {
    const key = JSON.stringify(params);
    if (key === this.#key) return;
    this.#key = key;
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

  /**
   * Why runs/start would refuse `params` for memory (the engine's own check, worded for the wizard),
   * once the estimate of these very params says so; null otherwise (runs/start still judges).
   */
  refusalFor(params: RunParams | null): string | null {
    if (!params || JSON.stringify(params) !== this.#answered) return null;
    return this.current?.memory.problem ?? null;
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#seq++;
  }

  async #ask(params: RunParams, calibrate: boolean): Promise<void> {
    const seq = ++this.#seq;
    this.loading = true;
    this.measuring = calibrate;
    this.measuringNote = null;
    const unfollow = calibrate
      ? this.#rpc.subscribe('jobs/progress', (j) => {
          if (seq === this.#seq && j.kind === 'calibrate' && j.state === 'running' && j.message)
            this.measuringNote = j.message;
        })
      : null;
    try {
      // Measuring runs real training steps at the form's batch and length: at desktop sizes they
      // take minutes (a 1.1B model's three steps of 4 × 512 on a loaded 2-core CPU ran past the 5
      // minutes once allowed, while the measurement went on), so it gets no deadline.
      const res = await this.#rpc.callWith(
        'runs/estimate',
        { ...params, calibrate },
        { timeoutMs: calibrate ? null : 60_000 },
      );
      if (seq !== this.#seq) return;
      this.current = res;
      this.#answered = JSON.stringify(params);
      this.error = null;
    } catch (err) {
      if (seq !== this.#seq) return;
      // The old numbers were for another configuration: never leave them beside the error.
      this.current = null;
      this.error = errorMessage(err);
    } finally {
      unfollow?.();
      if (seq === this.#seq) {
        this.loading = false;
        this.measuring = false;
        this.measuringNote = null;
      }
    }
  }
}
