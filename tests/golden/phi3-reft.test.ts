// ReFT on Phi-3 (fused qkv_proj / gate_up_proj, sliding window): the qwen2-loreft-f1l1 case's batch
// and pyreft_init LoReFT parameters (layers 0 and 2, rank 4) on the phi3 fixture, against the
// hand-written PyTorch Phi-3 that made it (golden_reft.safetensors there: loss, logits and, by
// autograd, the gradient of every trained tensor, R's taken with respect to R itself). pyreft's own
// golden cases cover the intervention's semantics; this covers the backward the engine derives
// through Phi-3's graph. The tolerances are reft-parity.test.ts's.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSafetensors } from '../../native-runtime/formats/safetensors.ts';
import { debugForward, debugGrad, debugTrain } from '../../native-runtime/training/parity.ts';
import { maxAbsDiffMasked, modelDir, REFT, relErr } from '../helpers/fixtures.ts';

describe('ReFT on phi3: loss, logits and gradients against the PyTorch reference', () => {
  const model = modelDir('phi3');
  const adapter = join(REFT, 'qwen2-loreft-f1l1', 'pyreft_init');
  const batch = join(REFT, 'qwen2-loreft-f1l1', 'golden_reft.safetensors');
  const golden = loadSafetensors(join(model, 'golden_reft.safetensors'));

  it('debug forward: loss and logits within 1e-4', async () => {
    const out = await debugForward(model, adapter, batch);
    const loss = (out.loss.data as Float32Array)[0];
    const want = (golden.get('loss')!.data as Float32Array)[0];
    assert.ok(Math.abs(loss - want) <= 1e-4, `loss ${loss} vs ${want}`);
    const err = maxAbsDiffMasked(
      out.logits.data as Float32Array,
      golden.get('logits')!.data as Float32Array,
      loadSafetensors(batch).get('attention_mask')!.data as BigInt64Array,
      out.logits.shape[2],
    );
    assert.ok(err <= 1e-4, `logit error ${err}`);
  });

  it('debug grad: every gradient within relative 1e-4', async () => {
    const out = await debugGrad(model, adapter, batch);
    const wanted = [...golden.keys()].filter((k) => k.startsWith('grad/'));
    assert.equal(wanted.length, 12);
    for (const name of wanted) {
      const [, key, param] = name.split('/');
      const ours = param === 'R' ? 'rotate_layer' : param.replace('learned_source.', '');
      const got = out[`grad/${key}/${ours}`];
      assert.ok(got, `no gradient grad/${key}/${ours}`);
      const e = relErr(got.data as Float32Array, golden.get(name)!.data as Float32Array);
      assert.ok(e <= 1e-4, `${name}: relative error ${e}`);
    }
  });

  it('debug train: 20 AdamW steps lower the loss', async () => {
    const out = await debugTrain(model, adapter, batch, 20, 0.005);
    const losses = out.losses.data as Float32Array;
    assert.ok(losses[20] < 0.9 * losses[0], `loss ${losses[0]} → ${losses[20]}`);
  });
});
