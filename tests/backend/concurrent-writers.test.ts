// Separate processes writing one library at the same time, as a busy user makes them: a `serve`
// answering annotations and settings while `reft-studio train` records a run; two `train`s at once;
// a dataset import beside annotations. WAL plus busy_timeout is not enough on its own: a transaction
// that reads before it writes fails at once with SQLITE_BUSY_SNAPSHOT ("database is locked") when
// another process committed in between. Every write transaction starts IMMEDIATE; here no write may
// fail and none may be lost (every tag added by any process is there at the end).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import {
  BIN,
  connectTo,
  exitOf,
  fakeRenderer,
  LLAMA_FIXTURE,
  ROOT,
  type RpcClient,
  rpc,
  spawnServe,
  tempDir,
} from './helpers.ts';

const root = tempDir('concurrent');
/** How long the writers that do not end on their own keep writing. */
const WINDOW_MS = 12_000;

function writeRows(path: string, n: number): string {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ prompt: `Question ${i}: is ${i} even?`, completion: i % 2 ? ' no' : ' yes' }),
  );
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  return { child, out: () => out, err: () => err };
}

const cliTrain = (dataDir: string, data: string, steps: number) =>
  start([
    BIN,
    'train',
    '--data-dir',
    dataDir,
    '--model',
    LLAMA_FIXTURE,
    '--data',
    data,
    '--max-steps',
    String(steps),
    '--batch-size',
    '2',
    '--checkpoint-every',
    '10',
    '--json',
  ]);

const writer = (dataDir: string, mode: string, ...args: string[]) =>
  start([
    '--import',
    'tsx',
    join(ROOT, 'tests', 'backend', 'library-writer.ts'),
    dataDir,
    mode,
    String(WINDOW_MS),
    ...args,
  ]);

async function writerResult(p: Proc): Promise<{ done: number; errors: string[] }> {
  const { code } = await exitOf(p.child);
  assert.equal(code, 0, p.err());
  return JSON.parse(p.out().trim().split('\n').at(-1) as string);
}

/** Annotates and sets settings over RPC until `stop()`; each call must succeed. */
async function hammer(
  c: RpcClient,
  datasetId: number,
  rows: number,
  prefix: string,
  stop: () => boolean,
): Promise<{ tags: number; settings: number; errors: string[] }> {
  const errors: string[] = [];
  let tags = 0;
  let settings = 0;
  const annotate = async () => {
    while (!stop()) {
      const r = await c.call('datasets/annotate', {
        datasetId,
        indices: [tags % rows],
        addTags: [`${prefix}${tags}`],
      });
      if (r.type === 'reply') tags++;
      else errors.push(JSON.stringify(r));
    }
  };
  const set = async () => {
    while (!stop()) {
      const r = await c.call('settings/set', { key: `${prefix}.${settings}`, value: settings });
      if (r.type === 'reply') settings++;
      else errors.push(JSON.stringify(r));
    }
  };
  await Promise.all([annotate(), set()]);
  return { tags, settings, errors: errors.slice(0, 5) };
}

function readLibrary(dataDir: string) {
  const db = new Database(join(dataDir, 'library.db'), { readonly: true });
  try {
    const tagRows = db.prepare('SELECT tags_json FROM dataset_row_annotations').all() as {
      tags_json: string;
    }[];
    const tags = new Set(tagRows.flatMap((r) => JSON.parse(r.tags_json) as string[]));
    const settings = new Set(
      (db.prepare('SELECT key FROM settings').all() as { key: string }[]).map((r) => r.key),
    );
    const runs = db
      .prepare(
        'SELECT r.id, r.status, (SELECT COUNT(*) FROM run_metrics m WHERE m.run_id = r.id) AS metrics FROM runs r ORDER BY r.id',
      )
      .all() as { id: number; status: string; metrics: number }[];
    const versions = new Map(
      (
        db
          .prepare('SELECT dataset_id AS id, COUNT(*) AS n FROM dataset_versions GROUP BY dataset_id')
          .all() as {
          id: number;
          n: number;
        }[]
      ).map((r) => [r.id, r.n]),
    );
    return { tags, settings, runs, versions, integrity: db.pragma('integrity_check', { simple: true }) };
  } finally {
    db.close();
  }
}

