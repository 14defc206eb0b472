// Who owns a 'running' run is decided by a lock its live process holds (db/owner-lock.ts), not by
// its PID: a killed process's run becomes 'interrupted' at the next start-up check, a live owner in
// another process keeps its run and its evaluation, and a dead owner whose PID now belongs to some
// other live process (PID reuse) no longer keeps its run 'running' forever.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { getEvaluation } from '../../electron/backend/library/evaluations.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { getRun } from '../../electron/backend/library/runs.ts';
import { exitOf, ROOT, tempDir } from './helpers.ts';

const root = tempDir('run-owner');
const rows = join(root, 'rows.jsonl');
writeFileSync(rows, '{"prompt":"a","completion":"b"}\n');

/** A process that starts a run and an evaluation in `dataDir` and holds them until killed. */
async function holder(dataDir: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'tests', 'backend', 'library-writer.ts'), dataDir, 'hold', '0', rows],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return { child, ...(JSON.parse(line) as { runId: number; evaluationId: number }) };
}

/** Opens the library (running its start-up check) and reads a run's and an evaluation's status. */
function statusAfterOpen(dataDir: string, runId: number, evaluationId: number): [string, string] {
  const lib = openLibrary(dataDir);
  try {
    return [getRun(lib, runId).status, getEvaluation(lib, evaluationId).status];
  } finally {
    closeLibrary(lib);
  }
}

test('a live owner in another process keeps its run; once killed, the run is interrupted', {
  timeout: 60_000,
}, async () => {
  const dataDir = join(root, 'killed');
  const h = await holder(dataDir);
  assert.deepEqual(statusAfterOpen(dataDir, h.runId, h.evaluationId), ['running', 'running']);
  h.child.kill('SIGKILL');
  await exitOf(h.child);
  assert.deepEqual(statusAfterOpen(dataDir, h.runId, h.evaluationId), ['interrupted', 'interrupted']);
});

test('a dead owner whose PID was reused by a live process: the run is still interrupted', {
  timeout: 60_000,
}, async () => {
  for (const reuser of ['another process', 'the process opening the library']) {
    const dataDir = join(root, `reused-${reuser.split(' ')[1]}`);
    const h = await holder(dataDir);
    h.child.kill('SIGKILL');
    await exitOf(h.child);
    // The PID the run recorded now names a live process.
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)'], { stdio: 'ignore' });
    const pid = reuser === 'another process' ? (other.pid as number) : process.pid;
    const db = new Database(join(dataDir, 'library.db'));
    db.prepare('UPDATE runs SET owner_pid = ? WHERE id = ?').run(pid, h.runId);
    db.close();
    try {
      assert.equal(statusAfterOpen(dataDir, h.runId, h.evaluationId)[0], 'interrupted', reuser);
    } finally {
      other.kill('SIGKILL');
    }
  }
});
