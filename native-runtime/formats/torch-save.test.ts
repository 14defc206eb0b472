import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import { loadSafetensors } from './safetensors.ts';
import {
  encodeTorchFile,
  parseTorchFile,
  readTorchFile,
  readTorchFileFull,
  writeTorchFile,
} from './torch-save.ts';
import { parseZip } from './zip.ts';

const REFT = 'tests/fixtures/golden/reft';
const KEY = 'layer_1_comp_block_output_unit_pos_nunit_1#0';
const LOREFT_BIN = `${REFT}/gpt2-loreft-f1l1/pyreft_init/intkey_${KEY}.bin`;
const DIREFT_BIN = `${REFT}/llama-direft/pyreft_init/intkey_${KEY}.bin`;

test('reads a fixture into contiguous typed arrays', () => {
  const t = readTorchFile(LOREFT_BIN);
  assert.deepEqual([...t.keys()], ['weight', 'bias', 'rotate_layer']);
  const g = loadSafetensors(`${REFT}/gpt2-loreft-f1l1/golden_reft.safetensors`);
  assert.deepEqual(t.get('weight')!.data, g.get(`init/${KEY}/learned_source.weight`)!.data);
  assert.deepEqual(t.get('rotate_layer')!.data, g.get(`init/${KEY}/R`)!.data);
  assert.equal(t.get('rotate_layer')!.dtype, 'F32');
});

test('honours strides: the Householder base torch stores column-major', () => {
  const t = readTorchFileFull(DIREFT_BIN);
  const base = t.tensors.get('rotate_layer.parametrizations.weight.0.base')!;
  const g = loadSafetensors(`${REFT}/llama-direft/golden_reft.safetensors`);
  assert.deepEqual(base.data, g.get(`init/${KEY}/buffer:rotate_layer.parametrizations.weight.0.base`)!.data);
  assert.equal(t.tensors.get('embed_dim')!.dtype, 'I64');
  assert.equal((t.tensors.get('embed_dim')!.data as BigInt64Array)[0], 64n);
  assert.equal(t.metadata?.length, 8);
});

test('our LoReFT file equals torch.save byte for byte, apart from the serialization id', () => {
  const orig = readFileSync(LOREFT_BIN);
  const t = parseTorchFile(orig, 'x');
  const ours = encodeTorchFile(
    t.stem,
    [...t.tensors].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.raw }]),
  );
  assert.equal(ours.length, orig.length);
  const zo = parseZip(orig, 'orig');
  const zn = parseZip(ours, 'ours');
  for (const r of zo.records) {
    if (r.name.endsWith('serialization_id')) continue;
    assert.deepEqual(zn.read(r.name), zo.read(r.name), r.name);
    assert.equal(zn.get(r.name)!.dataOffset, r.dataOffset, r.name);
  }
});

test('write/read round trip over dtypes, scalars and empty tensors', () => {
  const dir = tempDir('torch-');
  const p = join(dir, 'x.bin');
  writeTorchFile(p, 'x', [
    ['f', { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, -6.5) }],
    ['d', { dtype: 'F64', shape: [2], data: Float64Array.of(Math.PI, -1e300) }],
    ['i', { dtype: 'I64', shape: [], data: BigInt64Array.of(-5n) }],
    ['b', { dtype: 'BF16', shape: [2], data: Uint16Array.of(0x3f80, 0xc000) }],
    ['e', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
  ]);
  const t = readTorchFile(p);
  assert.deepEqual([...t.keys()], ['f', 'd', 'i', 'b', 'e']);
  assert.deepEqual(t.get('f')!.data, Float32Array.of(1, 2, 3, 4, 5, -6.5));
  assert.deepEqual(t.get('d')!.data, Float64Array.of(Math.PI, -1e300));
  assert.deepEqual(t.get('i')!.data, BigInt64Array.of(-5n));
  assert.deepEqual(t.get('b')!.data, Float32Array.of(1, -2));
  assert.deepEqual(t.get('e')!.shape, [0, 4]);
});

test('a truncated file fails with truncated-file naming it; shape/byte mismatches are refused', () => {
  const dir = tempDir('torch-');
  const p = join(dir, 'intkey_cut.bin');
  const orig = readFileSync(LOREFT_BIN);
  writeFileSync(p, orig.subarray(0, 3000));
  assert.throws(
    () => readTorchFile(p),
    (e: { code: string; message: string }) =>
      e.code === 'truncated-file' && e.message.includes('intkey_cut.bin'),
  );
  assert.throws(() => readTorchFile(join(dir, 'nope.bin')), { code: 'missing-file' });
  assert.throws(
    () => encodeTorchFile('x', [['w', { dtype: 'F32', shape: [3], data: new Float32Array(2) }]]),
    { code: 'bad-shape' },
  );
});
