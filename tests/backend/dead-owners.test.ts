// Work owned by another process that dies while a studio is open: a CLI `train` killed with -9
// beside `serve` (or the window). Before, the open studio showed its run 'running' until it was
// restarted, refused to remove the model it had used, and its Cancel called the dead run cancelled;
// the CLI's `runs cancel` did the same. Now the host looks for dead owners by the start-up check's
// rule (db/database.ts interruptDeadOwners) on its library watcher's tick, and a cancel of such a
// run says it was already interrupted. A live CLI, however slow or stopped, is never marked.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createBackend } from '../../electron/backend/host.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { interruptDeadWork, watchOutsideChanges } from '../../electron/backend/library/outside-changes.ts';
import { createRun } from '../../electron/backend/library/runs.ts';
import { setSetting } from '../../electron/backend/library/settings.ts';
import {
  cliJson,
  inProcess,
  LLAMA_FIXTURE,
  libraryPushes,
  runCli,
  spawnCliTraining,
  tempDir,
  waitFor,
  writeJsonl,
} from './helpers.ts';

const root = tempDir('dead-owners');
/** The lock of an owner that is gone: no process holds it (what a killed one leaves). */
const DEAD_TOKEN = 'ab'.repeat(16);

test('a CLI training killed with -9 beside an open studio reads interrupted there; stopped, it is never marked', {
  timeout: 180_000,
}, async () => {
  const dataDir = join(root, 'killed');
  const b = createBackend(dataDir, { seedDemo: false });
  after(() => b.close());
  const { call } = inProcess(() => b);
  const { changes, seen } = libraryPushes(b);
  const rows = join(root, 'train.jsonl');
  writeJsonl(rows, 64);
  const child = spawnCliTraining(rows, dataDir, 'ignore');
  const exited = new Promise((resolve) => child.on('close', resolve));
  after(() => child.kill('SIGKILL'));
  const runId = (await seen({ kind: 'runs', action: 'added' })).id as number;
  await waitFor('two steps', async () =>
    (await call('runs/get', { id: runId })).metrics.length >= 2 ? 1 : 0,
  );
  const status = () => b.lib.db.prepare('SELECT status FROM runs WHERE id = ?').pluck().get(runId);

  // Stopped, as a CLI on a laptop put to sleep or a step that takes minutes: it still holds its
  // owner lock, so no look (the watcher's ticks, and one more asked for here) marks it.
  child.kill('SIGSTOP');
  await new Promise((r) => setTimeout(r, 2500));
  assert.deepEqual(interruptDeadWork(b.lib, b.events), []);
  assert.equal((await call('runs/get', { id: runId })).status, 'running');
  assert.equal(status(), 'running');

  child.kill('SIGKILL');
  await exited;
  changes.length = 0;
  // The watcher's next look marks it and pushes it; the Runs page reloads it.
  assert.deepEqual(await seen({ kind: 'runs', id: runId, action: 'updated' }, 10_000), {
    kind: 'runs',
    id: runId,
    action: 'updated',
    elsewhere: true,
  });
  const run = await call('runs/get', { id: runId });
  assert.equal(run.status, 'interrupted');
  assert.match(run.error, /stopped before the run ended; it can be resumed/);
  assert.equal(status(), 'interrupted');
  // A third terminal reads the same.
  const listed = await cliJson(dataDir, 'runs', 'list');
  assert.equal(listed.runs.find((r: { id: number }) => r.id === runId).status, 'interrupted');
  // And the model it used is no longer in use.
  await call('models/remove', { id: run.modelId });
});

/** A library with a run left 'running' by a process that is gone; returns the run's id. */
function deadRun(lib: Parameters<typeof createRun>[0]): number {
  const model = addModel(lib, { path: LLAMA_FIXTURE });
  const run = createRun(lib, { modelId: model.id, config: {} });
  lib.db
    .prepare("UPDATE runs SET status = 'running', owner_token = ?, started_at = 0 WHERE id = ?")
    .run(DEAD_TOKEN, run.id);
  return run.id;
}

test("an evaluation a killed CLI `evaluate` left running is marked by the studio's next look and pushed", async () => {
  const b = createBackend(join(root, 'evaluation'), { seedDemo: false, watchLibrary: false });
  after(() => b.close());
  const { call } = inProcess(() => b);
  const { seen } = libraryPushes(b);
  const insert = b.lib.db.prepare(
    `INSERT INTO evaluations (adapter_id, kind, status, metrics_json, owner_token, created_at)
     VALUES (NULL, 'loss', 'running', '{}', ?, 0)`,
  );
  const dead = Number(insert.run(DEAD_TOKEN).lastInsertRowid);
  // One of this host's own, running: its owner (this process) lives.
  const live = Number(insert.run(b.lib.owner.token).lastInsertRowid);
  const job = Number(
    b.lib.db
      .prepare(
        `INSERT INTO evaluation_jobs (job_id, data_path, status, owner_token, created_at)
         VALUES (NULL, '/d.jsonl', 'running', ?, 0)`,
      )
      .run(DEAD_TOKEN).lastInsertRowid,
  );
  assert.deepEqual(interruptDeadWork(b.lib, b.events), [
    { kind: 'evaluations', id: dead, action: 'updated', elsewhere: true },
  ]);
  await seen({ kind: 'evaluations', id: dead });
  assert.equal((await call('evaluations/get', { id: dead })).status, 'interrupted');
  assert.equal((await call('evaluations/get', { id: live })).status, 'running');
  assert.equal(
    b.lib.db.prepare('SELECT status FROM evaluation_jobs WHERE id = ?').pluck().get(job),
    'interrupted',
  );
  // Found once: the next look pushes nothing more.
  assert.deepEqual(interruptDeadWork(b.lib, b.events), []);
});

