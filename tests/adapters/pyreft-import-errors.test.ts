// Hostile and broken pyreft folders: each import fails with a specific code and leaves the
// destination adapter folder exactly as it was.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { importPyreftFolder } from '../../native-runtime/formats/studio-adapter.ts';
import { encodeZip, parseZip } from '../../native-runtime/formats/zip.ts';
import { tempDir } from '../helpers/temp.ts';

const SRC = 'tests/fixtures/golden/reft/llama-loreft-f2l2/pyreft_final';
const FILE = 'intkey_layer_2_comp_block_output_unit_pos_nunit_1#1.bin';
const META = { positions: 'f2+l2', baseModel: { arch: 'llama', fingerprint: 'sha256:test' } };
const MODEL = { hiddenSize: 64, numLayers: 4 };

function copyFolder(src: string): string {
  const dst = join(tempDir('src-'), 'pyreft');
  mkdirSync(dst);
  for (const f of readdirSync(src)) writeFileSync(join(dst, f), readFileSync(join(src, f)));
  return dst;
}

/** A destination holding a previous good import, and a snapshot of its parent folder. */
function destination(): { dest: string; snapshot: () => Record<string, string> } {
  const parent = tempDir('dest-');
  const dest = join(parent, 'adapter');
  importPyreftFolder('tests/fixtures/golden/reft/llama-loreft-l1-shared/pyreft_init', dest, {
    meta: { ...META, positions: 'l1' },
  });
  const snapshot = () => {
    const out: Record<string, string> = {};
    for (const d of readdirSync(parent)) {
      for (const f of readdirSync(join(parent, d)))
        out[`${d}/${f}`] = readFileSync(join(parent, d, f)).toString('base64');
    }
    return out;
  };
  return { dest, snapshot };
}

function expectFailure(src: string, code: string, message: RegExp, model = MODEL): void {
  const { dest, snapshot } = destination();
  const before = snapshot();
  assert.throws(
    () => importPyreftFolder(src, dest, { model, meta: META }),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
      return true;
    },
  );
  assert.deepEqual(snapshot(), before, 'destination changed');
}

test('the untouched fixture imports (control for the cases below)', () => {
  const { dest } = destination();
  const a = importPyreftFolder(SRC, dest, { model: MODEL, meta: META });
  assert.equal(a.interventions.length, 4);
});

test('a pickle naming os.system is refused as forbidden-global, naming file and global', () => {
  const src = copyFolder(SRC);
  const path = join(src, FILE);
  const z = parseZip(readFileSync(path), FILE);
  const records = z.records.map((r) => ({ name: r.name, data: Buffer.from(z.read(r.name)) }));
  const pkl = records.find((r) => r.name.endsWith('/data.pkl'))!;
  const good = Buffer.from('ccollections\nOrderedDict\n', 'latin1');
  const at = pkl.data.indexOf(good);
  assert.ok(at > 0);
  // a well-formed zip (CRCs recomputed) whose pickle calls os.system instead of OrderedDict
  pkl.data = Buffer.concat([
    pkl.data.subarray(0, at),
    Buffer.from('cos\nsystem\n', 'latin1'),
    pkl.data.subarray(at + good.length),
  ]);
  writeFileSync(path, encodeZip(records));
  expectFailure(
    src,
    'forbidden-global',
    new RegExp(`pickle in ${FILE.replace(/[.#]/g, '\\$&')} names forbidden global 'os\\.system'`),
  );
});

test('a truncated .bin is refused as truncated-file, naming it', () => {
  const src = copyFolder(SRC);
  const data = readFileSync(join(src, FILE));
  writeFileSync(join(src, FILE), data.subarray(0, Math.floor(data.length / 2)));
  expectFailure(src, 'truncated-file', /intkey_layer_2_comp_block_output_unit_pos_nunit_1#1\.bin/);
});

test('a config with the wrong rank is refused as rank-mismatch', () => {
  const src = copyFolder(SRC);
  const cfg = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
  cfg.representations[2][4] = 8;
  writeFileSync(join(src, 'config.json'), JSON.stringify(cfg, null, 2));
  expectFailure(
    src,
    'rank-mismatch',
    /intkey_layer_1_comp_block_output_unit_pos_nunit_1#1\.bin: .*rank 4, but the config says rank 8/,
  );
});

test('an adapter for another hidden size or deeper model is refused against the model', () => {
  expectFailure(SRC, 'hidden-size-mismatch', /hidden size 64, but the model's hidden size is 896/, {
    hiddenSize: 896,
    numLayers: 24,
  });
  expectFailure(SRC, 'layer-out-of-range', /layer 2, but the model has layers 0…1/, {
    hiddenSize: 64,
    numLayers: 2,
  });
});