function assertAll(have: Set<string>, prefix: string, n: number, sep = ''): void {
  const missing = Array.from({ length: n }, (_, i) => `${prefix}${sep}${i}`).filter((k) => !have.has(k));
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${n} writes with prefix ${prefix} lost`);
}

async function serveWithDataset(dataDir: string, rows: number) {
  const s = await spawnServe(['--data-dir', dataDir, '--renderer-dir', fakeRenderer(dataDir)]);
  const c = await connectTo(s.url);
  const file = writeRows(join(dataDir, '..', `rows-${rows}.jsonl`), rows);
  const ds = await rpc(c, 'datasets/import', { path: file });
  return { s, c, datasetId: ds.dataset.id as number, file };
}

test('serve writing while `reft-studio train` records a run: no lock error, no lost write', {
  timeout: 240_000,
}, async () => {
  const dataDir = join(tempDir('concurrent-a'), 'data');
  const { s, c, datasetId } = await serveWithDataset(dataDir, 50);
  const data = writeRows(join(root, 'train-a.jsonl'), 8);
  // The hammer starts first so the train's first transaction meets a busy writer.
  let trainDone = false;
  const load = hammer(c, datasetId, 50, 's', () => trainDone);
  await new Promise((r) => setTimeout(r, 300));
  const train = cliTrain(dataDir, data, 400);
  const { code } = await exitOf(train.child);
  trainDone = true;
  const h = await load;
  assert.equal(code, 0, train.err().slice(-2000));
  assert.doesNotMatch(train.err(), /locked|busy/i);
  assert.deepEqual(h.errors, []);
  c.close();
  s.child.kill('SIGTERM');
  await exitOf(s.child);
  const lib = readLibrary(dataDir);
  assert.equal(lib.integrity, 'ok');
  assertAll(lib.tags, 's', h.tags);
  assertAll(lib.settings, 's', h.settings, '.');
  const run = lib.runs.at(-1);
  assert.deepEqual([run?.status, run?.metrics], ['completed', 400]);
});

test('two `reft-studio train` at once on one library: both complete with every metric', {
  timeout: 240_000,
}, async () => {
  const dataDir = join(tempDir('concurrent-b'), 'data');
  const data = writeRows(join(root, 'train-b.jsonl'), 8);
  const a = cliTrain(dataDir, data, 300);
  const b = cliTrain(dataDir, data, 300);
  const [ra, rb] = await Promise.all([exitOf(a.child), exitOf(b.child)]);
  assert.equal(ra.code, 0, a.err().slice(-2000));
  assert.equal(rb.code, 0, b.err().slice(-2000));
  for (const p of [a, b]) assert.doesNotMatch(p.err(), /locked|busy/i);
  const lib = readLibrary(dataDir);
  assert.equal(lib.integrity, 'ok');
  assert.deepEqual(
    lib.runs.map((r) => [r.status, r.metrics]),
    [
      ['completed', 300],
      ['completed', 300],
    ],
  );
});

test('a dataset import beside datasets/annotate from two processes: every import and tag kept', {
  timeout: 240_000,
}, async () => {
  const dataDir = join(tempDir('concurrent-c'), 'data');
  const { s, c, datasetId, file } = await serveWithDataset(dataDir, 40);
  const importer = writer(dataDir, 'import', file, String(datasetId));
  const annotator = writer(dataDir, 'annotate', String(datasetId), 'p');
  const t0 = Date.now();
  const h = await hammer(c, datasetId, 40, 's', () => Date.now() - t0 > WINDOW_MS);
  const imported = await writerResult(importer);
  const annotated = await writerResult(annotator);
  c.close();
  s.child.kill('SIGTERM');
  await exitOf(s.child);
  assert.deepEqual(h.errors, []);
  assert.deepEqual(imported.errors.slice(0, 5), [], `${imported.errors.length} imports failed`);
  assert.deepEqual(annotated.errors.slice(0, 5), [], `${annotated.errors.length} annotations failed`);
  assert.ok(imported.done > 0 && annotated.done > 0 && h.tags > 0, 'every writer wrote');
  const lib = readLibrary(dataDir);
  assert.equal(lib.integrity, 'ok');
  assert.equal(lib.versions.get(datasetId), 1 + imported.done, 'one version per import');
  assertAll(lib.tags, 's', h.tags);
  assertAll(lib.tags, 'p', annotated.done);
});
