// What the engine's processes load: engine-worker.ts bundled as scripts/build-electron.js bundles it
// (the same options, scripts/electron-bundle.js), read from esbuild's own list of the files it put
// in. Every engine process (one a lane, one a run) loads all of it, so the library's database layer
// (better-sqlite3, db/) and the Hub client (@huggingface/hub) stay out: the 'files' lane's model
// scan reads folders only (hub/scan.ts, library/model-inspect.ts) and a re-import's row hashes need
// no database (library/row-hashes.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { build } from 'esbuild';
import { appRoot } from '../../electron/backend/paths.ts';
import { BUNDLE_OPTIONS } from '../../scripts/electron-bundle.js';

/** The inputs and external modules of the engine-worker bundle. */
async function engineBundle(): Promise<{ inputs: string[]; externals: string[] }> {
  const r = await build({
    absWorkingDir: appRoot(),
    entryPoints: ['electron/backend/jobs/engine-worker.ts'],
    ...BUNDLE_OPTIONS,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const externals = Object.values(r.metafile.outputs).flatMap((o) =>
    o.imports.filter((i) => i.external).map((i) => i.path),
  );
  return { inputs: Object.keys(r.metafile.inputs), externals: [...new Set(externals)] };
}

test('the engine processes load no database code and no Hub client', async () => {
  const { inputs, externals } = await engineBundle();
  // The check sees what it should: the engine's own modules are there.
  assert.ok(inputs.includes('electron/backend/hub/scan.ts'), 'hub/scan.ts is in the engine bundle');
  assert.ok(externals.includes('onnxruntime-node'));
  const unwanted = inputs.filter((f) =>
    /(^|\/)electron\/backend\/db\/|\/@huggingface\/hub\/|(^|\/)library\/(library|models)\.ts$/.test(f),
  );
  assert.deepEqual(unwanted, []);
  assert.ok(!externals.includes('better-sqlite3'), 'better-sqlite3 is loaded by an engine process');
});
