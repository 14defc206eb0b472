import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import {
  canonicalKeys,
  checkAgainstModel,
  encodePyreftConfig,
  type InterventionType,
  type PyreftAdapter,
  parseInterventionKey,
  parseInterventionType,
  pyreftClassString,
  readPyreftFolder,
  writePyreftFolder,
} from './pyreft.ts';
import { readTorchFileFull } from './torch-save.ts';

const REFT = 'tests/fixtures/golden/reft';

/** Writable copy of a fixture folder (the fixtures are read-only). */
function copyFolder(src: string): string {
  const dst = join(tempDir('pyreft-'), 'adapter');
  mkdirSync(dst);
  for (const f of readdirSync(src)) writeFileSync(join(dst, f), readFileSync(join(src, f)));
  return dst;
}

/** The parts of pyvene's config.json the tests edit. */
interface ConfigJson {
  representations: unknown[][];
  intervention_dimensions: number[];
  intervention_types: string[];
  sorted_keys?: string[];
}

function editConfig(dir: string, edit: (c: ConfigJson) => void): void {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c, null, 2));
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** An orthonormal n×r R (first columns of a rotated identity) and random other params. */
function syntheticAdapter(type: InterventionType, n = 16, r = 3): PyreftAdapter {
  const u = seeded(42);
  const R = new Float32Array(n * r);
  const c = Math.cos(0.3);
  const s = Math.sin(0.3);
  for (let j = 0; j < r; j++) {
    R[2 * j * r + j] = c; // rotate pairs (2j, 2j+1): still orthonormal
    R[(2 * j + 1) * r + j] = s;
  }
  const vec = (len: number) => Float32Array.from({ length: len }, u);
  const params: Record<string, { shape: number[]; data: Float32Array }> =
    type === 'consreft' || type === 'lobireft'
      ? { R: { shape: [n, r], data: R }, learned_source: { shape: [r], data: vec(r) } }
      : {
          R: { shape: [n, r], data: R },
          'learned_source.weight': { shape: [r, n], data: vec(r * n) },
          'learned_source.bias': { shape: [r], data: vec(r) },
        };
  return {
    interventions: [2, 0, 2].map((layer, i) => ({
      key: canonicalKeys([2, 0, 2])[i],
      layer,
      component: 'block_output' as const,
      type,
      embedDim: n,
      rank: r,
      params,
    })),
  };
}

test('config.json is written byte-for-byte as pyreft writes it, for every fixture', () => {
  for (const c of readdirSync(REFT)) {
    for (const stage of ['pyreft_init', 'pyreft_final']) {
      const dir = join(REFT, c, stage);
      const a = readPyreftFolder(dir);
      assert.equal(
        encodePyreftConfig(a.interventions, a.transformersVersion),
        readFileSync(join(dir, 'config.json'), 'utf8'),
        `${c}/${stage}`,
      );
    }
  }
});

test('type strings and intervention keys parse in current and older forms', () => {
  assert.equal(parseInterventionType("<class 'pyreft.interventions.NodireftIntervention'>"), 'nodireft');
  assert.equal(parseInterventionType('pyreft.interventions.LobireftIntervention'), 'lobireft');
  assert.equal(parseInterventionType('ConsreftIntervention'), 'consreft');
  assert.equal(parseInterventionType("<class 'pyvene.models.interventions.VanillaIntervention'>"), undefined);
  assert.equal(pyreftClassString('loreft'), "<class 'pyreft.interventions.LoreftIntervention'>");
  assert.deepEqual(parseInterventionKey('layer_12_comp_block_output_unit_pos_nunit_1#1'), {
    layer: 12,
    component: 'block_output',
    k: 1,
  });
  assert.deepEqual(parseInterventionKey('layer.3.comp.block_output.unit.pos.nunit.1#0'), {
    layer: 3,
    component: 'block_output',
    k: 0,
  });
  assert.equal(parseInterventionKey('layer_x_comp'), undefined);
  assert.deepEqual(
    canonicalKeys([1, 2, 1, 2]),
    JSON.parse(readFileSync(join(REFT, 'llama-loreft-f2l2', 'pyreft_init', 'config.json'), 'utf8'))
      .sorted_keys,
  );
});

