// runs/start (and the CLI's train, through the same planRunData) refuses held-out data that shares
// rows with the training data, in one line, before anything is recorded: the version a training part
// was cut from, a part cut from the training version, a part of another split of the same version.
// The part cut with the training part (same seed) is accepted. library/held-out-rule.ts.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { LLAMA_FIXTURE, tempDir } from './helpers.ts';

const root = tempDir('held-out-rule');
let b: Backend;
let nextId = 1;
// biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
async function call<T = any>(method: string, params: unknown = {}): Promise<T> {
  const r = await b.handle({ type: 'request', id: nextId++, method, params });
  if (r.type !== 'reply') throw Object.assign(new Error(`${method}: ${r.error.message}`), r.error);
  return r.result as T;
}
async function refused(params: Record<string, unknown>): Promise<{ code: string; message: string }> {
  const r = await b.handle({ type: 'request', id: nextId++, method: 'runs/start', params });
  assert.equal(r.type, 'error', 'runs/start refused it');
  return (r as { error: { code: string; message: string } }).error;
}

let modelId: number;
let datasetId: number;
let full: number;
const split: Record<string, { id: number }>[] = [];
before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'rows.jsonl');
  writeFileSync(
    file,
    Array.from({ length: 40 }, (_, i) => JSON.stringify({ prompt: `Q${i}`, completion: `A${i}` })).join('\n'),
  );
  const ds = (await call('datasets/import', { path: file })).dataset;
  datasetId = ds.id;
  full = ds.latest.id;
  const ratios = { train: 0.6, validation: 0.2, test: 0.2 };
  for (const seed of [5, 6]) split.push(await call('datasets/split', { datasetId, seed, ratios }));
});
after(() => b.close());

const run = (train: number, held: number) => ({
  modelId,
  datasetId,
  datasetVersionId: train,
  evalDatasetVersionId: held,
  layers: '0',
  maxSteps: 1,
});

test('the version a training part was cut from is refused as held-out data: it holds every training row', async () => {
  const e = await refused(run(split[0].train.id, full));
  assert.equal(e.code, 'eval-is-train');
  assert.match(
    e.message,
    /^the held-out v1 is the version the training part v\d+ was cut from, so it holds every training row; choose the part cut with v\d+$/,
  );
});

test('a part cut from the training version, or by another split, is refused: they share rows', async () => {
  const child = await refused(run(full, split[0].validation.id));
  assert.match(
    child.message,
    /^the held-out v\d+ is a validation part cut from the training data v1, so its rows are training rows/,
  );
  const other = await refused(run(split[0].train.id, split[1].validation.id));
  assert.match(other.message, /were cut from v1 by different splits \(seeds 6 and 5\), so they share rows/);
  assert.deepEqual(await call('runs/list'), [], 'nothing was recorded');
});

test('the part cut with the training part is accepted', async () => {
  const e = await call('runs/estimate', {
    ...run(split[0].train.id, split[0].validation.id),
    calibrate: false,
  });
  assert.ok(e.trainExamples > 0);
});
