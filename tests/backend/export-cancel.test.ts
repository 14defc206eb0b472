// Stopping an adapter export (adapters/export, adapters/export-zip): a bundle copies the run's whole
// dataset, and zips it for a download — 4.3 s and 6.2 s for 500,000 rows (120 MB) on a shared 2-core
// EPYC — synchronously in the 'files' process, which never hears a polite cancel. adapters/export-
// cancel and the requester's connection closing kill that process; a write stopped mid-way leaves
// nothing of its own (its temp folder beside the destination, a zip's work folder and temp file), a
// previous export in the folder stays as it was, and the next export runs in a fresh process.
// Real WorkerEngine; the write is caught mid-way by polling for its temp folder (no timing asserted);
// the RPC wiring is checked with the 'files' process frozen (SIGSTOP), as a long write holds it.

import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { WorkerEngine } from '../../electron/backend/jobs/engine.ts';
import {
  writeExportStoppable,
  writeExportZipStoppable,
} from '../../electron/backend/library/adapter-export.ts';
import type { ExportJob } from '../../electron/backend/library/export-writer.ts';
import { completedRun, inProcess, LLAMA_FIXTURE, tempDir, writeJsonl } from './helpers.ts';

const root = tempDir('export-cancel');
const dataDir = join(root, 'data');
const engine = new WorkerEngine({ dataDir });
let b: Backend;
const { call, callError } = inProcess(() => b);

/** `n` rows written a megabyte at a time (a dataset whose bundle takes seconds). */
function writeBigJsonl(path: string, n: number): void {
  const fd = openSync(path, 'w');
  let chunk = '';
  for (let i = 0; i < n; i++) {
    chunk += `${JSON.stringify({ prompt: `Question ${i}: ${'words '.repeat(30)}`, completion: `Answer ${i}.` })}\n`;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
}

/** A folder's files and their bytes. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** Runs `write` under a signal aborted once an entry of `dir` that `started` names appears. */
async function stoppedMidWrite(
  write: (signal: AbortSignal) => Promise<unknown>,
  dir: string,
  started: (name: string) => boolean,
): Promise<unknown> {
  const ac = new AbortController();
  let done = false;
  const answer = write(ac.signal).then(
    () => 'finished',
    (e: { code?: string }) => e.code,
  );
  answer.finally(() => {
    done = true;
  });
  while (!done && !(existsSync(dir) && readdirSync(dir).some(started))) await sleep(5);
  assert.ok(!done, 'the export ended before it was seen writing');
  ac.abort();
  return answer;
}

before(() => {
  b = createBackend(dataDir, { seedDemo: false, engine });
});
after(() => b.close());

test('a bundle stopped mid-write leaves nothing of its own; a previous export stays as it was', async () => {
  const big = join(root, 'big.jsonl');
  writeBigJsonl(big, 500_000);
  const small = join(root, 'small.jsonl');
  writeJsonl(small, 3);
  const exports = join(root, 'exports');
  const out = join(exports, 'bundle');
  const job = (data: string): ExportJob => ({
    format: 'bundle',
    runId: 1,
    config: { model: LLAMA_FIXTURE },
    data,
    out,
    force: true,
  });
  await writeExportStoppable(engine, job(small));
  const previous = snapshot(out);
  const folder = await stoppedMidWrite(
    (signal) => writeExportStoppable(engine, job(big), signal),
    exports,
    (n) => n.startsWith('.bundle.') && n.endsWith('.tmp'),
  );
  assert.equal(folder, 'cancelled');
  assert.deepEqual(readdirSync(exports), ['bundle'], 'no temp or moved-aside folder left');
  assert.deepEqual(snapshot(out), previous, 'the previous export as it was');

  const downloads = join(root, 'downloads');
  mkdirSync(downloads);
  const workDir = join(downloads, '.work-1');
  const zip = await stoppedMidWrite(
    (signal) =>
      writeExportZipStoppable(
        engine,
        { ...job(big), out: join(workDir, 'bundle') },
        { workDir, stem: 'bundle', file: join(downloads, 'export.zip') },
        signal,
      ),
    downloads,
    (n) => n.startsWith('.work-'),
  );
  assert.equal(zip, 'cancelled');
  assert.deepEqual(readdirSync(downloads), [], 'no work folder, no zip or temp file of it');
  // The next export runs in a fresh 'files' process.
  assert.equal((await writeExportStoppable(engine, job(small))).format, 'bundle');
});

/** Freezes the 'files' process, as a long write holds it: an export asked now waits on it. */
function freezeFiles(): void {
  const lane = engine.processes().find((p) => p.lane === 'files');
  assert.ok(lane, "a 'files' process");
  process.kill(lane.pid, 'SIGSTOP');
}

test('adapters/export-cancel and a closed connection stop an export of the library', async () => {
  const modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  const datasetId = (await call('datasets/import', { path: file })).dataset.id;
  const { adapterId } = await completedRun(b, call, {
    modelId,
    datasetId,
    layers: '1',
    rank: 1,
    positions: 'l1',
    maxSteps: 1,
    batchSize: 4,
  });
  const out = join(root, 'library-export');
  await call('adapters/export', { id: adapterId, out, format: 'bundle' });
  freezeFiles();
  const stopped = callError('adapters/export', {
    id: adapterId,
    out,
    format: 'bundle',
    force: true,
    requestId: 'export-1',
  });
  await sleep(100);
  assert.deepEqual(await call('adapters/export-cancel', { requestId: 'export-1' }), { cancelled: true });
  assert.equal((await stopped).code, 'cancelled');
  assert.deepEqual(await call('adapters/export-cancel', { requestId: 'export-1' }), { cancelled: false });

  // A zip asked by a tab that then closes.
  await call('adapters/export', { id: adapterId, out, format: 'studio', force: true });
  freezeFiles();
  const link = new AbortController();
  const reply = b.handle(
    { type: 'request', id: 9001, method: 'adapters/export-zip', params: { id: adapterId, format: 'bundle' } },
    { gone: link.signal },
  ) as Promise<{ type: string; error?: { code: string } }>;
  await sleep(100);
  link.abort();
  assert.equal((await reply).error?.code, 'cancelled');
  assert.deepEqual(readdirSync(join(dataDir, 'downloads')), [], 'nothing left in downloads');
});
