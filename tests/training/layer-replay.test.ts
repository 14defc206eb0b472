// Layer replay in training (training/recompute.ts): the trainer decides it from the run's own batch
// and length against the memory the weights leave, says so in the run's log, and a replayed run
// trains exactly as one that keeps its activations.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { interventionKey } from '../../native-runtime/interventions/kinds.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { ReftModel } from '../../native-runtime/training/reft-model.ts';
import { HouseholderParam } from '../../native-runtime/training/stiefel.ts';
import { train } from '../../native-runtime/training/trainer.ts';
import { setEnvFor } from '../helpers/env.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { constantRows, llamaRun, tempDir, writeJsonl } from './helpers.ts';

const dir = tempDir();
const spec = loadModelSpec(modelDir('llama'));

function loreft(layer: number) {
  const n = spec.hiddenSize,
    r = 2;
  const rot = HouseholderParam.fromR(
    Float32Array.from({ length: n * r }, (_, i) => (i % (r + 1) === 0 ? 1 : 0)),
    n,
    r,
  );
  return {
    spec: {
      key: interventionKey(layer, 0),
      layer,
      type: 'loreft' as const,
      rank: r,
      embedDim: n,
      act: 'linear' as const,
      dropout: 0,
    },
    params: new Map([
      ['rotate_layer', { data: rot.forward(), shape: [n, r] }],
      ['weight', { data: new Float32Array(r * n), shape: [r, n] }],
      ['bias', { data: new Float32Array(r), shape: [r] }],
    ]),
    rot,
  };
}

describe('layer replay', () => {
  it('follows the workload: a small batch keeps its activations, a huge one replays', async (t) => {
    setEnvFor(t, 'REFT_STUDIO_RECOMPUTE', undefined);
    const small = await ReftModel.load(spec, [loreft(1)], { workload: { batch: 1, tokens: 32 } });
    assert.equal(small.recompute, false);
    // ~2^30 sequences: more than any computer's memory, whatever this machine has.
    const huge = await ReftModel.load(spec, [loreft(1)], { workload: { batch: 2 ** 30, tokens: 32 } });
    assert.equal(huge.recompute, true);
    const none = await ReftModel.load(spec, [loreft(1)]);
    assert.equal(none.recompute, false, 'no training workload, nothing to replay');
  });

  it('a replayed run logs it and trains step for step as the kept one', async (t) => {
    const data = writeJsonl(join(dir, 'd.jsonl'), constantRows('yes').slice(0, 8));
    const base = llamaRun(data, { epochs: 1 });
    setEnvFor(t, 'REFT_STUDIO_RECOMPUTE', '0');
    const keptLog: string[] = [];
    const kept = await train({ ...base, out: join(dir, 'kept') }, { onLog: (m) => keptLog.push(m) });
    process.env.REFT_STUDIO_RECOMPUTE = '1';
    const replayLog: string[] = [];
    const replayed = await train(
      { ...base, out: join(dir, 'replayed') },
      { onLog: (m) => replayLog.push(m) },
    );
    assert.ok(
      replayLog.some((l) => /replaying each layer in the backward/.test(l)),
      replayLog.join('\n'),
    );
    assert.ok(!keptLog.some((l) => /replaying/.test(l)), keptLog.join('\n'));
    assert.equal(replayed.metrics.length, kept.metrics.length);
    for (const [i, m] of replayed.metrics.entries()) {
      const ref = kept.metrics[i].loss;
      // The same float32 ops in another order: equal to rounding.
      assert.ok(Math.abs(m.loss - ref) <= 1e-5 * Math.abs(ref), `step ${m.step}: ${m.loss} vs ${ref}`);
    }
  });
});
