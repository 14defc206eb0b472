import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import { readPyreftFolder } from './pyreft.ts';
import { encodeSafetensors, loadSafetensors } from './safetensors.ts';
import {
  exportToPyreftFolder,
  MANIFEST_FILE,
  pyreftToStudio,
  readStudioAdapter,
  studioToPyreft,
  TENSORS_FILE,
  validateManifest,
  writeStudioAdapter,
} from './studio-adapter.ts';

const REFT = 'tests/fixtures/golden/reft';
const META = {
  positions: 'f1+l1',
  baseModel: { arch: 'gpt2', fingerprint: 'sha256:abc' },
  createdAt: '2025-01-02T03:04:05.000Z',
};

function tmp(): string {
  return join(tempDir('studio-'), 'adapter');
}

test('pyreft → studio adapter folder → read back: same tensors, manifest as specified', () => {
  const py = readPyreftFolder(join(REFT, 'gpt2-loreft-f1l1', 'pyreft_final'));
  const studio = pyreftToStudio(py, { ...META, runId: 'run-1', metrics: { loss: 21.6 } });
  const dir = tmp();
  writeStudioAdapter(dir, studio);
  assert.deepEqual(readdirSync(dir).sort(), [TENSORS_FILE, MANIFEST_FILE].sort());
  const m = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8'));
  assert.equal(m.format, 'reft-studio-adapter');
  assert.equal(m.version, 1);
  assert.deepEqual(m.layers, [1]);
  assert.equal(m.shareWeights, false); // f+l defaults to untied, as pyreft does
  assert.equal(m.rank, 4);
  assert.equal(m.hiddenSize, 64);
  assert.deepEqual(
    m.interventions.map((iv: { type: string }) => iv.type),
    ['loreft', 'loreft'],
  );
  const names = [...loadSafetensors(join(dir, TENSORS_FILE)).keys()].sort();
  assert.deepEqual(names.slice(0, 3), [
    'layer_1_comp_block_output_unit_pos_nunit_1#0/R',
    'layer_1_comp_block_output_unit_pos_nunit_1#0/bias',
    'layer_1_comp_block_output_unit_pos_nunit_1#0/weight',
  ]);
  const back = readStudioAdapter(dir);
  assert.deepEqual(back.manifest, studio.manifest);
  assert.deepEqual(
    back.interventions.map((iv) => iv.params),
    py.interventions.map((iv) => iv.params),
  );
});

test('studio → pyreft carries a sidecar; export reads back to the same parameters', () => {
  const py = readPyreftFolder(join(REFT, 'llama-direft', 'pyreft_final'));
  const studio = pyreftToStudio(py, {
    ...META,
    positions: 'l3',
    dropout: 0.05,
    activation: 'relu',
    promptTemplate: '<|user|>{p}',
  });
  const src = tmp();
  writeStudioAdapter(src, studio);
  const dest = tmp();
  exportToPyreftFolder(src, dest, { model: { hiddenSize: 64, numLayers: 4 } });
  const again = readPyreftFolder(dest);
  assert.deepEqual(again.sidecar, studioToPyreft(studio).sidecar);
  assert.equal(again.sidecar?.activation, 'relu');
  const R0 = py.interventions[0].params.R.data;
  const R1 = again.interventions[0].params.R.data;
  for (let i = 0; i < R0.length; i++) assert.ok(Math.abs(R0[i] - R1[i]) < 1e-6);
  assert.deepEqual(
    again.interventions[0].params['learned_source.weight'],
    py.interventions[0].params['learned_source.weight'],
  );
  // and back into the studio: the sidecar supplies positions and base model
  const st2 = pyreftToStudio(again);
  assert.equal(st2.manifest.positions, 'l3');
  assert.equal(st2.manifest.dropout, 0.05);
});

test('importing without positions/base model (no sidecar) asks for them', () => {
  const py = readPyreftFolder(join(REFT, 'llama-noreft', 'pyreft_init'));
  assert.throws(
    () => pyreftToStudio(py),
    (e: { code: string; message: string }) =>
      e.code === 'missing-metadata' && /positions and baseModel/.test(e.message),
  );
});

test('manifest validation names the field at fault', () => {
  const py = readPyreftFolder(join(REFT, 'llama-noreft', 'pyreft_init'));
  const good = pyreftToStudio(py, { ...META, positions: 'f1+l2' }).manifest;
  const bad = (edit: (m: Record<string, unknown>) => void) => {
    const m = structuredClone(good) as unknown as Record<string, unknown>;
    edit(m);
    return m;
  };
  assert.throws(
    () =>
      validateManifest(
        bad((m) => (m.format = 'x')),
        'm',
      ),
    { code: 'bad-manifest' },
  );
  assert.throws(
    () =>
      validateManifest(
        bad((m) => (m.version = 2)),
        'm',
      ),
    { code: 'unsupported-version' },
  );
  assert.throws(
    () =>
      validateManifest(
        bad((m) => (m.rank = 8)),
        'm',
      ),
    { code: 'rank-mismatch' },
  );
  assert.throws(
    () =>
      validateManifest(
        bad((m) => (m.layers = [1])),
        'm',
      ),
    /layers/,
  );
  assert.throws(
    () =>
      validateManifest(
        bad((m) => (m.positions = 'middle')),
        'm',
      ),
    /positions/,
  );
  assert.throws(
    () =>
      validateManifest(
        bad((m) => delete m.baseModel),
        'm',
      ),
    /baseModel/,
  );
  assert.throws(
    () =>
      validateManifest(
        bad((m) => ((m.interventions as Array<{ type: string }>)[0].type = 'lora')),
        'm',
      ),
    /lora/,
  );
});

test('tensors that disagree with the manifest are refused', () => {
  const py = readPyreftFolder(join(REFT, 'llama-noreft', 'pyreft_init'));
  const dir = tmp();
  writeStudioAdapter(dir, pyreftToStudio(py, { ...META, positions: 'f1+l2' }));
  const t = loadSafetensors(join(dir, TENSORS_FILE));
  const all = Object.fromEntries(
    [...t].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.data }]),
  );
  writeFileSync(
    join(dir, TENSORS_FILE),
    encodeSafetensors({ ...all, 'stray/x': { dtype: 'F32', shape: [1], data: new Float32Array(1) } }),
  );
  assert.throws(() => readStudioAdapter(dir), { code: 'unexpected-tensor' });
  const key = py.interventions[0].key;
  const { [`${key}/proj_layer.weight`]: _dropped, ...rest } = all;
  writeFileSync(
    join(dir, TENSORS_FILE),
    encodeSafetensors({
      ...rest,
      [`${key}/proj_layer.weight`]: { dtype: 'F32', shape: [2, 64], data: new Float32Array(128) },
    }),
  );
  assert.throws(
    () => readStudioAdapter(dir),
    (e: { code: string; message: string }) =>
      e.code === 'rank-mismatch' && e.message.includes(`${key}/proj_layer.weight`),
  );
});
