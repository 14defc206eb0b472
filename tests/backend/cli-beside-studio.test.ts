// The CLI on the data folder of an open studio (`serve` or the window): what it adds, removes and
// trains reaches every open page as 'library/changed' pushes (library/outside-changes.ts), as the
// studio's own changes do. Before, no push came: an open page kept a dataset the CLI had removed,
// never listed the one it imported, and showed nothing of a run `reft-studio train` was training.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import {
  inProcess,
  LLAMA_FIXTURE,
  libraryPushes,
  runCli,
  spawnCliTraining,
  tempDir,
  waitFor,
  writeJsonl,
} from './helpers.ts';

const root = tempDir('cli-beside-studio');
const dataDir = join(root, 'data');
const b: Backend = createBackend(dataDir);
after(() => b.close());
const { call } = inProcess(() => b);
const { changes, seen } = libraryPushes(b);

test("a dataset the CLI imports and a model it adds, then removes, are pushed to the studio's clients", async () => {
  const file = join(root, 'rows.jsonl');
  writeJsonl(file, 8);
  const imported = await runCli([
    'datasets',
    'import',
    file,
    '--name',
    'from-cli',
    '--json',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(imported.code, 0, imported.stderr);
  const id = JSON.parse(imported.stdout).dataset.id as number;
  assert.deepEqual(await seen({ kind: 'datasets', id, action: 'added' }), {
    kind: 'datasets',
    id,
    action: 'added',
    elsewhere: true,
  });
  const added = await runCli(['models', 'add', LLAMA_FIXTURE, '--json', '--data-dir', dataDir]);
  assert.equal(added.code, 0, added.stderr);
  const modelId = JSON.parse(added.stdout).id as number;
  await seen({ kind: 'models', id: modelId, action: 'added' });
  const removed = await runCli(['models', 'rm', String(modelId), '--data-dir', dataDir]);
  assert.equal(removed.code, 0, removed.stderr);
  await seen({ kind: 'models', id: modelId, action: 'removed' });
  // Only what changed was pushed: no run, adapter or setting.
  assert.deepEqual(new Set(changes.map((c) => c.kind)), new Set(['datasets', 'models']));
});

test('a run the CLI trains is pushed step by step; cancelled from the studio, the CLI stops and says so', {
  timeout: 180_000,
}, async () => {
  const rows = join(root, 'train.jsonl');
  writeJsonl(rows, 64);
  const child = spawnCliTraining(rows, dataDir);
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d) => (stderr += d));
  child.stdout?.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  after(() => child.kill('SIGKILL'));
  const added = await seen({ kind: 'runs', action: 'added' });
  const runId = added.id as number;
  // Its steps arrive as updates of the run, which the Runs page reloads.
  await seen({ kind: 'runs', id: runId, action: 'updated' });
  await waitFor('two steps', async () =>
    (await call('runs/get', { id: runId })).metrics.length >= 2 ? 1 : 0,
  );
  // The Runs page's ETA and tokens/s, which no job progress of the studio's carries for it: read
  // from its stored steps (library/run-pace.ts).
  const listed = await waitFor('its pace in runs/list', async () =>
    (await call('runs/list')).find(
      (r: { id: number; pace?: { etaS: number | null } }) => r.id === runId && r.pace?.etaS != null,
    ),
  );
  assert.ok(listed.pace.etaS > 0, JSON.stringify(listed.pace));
  assert.ok(listed.pace.tokensPerS > 0, JSON.stringify(listed.pace));
  const cancelled = await call('runs/cancel', { id: runId });
  assert.equal(cancelled.status, 'cancelled');
  const code = await exited;
  assert.equal(code, 130, stderr);
  // It says why it stopped: nobody pressed Ctrl-C in its terminal.
  assert.match(
    stdout,
    new RegExp(
      `^run ${runId} cancelled at step \\d+ of 500 \\(cancelled from the studio or \`reft-studio runs cancel\`\\)$`,
      'm',
    ),
  );
});

test("the studio's own changes are not pushed again as another process's when the CLI writes", {
  timeout: 180_000,
}, async () => {
  // A rename made in the studio (pushed by its handler), then a run the studio trains (followed on
  // 'jobs/progress'), then a CLI import: only the import comes back marked `elsewhere`. Before, the
  // poll after the CLI's commit compared with its snapshot from before the studio's own changes and
  // pushed the renamed dataset and the training run again as changed elsewhere.
  const own = join(root, 'own.jsonl');
  writeJsonl(own, 32);
  const mine = (await call('datasets/import', { path: own, name: 'studio-own' })).dataset.id as number;
  const modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id as number;
  await call('datasets/rename', { id: mine, name: 'studio-renamed' });
  const run = await call('runs/start', {
    modelId,
    datasetId: mine,
    layers: '1',
    rank: 2,
    batchSize: 4,
    // Long enough to be still stepping when the CLI's import lands, however fast this machine is.
    maxSteps: 20_000,
  });
  after(() => call('runs/cancel', { id: run.runId }).catch(() => {}));
  await waitFor('two steps of the studio run', async () =>
    (await call('runs/get', { id: run.runId })).metrics.length >= 2 ? 1 : 0,
  );
  changes.length = 0;
  const file = join(root, 'beside.jsonl');
  writeJsonl(file, 4);
  const imported = await runCli(['datasets', 'import', file, '--json', '--data-dir', dataDir]);
  assert.equal(imported.code, 0, imported.stderr);
  const id = JSON.parse(imported.stdout).dataset.id as number;
  await seen({ kind: 'datasets', id, action: 'added' });
  // The studio run kept stepping meanwhile: one more poll after a step would have pushed it.
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(
    changes.filter((c) => c.elsewhere),
    [{ kind: 'datasets', id, action: 'added', elsewhere: true }],
  );
  await call('runs/cancel', { id: run.runId });
});
