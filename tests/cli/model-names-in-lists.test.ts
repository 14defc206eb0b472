// The CLI's lists name a run's or an adapter's base model by its name in the library, as the studio's
// Runs and Adapters pages do. Bug: `adapters list`'s BASE MODEL column was the fingerprint's first 12
// hex digits (8bed9a5f6961) and `runs list`'s MODEL the model's id, which a reader had to look up in
// `models list`. Where no library model has those weights, the fingerprint's prefix stays, marked
// with * and said under the table; each line keeps to 80 columns.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { displayWidth } from '../../cli/display-width.ts';
import { registerAdapter } from '../../electron/backend/library/adapters.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { createRun } from '../../electron/backend/library/runs.ts';
import { cliIn } from '../helpers/cli.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const dataDir = join(tempDir('reft-model-names-'), 'data');
const cli = (...argv: string[]) => cliIn(dataDir, ...argv);
const lib = openLibrary(dataDir);
after(() => closeLibrary(lib));

const llama = addModel(lib, { path: modelDir('llama'), name: 'tiny llama' });
const GONE = 'ab'.repeat(32); // weights no library model has

/** The table's rows by their first cell (the id), each cut into its cells. */
function rowsById(out: string): { header: string[]; rows: Map<string, string[]>; lines: string[] } {
  const lines = out.trimEnd().split('\n');
  const cells = (l: string) => l.split(/ {2,}/);
  const rows = new Map(
    lines
      .slice(1)
      .filter((l) => /^\d/.test(l))
      .map((l) => [cells(l)[0], cells(l)]),
  );
  return { header: cells(lines[0]), rows, lines };
}

test('adapters list: BASE MODEL is the library model’s name; a fingerprint only where none has it, marked', async () => {
  const known = registerAdapter(lib, {
    name: 'pirate',
    path: join(dataDir, 'adapters', 'pirate'),
    type: 'loreft',
    baseModelFingerprint: llama.fingerprint,
  });
  const unknown = registerAdapter(lib, {
    name: 'orphan',
    path: join(dataDir, 'adapters', 'orphan'),
    type: 'loreft',
    baseModelFingerprint: GONE,
  });
  const r = await cli('adapters', 'list');
  assert.equal(r.code, 0, r.err);
  const { header, rows, lines } = rowsById(r.out);
  const base = header.indexOf('BASE MODEL');
  assert.ok(base > 0, lines[0]);
  assert.equal(rows.get(String(known.id))?.[base], 'tiny llama');
  assert.equal(rows.get(String(unknown.id))?.[base], `${GONE.slice(0, 12)}*`);
  assert.ok(
    lines.includes('BASE MODEL *: not in the library; the first 12 hex digits of its fingerprint'),
    r.out,
  );
  for (const l of lines) assert.ok(displayWidth(l) <= 80, `${displayWidth(l)}: ${l}`);
});

test('runs list: MODEL is the library model’s name; a fingerprint only where the model is gone, marked', async () => {
  const trained = createRun(lib, {
    name: 'on llama',
    modelId: llama.id,
    modelFingerprint: llama.fingerprint,
  });
  const orphan = createRun(lib, { name: 'model removed', modelId: null, modelFingerprint: GONE });
  const r = await cli('runs', 'list');
  assert.equal(r.code, 0, r.err);
  const { header, rows, lines } = rowsById(r.out);
  const model = header.indexOf('MODEL');
  assert.ok(model > 0, lines[0]);
  assert.equal(rows.get(String(trained.id))?.[model], 'tiny llama');
  assert.equal(rows.get(String(orphan.id))?.[model], `${GONE.slice(0, 12)}*`);
  assert.ok(lines.includes('MODEL *: not in the library; the first 12 hex digits of its fingerprint'), r.out);
  for (const l of lines) assert.ok(displayWidth(l) <= 80, `${displayWidth(l)}: ${l}`);
});

test('import names the base model as the lists do: the library model’s name, else its fingerprint', async () => {
  // Bug: "base model: 8bed9a5f6961a3f4…" though the library had that model by name.
  const src = join(REFT, 'llama-loreft-f2l2', 'pyreft_init');
  const r = await cli('import', src, '--model', modelDir('llama'), '--name', 'imported', '-q');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^base model: tiny llama$/m);
});
