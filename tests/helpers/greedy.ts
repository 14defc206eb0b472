// Checks a cached greedy generation against cache-free forward passes of the whole sequence: every
// generated token must be the argmax of the full pass's logits at the position before it.

import assert from 'node:assert/strict';
import { argmax } from '../../native-runtime/generation/sampling.ts';
import type { ModelSpec } from '../../native-runtime/models/config.ts';
import { loadForwardModel, runForward } from '../../native-runtime/runtime/forward.ts';

export async function assertCacheFreeGreedy(
  spec: ModelSpec,
  prompts: number[][],
  generated: number[][],
): Promise<void> {
  const full = await loadForwardModel(spec);
  for (const [row, prompt] of prompts.entries()) {
    const seq = [...prompt, ...generated[row]];
    const n = seq.length - 1; // the last token was sampled, never fed
    const out = await runForward(
      full,
      BigInt64Array.from(seq.slice(0, n), BigInt),
      new BigInt64Array(n).fill(1n),
      [1, n],
    );
    const logits = out.logits.data as Float32Array;
    const V = logits.length / n;
    for (let t = prompt.length - 1; t < n; t++) {
      const step = logits.subarray(t * V, (t + 1) * V);
      const best = argmax(step);
      const got = seq[t + 1];
      // A different token is only acceptable at a numerical tie (cached vs full sums round differently).
      if (got !== best)
        assert.ok(
          step[best] - step[got] < 1e-4,
          `row ${row} position ${t}: cached ${got}, full pass ${best}`,
        );
    }
  }
}
