// Every fixture model reproduces transformers' logits and hidden states (golden_forward.safetensors)
// and its greedy continuation with a KV cache. Tolerances from the fixtures' README: 1e-4 absolute on
// logits where the attention mask is 1 (2e-3 for llama-bf16), exact greedy tokens.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSafetensors } from '../../native-runtime/formats/safetensors.ts';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { loadForwardModel, runForward } from '../../native-runtime/runtime/forward.ts';
import { MODEL_ARCHS, maxAbsDiffMasked, modelDir } from '../helpers/fixtures.ts';

for (const arch of MODEL_ARCHS) {
  describe(`golden forward: ${arch}`, () => {
    const tol = arch === 'llama-bf16' ? 2e-3 : 1e-4;
    const dir = modelDir(arch);
    const golden = loadSafetensors(`${dir}/golden_forward.safetensors`);
    const spec = loadModelSpec(dir);

    it(`logits and hidden states within ${tol}`, async () => {
      const m = await loadForwardModel(spec, { hiddenStates: true });
      const ids = golden.get('input_ids')!;
      const mask = golden.get('attention_mask')!.data as BigInt64Array;
      const [B, T] = ids.shape;
      const r = await runForward(m, ids.data as BigInt64Array, mask, [B, T]);
      assert.deepEqual(r.logits.dims, [B, T, spec.vocabSize]);
      const err = maxAbsDiffMasked(
        r.logits.data as Float32Array,
        golden.get('logits')!.data as Float32Array,
        mask,
        spec.vocabSize,
      );
      assert.ok(err <= tol, `max logit error ${err} > ${tol}`);
      assert.equal(r.hidden.length, spec.numLayers + 1);
      r.hidden.forEach((h, i) => {
        const e = maxAbsDiffMasked(
          h.data as Float32Array,
          golden.get(`hidden_states.${i}`)!.data as Float32Array,
          mask,
          spec.hiddenSize,
        );
        assert.ok(e <= tol, `hidden_states.${i} error ${e}`);
      });
    });

    it('greedy continuation with the KV cache is identical, also in a left-padded batch', async () => {
      const prefix = Array.from(golden.get('greedy_prefix')!.data as BigInt64Array, Number);
      const want = Array.from(golden.get('greedy_output')!.data as BigInt64Array, Number);
      const gen = await Generator.load(spec);
      const n = want.length - prefix.length;
      // Row 1 is shorter, so row 0 shares the batch with a left-padded neighbour.
      const r = await gen.generate([prefix, prefix.slice(0, 3)], {
        greedy: true,
        maxNewTokens: n,
        eosTokenIds: [],
      });
      assert.deepEqual([...prefix, ...r.tokens[0]], want);
      const alone = await gen.generate([prefix.slice(0, 3)], {
        greedy: true,
        maxNewTokens: n,
        eosTokenIds: [],
      });
      assert.deepEqual(r.tokens[1], alone.tokens[0], 'padding changed a row');
    });
  });
}
