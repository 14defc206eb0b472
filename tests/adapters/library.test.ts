// The offline adapter library (electron/backend/library/adapters.ts over native-runtime/adapters/):
// import of pyreft and studio folders, exact re-export, list/search/tag/untag/rename/delete, lineage,
// the apply rule by fingerprint, and every import failure leaving the library unchanged.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  adapterLineage,
  checkAdapterApplies,
  exportAdapter,
  getAdapter,
  importAdapter,
  listAdapters,
  registerAdapter,
  removeAdapter,
  renameAdapter,
  searchAdapters,
  tagAdapter,
} from '../../electron/backend/library/adapters.ts';
import { writeExport } from '../../electron/backend/library/export-writer.ts';
import { closeLibrary, type Library } from '../../electron/backend/library/library.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { createRun } from '../../electron/backend/library/runs.ts';
import { readPyreftFolder, SIDECAR_FILE } from '../../native-runtime/formats/pyreft.ts';
import {
  pyreftToStudio,
  readStudioAdapter,
  writeStudioAdapter,
} from '../../native-runtime/formats/studio-adapter.ts';
import { encodeZip, parseZip } from '../../native-runtime/formats/zip.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { REFT } from '../helpers/fixtures.ts';
import { modelWithHidden } from '../helpers/models.ts';
import { copyFolder, F2L2, F2L2_BIN, LLAMA, librarySnapshot, openTempLibrary, tmp } from './helpers.ts';

const spec = loadModelSpec(LLAMA);

function withLib(fn: (lib: Library) => void): void {
  const lib = openTempLibrary();
  try {
    fn(lib);
  } finally {
    closeLibrary(lib);
  }
}

/** Runs `fn`, expects a ReftError with `code` and a message matching `msg`, and an unchanged library. */
function expectRefused(lib: Library, fn: () => unknown, code: string, msg: RegExp): void {
  const before = librarySnapshot(lib);
  assert.throws(fn, (e: { code: string; message: string }) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message, msg);
    return true;
  });
  assert.deepEqual(librarySnapshot(lib), before, 'the library changed');
}

test('import a pyreft folder with --model: studio format + original files, registered with its facts', () => {
  withLib((lib) => {
    const model = addModel(lib, { path: LLAMA, name: 'tiny llama' });
    const r = importAdapter(lib, { path: F2L2, name: 'pirate', model: model.id, tags: ['v1', 'best'] });
    const a = r.adapter;
    assert.equal(r.kind, 'pyreft');
    assert.match(
      r.notes[0],
      /does not record its prompt format, positions, .*; assuming .*positions "f1\+l1"/,
    );
    assert.equal(a.name, 'pirate');
    assert.equal(a.type, 'loreft');
    assert.equal(a.baseModelFingerprint, spec.fingerprint);
    assert.deepEqual(a.tags, ['best', 'v1']);
    assert.deepEqual((a.manifest as { layers: number[] }).layers, [1, 2]);
    assert.equal((a.manifest as { rank: number }).rank, 4);
    assert.ok(a.path.startsWith(join(lib.dataDir, 'adapters')));
    assert.deepEqual(readdirSync(a.path).sort(), ['adapter.safetensors', 'manifest.json', 'pyreft']);
    assert.deepEqual(readdirSync(join(a.path, 'pyreft')).sort(), readdirSync(F2L2).sort());
    assert.ok(a.sizeBytes! > 0);
    assert.equal(readStudioAdapter(a.path).interventions.length, 4);

    // Exact re-export: pyreft's files byte for byte, plus our side file naming the base model.
    const out = join(tmp('out'), 'pyreft');
    const e = exportAdapter(lib, { adapter: a.id, out });
    assert.equal(e.exact, true);
    for (const f of readdirSync(F2L2))
      assert.deepEqual(readFileSync(join(out, f)), readFileSync(join(F2L2, f)), f);
    const side = JSON.parse(readFileSync(join(out, SIDECAR_FILE), 'utf8'));
    assert.deepEqual(side.baseModel, { arch: 'llama', fingerprint: spec.fingerprint });
    assert.equal(side.positions, 'f1+l1');

    // The export now carries its base model and positions: it imports with no flags at all.
    const again = importAdapter(lib, { path: out });
    assert.equal(again.adapter.baseModelFingerprint, spec.fingerprint);
    assert.deepEqual(again.notes, []);

    // Lineage: base model name and fingerprint, metrics, size on disk, originals kept.
    const l = adapterLineage(lib, a.id);
    assert.equal(l.baseModel.name, 'tiny llama');
    assert.equal(l.baseModel.fingerprint, spec.fingerprint);
    assert.equal(l.pyreftOriginals, true);
    assert.equal(l.sizeOnDisk, a.sizeBytes);
    assert.deepEqual(l.layers, [1, 2]);
  });
});

