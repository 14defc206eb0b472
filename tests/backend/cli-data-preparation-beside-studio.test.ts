// A run `reft-studio train` starts on the data folder of an open studio prepares its data (40,000 rows
// to tokenize: seconds to a minute) before its first step. The studio's own runs report that on their
// job ('jobs/progress' data-progress); a CLI run sends the studio nothing, so its page stood still —
// "No loss values yet", its log unread — until the first step. Now the CLI records how far it is in the
// run's row (throttled, cleared when the preparation ends), the studio's watcher of outside changes
// pushes it, and runs/list says it (`preparing`), as it says a CLI run's pace.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { BIN, inProcess, LLAMA_FIXTURE, libraryPushes, ROOT, tempDir, waitFor } from './helpers.ts';

const root = tempDir('cli-preparing-beside-studio');
const dataDir = join(root, 'data');
const b: Backend = createBackend(dataDir, { seedDemo: false });
after(() => b.close());
const { call } = inProcess(() => b);
const { seen } = libraryPushes(b);

type Preparing = { done: number; total: number } | null;

test("a CLI run's data preparation reaches the studio as numbers, and leaves it at the first step", {
  timeout: 240_000,
}, async () => {
  const file = join(root, 'many.jsonl');
  const rows = Array.from({ length: 40_000 }, (_, i) =>
    JSON.stringify({ prompt: `Question ${i}: what is ${i} plus ${i}?`, completion: `It is ${2 * i}.` }),
  );
  writeFileSync(file, `${rows.join('\n')}\n`);
  const args = [
    'train',
    '--model',
    LLAMA_FIXTURE,
    '--data',
    file,
    '--layers',
    '1',
    '--rank',
    '1',
    '--max-steps',
    '1',
  ];
  const child = spawn(process.execPath, [BIN, ...args, '--data-dir', dataDir], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  after(() => child.kill('SIGKILL'));
  const runId = (await seen({ kind: 'runs', action: 'added' }, 60_000)).id as number;
  const preparingOf = async (): Promise<Preparing> =>
    ((await call('runs/list', { ids: [runId] })) as { preparing: Preparing }[])[0]?.preparing ?? null;
  // Bug: runs/list (and so the page) had nothing to say about it until the first step.
  const first = await waitFor('a count of rows prepared', preparingOf, 60_000);
  assert.equal(first.total, 40_000);
  assert.ok(first.done < first.total, JSON.stringify(first));
  // It moves, pushed as changes of the run (the page reads the run again on each).
  const next = await waitFor(
    'a later count',
    async () => {
      const p = await preparingOf();
      return p && p.done > first.done ? p : null;
    },
    60_000,
  );
  assert.equal(next.total, 40_000);
  await seen({ kind: 'runs', id: runId, action: 'updated', elsewhere: true });
  assert.equal(await exited, 0, stderr);
  // Done: the run's row no longer says it is preparing.
  const [done] = (await call('runs/list', { ids: [runId] })) as { status: string; preparing: Preparing }[];
  assert.equal(done.status, 'completed');
  assert.equal(done.preparing, null);
});
