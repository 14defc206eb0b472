// The outside-changes poll (outside-changes.ts) on a real library file, with the other process's
// commits made through a second connection. Each tick after such a commit used to read every run's
// last metric step, last probe step and checkpoint count — three lookups per run, 20–60 ms a tick
// at 2,000 runs, each second while a CLI trained. It now reads the metric step of the runs that
// can gain steps (queued or running) or whose own columns changed, and the probe steps and
// checkpoint counts only when those tables moved; what it pushes is unchanged.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { BackendEvents, type LibraryChange } from '../events.ts';
import { closeLibrary, openLibrary } from './library.ts';
import { watchOutsideChanges } from './outside-changes.ts';
import { createRun, setRunStatus } from './runs.ts';

/** Runs `fn`, recording each execution of a statement that reads run_metrics and what it was given. */
function metricReads(fn: () => void): unknown[][] {
  const reads: unknown[][] = [];
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (this: Database.Database, source: string) {
    const st = prepare.call(this, source) as Database.Statement;
    if (!source.includes('run_metrics')) return st;
    for (const method of ['get', 'all', 'iterate'] as const) {
      const run = st[method] as (...a: unknown[]) => unknown;
      Object.defineProperty(st, method, {
        value: (...args: unknown[]) => {
          reads.push(args);
          return run.apply(st, args);
        },
      });
    }
    return st;
  } as typeof Database.prototype.prepare;
  try {
    fn();
  } finally {
    Database.prototype.prepare = prepare;
  }
  return reads;
}

test('a tick reads the metric step of running runs only, and pushes what changed as before', () => {
  const dataDir = join(tempDir('reft-outside-changes-'), 'data');
  const lib = openLibrary(dataDir);
  const events = new BackendEvents();
  const other = new Database(join(dataDir, 'library.db'));
  try {
    const ids = Array.from({ length: 30 }, (_, i) => createRun(lib, { name: `r${i}` }).id);
    for (const id of ids) setRunStatus(lib, id, 'cancelled');
    const running = createRun(lib, { name: 'training elsewhere' }).id;
    setRunStatus(lib, running, 'running'); // owned by this process: its lock lives
    const watcher = watchOutsideChanges(lib, events, { intervalMs: 1e9 });
    const step = other.prepare(
      'INSERT INTO run_metrics (run_id, step, loss, created_at) VALUES (?, ?, 1, 0)',
    );
    const check = (): LibraryChange[] => watcher.check();

    // A step of the run trained elsewhere: one lookup, that run's.
    step.run(running, 1);
    let changes: LibraryChange[] = [];
    const reads = metricReads(() => {
      changes = check();
    });
    assert.deepEqual(reads, [[running]], 'one indexed read, the running run');
    assert.deepEqual(changes, [{ kind: 'runs', id: running, action: 'updated', elsewhere: true }]);

    // Renamed, given a checkpoint or a probe answer elsewhere (not running): pushed as before.
    other.prepare('UPDATE runs SET name = ? WHERE id = ?').run('renamed', ids[3]);
    assert.deepEqual(check(), [{ kind: 'runs', id: ids[3], action: 'updated', elsewhere: true }]);
    other
      .prepare("INSERT INTO checkpoints (run_id, step, path, created_at) VALUES (?, 5, '/c', 0)")
      .run(ids[4]);
    assert.deepEqual(check(), [{ kind: 'runs', id: ids[4], action: 'updated', elsewhere: true }]);
    other.prepare('DELETE FROM checkpoints WHERE run_id = ?').run(ids[4]);
    assert.deepEqual(check(), [{ kind: 'runs', id: ids[4], action: 'updated', elsewhere: true }]);
    other
      .prepare(
        "INSERT INTO generations (run_id, step, kind, prompt, output, created_at) VALUES (?, 2, 'probe', 'p', 'o', 0)",
      )
      .run(ids[5]);
    assert.deepEqual(check(), [{ kind: 'runs', id: ids[5], action: 'updated', elsewhere: true }]);

    // Resumed elsewhere: queued, its steps restored past the old last one, then running.
    other.prepare("UPDATE runs SET status = 'queued' WHERE id = ?").run(ids[6]);
    assert.deepEqual(check(), [{ kind: 'runs', id: ids[6], action: 'updated', elsewhere: true }]);
    step.run(ids[6], 7);
    assert.deepEqual(check(), [{ kind: 'runs', id: ids[6], action: 'updated', elsewhere: true }]);

    // Deleted and added elsewhere.
    other.prepare('DELETE FROM runs WHERE id = ?').run(ids[7]);
    const added = Number(
      other.prepare("INSERT INTO runs (name, status, created_at) VALUES ('new', 'completed', 0)").run()
        .lastInsertRowid,
    );
    assert.deepEqual(
      check().sort((a, b) => (a.id ?? 0) - (b.id ?? 0)),
      [
        { kind: 'runs', id: ids[7], action: 'removed', elsewhere: true },
        { kind: 'runs', id: added, action: 'added', elsewhere: true },
      ],
    );

    // The host's own change, taken in at once: no push of it by the next tick.
    setRunStatus(lib, ids[8], 'failed', 'boom');
    events.emit('library/changed', { kind: 'runs', id: ids[8], action: 'updated' });
    step.run(running, 2);
    assert.deepEqual(check(), [{ kind: 'runs', id: running, action: 'updated', elsewhere: true }]);
    watcher.stop();
  } finally {
    other.close();
    closeLibrary(lib);
  }
});
