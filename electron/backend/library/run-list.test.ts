// The Runs page's list (runs/list, run-list.ts) on a real library file: each entry carries what its
// row shows, not the run's configuration and system information (3 MB at 2,000 runs, sent again at
// each step of a CLI training); a change is read for the runs it names; a search finds old runs.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../tests/helpers/temp.ts';
import type { BackendContext } from '../context.ts';
import { runsHandlers } from '../handlers/runs.ts';
import { closeLibrary, openLibrary } from './library.ts';
import type { Library } from './library-handle.ts';
import type { RunListEntry } from './run-list.ts';
import { appendMetrics, createRun, getRunRecord, setRunDevice, setRunStatus } from './runs.ts';
import { createSweep } from './sweeps.ts';

/** A model and a dataset version named as the page shows them, by plain rows: only names matter here. */
function addNamedData(lib: Library, model: string, dataset: string): { modelId: number; versionId: number } {
  const modelId = (
    lib.db
      .prepare(
        "INSERT INTO models (name, path, arch, fingerprint, config_json, created_at) VALUES (?, ?, 'llama', ?, '{}', 0) RETURNING id",
      )
      .get(model, `/models/${model}`, `fp-${model}`) as { id: number }
  ).id;
  const datasetId = (
    lib.db.prepare('INSERT INTO datasets (name, created_at) VALUES (?, 0) RETURNING id').get(dataset) as {
      id: number;
    }
  ).id;
  const versionId = (
    lib.db
      .prepare(
        `INSERT INTO dataset_versions (dataset_id, version, format, content_hash, row_count, file_path, size_bytes, created_at)
         VALUES (?, 2, 'prompt-completion', 'h', 1, '/f', 1, 0) RETURNING id`,
      )
      .get(datasetId) as { id: number }
  ).id;
  return { modelId, versionId };
}

function withLibrary(fn: (lib: Library) => void): void {
  const lib = openLibrary(join(tempDir('reft-run-list-'), 'data'));
  try {
    fn(lib);
  } finally {
    closeLibrary(lib);
  }
}

/** runs/list as the page calls it (its handler answers at once). */
const list = (lib: Library, params: Record<string, unknown> = {}) =>
  runsHandlers['runs/list'].run(params, { lib } as BackendContext) as RunListEntry[];

test('runs/list entries carry what a row shows, not the config and system information', () =>
  withLibrary((lib) => {
    const run = createRun(lib, {
      name: 'big config',
      config: { device: 'cuda', probe: { prompts: ['x'.repeat(10_000)] } },
      systemInfo: { cpus: 'y'.repeat(10_000) },
      totalSteps: 10,
    });
    setRunStatus(lib, run.id, 'running');
    setRunDevice(lib, run.id, { device: 'cpu', fallback: 'no GPU', precision: 'fp32' });
    lib.db
      .prepare(
        'INSERT INTO run_metrics (run_id, step, loss, tokens_per_s, created_at) VALUES (?, 3, 0.5, 9, 1)',
      )
      .run(run.id);
    const [entry] = list(lib);
    assert.deepEqual(Object.keys(entry).sort(), [
      'askedDevice',
      'createdAt',
      'datasetVersionId',
      'device',
      'deviceFallback',
      'id',
      'lastLoss',
      'lastStep',
      'modelId',
      'name',
      'pace',
      'preparing',
      'status',
      'stoppedEarly',
      'sweep',
      'totalSteps',
    ]);
    assert.equal(entry.askedDevice, 'cuda', "the config's device, as the Device column says it");
    assert.equal(entry.status, 'running');
    assert.equal(entry.lastStep, 3);
    assert.deepEqual(entry.pace, { etaS: null, tokensPerS: 9 });
    assert.ok(JSON.stringify(entry).length < 500, JSON.stringify(entry));
  }));