test('export never replaces a folder it did not write, nor the library; a previous export only forced', () => {
  withLib((lib) => {
    const a = importAdapter(lib, { path: F2L2, model: LLAMA }).adapter;
    const mine = join(tmp('out'), 'x');
    mkdirSync(mine);
    writeFileSync(join(mine, 'keep.txt'), 'mine');
    for (const force of [false, true])
      assert.throws(() => exportAdapter(lib, { adapter: a.id, out: mine, force }), {
        code: 'out-not-export',
      });
    assert.equal(readFileSync(join(mine, 'keep.txt'), 'utf8'), 'mine');
    const out = join(tmp('out'), 'y');
    exportAdapter(lib, { adapter: a.id, out });
    assert.ok(existsSync(join(out, 'config.json')));
    assert.throws(() => exportAdapter(lib, { adapter: a.id, out }), { code: 'out-not-empty' });
    exportAdapter(lib, { adapter: a.id, out, force: true });
    // The library's own adapter folder (and the folder holding it) are in the data folder.
    for (const dest of [a.path, join(a.path, '..')])
      assert.throws(() => exportAdapter(lib, { adapter: a.id, out: dest, force: true }), {
        code: 'inside-data-folder',
      });
    assert.ok(existsSync(join(a.path, 'manifest.json')));
    assert.throws(() => exportAdapter(lib, { adapter: 999, out: join(tmp('o'), 'y') }), {
      code: 'not-found',
      message: /no adapter with id 999/,
    });
  });
});

test('a studio adapter folder imports too, keeping its lineage; a run id links the run', () => {
  withLib((lib) => {
    const run = createRun(lib, { name: 'r1' });
    const first = importAdapter(lib, { path: F2L2, model: LLAMA }).adapter;
    const studio = readStudioAdapter(first.path);
    const dir = join(tmp('studio'), 'adapter');
    writeStudioAdapter(dir, {
      ...studio,
      manifest: {
        ...studio.manifest,
        runId: String(run.id),
        datasetVersion: 'abc123',
        metrics: { finalLoss: 1.5 },
      },
    });
    const r = importAdapter(lib, { path: dir, name: 'trained' });
    assert.equal(r.kind, 'studio');
    assert.equal(r.adapter.runId, run.id);
    assert.deepEqual(readdirSync(r.adapter.path).sort(), ['adapter.safetensors', 'manifest.json']);
    const l = adapterLineage(lib, r.adapter.id);
    assert.equal(l.run?.id, run.id);
    assert.equal(l.run?.name, 'r1');
    assert.equal(l.datasetVersion, 'abc123');
    assert.deepEqual(l.metrics, { finalLoss: 1.5 });
    // A studio folder exports through the pyreft writer (not byte-exact, same tensors).
    const out = join(tmp('out'), 'p');
    assert.equal(exportAdapter(lib, { adapter: r.adapter.id, out }).exact, false);
    const py = readPyreftFolder(out);
    assert.deepEqual(
      py.interventions.map((iv) => iv.params.weight.data),
      studio.interventions.map((iv) => iv.params.weight.data),
    );
  });
});

