// The CLI's own `evaluate` beside a running studio on the same data folder. Its evaluation was known
// to the database only once the engine had started it (its evaluations row), and not at all to the
// frozen-file reclaim: the studio's dataset removal deleted the file a CLI evaluation was reading.
// A CLI evaluation is now an evaluation job (library/evaluation-jobs.ts) from before the engine
// starts until it has let go, ended on finish, failure and Ctrl-C, interrupted at the next start-up
// when the process was killed.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { importAdapter } from '../../electron/backend/library/adapters.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { REFT } from '../helpers/fixtures.ts';
import { BIN, exitOf, inProcess, LLAMA_FIXTURE, ROOT, runCli, tempDir } from './helpers.ts';

const root = tempDir('evaluation-cli-beside-studio');
let b: Backend | null = null;
const { call } = inProcess(() => b as Backend);
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  b?.close();
});

/** The studio's library with the fixture model, its adapter and a dataset long enough to watch. */
function studio(name: string) {
  b?.close();
  const dataDir = join(root, name);
  b = createBackend(dataDir, { seedDemo: false });
  const model = addModel(b.lib, { path: LLAMA_FIXTURE });
  const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
  const { adapter } = importAdapter(b.lib, { path: pyreft, model: model.id, positions: 'l1' });
  const file = join(root, `${name}.jsonl`);
  const row = (i: number) => JSON.stringify({ prompt: `Question ${i}: is it so?`, completion: ' yes' });
  writeFileSync(file, `${Array.from({ length: 800 }, (_, i) => row(i)).join('\n')}\n`);
  const { dataset, version } = importDataset(b.lib, { path: file, name });
  return { dataDir, lib: b.lib, model, adapter, dataset, version };
}

/** Starts `evaluate` in its own process; resolves once its evaluation is running, then stops it. */
async function stoppedEvaluation(dataDir: string, adapterId: number, datasetId: number) {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'evaluate',
      '--adapter',
      String(adapterId),
      '--data',
      String(datasetId),
      '--batch-size',
      '1',
      '--data-dir',
      dataDir,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  child.stdout?.resume();
  const running = () =>
    b?.lib.db.prepare("SELECT 1 FROM evaluations WHERE status = 'running'").get() !== undefined;
  const deadline = Date.now() + 60_000;
  while (!running()) {
    if (child.exitCode !== null) throw new Error(`evaluate ended early: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`evaluate never started: ${stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGSTOP');
  return { child, stderr: () => stderr };
}

test("the studio's dataset removal leaves the file a CLI evaluation reads; it goes once that ends", {
  timeout: 240_000,
}, async () => {
  const s = studio('finished');
  const ev = await stoppedEvaluation(s.dataDir, s.adapter.id, s.dataset.id);
  await call('datasets/remove', { id: s.dataset.id });
  assert.ok(existsSync(s.version.filePath), 'the running CLI evaluation keeps its file');
  const rm = await call('adapters/remove', { id: s.adapter.id }).catch((e: Error) => e);
  assert.match(String((rm as Error).message), /is used by an evaluation the CLI is running \(process \d+\)/);
  ev.child.kill('SIGCONT');
  assert.deepEqual(await exitOf(ev.child), { code: 0, signal: null }, ev.stderr());
  assert.ok(!existsSync(s.version.filePath), 'the file goes once the CLI evaluation has ended');
  assert.deepEqual(s.lib.db.prepare('SELECT status FROM evaluation_jobs').pluck().all(), ['ended']);
});

test("Ctrl-C ends the CLI evaluation's job; a killed one is interrupted at the next start-up", {
  timeout: 240_000,
}, async () => {
  const s = studio('stopped');
  const stopped = await stoppedEvaluation(s.dataDir, s.adapter.id, s.dataset.id);
  stopped.child.kill('SIGINT');
  stopped.child.kill('SIGCONT');
  assert.equal((await exitOf(stopped.child)).code, 130, stopped.stderr());
  const statuses = () => s.lib.db.prepare('SELECT status FROM evaluation_jobs ORDER BY id').pluck().all();
  assert.deepEqual(statuses(), ['ended']);

  const killed = await stoppedEvaluation(s.dataDir, s.adapter.id, s.dataset.id);
  killed.child.kill('SIGKILL');
  await exitOf(killed.child);
  await call('datasets/remove', { id: s.dataset.id });
  assert.deepEqual(statuses(), ['ended', 'running'], 'nothing has looked yet');
  // The next start-up (any CLI command) sees its owner lock free: the job is interrupted, and its
  // file (aged past the sweep's 10 minutes) goes with the sweep.
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(s.version.filePath, old, old);
  const list = await runCli(['datasets', 'list', '--data-dir', s.dataDir]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(statuses(), ['ended', 'interrupted']);
  assert.ok(!existsSync(s.version.filePath), 'the sweep deletes the file nothing reads any more');
  await call('adapters/remove', { id: s.adapter.id });
});
