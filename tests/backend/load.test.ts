// Load on a real `reft-studio serve` child process (loopback only, bounded loops): a 5,000-row
// dataset import, 10 WebSocket clients all receiving a running job's progress, and 1,000 API calls
// spread over them — no error, and the server's memory (RSS) stays within a generous bound.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JobProgress } from '../../electron/backend/events.ts';
import {
  connectTo,
  exitOf,
  fakeRenderer,
  LLAMA_FIXTURE,
  type RpcClient,
  rpc,
  spawnServe,
  tempDir,
  waitFor,
  writeJsonl,
} from './helpers.ts';

const root = tempDir('load');

/** Resident memory of a process in MB (Linux /proc), or null elsewhere. */
function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

test('5,000-row import, 10 clients on a running job, 1,000 API calls: no error, bounded memory', {
  timeout: 240_000,
}, async (t) => {
  const dist = fakeRenderer(root);
  const s = await spawnServe(['--data-dir', join(root, 'data'), '--renderer-dir', dist]);
  const pid = s.child.pid!;
  const clients: RpcClient[] = [];
  try {
    const main = await connectTo(s.url);
    clients.push(main);
    const rssStart = rssMb(pid);

    // 1. A 5,000-row import (a few malformed lines among them).
    const big = join(root, 'big.jsonl');
    const lines = Array.from({ length: 5000 }, (_, i) =>
      JSON.stringify({
        prompt: `Item ${i}: describe the object numbered ${i * 31}.`,
        completion: `It is object ${i}.`,
      }),
    );
    lines.splice(100, 0, '{not json');
    lines.splice(2000, 0, '{"prompt": "no completion"}');
    writeFileSync(big, lines.join('\n'));
    let t0 = performance.now();
    const imp = await rpc(main, 'datasets/import', { path: big, name: 'big' });
    const importMs = performance.now() - t0;
    assert.equal(imp.version.rowCount, 5000);
    assert.deepEqual(
      imp.rejected.map((r: { line: number }) => r.line),
      [101, 2001],
    );

    // 2. A running training job, followed by 10 clients.
    const model = await rpc(main, 'models/add', { path: LLAMA_FIXTURE });
    const small = join(root, 'small.jsonl');
    writeJsonl(small, 20);
    const ds = await rpc(main, 'datasets/import', { path: small });
    for (let i = 1; i < 10; i++) clients.push(await connectTo(s.url));
    const run = await rpc(main, 'runs/start', {
      modelId: model.id,
      datasetId: ds.dataset.id,
      layers: '1',
      rank: 2,
      batchSize: 1,
      maxSteps: 100_000,
      checkpointEvery: 500,
    });
    const seen = (c: RpcClient) =>
      c.pushes.filter(
        (p) =>
          p.type === 'push' &&
          p.topic === 'jobs/progress' &&
          (p.data as JobProgress).runId === run.runId &&
          (p.data as JobProgress).detail?.event === 'progress',
      ).length;
    await waitFor('every client to see progress', async () => clients.every((c) => seen(c) >= 3), 60_000, 50);
    const rssBefore = rssMb(pid);

    // 3. 1,000 API calls, 10 clients × 100 calls each, 10 in flight at a time.
    const calls: [string, unknown][] = [
      ['runs/get', { id: run.runId }],
      ['datasets/rows', { datasetId: imp.dataset.id, offset: 1234, limit: 50 }],
      ['datasets/rows', { datasetId: imp.dataset.id, search: 'numbered 31', limit: 10 }],
      ['models/list', {}],
      ['datasets/list', {}],
      ['runs/list', {}],
      ['adapters/list', {}],
      ['settings/get', {}],
      ['system/info', {}],
      ['datasets/get', { id: imp.dataset.id }],
    ];
    let errors = 0;
    t0 = performance.now();
    await Promise.all(
      clients.map(async (c, k) => {
        for (let i = 0; i < 100; i++) {
          const [method, params] = calls[(i + k) % calls.length];
          const r = await c.call(method, params);
          if (r.type !== 'reply') errors++;
        }
      }),
    );
    const callsMs = performance.now() - t0;
    const rssAfter = rssMb(pid);
    const pushCounts = clients.map(seen);
    const status = await rpc(main, 'runs/get', { id: run.runId });
    assert.equal(status.status, 'running', 'the job kept running under load');
    await rpc(main, 'runs/cancel', { id: run.runId });

    t.diagnostic(`import of 5,000 rows: ${importMs.toFixed(0)} ms`);
    t.diagnostic(
      `1,000 calls over 10 clients: ${callsMs.toFixed(0)} ms (${((1000 / callsMs) * 1000).toFixed(0)} calls/s), ${errors} errors`,
    );
    t.diagnostic(
      `progress pushes per client during the test: min ${Math.min(...pushCounts)}, max ${Math.max(...pushCounts)} (run at step ${status.lastStep})`,
    );
    t.diagnostic(
      `server RSS: start ${rssStart?.toFixed(0)} MB, job running ${rssBefore?.toFixed(0)} MB, after calls ${rssAfter?.toFixed(0)} MB`,
    );
    assert.equal(errors, 0);
    assert.ok(callsMs < 60_000, `1,000 calls took ${callsMs.toFixed(0)} ms`);
    assert.ok(Math.min(...pushCounts) >= 3);
    if (rssBefore !== null && rssAfter !== null) {
      assert.ok(
        rssAfter - rssBefore < 300,
        `RSS grew ${(rssAfter - rssBefore).toFixed(0)} MB during the calls`,
      );
    }
  } finally {
    for (const c of clients) c.close();
    s.child.kill('SIGTERM');
    await exitOf(s.child);
  }
});
