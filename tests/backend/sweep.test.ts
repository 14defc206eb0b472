// runs/start-many, the Train wizard's sweep, through the backend's RPC (in-process host, real engine
// in its worker, real SQLite file): the runs are recorded with one sweep and trained one after
// another; the Runs page reads the sweep with each run; and a sweep with one bad combination —
// refused by the options' check, or only once planned against the model — records and queues
// nothing at all.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { sweepRuns } from '../../electron/backend/jobs/sweep-params.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('sweep');
const dataDir = join(root, 'data');
let b: Backend;
let modelId: number;
let datasetId: number;

const { call, callError } = inProcess(() => b);

const tiny = { layers: '1', rank: 2, positions: 'f1+l1', maxSteps: 2, batchSize: 2 };

before(async () => {
  b = createBackend(dataDir, { seedDemo: false });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(() => b.close());

const count = (table: string) =>
  (b.lib.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

test('a sweep: its runs are recorded with one sweep, trained one after another, and read back with it', async () => {
  const made = sweepRuns({ modelId, datasetId, ...tiny, name: 'pirate' }, [
    { key: 'lr', text: '1e-3, 4e-3' },
  ]);
  assert.ok('runs' in made, 'the sweep is made');
  assert.deepEqual(
    made.runs.map((r) => r.name),
    ['pirate · lr 1e-3', 'pirate · lr 4e-3'],
  );
  const res = await call('runs/start-many', { runs: made.runs.map((r) => r.params) });
  assert.equal(res.runIds.length, 2);
  assert.deepEqual(
    res.runs.map((r: { sweepId: number; status: string }) => [r.sweepId, r.status]),
    [
      [res.sweepId, 'queued'],
      [res.sweepId, 'queued'],
    ],
  );
  const done = await waitFor(
    'both runs to complete',
    async () => {
      const runs = await Promise.all(res.runIds.map((id: number) => call('runs/get', { id })));
      return runs.every((r) => r.status === 'completed') ? runs : null;
    },
    120_000,
  );
  assert.deepEqual(
    done.map((r) => r.config.lr),
    [1e-3, 4e-3],
  );
  const sweep = { id: res.sweepId, varied: ['lr'], runIds: res.runIds };
  assert.deepEqual(done[0].sweep, sweep, 'a run shows its sweep with the sweep’s runs');
  const listed = await call('runs/list', {});
  assert.deepEqual(
    listed.map((r: { sweep: unknown }) => r.sweep),
    [sweep, sweep],
  );
  const log = await call('runs/logs', { id: res.runIds[1] });
  assert.match(log[0].text, new RegExp(`^queued in sweep ${res.sweepId}: 2 steps`));
  // A run queued alone has no sweep.
  const alone = await call('runs/start', { modelId, datasetId, ...tiny, maxSteps: 1 });
  assert.equal(alone.sweepId, null);
  await b.jobs.idle();
  assert.equal((await call('runs/get', { id: alone.runId })).sweep, null);
});

test('a sweep given no name: its runs and adapters start with the run number, a named one keeps its name', async () => {
  // Bug: such runs, and their adapters, were called just "lr 1e-3": the same in every sweep.
  const made = sweepRuns({ modelId, datasetId, ...tiny }, [{ key: 'lr', text: '1e-3, 4e-3' }]);
  assert.ok('runs' in made, 'the sweep is made');
  const res = await call('runs/start-many', { runs: made.runs.map((r) => r.params) });
  const [a, c] = res.runIds as number[];
  const want = [`Run ${a} · lr 1e-3`, `Run ${c} · lr 4e-3`];
  assert.deepEqual(
    res.runs.map((r: { name: string }) => r.name),
    want,
  );
  await b.jobs.idle();
  const adapters = await call('adapters/list', {});
  assert.deepEqual(
    res.runIds.map((id: number) => adapters.find((x: { runId: number }) => x.runId === id)?.name),
    want,
    'its adapters are named as the runs',
  );
  // A name given to the sweep says what the runs are already: kept as it is.
  const named = sweepRuns({ modelId, datasetId, ...tiny, name: 'parrot' }, [{ key: 'rank', text: '2, 3' }]);
  assert.ok('runs' in named, 'the sweep is made');
  const res2 = await call('runs/start-many', { runs: named.runs.map((r) => r.params) });
  assert.deepEqual(
    res2.runs.map((r: { name: string }) => r.name),
    ['parrot · rank 2', 'parrot · rank 3'],
  );
  await b.jobs.idle();
});

test('one bad combination refuses the whole sweep, naming the run and its field: nothing is recorded or queued', async () => {
  await b.jobs.idle();
  const runsBefore = count('runs');
  const sweepsBefore = count('sweeps');
  const jobsBefore = b.jobs.list().length;
  // Refused by the options' own check (before any planning).
  const bad = await callError('runs/start-many', {
    runs: [
      { modelId, datasetId, ...tiny, name: 'ok' },
      { modelId, datasetId, ...tiny, lr: -1, name: 'bad lr' },
    ],
  });
  assert.equal(bad.code, 'bad-lr');
  assert.match(bad.message, /^run 2 of 2, “bad lr”: Learning rate must be/);
  // Refused only against the model (rank above its hidden size of 64), once the first run was
  // planned: the first run must not be recorded either.
  const beyond = (await callError('runs/start-many', {
    runs: [
      { modelId, datasetId, ...tiny, name: 'rank 2' },
      { modelId, datasetId, ...tiny, rank: 65, name: 'rank 65' },
    ],
  })) as { code: string; message: string; field?: string };
  assert.equal(beyond.code, 'bad-rank');
  assert.equal(beyond.field, 'rank', 'the wizard shows it beside the field');
  assert.equal(
    beyond.message,
    "run 2 of 2, “rank 65”: Rank must be at most the model's hidden size, 64 (got 65)",
  );
  // A layer the model does not have, in the first run.
  const layer = await callError('runs/start-many', {
    runs: [
      { modelId, datasetId, ...tiny, layers: '9' },
      { modelId, datasetId, ...tiny },
    ],
  });
  assert.equal(layer.code, 'layer-out-of-range');
  assert.match(layer.message, /^run 1 of 2: layer 9 is out of range/);
  // One run is no sweep, nor are more than 8.
  const one = await callError('runs/start-many', { runs: [{ modelId, datasetId, ...tiny }] });
  assert.equal(one.code, 'invalid-params');
  const many = await callError('runs/start-many', {
    runs: Array.from({ length: 9 }, (_, i) => ({ modelId, datasetId, ...tiny, seed: i })),
  });
  assert.equal(many.code, 'invalid-params');
  // Runs that are not one run with other values: the sweep would record a false "varies".
  const unrelated = await callError('runs/start-many', {
    runs: [
      { modelId, datasetId, ...tiny },
      { modelId, datasetId, ...tiny, maxSteps: 1, seed: 7 },
    ],
  });
  assert.equal(unrelated.code, 'invalid-params');
  assert.match(unrelated.message, /runs: the runs of a sweep differ only in .*: run 2 has another maxSteps$/);
  // Layers "all" and the list of the model's every layer (the fixture has 4) are one run twice:
  // the schema, without the model, cannot tell; the runs as planned for the model can.
  const everyLayer = await callError('runs/start-many', {
    runs: [
      { modelId, datasetId, ...tiny, layers: 'all', name: 'all' },
      { modelId, datasetId, ...tiny, layers: '1' },
      { modelId, datasetId, ...tiny, layers: '0;1;2;3', name: 'four' },
    ],
  });
  assert.equal(everyLayer.code, 'invalid-params');
  assert.equal(everyLayer.message, 'runs: run 3 is run 1 again');
  assert.equal(count('runs'), runsBefore, 'no run recorded');
  assert.equal(count('sweeps'), sweepsBefore, 'no sweep recorded');
  assert.equal(b.jobs.list().length, jobsBefore, 'nothing queued');
});
