// Round trip through an independent implementation: a studio adapter with non-trivial parameters is
// exported to pyreft format, loaded by tests/tools/torchref.py (plain PyTorch, torch.load with
// weights_only=True, Householder R from the stored parametrization) and run on a fixed batch; its
// logits must match the studio's own (ReftModel.forward) within 1e-4.
// Adapters: one trained here by train() (LoReFT, f1+l1 untied, 2 steps), a DiReFT adapter whose
// exported R is re-encoded as torch's Householder parametrization, and GPT-2 LoReFT.
// Needs Debian's python3-torch; skipped with a reason without it, except under CI.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { adapterStates } from '../../native-runtime/adapters/apply.ts';
import { exportPyreft, readAnyAdapter } from '../../native-runtime/adapters/folders.ts';
import { readPyreftFolder } from '../../native-runtime/formats/pyreft.ts';
import {
  pyreftToStudio,
  type StudioAdapter,
  writeStudioAdapter,
} from '../../native-runtime/formats/studio-adapter.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { interventionLocations, isUntied, parsePositions } from '../../native-runtime/training/positions.ts';
import { ReftModel } from '../../native-runtime/training/reft-model.ts';
import { train } from '../../native-runtime/training/trainer.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';
import { tmp } from './helpers.ts';
import { PYTHON, torchSkipReason } from './torch-python.ts';

const DRIVER = fileURLToPath(new URL('../tools/torchref_logits.py', import.meta.url));
const skip = torchSkipReason();

/** Two unpadded rows of 9 tokens; every position is real, so torchref needs no padding rule. */
const ROWS = [
  [1, 15, 27, 311, 42, 9, 88, 120, 7],
  [1, 400, 5, 61, 17, 230, 99, 3, 64],
];

async function compare(arch: string, adapter: StudioAdapter): Promise<number> {
  const dir = tmp('rt');
  const studioDir = join(dir, 'studio');
  writeStudioAdapter(studioDir, adapter);
  const pyDir = join(dir, 'pyreft');
  exportPyreft(studioDir, pyDir);

  const pos = parsePositions(adapter.manifest.positions);
  const n = adapter.interventions.length;
  const locs = ROWS.map((r) =>
    interventionLocations(r.length, pos, n, isUntied(pos, adapter.manifest.shareWeights)),
  );
  assert.ok(
    locs.flat(2).every((x) => x >= 0),
    'no padding slots in the fixed batch',
  );

  const spec = loadModelSpec(modelDir(arch));
  const model = await ReftModel.load(spec, adapterStates(readAnyAdapter(studioDir)));
  const B = ROWS.length,
    T = ROWS[0].length;
  const ours = await model.forward({
    inputIds: BigInt64Array.from(ROWS.flat(), BigInt),
    attentionMask: new BigInt64Array(B * T).fill(1n),
    dims: [B, T],
    locations: Array.from({ length: n }, (_, j) => {
      const P = locs[0][j].length;
      return {
        P,
        data: BigInt64Array.from(
          locs.flatMap((l) => l[j]),
          BigInt,
        ),
      };
    }),
  });
  await model.session.session.release();
  // The adapter must matter on this batch, or agreeing with the reference would prove nothing.
  const base = await ReftModel.load(spec, []);
  const plain = (
    await base.forward({
      inputIds: BigInt64Array.from(ROWS.flat(), BigInt),
      attentionMask: new BigInt64Array(B * T).fill(1n),
      dims: [B, T],
      locations: [],
    })
  ).logits.data as Float32Array;
  await base.session.session.release();
  let effect = 0;
  (ours.logits.data as Float32Array).forEach((x, i) => {
    effect = Math.max(effect, Math.abs(x - plain[i]));
  });
  assert.ok(effect > 1e-2, `the adapter barely changes the logits (${effect})`);

  const batch = join(dir, 'batch.json');
  writeFileSync(
    batch,
    JSON.stringify({ input_ids: ROWS, attention_mask: ROWS.map((r) => r.map(() => 1)), locations: locs }),
  );
  const r = spawnSync(PYTHON, [DRIVER, modelDir(arch), pyDir, batch], {
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 << 20,
  });
  assert.equal(r.status, 0, `torchref failed: ${r.stderr}`);
  const ref = JSON.parse(r.stdout) as { shape: number[]; logits: number[] };
  assert.deepEqual(ref.shape, ours.logits.dims);
  const a = ours.logits.data as Float32Array;
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - ref.logits[i]));
  return err;
}

test('trained LoReFT adapter (train(), 2 steps): studio logits = PyTorch reference logits within 1e-4', {
  skip,
}, async () => {
  const dir = tmp('train');
  const data = join(dir, 'data.jsonl');
  writeFileSync(
    data,
    ['hello there', 'how are you', 'tell me a story', 'what is two plus two']
      .map((p, i) => JSON.stringify({ prompt: p, completion: ` answer number ${i}` }))
      .join('\n'),
  );
  const res = await train({
    model: modelDir('llama'),
    data,
    out: join(dir, 'adapter'),
    layers: '1;2',
    positions: 'f1+l1',
    rank: 4,
    lr: 0.05,
    maxSteps: 2,
    batchSize: 2,
    seed: 3,
  });
  const adapter = readAnyAdapter(res.adapter);
  assert.equal(adapter.interventions.length, 4);
  const err = await compare('llama', adapter);
  assert.ok(err <= 1e-4, `max |Δ logits| = ${err}`);
});

test('DiReFT (R re-encoded as torch Householder tensors on export) and GPT-2 LoReFT agree with PyTorch within 1e-4', {
  skip,
}, async () => {
  const spec = loadModelSpec(modelDir('llama'));
  const direft = pyreftToStudio(readPyreftFolder(join(REFT, 'llama-direft', 'pyreft_final')), {
    positions: 'l3',
    baseModel: { arch: 'llama', fingerprint: spec.fingerprint },
  });
  const e1 = await compare('llama', direft);
  assert.ok(e1 <= 1e-4, `direft: max |Δ logits| = ${e1}`);
  const g = loadModelSpec(modelDir('gpt2'));
  const gpt2 = pyreftToStudio(readPyreftFolder(join(REFT, 'gpt2-loreft-f1l1', 'pyreft_final')), {
    positions: 'f1+l1',
    baseModel: { arch: 'gpt2', fingerprint: g.fingerprint },
  });
  const e2 = await compare('gpt2', gpt2);
  assert.ok(e2 <= 1e-4, `gpt2: max |Δ logits| = ${e2}`);
});
