// Parity with pyreft on every golden ReFT case, through the same library functions as
// `reft-studio debug forward|grad|train` and the adapters imported from the pyreft_init folders:
// - loss and logits with the initial parameters within 1e-4 (logits where the attention mask is 1;
//   pyreft's sink token at position 0 is masked),
// - every golden gradient within a relative error of 1e-4 (max |Δ| / max |golden|), R's gradient
//   taken with respect to R itself,
// - 20 AdamW steps (lr from the case, same batch) end within 5% of pyreft's loss, either side (a
//   much lower loss is as much a divergence as a higher one).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSafetensors } from '../../native-runtime/formats/safetensors.ts';
import { debugForward, debugGrad, debugTrain } from '../../native-runtime/training/parity.ts';
import { maxAbsDiffMasked, modelDir, REFT, REFT_CASES, reftMeta, relErr } from '../helpers/fixtures.ts';

/** The golden file's name for one of our output names. */
function goldenName(intervention: string, name: string): string {
  if (name === 'rotate_layer') return 'R';
  if (intervention === 'LoreftIntervention' && (name === 'weight' || name === 'bias'))
    return `learned_source.${name}`;
  return name;
}

for (const c of REFT_CASES) {
  describe(`pyreft parity: ${c}`, () => {
    const meta = reftMeta(c);
    const dir = join(REFT, c);
    const model = modelDir(meta.arch);
    const batch = join(dir, 'golden_reft.safetensors');
    const golden = loadSafetensors(batch);

    it('debug forward: loss and logits within 1e-4', async () => {
      const out = await debugForward(model, join(dir, 'pyreft_init'), batch);
      const loss = (out.loss.data as Float32Array)[0];
      assert.ok(
        Math.abs(loss - (golden.get('loss')!.data as Float32Array)[0]) <= 1e-4,
        `loss ${loss} vs ${meta.loss0}`,
      );
      const V = out.logits.shape[2];
      const err = maxAbsDiffMasked(
        out.logits.data as Float32Array,
        golden.get('logits')!.data as Float32Array,
        golden.get('attention_mask')!.data as BigInt64Array,
        V,
      );
      assert.ok(err <= 1e-4, `logit error ${err}`);
    });

    it('debug grad: every golden gradient within relative 1e-4', async () => {
      const out = await debugGrad(model, join(dir, 'pyreft_init'), batch);
      const compared = new Set<string>();
      for (const [k, v] of Object.entries(out)) {
        if (!k.startsWith('grad/')) continue;
        const [, key, ...rest] = k.split('/');
        const name = `grad/${key}/${goldenName(meta.intervention, rest.join('/'))}`;
        const want = golden.get(name);
        assert.ok(want, `no golden gradient for ${k}`);
        const e = relErr(v.data as Float32Array, want.data as Float32Array);
        assert.ok(e <= 1e-4, `${k}: relative error ${e}`);
        compared.add(name);
      }
      // Every golden gradient of a trained tensor must have been produced, by name (a count would
      // let one tensor compared twice hide another never compared).
      const wanted = [...golden.keys()].filter(
        (k) =>
          k.startsWith('grad/') &&
          !k.endsWith('.original') &&
          ((golden.get(k)?.data ?? []) as Float32Array).some((x) => x !== 0),
      );
      assert.ok(wanted.length > 0, 'the case has golden gradients');
      const missing = wanted.filter((k) => !compared.has(k));
      assert.deepEqual(missing, [], `golden gradients never produced: ${missing.join(', ')}`);
    });

    it('debug train: 20 steps end within 5% of pyreft’s loss, either side', async () => {
      const out = await debugTrain(model, join(dir, 'pyreft_init'), batch, 20, meta.lr);
      const losses = out.losses.data as Float32Array;
      assert.ok(Math.abs(losses[0] - meta.losses[0]) < 1e-4);
      const ratio = losses[20] / meta.losses[20];
      assert.ok(
        Math.abs(ratio - 1) <= 0.05,
        `final loss ${losses[20]} vs pyreft ${meta.losses[20]} (ratio ${ratio.toFixed(4)})`,
      );
      assert.ok(losses[20] < losses[0], 'training did not lower the loss');
    });
  });
}