test('folders from older pyreft versions with dotted keys are read; exports use current keys', () => {
  const dir = copyFolder(join(REFT, 'llama-loreft-f2l2', 'pyreft_final'));
  const dotted = (k: string) =>
    k.replace(/_(?=\d|comp|block_output|unit|pos|nunit)/g, '.').replace('block.output', 'block_output');
  editConfig(dir, (c) => {
    for (const k of c.sorted_keys ?? [])
      renameSync(join(dir, `intkey_${k}.bin`), join(dir, `intkey_${dotted(k)}.bin`));
    c.sorted_keys = c.sorted_keys?.map(dotted);
  });
  assert.ok(existsSync(join(dir, 'intkey_layer.1.comp.block_output.unit.pos.nunit.1#0.bin')));
  const a = readPyreftFolder(dir);
  const ref = readPyreftFolder(join(REFT, 'llama-loreft-f2l2', 'pyreft_final'));
  assert.deepEqual(
    a.interventions.map((iv) => iv.key),
    ref.interventions.map((iv) => dotted(iv.key)),
  );
  assert.deepEqual(
    a.interventions.map((iv) => iv.params),
    ref.interventions.map((iv) => iv.params),
  );
  const out = join(dir, '..', 'exported');
  writePyreftFolder(out, a);
  assert.deepEqual(
    readdirSync(out).sort(),
    readdirSync(join(REFT, 'llama-loreft-f2l2', 'pyreft_final')).sort(),
  );
});

test('bad configs are refused with specific codes', () => {
  const src = join(REFT, 'llama-loreft-l1-shared', 'pyreft_init');
  const cases: Array<[string, (c: ConfigJson) => void, string, RegExp]> = [
    ['rank', (c) => (c.representations[1][4] = 8), 'rank-mismatch', /rank 2, but the config says rank 8/],
    ['no rank', (c) => (c.representations[0][4] = null), 'bad-config', /no rank/],
    ['13 elements', (c) => c.representations[0].pop(), 'bad-config', /14-element/],
    ['missing key', (c) => delete c.sorted_keys, 'bad-config', /"sorted_keys"/],
    [
      'hidden',
      (c) => (c.intervention_dimensions = [32, 32]),
      'shape-mismatch',
      /hidden size 64, but the config says 32/,
    ],
    ['type', (c) => (c.intervention_types[0] = "<class 'x.Foo'>"), 'unsupported-intervention', /Foo/],
    ['layer', (c) => (c.representations[0][0] = 5), 'bad-config', /does not match/],
  ];
  for (const [name, edit, code, msg] of cases) {
    const dir = copyFolder(src);
    editConfig(dir, edit);
    assert.throws(
      () => readPyreftFolder(dir),
      (e: { code: string; message: string }) => {
        assert.equal(e.code, code, `${name}: ${e.message}`);
        assert.match(e.message, msg, name);
        return true;
      },
    );
  }
  assert.throws(() => readPyreftFolder(tempDir('empty-')), { code: 'missing-file' });
});

test('checkAgainstModel names the hidden-size or layer problem', () => {
  const a = readPyreftFolder(join(REFT, 'llama-loreft-l1-shared', 'pyreft_init'));
  checkAgainstModel(a, { hiddenSize: 64, numLayers: 4 });
  assert.throws(
    () => checkAgainstModel(a, { hiddenSize: 128, numLayers: 4 }),
    (e: { code: string; message: string }) =>
      e.code === 'hidden-size-mismatch' && /hidden size 64.*128/.test(e.message),
  );
  assert.throws(
    () => checkAgainstModel(a, { hiddenSize: 64, numLayers: 3 }),
    (e: { code: string; message: string }) => e.code === 'layer-out-of-range' && /layer 3/.test(e.message),
  );
});

test('ConsReFT / LobiReFT / DiReFT without kept parametrization: written as pyreft lays them out, read back', () => {
  for (const type of ['consreft', 'lobireft', 'direft'] as const) {
    const a = syntheticAdapter(type);
    const dir = join(tempDir('syn-'), 'out');
    writePyreftFolder(dir, a);
    const f = readTorchFileFull(join(dir, `intkey_${a.interventions[0].key}.bin`));
    const keys = [...f.tensors.keys()];
    if (type === 'direft') assert.equal(keys[0], 'embed_dim');
    else assert.deepEqual(keys.slice(0, 3), ['learned_source', 'embed_dim', 'interchange_dim']);
    assert.ok(keys.includes('rotate_layer.parametrizations.weight.0.base'));
    assert.equal(f.metadata?.includes('dropout'), type !== 'consreft');
    const back = readPyreftFolder(dir);
    assert.deepEqual(
      back.interventions.map((iv) => iv.params),
      a.interventions.map((iv) => iv.params),
    );
  }
});

test('a writePyreftFolder that fails validation leaves the destination untouched', () => {
  const dir = join(tempDir('atomic-'), 'out');
  const good = syntheticAdapter('direft');
  writePyreftFolder(dir, good);
  const before = readdirSync(dir).sort();
  const bad = syntheticAdapter('direft');
  bad.interventions[0].params = { R: bad.interventions[0].params.R };
  assert.throws(() => writePyreftFolder(dir, bad), { code: 'missing-tensor' });
  assert.deepEqual(readdirSync(dir).sort(), before);
  assert.deepEqual(readdirSync(join(dir, '..')), ['out']); // no temp folders left behind
});
