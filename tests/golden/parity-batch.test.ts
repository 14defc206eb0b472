// A `debug` batch file that does not fit the model or the adapter is refused with one line naming
// the tensor, before ONNX Runtime runs: not a Gather error, a wrong-sized tensor, or a position past
// the row silently not intervened on (pyreft fails on it).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
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

test('debug forward without an adapter refuses intervention positions instead of ignoring them', async () => {
  // The ReFT golden batch holds intervention_locations: without an adapter nothing would be placed
  // and the base model's logits would come back as if they were the intervened ones.
  await assert.rejects(debugForward(modelDir('llama'), undefined, join(c, 'golden_reft.safetensors')), {
    code: 'no-adapter',
    message: /'intervention_locations' given but no adapter to place: add --adapter PYREFT_DIR/,
  });
  // A batch without them is the base model's forward, as before.
  const out = await debugForward(
    modelDir('llama'),
    undefined,
    batch('base', (t) => {
      delete t.intervention_locations;
    }),
  );
  assert.deepEqual(out.logits.shape, [...golden.get('input_ids')!.shape, 640]);
});

test('a refused batch is refused before the base is converted (debug forward --quantize)', () => {
  const home = join(tmp, 'home');
  const bad = batch('cli-vocab', (t) => {
    (t.input_ids.data as BigInt64Array)[4] = 5000n;
  });
  const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
  const args = ['debug', 'forward', '--model', modelDir('llama'), '--adapter', join(c, 'pyreft_init')];
  const r = spawnSync(
    process.execPath,
    [BIN, ...args, '--batch', bad, '--out', join(tmp, 'x.safetensors'), '--quantize', 'int8'],
    { encoding: 'utf8', env: { ...process.env, REFT_STUDIO_HOME: home } },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: .*'input_ids' holds 5000, outside the model's vocabulary/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  // No int8 store was written for a command that could not run.
  assert.equal(existsSync(join(home, 'bases')), false);
});