test('list, search (name, tag, type, base model name, fingerprint prefix), tag, untag, rename, delete', () => {
  withLib((lib) => {
    addModel(lib, { path: LLAMA, name: 'Tiny Llama' });
    const a = importAdapter(lib, {
      path: F2L2,
      name: 'pirate voice',
      model: LLAMA,
      tags: ['persona'],
    }).adapter;
    const b = importAdapter(lib, {
      path: join(F2L2, '..', '..', 'llama-direft', 'pyreft_final'),
      name: 'terse',
      model: LLAMA,
      positions: 'l3',
    }).adapter;
    const ids = (xs: { id: number }[]) => xs.map((x) => x.id);
    assert.deepEqual(ids(listAdapters(lib)), [b.id, a.id]);
    assert.deepEqual(ids(searchAdapters(lib, 'PIRATE')), [a.id]);
    assert.deepEqual(ids(searchAdapters(lib, 'persona')), [a.id]);
    assert.deepEqual(ids(searchAdapters(lib, 'direft')), [b.id]);
    assert.deepEqual(ids(listAdapters(lib, { type: 'loreft' })), [a.id]);
    assert.deepEqual(ids(searchAdapters(lib, 'tiny llama')), [b.id, a.id]);
    assert.deepEqual(ids(searchAdapters(lib, spec.fingerprint.slice(0, 8))), [b.id, a.id]);
    assert.deepEqual(ids(searchAdapters(lib, 'pirate terse')), []);
    assert.deepEqual(ids(listAdapters(lib, { baseModelFingerprint: spec.fingerprint, query: 'terse' })), [
      b.id,
    ]);
    assert.deepEqual(tagAdapter(lib, b.id, { add: ['short', 'v2'] }).tags, ['short', 'v2']);
    assert.deepEqual(tagAdapter(lib, b.id, { remove: ['v2'] }).tags, ['short']);
    assert.equal(renameAdapter(lib, a.id, 'pirate v2').name, 'pirate v2');
    assert.deepEqual(ids(searchAdapters(lib, 'v2')), [a.id]);
    assert.deepEqual(removeAdapter(lib, a.id), { id: a.id, deletedFiles: true });
    assert.equal(existsSync(a.path), false);
    assert.throws(() => getAdapter(lib, a.id), { code: 'not-found' });
    assert.throws(() => adapterLineage(lib, 12345), {
      code: 'not-found',
      message: /no adapter with id 12345/,
    });
  });
});

test('applying to another base model is refused by fingerprint naming both; --force-base for the same shape only', () => {
  withLib((lib) => {
    addModel(lib, { path: LLAMA, name: 'tiny llama' });
    const bf16 = addModel(lib, { path: join(LLAMA, '..', 'llama-bf16'), name: 'tiny llama bf16' });
    const a = importAdapter(lib, {
      path: join(F2L2, '..', '..', 'llama-loreft-l1-shared', 'pyreft_final'),
      name: 'pirate',
      model: LLAMA,
    }).adapter;
    assert.deepEqual(checkAdapterApplies(lib, { adapter: a.id, model: LLAMA }).forced, false);
    assert.throws(
      () => checkAdapterApplies(lib, { adapter: a.id, model: bf16.id }),
      (e: { code: string; message: string }) => {
        assert.equal(e.code, 'base-model-mismatch');
        assert.match(
          e.message,
          /adapter "pirate" was trained for base model "tiny llama" \(llama, fingerprint [0-9a-f]{16}…\), not for model "tiny llama bf16" \(llama, fingerprint [0-9a-f]{16}…\); pass --force-base/,
        );
        return true;
      },
    );
    assert.equal(checkAdapterApplies(lib, { adapter: a.id, model: bf16.id, forceBase: true }).forced, true);
    const wide = modelWithHidden(32);
    assert.throws(() => checkAdapterApplies(lib, { adapter: a.id, model: wide, forceBase: true }), {
      code: 'hidden-size-mismatch',
    });
    // importing under one base model while the side file names another needs the override too
    const out = join(tmp('o'), 'p');
    exportAdapter(lib, { adapter: a.id, out });
    expectRefused(
      lib,
      () => importAdapter(lib, { path: out, model: bf16.id }),
      'base-model-mismatch',
      /tiny llama bf16/,
    );
    assert.equal(
      importAdapter(lib, { path: out, model: bf16.id, forceBase: true }).adapter.baseModelFingerprint,
      spec.fingerprint,
    );
  });
});

