// What a pyreft import could not learn and what it assumed (said in one line, kept in the adapter's
// record), and the lineage a pyreft export's reft_studio.json carries back into an import: base
// model, dataset, run, steps and final loss. A malformed reft_studio.json is named (file and field)
// and the import goes on without it. Real files, real SQLite, the real pickle reader.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { adapterLineage, exportAdapter, importAdapter } from '../../electron/backend/library/adapters.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { closeLibrary, type Library } from '../../electron/backend/library/library.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { createRun } from '../../electron/backend/library/runs.ts';
import { SIDECAR_FILE } from '../../native-runtime/formats/pyreft.ts';
import { readStudioAdapter, writeStudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { ROOT, runCli } from '../backend/helpers.ts';
import { copyFolder, F2L2, LLAMA, openTempLibrary, tmp } from './helpers.ts';

const spec = loadModelSpec(LLAMA);
const PERSONA = join(ROOT, 'resources', 'demo', 'persona.jsonl');

function withLib<T>(fn: (lib: Library) => T): T {
  const lib = openTempLibrary();
  try {
    return fn(lib);
  } finally {
    closeLibrary(lib);
  }
}

const ASSUMED =
  'its pyreft folder does not record its prompt format, positions, weight sharing, dropout or activation (no reft_studio.json); assumed prompts without a chat template, positions "f1+l1", untied weights, dropout 0 and no activation';

test('a plain pyreft folder: one line says what it could not learn and what was assumed, and the record keeps it', () => {
  withLib((lib) => {
    addModel(lib, { path: LLAMA, name: 'tiny llama' });
    const r = importAdapter(lib, { path: F2L2, model: LLAMA });
    assert.deepEqual(r.notes, [
      `${F2L2} does not record its prompt format, positions, weight sharing, dropout or activation (no reft_studio.json); assuming prompts without a chat template, positions "f1+l1" (give --positions to change), untied weights, dropout 0 and no activation`,
    ]);
    // Stored without the source's path (an upload's is a staging folder), for the adapter page.
    assert.equal(r.adapter.manifest.importAssumed, ASSUMED);
    assert.equal(readStudioAdapter(r.adapter.path).manifest.importAssumed, ASSUMED);
    assert.equal(adapterLineage(lib, r.adapter.id).importAssumed, ASSUMED);
    // Positions given are not assumed: the line leaves them out.
    const given = importAdapter(lib, { path: F2L2, model: LLAMA, positions: 'l1', name: 'last' });
    assert.match(
      given.notes[0],
      /does not record its prompt format, dropout or activation .*; assuming prompts without a chat template, dropout 0 and no activation$/,
    );
    // A studio export's folder records everything: nothing assumed, nothing said.
    const out = join(tmp('out'), 'p');
    exportAdapter(lib, { adapter: r.adapter.id, out });
    const back = importAdapter(lib, { path: out, name: 'back' });
    assert.deepEqual(back.notes, []);
    assert.equal(back.adapter.manifest.importAssumed, undefined);
  });
});

test('adapters show prints what a pyreft import assumed', async () => {
  const dataDir = join(tmp('cli'), 'data');
  const cli = (...args: string[]) => runCli([...args, '--data-dir', dataDir]);
  const imp = await cli('import', F2L2, '--model', LLAMA);
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(
    imp.stderr,
    /note: .*does not record its prompt format, positions, weight sharing, dropout or activation/,
  );
  const show = await cli('adapters', 'show', '1');
  assert.equal(show.code, 0, show.stderr);
  assert.ok(show.stdout.includes(`assumed on import: ${ASSUMED}`), show.stdout);
  assert.doesNotMatch(show.stdout, /exported from:/);
  // Its export, imported into another library, says where it came from instead (the base model by
  // the name the first library has for it: the demo model there is the same weights).
  const out = join(tmp('out'), 'p');
  const exp = await cli('export', '--adapter', '1', '--out', out);
  assert.equal(exp.code, 0, exp.stderr);
  const other = join(tmp('cli'), 'data');
  const back = await runCli(['import', out, '--data-dir', other]);
  assert.equal(back.code, 0, back.stderr);
  const shown = await runCli(['adapters', 'show', '1', '--data-dir', other]);
  assert.match(
    shown.stdout,
    new RegExp(`^exported from: base model "[^"]+" ${spec.fingerprint.slice(0, 12)}$`, 'm'),
  );
  assert.doesNotMatch(shown.stdout, /assumed on import:/);
});

test('a pyreft export carries its lineage in reft_studio.json, and an import into another library reads it back', () => {
  const exported = withLib((lib) => {
    const model = addModel(lib, { path: LLAMA, name: 'tiny llama' });
    const data = importDataset(lib, { path: PERSONA, name: 'persona' });
    const config = { rank: 4, lr: 0.004, layers: [1, 2] };
    const run = createRun(lib, { name: 'r1', modelId: model.id, datasetVersionId: data.version.id, config });
    const first = importAdapter(lib, { path: F2L2, model: LLAMA }).adapter;
    const studio = readStudioAdapter(first.path);
    const dir = join(tmp('studio'), 'trained');
    const { importAssumed: _, ...manifest } = studio.manifest;
    writeStudioAdapter(dir, {
      ...studio,
      manifest: {
        ...manifest,
        runId: String(run.id),
        datasetVersion: data.version.contentHash.slice(0, 16),
        metrics: { steps: 12, finalLoss: 0.5, evalLoss: 0.75 },
      },
    });
    const a = importAdapter(lib, { path: dir, name: 'trained' }).adapter;
    const out = join(tmp('out'), 'lineage');
    exportAdapter(lib, { adapter: a.id, out });
    const side = JSON.parse(readFileSync(join(out, SIDECAR_FILE), 'utf8'));
    assert.deepEqual(side.lineage, {
      baseModel: { name: 'tiny llama', fingerprint: spec.fingerprint },
      dataset: { name: 'persona', hash: data.version.contentHash },
      run: { id: String(run.id), name: 'r1', config },
      steps: 12,
      finalLoss: 0.5,
    });
    // Imported back into the same library, the run is found again.
    const same = importAdapter(lib, { path: out, name: 'same' }).adapter;
    assert.equal(same.runId, run.id);
    assert.equal(same.datasetVersionId, data.version.id);
    return { out, side, run: run.id, hash: data.version.contentHash };
  });
  withLib((lib) => {
    // This library's run of the same number is another run: the import must not claim it.
    const other = createRun(lib, { name: 'someone else’s' });
    assert.equal(String(other.id), String(exported.run));
    const r = importAdapter(lib, { path: exported.out });
    assert.deepEqual(r.notes, []);
    assert.equal(r.adapter.runId, null);
    const m = r.adapter.manifest;
    assert.deepEqual(m.lineage, exported.side.lineage);
    assert.equal(m.runId, String(exported.run));
    assert.equal(m.datasetVersion, exported.hash);
    assert.deepEqual(m.metrics, { steps: 12, finalLoss: 0.5 });
    const l = adapterLineage(lib, r.adapter.id);
    assert.equal(l.run, null, 'no such run in this library');
    assert.deepEqual(l.exported, exported.side.lineage);
    // Exported again from here, it says the same.
    const again = join(tmp('out'), 'again');
    exportAdapter(lib, { adapter: r.adapter.id, out: again });
    assert.deepEqual(
      JSON.parse(readFileSync(join(again, SIDECAR_FILE), 'utf8')).lineage,
      exported.side.lineage,
    );
  });
});

test('a malformed reft_studio.json is named, file and field, and the import goes on without it', () => {
  withLib((lib) => {
    const out = join(tmp('out'), 'p');
    const first = importAdapter(lib, { path: F2L2, model: LLAMA });
    exportAdapter(lib, { adapter: first.adapter.id, out });
    const side = JSON.parse(readFileSync(join(out, SIDECAR_FILE), 'utf8'));

    // A bad lineage field: the lineage is left out, the rest of the file is used.
    const badLineage = copyFolder(out);
    const sidePath = join(badLineage, SIDECAR_FILE);
    writeFileSync(sidePath, JSON.stringify({ ...side, lineage: { ...side.lineage, steps: 'twelve' } }));
    const r = importAdapter(lib, { path: badLineage, name: 'bad-lineage' });
    assert.deepEqual(r.notes, [
      `${sidePath}: lineage.steps must be a whole number ≥ 0 or null; imported without its lineage`,
    ]);
    assert.equal(r.adapter.manifest.lineage, undefined);
    assert.equal(r.adapter.manifest.positions, 'f1+l1');

    // A bad core field: the whole file is set aside, and the import says what it assumed instead.
    const badCore = copyFolder(out);
    const corePath = join(badCore, SIDECAR_FILE);
    writeFileSync(corePath, JSON.stringify({ ...side, positions: 7 }));
    const c = importAdapter(lib, { path: badCore, name: 'bad-core', model: LLAMA });
    assert.equal(c.notes.length, 2, c.notes.join('\n'));
    assert.equal(
      c.notes[0],
      `${corePath}: positions must be a string; imported without it, as a plain pyreft folder`,
    );
    assert.match(c.notes[1], /does not record its prompt format, positions/);
    assert.equal(c.adapter.manifest.importAssumed, ASSUMED);
  });
});
