// AdamW over a ReftModel's trainable tensors: every parameter except R, plus the trivialization X
// of each R (stiefel.ts), whose gradient is pulled back from dL/dR. After a step R is recomputed from
// X, so it stays exactly orthonormal. Gradient accumulation sums scaled micro-batch gradients here.

import { type AdamState, AdamW, clipGradNorm } from './optimizer.ts';
import type { ReftModel } from './reft-model.ts';

interface Slot {
  state: number;
  name: string;
  data: Float32Array;
}

export class ReftOptimizer {
  readonly model: ReftModel;
  readonly slots: Slot[];
  readonly adam: AdamW;
  #acc: Float32Array[] | null = null;
  #micro = 0;

  constructor(model: ReftModel, cfg: { weightDecay?: number; beta1?: number; beta2?: number; eps?: number }) {
    this.model = model;
    this.slots = [];
    model.states.forEach((s, k) => {
      for (const [name, p] of s.params)
        if (name !== 'rotate_layer') this.slots.push({ state: k, name, data: p.data });
      if (s.rot)
        this.slots.push({ state: k, name: 'rotate_layer.parametrizations.weight.original', data: s.rot.x });
    });
    this.adam = new AdamW(
      this.slots.map((s) => s.data),
      { lr: 0, ...cfg },
    );
  }

  /** Adds one micro-batch's gradients, scaled by `scale` (1 / accumulation steps). */
  accumulate(grads: Map<string, Float32Array>[], scale: number): void {
    const per = this.slots.map((slot) => {
      const st = this.model.states[slot.state];
      if (slot.name === 'rotate_layer.parametrizations.weight.original')
        return st.rot!.backward(grads[slot.state].get('rotate_layer')!);
      return grads[slot.state].get(slot.name)!;
    });
    if (!this.#acc) this.#acc = per.map((g) => new Float32Array(g.length));
    per.forEach((g, k) => {
      const a = this.#acc![k];
      for (let i = 0; i < g.length; i++) a[i] += g[i] * scale;
    });
    this.#micro++;
  }

  /** Applies the accumulated gradients; returns the global gradient norm before clipping. */
  step(lr: number, maxGradNorm = 0): number {
    if (!this.#acc) throw new Error('ReftOptimizer.step without gradients');
    const norm = clipGradNorm(this.#acc, maxGradNorm);
    this.adam.step(
      this.slots.map((s) => s.data),
      this.#acc,
      lr,
    );
    this.#acc = null;
    this.#micro = 0;
    this.model.refreshRotations();
    return norm;
  }

  get pendingMicroBatches(): number {
    return this.#micro;
  }

  exportState(): AdamState {
    return this.adam.state;
  }

  importState(s: AdamState): void {
    this.adam.state = s;
  }
}