test("the studio's Cancel on a run whose process died says it was already interrupted, and marks it", async () => {
  // Asked before the watcher's next look (none here): the cancel looks itself.
  const b = createBackend(join(root, 'studio-cancel'), { seedDemo: false, watchLibrary: false });
  after(() => b.close());
  const { call, callError } = inProcess(() => b);
  const { seen } = libraryPushes(b);
  const id = deadRun(b.lib);
  const err = await callError('runs/cancel', { id });
  assert.equal(err.code, 'already-interrupted');
  assert.equal(
    err.message,
    `run ${id} was already interrupted: the process running it stopped; it can be resumed, or cancelled again to stop it for good`,
  );
  assert.equal((await call('runs/get', { id })).status, 'interrupted');
  await seen({ kind: 'runs', id, action: 'updated' });
  // A second Cancel stops it for good.
  assert.equal((await call('runs/cancel', { id })).status, 'cancelled');
});

test("the studio's Cancel on a dead run pushes its interruption once, not again at the watcher's next look", async () => {
  // The interruption the cancel pushed must be in the watcher's snapshot, or the next commit by
  // another process (here a setting saved through a second connection) made it find the run
  // changed and push it a second time: open pages reloaded twice for one change.
  const dataDir = join(root, 'cancel-once');
  const b = createBackend(dataDir, { seedDemo: false, watchLibrary: false });
  after(() => b.close());
  const { callError } = inProcess(() => b);
  const id = deadRun(b.lib);
  // The host's watcher, its ticks asked for here rather than timed.
  const watcher = watchOutsideChanges(b.lib, b.events, { intervalMs: 3_600_000 });
  after(() => watcher.stop());
  const { changes } = libraryPushes(b);
  assert.equal((await callError('runs/cancel', { id })).code, 'already-interrupted');
  assert.deepEqual(changes, [{ kind: 'runs', id, action: 'updated', elsewhere: true }]);
  const other = openLibrary(dataDir);
  after(() => closeLibrary(other));
  setSetting(other, 'theme', 'dark');
  assert.deepEqual(watcher.check(), [{ kind: 'settings', action: 'updated', elsewhere: true }]);
  assert.deepEqual(
    changes.filter((c) => c.kind === 'runs'),
    [{ kind: 'runs', id, action: 'updated', elsewhere: true }],
  );
});

test("a look for dead owners reads the tables' columns once per connection, not at each tick", () => {
  // The watcher looks each second; the schema is the connection's own from its migrations at open,
  // and three PRAGMA table_info a look were most of its cost (~300 µs a look before, ~25 µs after).
  const b = createBackend(join(root, 'schema-once'), { seedDemo: false, watchLibrary: false });
  after(() => b.close());
  const pragmas: string[] = [];
  const pragma = b.lib.db.pragma.bind(b.lib.db);
  b.lib.db.pragma = ((source: string, options?: { simple?: boolean }) => {
    pragmas.push(source);
    return pragma(source, options);
  }) as typeof b.lib.db.pragma;
  after(() => {
    b.lib.db.pragma = pragma;
  });
  const id = deadRun(b.lib);
  assert.deepEqual(interruptDeadWork(b.lib, b.events), [
    { kind: 'runs', id, action: 'updated', elsewhere: true },
  ]);
  for (let i = 0; i < 5; i++) assert.deepEqual(interruptDeadWork(b.lib, b.events), []);
  assert.deepEqual(pragmas, []);
});

test('`runs cancel` on a run whose process died says it was already interrupted, and marks it', async () => {
  const dataDir = join(root, 'cli-cancel');
  const b = createBackend(dataDir, { seedDemo: false, watchLibrary: false });
  const id = deadRun(b.lib);
  await b.close();
  const first = await runCli(['runs', 'cancel', String(id), '--data-dir', dataDir]);
  assert.notEqual(first.code, 0);
  assert.equal(first.stdout, '');
  assert.match(
    first.stderr.trim(),
    new RegExp(
      `^error: run ${id} was already interrupted: the process running it stopped; it can be resumed, or cancelled again to stop it for good$`,
    ),
  );
  assert.equal((await cliJson(dataDir, 'runs', 'show', String(id))).status, 'interrupted');
  const second = await runCli(['runs', 'cancel', String(id), '--data-dir', dataDir]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout.trim(), `run ${id} cancelled`);
});