test('a run that early stopping ended says so in the list and its record; one that ran every step does not', () =>
  withLibrary((lib) => {
    /** A completed run of 30 planned steps whose last recorded step is `last`. */
    const completed = (name: string, config: Record<string, unknown>, last: number) => {
      const run = createRun(lib, { name, config, totalSteps: 30 });
      setRunStatus(lib, run.id, 'running');
      appendMetrics(
        lib,
        run.id,
        Array.from({ length: last }, (_, i) => ({
          step: i + 1,
          epoch: null,
          loss: 1,
          lr: null,
          gradNorm: null,
          tokensPerS: null,
          evalLoss: 1,
        })),
      );
      setRunStatus(lib, run.id, 'completed');
      return run.id;
    };
    const early = completed('early', { earlyStoppingPatience: 3 }, 10);
    const full = completed('full', { earlyStoppingPatience: 3 }, 30);
    const plain = completed('plain', {}, 30);
    const running = createRun(lib, {
      name: 'running',
      config: { earlyStoppingPatience: 3 },
      totalSteps: 30,
    }).id;
    const entries = new Map(list(lib).map((r) => [r.id, r.stoppedEarly]));
    assert.deepEqual(
      [early, full, plain, running].map((id) => [entries.get(id), getRunRecord(lib, id).stoppedEarly]),
      [
        [true, true],
        [false, false],
        [false, false],
        [false, false],
      ],
    );
  }));

test('runs/list with ids reads only the runs a change names; a deleted one is left out', () =>
  withLibrary((lib) => {
    const ids = [1, 2, 3].map((i) => createRun(lib, { name: `r${i}` }).id);
    assert.deepEqual(
      list(lib, { ids: [ids[2], ids[0]] }).map((r) => r.id),
      [ids[2], ids[0]],
      'newest first',
    );
    lib.db.prepare('DELETE FROM runs WHERE id = ?').run(ids[0]);
    assert.deepEqual(
      list(lib, { ids: [ids[0]] }).map((r) => r.id),
      [],
    );
  }));

test('runs/list query: every word matches the name, status, model, dataset or sweep', () =>
  withLibrary((lib) => {
    const a = addNamedData(lib, 'TinyLlama', 'persona');
    const b = addNamedData(lib, 'Qwen-small', 'math');
    const r1 = createRun(lib, { name: 'first try', modelId: a.modelId, datasetVersionId: a.versionId }).id;
    const r2 = createRun(lib, { name: 'Second', modelId: b.modelId, datasetVersionId: b.versionId }).id;
    const r3 = createRun(lib, { modelId: a.modelId, datasetVersionId: b.versionId }).id;
    setRunStatus(lib, r2, 'running');
    setRunStatus(lib, r2, 'failed', 'boom');
    const ids = (query: string) => list(lib, { query }).map((r) => r.id);
    assert.deepEqual(ids('tinyllama'), [r3, r1], 'model name, any case');
    assert.deepEqual(ids('MATH'), [r3, r2], 'dataset name');
    assert.deepEqual(ids('math v2'), [r3, r2], 'the version as the page names it');
    assert.deepEqual(ids('failed'), [r2], 'status');
    assert.deepEqual(ids('first tiny'), [r1], 'every word must match');
    assert.deepEqual(ids(`run ${r3}`), [r3], 'a run without a name by the name the page gives it');
    assert.deepEqual(ids('nothing-like-it'), []);
    const sweepId = createSweep(lib, ['seed']);
    const r4 = createRun(lib, { name: 'seed 1', sweepId }).id;
    const r5 = createRun(lib, { name: 'seed 2', sweepId }).id;
    assert.deepEqual(ids(`sweep ${sweepId}`), [r5, r4], 'a sweep by the name the page gives it');
    // "sweep N" is one term: not any sweep's run with an N somewhere else, nor sweep N0.
    const other = createSweep(lib, ['lr']);
    const r6 = createRun(lib, { name: `lr ${sweepId}e-3`, sweepId: other }).id;
    assert.deepEqual(
      ids(`sweep ${sweepId}`),
      [r5, r4],
      'not another sweep whose run has the number in its name',
    );
    lib.db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'sweeps'").run(sweepId * 10 - 1);
    const tenth = createSweep(lib, ['lr']);
    const r7 = createRun(lib, { sweepId: tenth }).id;
    assert.deepEqual(ids(`sweep ${sweepId}`), [r5, r4], `not sweep ${tenth}`);
    assert.deepEqual(ids(`Sweep ${tenth}`), [r7], 'any case');
    assert.deepEqual(ids('sweep'), [r7, r6, r5, r4], 'the word alone: every run of a sweep');
    assert.deepEqual(
      list(lib, { query: 'tinyllama', ids: [r1, r2] }).map((r) => r.id),
      [r1],
      'a change to a run the search leaves out',
    );
  }));
