// The end-to-end durability test: a real `reft-studio serve` child process trains a run through the
// RPC; it is SIGKILLed mid-run once a checkpoint exists (its engine process ends by itself, not
// training on for nobody); after a restart the run is 'interrupted',
// `runs/resume` continues it from its last checkpoint, it completes, its metrics have every step
// exactly once, and the adapter is in the library with its lineage.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import {
  connectTo,
  exitOf,
  fakeRenderer,
  LLAMA_FIXTURE,
  rpc,
  spawnServe,
  tempDir,
  waitFor,
  writeJsonl,
} from './helpers.ts';

const root = tempDir('durable');

/** Engine processes (electron/backend/jobs/engine-worker) whose parent is `pid`, from /proc. */
function enginePids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === pid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('engine-worker');
      } catch {
        return false;
      }
    })
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

test('SIGKILL mid-run, restart: the run is interrupted, resumes from its checkpoint and completes intact', {
  timeout: 240_000,
}, async (t) => {
  const dataDir = join(root, 'data');
  const dist = fakeRenderer(root);
  const data = join(root, 'train.jsonl');
  writeJsonl(data, 40, [3, 10]); // lines 4 (bad JSON) and 11 (no completion) are rejected

  const s1 = await spawnServe(['--data-dir', dataDir, '--renderer-dir', dist]);
  const c1 = await connectTo(s1.url);
  const model = await rpc(c1, 'models/add', { path: LLAMA_FIXTURE, name: 'fixture llama' });
  const imp = await rpc(c1, 'datasets/import', { path: data, name: 'arith' });
  assert.deepEqual(
    imp.rejected.map((r: { line: number }) => r.line),
    [4, 11],
    'the broken lines are reported with their line numbers',
  );
  assert.equal(imp.version.rowCount, 40);

  // 40 rows, batch 1, 3 epochs = 120 steps, a checkpoint every 5.
  const params = {
    modelId: model.id,
    datasetId: imp.dataset.id,
    intervention: 'loreft',
    layers: '1;2',
    positions: 'f1+l1',
    shareWeights: false,
    rank: 2,
    lr: 0.004,
    epochs: 3,
    batchSize: 1,
    checkpointEvery: 5,
    probe: { prompts: ['Question 1: what is 1 plus 1?'], every: 20, maxNewTokens: 6 },
  };
  const started = await rpc(c1, 'runs/start', params);
  const runId = started.runId;
  assert.equal(started.status, 'queued');
  assert.ok(started.modelFingerprint, 'model fingerprint recorded');
  assert.equal(started.datasetVersionId, imp.version.id, 'the exact dataset version recorded');
  assert.ok(started.systemInfo?.nodeVersion, 'system info recorded');

  // Kill once a checkpoint exists and the run has gone past it.
  const before = await waitFor(
    'a checkpoint and a few more steps',
    async () => {
      const r = await rpc(c1, 'runs/get', { id: runId });
      return r.checkpoints.length >= 1 && r.lastStep >= r.checkpoints.at(-1).step + 2 && r.lastStep < 100
        ? r
        : null;
    },
    120_000,
    20,
  );
  const engines = enginePids(s1.child.pid as number);
  assert.ok(engines.length >= 1, 'training runs in an engine process');
  s1.child.kill('SIGKILL');
  assert.equal((await exitOf(s1.child)).signal, 'SIGKILL');
  c1.close();
  // Its engine process must not go on training (and writing checkpoints) for nobody.
  await waitFor('the engine processes to end', async () => (engines.some(alive) ? null : true), 10_000, 20);
  t.diagnostic(
    `killed at step ${before.lastStep} (last checkpoint recorded: step ${before.checkpoints.at(-1).step})`,
  );

  // Restart: the run is interrupted, its metrics are intact up to the kill.
  const s2 = await spawnServe(['--data-dir', dataDir, '--renderer-dir', dist]);
  const c2 = await connectTo(s2.url);
  const interrupted = await rpc(c2, 'runs/get', { id: runId });
  assert.equal(interrupted.status, 'interrupted');
  assert.ok(interrupted.metrics.length >= before.metrics.length, 'metrics survive the kill');

  const progress: number[] = [];
  c2.ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (
      m.type === 'push' &&
      m.topic === 'jobs/progress' &&
      m.data.runId === runId &&
      m.data.detail?.event === 'progress'
    ) {
      progress.push(m.data.detail.step);
      assert.equal(typeof m.data.detail.loss, 'number');
      assert.equal(m.data.detail.totalSteps, 120);
    }
  });
  const resumed = await rpc(c2, 'runs/resume', { id: runId });
  assert.equal(resumed.status, 'queued');
  const done = await waitFor(
    'the resumed run to finish',
    async () => {
      const r = await rpc(c2, 'runs/get', { id: runId });
      return r.status === 'completed' || r.status === 'failed' ? r : null;
    },
    180_000,
    100,
  );
  assert.equal(done.status, 'completed', done.error ?? '');
  assert.ok(
    progress.length > 0 && progress[0] > 1,
    `resumed after step 1 (first pushed step ${progress[0]})`,
  );

  // Every step exactly once, 1..120, no gap, no duplicate.
  const steps = done.metrics.map((m: { step: number }) => m.step);
  assert.deepEqual(
    steps,
    Array.from({ length: 120 }, (_, i) => i + 1),
  );
  assert.ok(done.metrics.every((m: { loss: number }) => Number.isFinite(m.loss)));
  assert.ok(done.samples.length >= 1, 'probe samples stored');

  // The adapter is in the library with its lineage.
  const adapters = await rpc(c2, 'adapters/list', {});
  const a = adapters.find((x: { runId: number }) => x.runId === runId);
  assert.ok(a, 'the trained adapter is registered');
  assert.equal(a.baseModelFingerprint, model.fingerprint);
  assert.equal(a.datasetVersionId, imp.version.id);
  assert.equal(done.adapterId, a.id);
  assert.ok(existsSync(join(a.path, 'manifest.json')));
  c2.close();
  s2.child.kill('SIGTERM');
  assert.equal((await exitOf(s2.child)).code, 0);

  const db = new Database(join(dataDir, 'library.db'), { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const dup = db
      .prepare(
        'SELECT COUNT(*) AS n FROM (SELECT step FROM run_metrics WHERE run_id = ? GROUP BY step HAVING COUNT(*) > 1)',
      )
      .get(runId) as { n: number };
    assert.equal(dup.n, 0);
  } finally {
    db.close();
  }
});
