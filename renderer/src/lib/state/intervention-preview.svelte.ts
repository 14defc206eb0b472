// The intervention preview's state: which example, the backend's answer for it ('runs/preview', the
// training code's own tokenization and positions) and which intervention is highlighted. Re-asked a
// moment after the form changes; an answer to an older question is dropped, and a failure clears the
// old answer so the page never shows tokens of another configuration.

import { errorMessage, type RpcClient } from '../rpc/client.ts';
import type { RunParams, RunPreview } from '../rpc/handlers.ts';

const DEBOUNCE_MS = 250;

export class InterventionPreviewState {
  index = $state(0);
  current = $state.raw<RunPreview | null>(null);
  error = $state<string | null>(null);
  loading = $state(false);
  /** The intervention whose positions are highlighted; null: all of them. */
  selected = $state<number | null>(null);
  #rpc: RpcClient;
  #params: RunParams | null = null;
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #key = '';
  /** The training data of the last params (dataset and version). */
  #data: string | null = null;

  constructor(rpc: RpcClient) {
    this.#rpc = rpc;
  }

  /** Follows the form: asks again (debounced) when the params or the example change. */
  update(params: RunParams | null): void {
    // Other data starts at its first example: an index kept from a longer dataset was refused
    // ("example 9 does not exist") with the pager gone, and nothing on the page could reset it.
    const data = JSON.stringify([params?.datasetId, params?.datasetVersionId]);
    if (params && this.#data !== null && data !== this.#data) this.index = 0;
    if (params) this.#data = data;
    this.#params = params;
    const key = JSON.stringify([params, this.index]);
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
    this.#timer = setTimeout(() => void this.#ask(params, this.index), DEBOUNCE_MS);
  }

  /**
   * Shows example `index` (0-based), kept within the examples there are. The number field gives
   * what was typed: not a number is ignored, a fraction ("2.5") is cut to a whole example — runs/preview
   * takes whole examples only, and its refusal left the preview without the field to put it right.
   */
  show(index: number): void {
    if (!Number.isFinite(index)) return;
    const n = this.current?.exampleCount ?? Number.POSITIVE_INFINITY;
    this.index = Math.max(0, Math.min(n - 1, Math.trunc(index)));
    this.update(this.#params);
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#seq++;
  }

  async #ask(params: RunParams, example: number): Promise<void> {
    const seq = ++this.#seq;
    this.loading = true;
    try {
      const res = await this.#rpc.call('runs/preview', { ...params, example });
      if (seq !== this.#seq) return;
      this.current = res;
      this.error = null;
      if (this.selected !== null && this.selected >= res.interventions.length) this.selected = null;
    } catch (err) {
      if (seq !== this.#seq) return;
      this.current = null;
      this.error = errorMessage(err);
    } finally {
      if (seq === this.#seq) this.loading = false;
    }
  }
}