test('import failures are specific and leave no row and no folder', () => {
  withLib((lib) => {
    importAdapter(lib, { path: F2L2, model: LLAMA }); // a good adapter already there
    // a pickle naming another global than the allow-listed ones
    const evil = copyFolder(F2L2);
    const path = join(evil, F2L2_BIN);
    const z = parseZip(readFileSync(path), F2L2_BIN);
    const records = z.records.map((r) => ({ name: r.name, data: Buffer.from(z.read(r.name)) }));
    const pkl = records.find((r) => r.name.endsWith('/data.pkl'))!;
    const good = Buffer.from('ccollections\nOrderedDict\n', 'latin1');
    const at = pkl.data.indexOf(good);
    pkl.data = Buffer.concat([
      pkl.data.subarray(0, at),
      Buffer.from('cos\nsystem\n', 'latin1'),
      pkl.data.subarray(at + good.length),
    ]);
    writeFileSync(path, encodeZip(records));
    expectRefused(
      lib,
      () => importAdapter(lib, { path: evil, model: LLAMA }),
      'forbidden-global',
      /names forbidden global 'os\.system'/,
    );

    const cut = copyFolder(F2L2);
    const data = readFileSync(join(cut, F2L2_BIN));
    writeFileSync(join(cut, F2L2_BIN), data.subarray(0, data.length >> 1));
    expectRefused(
      lib,
      () => importAdapter(lib, { path: cut, model: LLAMA }),
      'truncated-file',
      /intkey_layer_2_comp_block_output_unit_pos_nunit_1#1\.bin/,
    );

    const rank = copyFolder(F2L2);
    const cfg = JSON.parse(readFileSync(join(rank, 'config.json'), 'utf8'));
    cfg.representations[0][4] = 8;
    writeFileSync(join(rank, 'config.json'), JSON.stringify(cfg));
    expectRefused(
      lib,
      () => importAdapter(lib, { path: rank, model: LLAMA }),
      'rank-mismatch',
      /rank 4, but the config says rank 8/,
    );

    expectRefused(
      lib,
      () => importAdapter(lib, { path: F2L2, model: modelWithHidden(32) }),
      'hidden-size-mismatch',
      /hidden size 64, but the model's hidden size is 32/,
    );
    expectRefused(
      lib,
      () => importAdapter(lib, { path: F2L2 }),
      'missing-base-model',
      /no library model has hidden size 64 with at least 3 layers; add its base model .* or give its folder with --model DIR$/,
    );
    expectRefused(
      lib,
      () => importAdapter(lib, { path: F2L2, model: 77 }),
      'not-found',
      /no model with id 77/,
    );
    expectRefused(
      lib,
      () => importAdapter(lib, { path: F2L2, model: LLAMA, positions: 'x9' }),
      'bad-positions',
      /positions "x9"/,
    );
    expectRefused(
      lib,
      () => importAdapter(lib, { path: tmp('empty'), model: LLAMA }),
      'not-an-adapter',
      /neither a pyreft folder/,
    );
    // What a folder that is no adapter holds says what to do: never a pickle read without config.json.
    const binOnly = copyFolder(F2L2);
    rmSync(join(binOnly, 'config.json'));
    expectRefused(
      lib,
      () => importAdapter(lib, { path: binOnly, model: LLAMA }),
      'not-an-adapter',
      /holds intkey_layer_1_\S+\.bin and 3 more but no config\.json, .*save the adapter with pyreft's reft_model\.save\(DIR\)/,
    );
    const pickle = tmp('pickle');
    writeFileSync(join(pickle, 'pytorch_model.bin'), readFileSync(join(F2L2, F2L2_BIN)));
    expectRefused(
      lib,
      () => importAdapter(lib, { path: pickle, model: LLAMA }),
      'not-an-adapter',
      /holds pytorch_model\.bin but no config\.json, so nothing says what it holds \(and no pickle is read without it\)/,
    );
    const archive = tmp('archive');
    writeFileSync(join(archive, 'adapter.tar.gz'), 'x');
    expectRefused(
      lib,
      () => importAdapter(lib, { path: archive, model: LLAMA }),
      'not-an-adapter',
      /holds the archive adapter\.tar\.gz, not an adapter's files; unpack it/,
    );
    expectRefused(
      lib,
      () => importAdapter(lib, { path: join(F2L2, '..'), model: LLAMA }),
      'not-an-adapter',
      /holds adapter folders pyreft_\w+\/ and 1 more, not an adapter's files; import one of them/,
    );
    expectRefused(
      lib,
      () => importAdapter(lib, { path: join(tmp('gone'), 'nope') }),
      'missing-file',
      /no such folder/,
    );
    expectRefused(
      lib,
      () => importAdapter(lib, { path: join(F2L2, 'config.json') }),
      'not-a-folder',
      /config\.json is a file; give the adapter's folder/,
    );
    // a database failure after the folder was written removes the folder again (a name of its own:
    // F2L2 is in the library already, and would be found there before anything is written)
    expectRefused(
      lib,
      () => importAdapter(lib, { path: F2L2, model: LLAMA, name: 'tagged', tags: [''] }),
      'bad-tag',
      /a tag must be 1 to 64 characters/,
    );
  });
});

