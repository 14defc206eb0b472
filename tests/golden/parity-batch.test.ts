// A `debug` batch file that does not fit the model or the adapter is refused with one line naming
// the tensor, before ONNX Runtime runs: not a Gather error, a wrong-sized tensor, or a position past
// the row silently not intervened on (pyreft fails on it).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  loadSafetensors,
  type TensorToWrite,
  writeSafetensors,
} from '../../native-runtime/formats/safetensors.ts';
import { debugForward } from '../../native-runtime/training/parity.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const c = join(REFT, 'llama-loreft-f2l2');
const golden = loadSafetensors(join(c, 'golden_reft.safetensors'));
const tmp = tempDir('reft-parity-batch-');

function batch(name: string, change: (t: Record<string, TensorToWrite>) => void): string {
  const t: Record<string, TensorToWrite> = {};
  for (const n of ['input_ids', 'attention_mask', 'labels', 'intervention_locations']) {
    const x = golden.get(n)!;
    t[n] = { dtype: 'I64', shape: [...x.shape], data: BigInt64Array.from(x.data as BigInt64Array) };
  }
  change(t);
  const path = join(tmp, `${name}.safetensors`);
  writeSafetensors(path, t);
  return path;
}

const refused = async (path: string, message: RegExp) =>
  assert.rejects(debugForward(modelDir('llama'), join(c, 'pyreft_init'), path), (e: Error) => {
    assert.match(e.message, message);
    return true;
  });

test('debug batches: shapes, token ids and positions are checked against the model and adapter', async () => {
  const [B, T] = golden.get('input_ids')!.shape;
  await refused(
    batch('flat', (t) => {
      t.input_ids.shape = [B * T];
      t.attention_mask.shape = [B * T];
    }),
    /input_ids \[45\] must be \[batch, tokens\]/,
  );
  await refused(
    batch('labels', (t) => {
      t.labels = { dtype: 'I64', shape: [B, T - 2], data: new BigInt64Array(B * (T - 2)).fill(-100n) };
    }),
    /labels \[3,13\] ≠ input_ids \[3,15\]/,
  );
  await refused(
    batch('vocab', (t) => {
      (t.input_ids.data as BigInt64Array)[4] = 5000n;
    }),
    /'input_ids' holds 5000, outside the model's vocabulary \[0, 639\]/,
  );
  await refused(
    batch('label-vocab', (t) => {
      (t.labels.data as BigInt64Array)[T - 1] = 640n;
    }),
    /'labels' holds 640/,
  );
  await refused(
    batch('position', (t) => {
      (t.intervention_locations.data as BigInt64Array)[0] = BigInt(T);
    }),
    /'intervention_locations' holds 15, outside the positions of a row \[0, 14\]/,
  );
  // The golden batch itself passes.
  const out = await debugForward(
    modelDir('llama'),
    join(c, 'pyreft_init'),
    batch('ok', () => {}),
  );
  assert.deepEqual(out.logits.shape, [B, T, 640]);
});
