// A killed `reft-studio serve` leaves no engine process behind, and its training run reads as
// interrupted and resumable when the library opens again. Real processes: serve trains the llama
// fixture in its 'train' engine process and is stopped with SIGTERM twice (the second: "stop now")
// or with SIGKILL (no clean-up at all); the engine process must end on its own or be killed.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createBackend } from '../../electron/backend/host.ts';
import { RESUMABLE_STATUSES } from '../../electron/backend/library/runs.ts';
import { processAlive } from '../../native-runtime/process-alive.ts';
import {
  connectTo,
  exitOf,
  fakeRenderer,
  inProcess,
  LLAMA_FIXTURE,
  rpc,
  spawnServe,
  tempDir,
  waitFor,
  writeJsonl,
} from './helpers.ts';

const linux = process.platform === 'linux';

/** The engine processes (engine-worker.ts) whose parent is `pid`, from /proc. */
function engineChildren(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('engine-worker'))
        found.push(Number(name));
    } catch {} // gone meanwhile
  }
  return found;
}

/** serve training a long run; resolves once its train engine process has done a few steps. */
async function serveTraining(name: string) {
  const root = tempDir(`orphans-${name}`);
  const dataDir = join(root, 'data');
  const s = await spawnServe(['--data-dir', dataDir, '--renderer-dir', fakeRenderer(root)]);
  const c = await connectTo(s.url);
  const model = await rpc(c, 'models/add', { path: LLAMA_FIXTURE, name: 'fixture llama' });
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 200);
  const imp = await rpc(c, 'datasets/import', { path: file, name: 'arith' });
  const { runId } = await rpc(c, 'runs/start', {
    modelId: model.id,
    datasetId: imp.dataset.id,
    intervention: 'loreft',
    layers: '1;2',
    positions: 'f1+l1',
    rank: 2,
    lr: 0.004,
    epochs: 100,
    batchSize: 1,
    checkpointEvery: 2,
  });
  await waitFor(
    'a checkpoint and a few more steps',
    async () => {
      const r = await rpc(c, 'runs/get', { id: runId });
      return r.checkpoints.length >= 1 && r.lastStep >= 4 ? r : null;
    },
    180_000,
    20,
  );
  const engines = engineChildren(s.child.pid as number);
  // The 'infer' process serve starts with its devices report (probeDevicesEarly), the 'files' one
  // that read the import, the 'tokens' one that checked the run's memory at runs/start, and the one
  // that trains. (A failed check kills serve: left running, it held the test file open until its
  // timeout.)
  if (engines.length !== 4) s.child.kill('SIGKILL');
  assert.equal(
    engines.length,
    4,
    "the devices report's infer process, the import's files process, the start's tokens process and one that trains",
  );
  return { s, c, dataDir, runId, engines };
}

/** Polls (bounded, generously) until none of `pids` runs. */
function allGone(pids: number[]) {
  return waitFor(
    `engine processes ${pids.join(', ')} to end`,
    async () => pids.every((p) => !processAlive(p)),
    60_000,
  );
}

/** The run as the library reports it when opened again (the start-up check included). */
async function reopened(dataDir: string, runId: number) {
  const b = createBackend(dataDir, { seedDemo: false, watchHubCache: false });
  try {
    return await inProcess(() => b).call('runs/get', { id: runId });
  } finally {
    await b.close();
  }
}

test('serve stopped by a second SIGTERM kills its engine processes; the run stays resumable', {
  skip: !linux,
  timeout: 300_000,
}, async () => {
  const { s, c, dataDir, runId, engines } = await serveTraining('sigterm');
  // 'close': stderr read to its end, not only the exit.
  const closed = new Promise<number | null>((r) => s.child.once('close', (code) => r(code)));
  // The second signal must come while the clean shutdown goes on, which can take only milliseconds
  // (a signal sent once "shutting down" showed could meet a process already past its handlers).
  // Held stopped, serve receives both at once when continued: SIGINT and SIGTERM, two signals, since
  // two of one kind pending are one. The first asks for the shutdown, the second stops at once.
  const pid = s.child.pid as number;
  process.kill(pid, 'SIGSTOP');
  process.kill(pid, 'SIGINT');
  process.kill(pid, 'SIGTERM');
  process.kill(pid, 'SIGCONT');
  const code = await closed;
  c.close();
  assert.match(s.stderr(), /shutting down[\s\S]*stopping now/);
  assert.ok(code === 143 || code === 130, `exits at once, as for the second signal (exit ${code})`);
  await allGone(engines);
  const run = await reopened(dataDir, runId);
  assert.ok(RESUMABLE_STATUSES.includes(run.status), `resumable, not ${run.status}`);
  assert.equal(run.status, 'interrupted');
});

test('serve killed with SIGKILL leaves no engine process; the run reads interrupted', {
  skip: !linux,
  timeout: 300_000,
}, async () => {
  const { s, c, dataDir, runId, engines } = await serveTraining('sigkill');
  s.child.kill('SIGKILL');
  await exitOf(s.child);
  c.close();
  await allGone(engines);
  const run = await reopened(dataDir, runId);
  assert.equal(run.status, 'interrupted');
  assert.match(run.error ?? '', /^the process running it stopped before the run ended; it can be resumed$/);
  assert.ok(run.checkpoints.length >= 1, 'its checkpoints are kept');
});
