// Crash safety: `reft-studio serve` is SIGKILLed while many imports are in flight. Afterwards the
// database must pass integrity_check, every dataset version must point at a complete frozen file
// (row count and sha256 as recorded), no dataset may be left without a version, and a restart works.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { connect, exitOf, fakeRenderer, ROOT, spawnServe, tempDir } from './helpers.ts';

const root = tempDir('kill');

function checkLibrary(dataDir: string): { versions: number; datasets: number } {
  const db = new Database(join(dataDir, 'library.db'), { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const versions = db.prepare('SELECT * FROM dataset_versions').all() as {
      id: number;
      row_count: number;
      content_hash: string;
      file_path: string;
    }[];
    for (const v of versions) {
      const file = join(dataDir, v.file_path);
      assert.ok(existsSync(file), `version ${v.id}: file exists`);
      const body = readFileSync(file);
      const lines = body.toString('utf8').split('\n').filter(Boolean);
      assert.equal(lines.length, v.row_count, `version ${v.id}: row count`);
      assert.equal(createHash('sha256').update(body).digest('hex'), v.content_hash, `version ${v.id}: hash`);
    }
    const orphans = db
      .prepare(
        'SELECT COUNT(*) AS n FROM datasets d WHERE NOT EXISTS (SELECT 1 FROM dataset_versions v WHERE v.dataset_id = d.id)',
      )
      .get() as { n: number };
    assert.equal(orphans.n, 0, 'no dataset without a version');
    const fk = db.pragma('foreign_key_check') as unknown[];
    assert.deepEqual(fk, []);
    const datasets = (db.prepare('SELECT COUNT(*) AS n FROM datasets').get() as { n: number }).n;
    return { versions: versions.length, datasets };
  } finally {
    db.close();
  }
}

test('SIGKILL during concurrent imports leaves a consistent library, and a restart works', {
  timeout: 120_000,
}, async (t) => {
  const dataDir = join(root, 'data');
  const dist = fakeRenderer(root);
  // 40 datasets of 3000 rows (≈250 KB each, some with bad lines) and 8 model folders.
  const files: string[] = [];
  for (let i = 0; i < 40; i++) {
    const lines: string[] = [];
    for (let r = 0; r < 3000; r++) {
      lines.push(
        r % 997 === 5
          ? '{broken'
          : JSON.stringify({ prompt: `file ${i} row ${r} ${'x'.repeat(40)}`, completion: `answer ${r}` }),
      );
    }
    const f = join(root, `d${i}.jsonl`);
    writeFileSync(f, lines.join('\n'));
    files.push(f);
  }
  const llama = join(ROOT, 'tests', 'fixtures', 'golden', 'models', 'llama');
  const modelDirs: string[] = [];
  for (let i = 0; i < 8; i++) {
    const d = join(root, `model${i}`);
    mkdirSync(d);
    for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(llama, f), join(d, f));
    modelDirs.push(d);
  }

  const s = await spawnServe(['--data-dir', dataDir, '--renderer-dir', dist]);
  const c = await connect(`ws://127.0.0.1:${s.url.port}/rpc?token=${s.url.searchParams.get('token')}`);
  // Keep a few requests in flight (the server handles each import synchronously, so a burst would
  // finish before any reply is read), and kill at a random moment once some writes have landed.
  const jobs: [string, unknown][] = [
    ...files.map((path, i): [string, unknown] => ['datasets/import', { path, name: `ds ${i}` }]),
    ...modelDirs.map((path): [string, unknown] => ['models/add', { path }]),
  ];
  jobs.sort(() => Math.random() - 0.5);
  let sent = 0;
  let replies = 0;
  let killed = false;
  const pump = () => {
    if (killed || sent >= jobs.length) return;
    const [method, params] = jobs[sent++];
    void c.call(method, params).then(() => {
      replies++;
      pump();
    });
  };
  for (let i = 0; i < 4; i++) pump();
  while (replies < 8) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, Math.random() * 15));
  killed = true;
  s.child.kill('SIGKILL');
  const { signal } = await exitOf(s.child);
  assert.equal(signal, 'SIGKILL');
  c.close();
  assert.ok(replies < jobs.length, `killed mid-way (${replies}/${jobs.length} replies)`);

  const tmp = existsSync(join(dataDir, 'datasets'))
    ? readdirSync(join(dataDir, 'datasets')).filter((f) => f.endsWith('.tmp'))
    : [];
  t.diagnostic(`killed after ${replies}/${jobs.length} replies; ${tmp.length} temp file(s) left mid-write`);
  const before = checkLibrary(dataDir);
  assert.ok(before.versions >= 1);

  // Restart: the library opens, is still consistent, and serves requests.
  const s2 = await spawnServe(['--data-dir', dataDir, '--renderer-dir', dist]);
  const c2 = await connect(`ws://127.0.0.1:${s2.url.port}/rpc?token=${s2.url.searchParams.get('token')}`);
  const list = await c2.call('datasets/list');
  assert.equal(list.type, 'reply');
  assert.equal((list as { result: unknown[] }).result.length, before.datasets);
  const imp = await c2.call('datasets/import', { path: files[0], name: 'after restart' });
  assert.equal(imp.type, 'reply');
  assert.equal(
    (imp as { result: { rejected: { line: number }[] } }).result.rejected.map((b) => b.line).join(','),
    '6,1003,2000,2997',
  );
  c2.close();
  s2.child.kill('SIGTERM');
  assert.equal((await exitOf(s2.child)).code, 0);
  assert.equal(checkLibrary(dataDir).datasets, before.datasets + 1);
});
