// `runs list` at 80 columns, as `runs show` keeps to: every row keeps what tells runs apart (id,
// status, model, device, step, loss, sweep, when; an early stop and a device fallback marked and
// said under the table), and a long name is cut with an ellipsis by characters, never half an emoji.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import {
  appendMetrics,
  createRun,
  listRuns,
  setRunDevice,
  setRunStatus,
} from '../../electron/backend/library/runs.ts';
import { createSweep } from '../../electron/backend/library/sweeps.ts';
import { cliIn } from '../helpers/cli.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const dataDir = join(tempDir('reft-runs-list-'), 'data');
const cli = (...argv: string[]) => cliIn(dataDir, ...argv);
const lib = openLibrary(dataDir);
after(() => closeLibrary(lib));

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const metric = (step: number, loss: number) => ({
  step,
  epoch: 1,
  loss,
  lr: 1e-3,
  gradNorm: 1,
  tokensPerS: 100,
  evalLoss: null,
});

test('runs list fits 80 columns, a long name cut with an ellipsis, every other column whole', async () => {
  // Bug: the table was as wide as its widest cells: about 100 columns with a studio-named run, a
  // device fallback and an early stop, wrapped by the terminal into an unreadable list.
  const model = addModel(lib, { path: modelDir('llama') });
  const modelId = model.id;
  const sweepId = createSweep(lib, ['lr', 'rank']);
  const names = [
    'Run 1 · lr 1e-3 · rank 4 · positions f5+l5 · layers all',
    'Run 2 · 😀'.padEnd(60, '😀'),
    'short',
  ];
  const ids = names.map(
    (name, i) =>
      createRun(lib, {
        name,
        modelId,
        sweepId: i < 2 ? sweepId : undefined,
        totalSteps: 1200,
        config: { earlyStoppingPatience: 3 },
      }).id,
  );
  setRunDevice(lib, ids[0], { device: 'cpu', fallback: 'CUDA could not start', precision: 'fp32' });
  appendMetrics(lib, ids[0], [metric(1, 2.5), metric(1000, 0.51234)]);
  setRunStatus(lib, ids[0], 'completed'); // at 1000 of 1200 with a patience: stopped early
  setRunDevice(lib, ids[1], { device: 'cuda', fallback: null, precision: 'bf16' });
  appendMetrics(lib, ids[1], [metric(10, 1.25)]);
  setRunStatus(lib, ids[1], 'interrupted');

  const list = await cli('runs', 'list');
  assert.equal(list.code, 0, list.err);
  const [head, ...lines] = list.out.trimEnd().split('\n');
  const rows = lines.slice(0, -2);
  assert.deepEqual(lines.slice(-2), [
    'STATUS *: stopped early, as the held-out loss stopped improving',
    'DEVICE *: not the device asked for; runs show ID says which and why',
  ]);
  assert.match(head, /^ID +NAME +SWEEP +STATUS +MODEL +DEVICE +STEP +LOSS +CREATED$/);
  for (const line of [head, ...lines]) {
    assert.ok(Array.from(line).length <= 80, `${Array.from(line).length} columns: ${line}`);
    assert.doesNotMatch(line, LONE_SURROGATE);
  }
  const runs = listRuns(lib);
  // This year's runs to the minute (12-07 13:28), in UTC as runs show says it.
  const row = (id: number) => rows.find((r) => r.startsWith(`${id} `)) ?? '';
  const created = (id: number) =>
    new Date(runs.find((r) => r.id === id)?.createdAt ?? 0).toISOString().slice(5, 16).replace('T', ' ');
  const cells = (id: number) => row(id).split(/ {2,}/);

  const cut = cells(ids[0])[1];
  assert.ok(cut.endsWith('…') && names[0].startsWith(cut.slice(0, -1)), `a long name is cut: ${cut}`);
  assert.deepEqual(cells(ids[0]).slice(2), [
    String(sweepId),
    'completed*',
    model.name, // the library model's name (model-names-in-lists.test.ts)
    'cpu*',
    '1000',
    '0.5123',
    created(ids[0]),
  ]);
  assert.match(cells(ids[1])[1], /^Run 2 · 😀+…$/u, 'cut after an emoji, not inside one');
  assert.deepEqual(cells(ids[1]).slice(2), [
    String(sweepId),
    'interrupted',
    model.name, // the library model's name (model-names-in-lists.test.ts)
    'cuda',
    '10',
    '1.2500',
    created(ids[1]),
  ]);
  assert.deepEqual(cells(ids[2]), [
    String(ids[2]),
    'short',
    '-',
    'queued',
    model.name, // the library model's name (model-names-in-lists.test.ts)
    '-',
    '-',
    '-',
    created(ids[2]),
  ]);

  // --json keeps the names whole.
  const json = JSON.parse((await cli('runs', 'list', '--json')).out) as { runs: { name: string }[] };
  assert.deepEqual(json.runs.map((r) => r.name).reverse(), names);
});

test('runs list without a run in a sweep leaves the SWEEP column out', async () => {
  const list = await cli('runs', 'list', '--status', 'queued');
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /^ID +NAME +STATUS +MODEL +DEVICE +STEP +LOSS +CREATED\n/);
});