test('a pyreft folder that names no base model takes the only library model that fits, else is refused', () => {
  withLib((lib) => {
    // None fits: a model of another hidden size, and one with too few layers for layer 2.
    addModel(lib, { path: modelWithHidden(32), name: 'wide' });
    expectRefused(
      lib,
      () => importAdapter(lib, { path: F2L2 }),
      'missing-base-model',
      // No library id fits, so the CLI asks for the base model's folder (the window: user-errors.ts).
      /no library model has hidden size 64 with at least 3 layers; add its base model to the library \(models add DIR\) or give its folder with --model DIR$/,
    );
    // One fits (and a copy of its weights in another folder is the same base model, not a second).
    const llama = addModel(lib, { path: LLAMA, name: 'tiny llama' });
    addModel(lib, { path: copyFolder(LLAMA), name: 'same weights' });
    const r = importAdapter(lib, { path: F2L2 });
    assert.equal(r.adapter.baseModelFingerprint, spec.fingerprint);
    assert.equal(
      r.notes[0],
      `base model: "tiny llama" (id ${llama.id}) (the only library model of hidden size 64 with at least 3 layers); --model to choose another`,
    );
    // Several fit: refused, naming them; --model chooses.
    const qwen = addModel(lib, { path: join(LLAMA, '..', 'qwen2'), name: 'qwen' });
    expectRefused(
      lib,
      () => importAdapter(lib, { path: F2L2, name: 'again' }),
      'ambiguous-base-model',
      new RegExp(
        `2 library models have hidden size 64 with at least 3 layers: "tiny llama" \\(id ${llama.id}\\), "qwen" \\(id ${qwen.id}\\); give --model ID\\|DIR$`,
      ),
    );
    const q = importAdapter(lib, { path: F2L2, name: 'again', model: qwen.id });
    assert.equal(q.adapter.baseModelFingerprint, qwen.fingerprint);
    assert.doesNotMatch(q.notes.join(' '), /base model:/, 'nothing chosen, nothing said');
    // A folder that names its base model (reft_studio.json) is never matched by shape.
    const out = join(tmp('out'), 'named');
    exportAdapter(lib, { adapter: r.adapter.id, out });
    const back = importAdapter(lib, { path: out, name: 'named' });
    assert.equal(back.adapter.baseModelFingerprint, spec.fingerprint);
    assert.deepEqual(back.notes, []);
  });
});

test('first+last positions for a pyreft folder that records none: tied for one intervention per layer, untied for a pair', () => {
  withLib((lib) => {
    const model = addModel(lib, { path: LLAMA, name: 'tiny llama' }).id;
    // pyreft saves shared weights as one intervention per layer (here layers 0 and 3), untied ones as
    // all the prefix interventions, then the suffix ones for the same layers (F2L2: 1, 2, 1, 2).
    const shared = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
    const tied = importAdapter(lib, { path: shared, model, positions: 'f1+l1' }).adapter;
    assert.equal(readStudioAdapter(tied.path).manifest.shareWeights, true, 'one set of weights per layer');
    const untied = importAdapter(lib, { path: F2L2, model, positions: 'f2+l2' }).adapter;
    assert.equal(readStudioAdapter(untied.path).manifest.shareWeights, false);
    // `generate --adapter DIR --positions f1+l1` reads the folder the same way (runner.ts).
    const read = pyreftToStudio(readPyreftFolder(shared), {
      positions: 'f1+l1',
      baseModel: { arch: spec.arch, fingerprint: spec.fingerprint },
    });
    assert.equal(read.manifest.shareWeights, true);
  });
});

