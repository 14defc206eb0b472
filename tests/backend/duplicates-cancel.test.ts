// A duplicate search can be stopped: datasets/duplicates and datasets/drop-duplicates take a
// requestId, datasets/duplicates-cancel aborts that search in the 'files' engine process (which
// pauses for its event loop every 50 ms to hear it), and the call answers with a 'cancelled' error;
// a cancelled drop makes no version. Before, a search of a big version ran to its end, holding
// the 'files' lane (imports of adapters, token counts, exports) all that time.
// In-process host, real engine processes, real SQLite file.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { findDuplicates, findDuplicatesAsync } from '../../electron/backend/library/dedupe.ts';
import { CancelledError } from '../../native-runtime/errors.ts';
import { tempDir } from './helpers.ts';

const root = tempDir('duplicates-cancel');
let b: Backend;
let datasetId: number;
let nextId = 1;

type Answer = { ok: true; result: unknown } | { ok: false; code: string; message: string };

async function call(method: string, params: unknown): Promise<Answer> {
  const r = await b.handle({ type: 'request', id: nextId++, method, params });
  return r.type === 'reply'
    ? { ok: true, result: r.result }
    : { ok: false, code: r.error.code, message: r.error.message };
}

/** Rows alike enough that the near search takes seconds. */
function voyageRows(n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      prompt: `Question ${i}: where does the ship sail after port ${i % 97}?`,
      completion: `To the island of ${i} and then ${'onwards '.repeat(i % 7)}home.`,
    }),
  );
}

before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
  const file = join(root, 'voyages.jsonl');
  writeFileSync(file, `${voyageRows(40_000).join('\n')}\n`);
  const imp = await call('datasets/import', { path: file });
  assert.ok(imp.ok);
  datasetId = (imp.result as { dataset: { id: number } }).dataset.id;
});
after(() => b.close());

/** Starts `method` with a requestId, cancels it after `ms`; its answer and how long the stop took. */
async function cancelAfter(method: string, params: object, ms: number) {
  const requestId = `search-${nextId}`;
  const search = call(method, { ...params, requestId });
  await new Promise((r) => setTimeout(r, ms));
  const t0 = performance.now();
  const cancel = await call('datasets/duplicates-cancel', { requestId });
  const answer = await search;
  return { cancel, answer, stopMs: performance.now() - t0 };
}

test('a duplicate search stops when cancelled, with a cancelled error', async () => {
  const { cancel, answer, stopMs } = await cancelAfter('datasets/duplicates', { datasetId }, 1500);
  assert.deepEqual(cancel, { ok: true, result: { cancelled: true } });
  assert.equal(answer.ok, false);
  assert.equal(!answer.ok && answer.code, 'cancelled');
  console.log(`# stopped ${stopMs.toFixed(0)} ms after the cancel`);
  // Nothing is searching under that id any more.
  assert.deepEqual(await call('datasets/duplicates-cancel', { requestId: 'search-1' }), {
    ok: true,
    result: { cancelled: false },
  });
});

test('a cancelled drop of duplicates makes no version', async () => {
  const { answer } = await cancelAfter('datasets/drop-duplicates', { datasetId, mode: 'near' }, 300);
  assert.equal(!answer.ok && answer.code, 'cancelled');
  const ds = await call('datasets/get', { id: datasetId });
  assert.ok(ds.ok);
  assert.equal((ds.result as { versions: unknown[] }).versions.length, 1);
});

test('the pausing search finds what the plain one finds; an aborted signal stops it', async () => {
  const texts = voyageRows(3000).map((l) => JSON.parse(l).prompt as string);
  const ac = new AbortController();
  assert.deepEqual(
    await findDuplicatesAsync(texts, { maxPairs: 100 }, ac.signal),
    findDuplicates(texts, { maxPairs: 100 }),
  );
  ac.abort();
  await assert.rejects(findDuplicatesAsync(texts, {}, ac.signal), CancelledError);
});
