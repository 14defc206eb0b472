// Hostile and broken pyreft folders: each import fails with a specific code and leaves the
// destination adapter folder exactly as it was.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { prepareImport } from '../../native-runtime/adapters/folders.ts';
import { maxBinBytes, readPyreftFolder } from '../../native-runtime/formats/pyreft.ts';
import {
  importPyreftFolder,
  readStudioAdapter,
  TENSORS_FILE,
} from '../../native-runtime/formats/studio-adapter.ts';
import { encodeZip, parseZip } from '../../native-runtime/formats/zip.ts';
import { tempDir } from '../helpers/temp.ts';
import { viewsOfOneValue } from './hostile-torch.ts';

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
    new RegExp(`pickle in ${path.replace(/[.#/-]/g, '\\$&')} names forbidden global 'os\\.system'`),
  );
});

test('a truncated .bin is refused as truncated-file, naming it', () => {
  const src = copyFolder(SRC);
  const data = readFileSync(join(src, FILE));
  writeFileSync(join(src, FILE), data.subarray(0, Math.floor(data.length / 2)));
  expectFailure(src, 'truncated-file', /intkey_layer_2_comp_block_output_unit_pos_nunit_1#1\.bin/);
});

test('every error about one .bin starts with its whole path, as a missing one does', () => {
  const good = readFileSync(join(SRC, FILE));
  const limit = maxBinBytes('loreft', 64, 4);
  const cases: Array<[string, Buffer | null, string]> = [
    ['missing', null, 'missing-file'],
    ['empty', Buffer.alloc(0), 'truncated-file'],
    ['cut in half', good.subarray(0, good.length >> 1), 'truncated-file'],
    ['too large', Buffer.concat([good, Buffer.alloc(limit)]), 'file-too-large'],
  ];
  for (const [label, bytes, code] of cases) {
    const src = copyFolder(SRC);
    const path = join(src, FILE);
    if (bytes) writeFileSync(path, bytes);
    else rmSync(path);
    assert.throws(
      () => readPyreftFolder(src),
      (e: { code: string; message: string }) => {
        assert.equal(e.code, code, `${label}: ${e.message}`);
        assert.ok(e.message.startsWith(`${path}: `), `${label}: ${e.message}`);
        return true;
      },
    );
  }
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

// ---- tensor bombs (issue 13): a few stored bytes claiming a huge tensor -----------------------

/** A one-intervention LoReFT folder with hidden size n and rank r whose .bin is `bin`. */
function loreftFolder(n: number, r: number, bin: (stem: string) => Buffer): string {
  const dir = join(tempDir('bomb-'), 'pyreft');
  mkdirSync(dir);
  const key = 'layer_0_comp_block_output_unit_pos_nunit_1#0';
  const rep = [0, 'block_output', 'pos', 1, r, null, null, null, null, null, null, null, null, null];
  const cfg = {
    intervention_constant_sources: [true],
    intervention_dimensions: [n],
    intervention_types: ["<class 'pyreft.interventions.LoreftIntervention'>"],
    mode: 'parallel',
    representations: [rep],
    sorted_keys: [key],
    transformers_version: '5.17.0',
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  writeFileSync(join(dir, `intkey_${key}.bin`), bin(`intkey_${key}`));
  return dir;
}

const BOMB_N = 16384;
const bombBin = (n: number, r: number) => (stem: string) =>
  viewsOfOneValue(stem, [
    { name: 'weight', shape: [r, n], stride: [0, 0] },
    { name: 'bias', shape: [r], stride: [0] },
    { name: 'rotate_layer', shape: [n, r], stride: [0, 0] },
  ]);

test('a stride-0 view of one stored value claiming 16384×16384 is refused before it is materialised', () => {
  const src = loreftFolder(BOMB_N, BOMB_N, bombBin(BOMB_N, BOMB_N));
  const bin = readdirSync(src).find((f) => f.endsWith('.bin')) as string;
  assert.ok(statSync(join(src, bin)).size < 2048, 'the bomb is under 2 KB');
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(
    () => readPyreftFolder(src),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, 'bad-torch-file', e.message);
      assert.match(e.message, /weight: view \[16384,16384\] stride \[0,0\] overlaps itself/);
      return true;
    },
  );
  // Nothing proportional to the claimed 1 GiB was allocated on the way.
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
});

test('overlapping views are refused even when small and of the right shape', () => {
  const src = loreftFolder(64, 4, (stem) =>
    viewsOfOneValue(stem, [
      { name: 'weight', shape: [4, 64], stride: [1, 1] }, // rows overlap: 67 elements claim 256
      { name: 'bias', shape: [4], stride: [1] },
      { name: 'rotate_layer', shape: [64, 4], stride: [4, 1] },
    ]),
  );
  expectFailure(src, 'bad-torch-file', /weight: view \[4,64\] stride \[1,1\] overlaps itself/);
});

test('with a model, a folder for another hidden size is refused from config.json alone', () => {
  // The .bin is not even a zip: the refusal must come before it is opened.
  const src = loreftFolder(BOMB_N, BOMB_N, () => Buffer.from('not a torch file'));
  const { dest, snapshot } = destination();
  const before = snapshot();
  const prepared = () =>
    prepareImport(src, { model: { ...MODEL, arch: 'llama', fingerprint: 'sha256:test' } });
  assert.throws(prepared, { code: 'hidden-size-mismatch' });
  assert.deepEqual(snapshot(), before);
  assert.ok(dest);
});

test('a tensor whose shape disagrees with config.json is refused before its data is read', () => {
  // config: hidden 64, rank 4; the file claims a [16384, 64] weight out of one value.
  const src = loreftFolder(64, 4, (stem) =>
    viewsOfOneValue(stem, [
      { name: 'weight', shape: [BOMB_N, 64], stride: [0, 0] },
      { name: 'bias', shape: [4], stride: [1] },
      { name: 'rotate_layer', shape: [64, 4], stride: [4, 1] },
    ]),
  );
  expectFailure(
    src,
    'rank-mismatch',
    /weight is \[16384,64\], which means rank 16384, but the config says rank 4/,
  );
});

test('a .bin larger than its config can legitimately need is refused unread', () => {
  const src = copyFolder(SRC);
  const data = readFileSync(join(src, FILE));
  const limit = maxBinBytes('loreft', 64, 4);
  writeFileSync(join(src, FILE), Buffer.concat([data, Buffer.alloc(limit)]));
  expectFailure(
    src,
    'file-too-large',
    /intkey_layer_2_comp_block_output_unit_pos_nunit_1#1\.bin: \d+ bytes is more than/,
  );
});

test('config.json numbers are bounded: rank above the hidden size, absurd hidden sizes', () => {
  const src = copyFolder(SRC);
  const cfg = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
  cfg.representations[0][4] = 65;
  writeFileSync(join(src, 'config.json'), JSON.stringify(cfg));
  expectFailure(src, 'bad-config', /rank 65, more than its hidden size 64/);
  cfg.representations[0][4] = 4;
  cfg.intervention_dimensions[0] = 2 ** 40;
  writeFileSync(join(src, 'config.json'), JSON.stringify(cfg));
  expectFailure(src, 'bad-config', /intervention_dimensions\[0\] must be a positive integer of at most/);
});

test('a config.json that is not JSON (a symlinked private file) is not quoted', () => {
  const src = copyFolder(SRC);
  const secret = join(tempDir('secret-'), 'shadow');
  writeFileSync(secret, 'root:$6$s3cr3t:19000:0:99999:7:::\n');
  rmSync(join(src, 'config.json'));
  symlinkSync(secret, join(src, 'config.json'));
  const { dest } = destination();
  assert.throws(
    () => importPyreftFolder(src, dest, { model: MODEL, meta: META }),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, 'bad-config');
      assert.ok(!/root|s3cr3t/.test(e.message), e.message);
      return true;
    },
  );
});

test('a NaN or infinite weight (a diverged run) is refused naming file and tensor, in both formats', () => {
  // Such an adapter turned every intervened hidden state into NaN and generation into token 0.
  const src = copyFolder(SRC);
  const path = join(src, FILE);
  const z = parseZip(readFileSync(path), FILE);
  const records = z.records.map((r) => ({ name: r.name, data: Buffer.from(z.read(r.name)) }));
  for (const r of records) if (/\/data\/\d+$/.test(r.name)) r.data.writeFloatLE(Number.NaN, 4);
  writeFileSync(path, encodeZip(records));
  expectFailure(
    src,
    'non-finite-weight',
    /intkey_layer_2_comp_block_output_unit_pos_nunit_1#1\.bin: (weight|bias|rotate_layer) holds NaN at index 1; .*finite/,
  );
  // A studio adapter already in a library: refused when it is read, not used.
  const { dest } = destination();
  const file = join(dest, TENSORS_FILE);
  const bytes = readFileSync(file);
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  bytes.writeFloatLE(Number.POSITIVE_INFINITY, headerEnd);
  writeFileSync(file, bytes);
  assert.throws(() => readStudioAdapter(dest), {
    code: 'non-finite-weight',
    message: /holds Infinity at index 0/,
  });
});