test('precision: a pyreft folder records none; a studio folder’s and its pyreft export’s carry it through', () => {
  withLib((lib) => {
    const py = importAdapter(lib, { path: F2L2, model: LLAMA }).adapter;
    assert.equal(py.precision, null, 'pyreft keeps no precision: none is guessed');
    // Absent, not null: an import made before manifests kept it hashes the same, found again.
    assert.equal('precision' in py.manifest, false);
    const studio = readStudioAdapter(py.path);
    const dir = join(tmp('studio'), 'bf16');
    writeStudioAdapter(dir, { ...studio, manifest: { ...studio.manifest, precision: 'bf16' } });
    const a = importAdapter(lib, { path: dir, name: 'gpu' }).adapter;
    assert.equal(a.precision, 'bf16');
    assert.equal(getAdapter(lib, a.id).precision, 'bf16');
    assert.deepEqual(
      listAdapters(lib).map((x) => [x.name, x.precision]),
      [
        ['gpu', 'bf16'],
        [py.name, null],
      ],
    );
    assert.equal(adapterLineage(lib, a.id).adapter.precision, 'bf16');
    // The pyreft export says it in the studio's side file only: config.json is pyvene's, unchanged.
    const out = join(tmp('out'), 'bf16');
    exportAdapter(lib, { adapter: a.id, out });
    assert.equal(JSON.parse(readFileSync(join(out, SIDECAR_FILE), 'utf8')).precision, 'bf16');
    assert.doesNotMatch(readFileSync(join(out, 'config.json'), 'utf8'), /precision/);
    assert.equal(importAdapter(lib, { path: out, name: 'back' }).adapter.precision, 'bf16');
    // A manifest naming something else is refused, as every other malformed field is.
    const bad = join(tmp('studio'), 'bad');
    writeStudioAdapter(bad, studio);
    writeFileSync(join(bad, 'manifest.json'), JSON.stringify({ ...studio.manifest, precision: 'float32' }));
    expectRefused(
      lib,
      () => importAdapter(lib, { path: bad }),
      'bad-manifest',
      /precision "float32" must be fp32, fp16, bf16 or null/,
    );
  });
});

test('precision: a run’s checkpoint written before manifests kept it takes the run’s recorded one', () => {
  withLib((lib) => {
    const run = createRun(lib, { name: 'r' });
    const py = importAdapter(lib, { path: F2L2, model: LLAMA }).adapter;
    const input = { type: 'loreft', baseModelFingerprint: spec.fingerprint, runId: run.id };
    const old = registerAdapter(lib, {
      ...input,
      name: 'old',
      path: join(py.path, 'a'),
      manifest: {},
      precision: 'fp32',
    });
    assert.equal(old.precision, 'fp32');
    const own = registerAdapter(lib, {
      ...input,
      name: 'own',
      path: join(py.path, 'b'),
      manifest: { precision: 'bf16' },
      precision: 'fp32',
    });
    assert.equal(own.precision, 'bf16', 'what the adapter’s own manifest says wins');
    const none = registerAdapter(lib, { ...input, name: 'none', path: join(py.path, 'c'), precision: null });
    assert.equal(none.precision, null);
  });
});

test('precision: an adapter whose manifest records none is exported with the library’s', () => {
  // Bug: `adapters list` said such an adapter's precision (its run's), but its pyreft and studio
  // exports recorded none: imported elsewhere it had lost it.
  withLib((lib) => {
    const run = createRun(lib, { name: 'r' });
    const py = importAdapter(lib, { path: F2L2, model: LLAMA }).adapter;
    const studio = readStudioAdapter(py.path);
    assert.equal('precision' in studio.manifest, false);
    const dir = join(tmp('studio'), 'before-precision');
    writeStudioAdapter(dir, studio);
    const old = registerAdapter(lib, {
      type: 'loreft',
      baseModelFingerprint: spec.fingerprint,
      runId: run.id,
      name: 'old',
      path: dir,
      manifest: studio.manifest as unknown as Record<string, unknown>,
      precision: 'bf16',
    });
    assert.equal(old.precision, 'bf16');
    const out = join(tmp('out'), 'old-pyreft');
    exportAdapter(lib, { adapter: old.id, out });
    assert.equal(JSON.parse(readFileSync(join(out, SIDECAR_FILE), 'utf8')).precision, 'bf16');
    const studioOut = join(tmp('out'), 'old-studio');
    writeExport({ format: 'studio', adapterPath: dir, out: studioOut, precision: old.precision });
    assert.equal(readStudioAdapter(studioOut).manifest.precision, 'bf16');
    // The manifest's own wins where it has one; none known stays none.
    const none = join(tmp('out'), 'none');
    writeExport({ format: 'studio', adapterPath: dir, out: none, precision: null });
    assert.equal(readStudioAdapter(none).manifest.precision, undefined);
  });
});
