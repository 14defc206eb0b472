// Composition of several adapters on one base model (native-runtime/adapters/compose.ts): α = 0 is
// the base model, α = 1 with the other adapter off is the adapter alone, two adapters on different
// layers compose into something neither gives alone, toggles and generation follow, and adapters for
// another base model are refused by fingerprint.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { adapterStates } from '../../native-runtime/adapters/apply.ts';
import { ComposedAdapters } from '../../native-runtime/adapters/compose.ts';
import { readPyreftFolder } from '../../native-runtime/formats/pyreft.ts';
import { pyreftToStudio, type StudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { ReftModel } from '../../native-runtime/training/reft-model.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';

let spec: ModelSpec;
let A: StudioAdapter; // LoReFT on layers 0 and 3, last position
let B: StudioAdapter; // DiReFT on layer 1, last 3 positions
let composed: ComposedAdapters;
const alone = new Map<string, ReftModel>();

const ROWS = [
  [1, 15, 27, 311, 42, 9, 88],
  [1, 400, 5, 61, 17],
];

function studio(kase: string, positions: string): StudioAdapter {
  return pyreftToStudio(readPyreftFolder(join(REFT, kase, 'pyreft_final')), {
    positions,
    baseModel: { arch: spec.arch, fingerprint: spec.fingerprint },
  });
}

/** Max |a − b| over the real (unpadded) tokens of ROWS. */
function diff(a: Float32Array, b: Float32Array): number {
  const T = Math.max(...ROWS.map((r) => r.length));
  const V = spec.vocabSize;
  let e = 0;
  ROWS.forEach((r, i) => {
    for (let t = 0; t < r.length; t++)
      for (let v = 0; v < V; v++) e = Math.max(e, Math.abs(a[(i * T + t) * V + v] - b[(i * T + t) * V + v]));
  });
  return e;
}

before(async () => {
  spec = loadModelSpec(modelDir('llama'));
  A = studio('llama-loreft-l1-shared', 'l1');
  B = studio('llama-direft', 'l3');
  composed = await ComposedAdapters.load(spec, [
    { name: 'a', adapter: A },
    { name: 'b', adapter: B },
  ]);
  alone.set('base', await ReftModel.load(spec, []));
  alone.set('a', await ReftModel.load(spec, adapterStates(A)));
  alone.set('b', await ReftModel.load(spec, adapterStates(B)));
});

after(async () => {
  await composed.release();
  for (const m of alone.values()) await m.session.session.release();
});

async function logitsAlone(name: string): Promise<Float32Array> {
  const m = alone.get(name)!;
  const c = composed; // same positions rule; reuse its batch layout for the single adapter
  const batch = c.batch(ROWS);
  const keep = name === 'a' ? [0, 1] : name === 'b' ? [2] : [];
  batch.locations = keep.map((j) => batch.locations[j]);
  return (await m.forward(batch)).logits.data as Float32Array;
}

async function logitsComposed(): Promise<Float32Array> {
  return (await composed.forward(ROWS)).data as Float32Array;
}

test('keys are renamed to stay unique; each part keeps its own', () => {
  assert.deepEqual(
    composed.parts.map((p) => [p.name, p.offset, p.count, p.keys]),
    [
      [
        'a',
        0,
        2,
        ['layer_0_comp_block_output_unit_pos_nunit_1#0', 'layer_3_comp_block_output_unit_pos_nunit_1#0'],
      ],
      ['b', 2, 1, ['layer_1_comp_block_output_unit_pos_nunit_1#0']],
    ],
  );
  assert.deepEqual(composed.locationsFor(7), [[6], [6], [4, 5, 6]]);
});

test('α = 0 for every adapter gives the base model; α = 1 with b off gives a alone', async () => {
  composed.setScale('a', 0);
  composed.setScale('b', 0);
  // 1e-5, not 0: ORT fuses the norms into one kernel only where no backward reads their intermediates,
  // so the composed graph and the plain base graph round differently (measured 1.7e-6).
  assert.ok(diff(await logitsComposed(), await logitsAlone('base')) <= 1e-5);
  composed.setScale('a', 1);
  composed.setScale('b', 1);
  composed.setEnabled('b', false);
  assert.ok(diff(await logitsComposed(), await logitsAlone('a')) <= 1e-5);
  composed.setEnabled('b', true);
  composed.setEnabled('a', false);
  assert.ok(diff(await logitsComposed(), await logitsAlone('b')) <= 1e-5);
  composed.setEnabled('a', true);
});

test('two adapters on different layers compose: the logits differ from each alone and from the base', async () => {
  const both = await logitsComposed();
  for (const name of ['a', 'b', 'base'])
    assert.ok(diff(both, await logitsAlone(name)) > 1e-3, `same as ${name}`);
  composed.setScale('b', 0.5);
  const half = await logitsComposed();
  assert.ok(diff(half, both) > 1e-4 && diff(half, await logitsAlone('a')) > 1e-4, 'α = 0.5 lies between');
  composed.setScale('b', 1);
  assert.throws(() => composed.setScale('c', 1), { code: 'unknown-adapter' });
  assert.throws(() => composed.setScale('a', Number.NaN), { code: 'bad-scale' });
});

test('generation follows the toggles (greedy, b off = a alone)', async () => {
  const prompts = [ROWS[0]];
  composed.setEnabled('b', false);
  const got = await composed.generate(prompts, { maxNewTokens: 6, greedy: true } as never);
  const m = alone.get('a')!;
  const want = await m.generator().generate(prompts, {
    maxNewTokens: 6,
    greedy: true,
    interventions: { params: m.paramFeed(), locations: [composed.locationsFor(ROWS[0].length).slice(0, 2)] },
  } as never);
  assert.deepEqual(got.tokens, want.tokens);
  composed.setEnabled('b', true);
});

test('batched generation equals one prompt at a time (decoding steps have no positions: P = 0 with B > 1)', async () => {
  const opts = { maxNewTokens: 6, greedy: true } as never;
  const both = await composed.generate(ROWS, opts);
  const one = await composed.generate([ROWS[0]], opts);
  const two = await composed.generate([ROWS[1]], opts);
  assert.deepEqual(both.tokens, [one.tokens[0], two.tokens[0]]);
  composed.setEnabled('a', false);
  const batch = await composed.forward(ROWS);
  const single = await composed.forward([ROWS[1]]);
  composed.setEnabled('a', true);
  const V = spec.vocabSize;
  const T = ROWS[0].length;
  const b = batch.data as Float32Array;
  const s = single.data as Float32Array;
  let e = 0;
  for (let i = 0; i < ROWS[1].length * V; i++) e = Math.max(e, Math.abs(b[T * V + i] - s[i]));
  assert.ok(e <= 1e-4, `row 2 of a batch with an adapter switched off differs from it alone by ${e}`);
});

test('an adapter for another base model is refused by fingerprint naming both; --force-base lets a same-shape model through', async () => {
  const other = {
    ...B,
    manifest: { ...B.manifest, baseModel: { arch: 'llama', fingerprint: 'f'.repeat(64) } },
  };
  await assert.rejects(
    ComposedAdapters.load(
      spec,
      [
        { name: 'a', adapter: A },
        { name: 'other', adapter: other },
      ],
      { modelName: 'tiny' },
    ),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, 'base-model-mismatch');
      assert.match(
        e.message,
        /adapter "other" was trained for base model \(llama, fingerprint ffffffffffffffff…\), not for model "tiny" \(llama, fingerprint [0-9a-f]{16}…\); pass --force-base/,
      );
      return true;
    },
  );
  const forced = await ComposedAdapters.load(spec, [{ name: 'other', adapter: other }], { forceBase: true });
  await forced.release();
  const wide = {
    ...other,
    manifest: { ...other.manifest, hiddenSize: 128 },
    interventions: other.interventions.map((iv) => ({ ...iv, embedDim: 128 })),
  };
  await assert.rejects(ComposedAdapters.load(spec, [{ name: 'w', adapter: wide }], { forceBase: true }), {
    code: 'hidden-size-mismatch',
  });
});
