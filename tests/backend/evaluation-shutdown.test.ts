// The studio closing while one evaluation runs and another waits behind it (the only way the studio
// cancels an evaluation: it has no evaluation cancel). The one that ran is left 'interrupted' with
// why, as a crash leaves it; it was stored as 'cancelled', error "cancelled", which no one had
// asked for. The one still queued never started: it is not recorded (no phantom 'running' row), and
// its call answers why it did not run.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { REFT } from '../helpers/fixtures.ts';
import { cliJson, inProcess, LLAMA_FIXTURE, tempDir } from './helpers.ts';

const root = tempDir('evaluation-shutdown');
const dataDir = join(root, 'data');
let b: Backend | null = null;
const { call } = inProcess(() => b as Backend);
after(() => b?.close());

const cliIn = (...args: string[]) => cliJson(dataDir, ...args);

test('closing the studio: the running evaluation interrupted, the queued one not recorded', {
  timeout: 180_000,
}, async () => {
  const model = await cliIn('models', 'add', LLAMA_FIXTURE);
  const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
  const { adapter } = await cliIn('import', pyreft, '--model', String(model.id), '--positions', 'l1');
  const file = join(root, 'rows.jsonl');
  const rows = Array.from({ length: 300 }, (_, i) =>
    JSON.stringify({ prompt: `Q ${i}?`, completion: ' yes' }),
  );
  writeFileSync(file, `${rows.join('\n')}\n`);
  const { dataset } = await cliIn('datasets', 'import', file);

  b = createBackend(dataDir, { seedDemo: false });
  const params = { adapterId: adapter.id, datasetId: dataset.id, kind: 'exact-match', maxNewTokens: 64 };
  const running = b.handle({ type: 'request', id: 1001, method: 'evaluations/run', params });
  // Another limit: an identical request would share the first's job rather than queue its own.
  const queued = b.handle({
    type: 'request',
    id: 1002,
    method: 'evaluations/run',
    params: { ...params, limit: 100 },
  });
  // The first is recorded once the engine has checked it; the second waits for it.
  while ((await call('evaluations/list', { adapterId: adapter.id })).length === 0)
    await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    b.jobs.list().map((j) => j.state),
    ['running', 'queued'],
  );
  await b.close();

  const ran = await running;
  assert.equal(ran.type, 'reply');
  const ev = (ran as { result: { status: string; error: string | null } }).result;
  assert.deepEqual([ev.status, ev.error], ['interrupted', 'the studio closed before it finished']);
  const waited = await queued;
  assert.equal(waited.type, 'error');
  assert.deepEqual(waited.type === 'error' && [waited.error.code, waited.error.message], [
    'cancelled',
    'the studio closed before it started',
  ]);

  b = createBackend(dataDir, { seedDemo: false });
  const list = await call('evaluations/list', { adapterId: adapter.id });
  assert.deepEqual(
    list.map((x: { status: string; error: string | null }) => [x.status, x.error]),
    [['interrupted', 'the studio closed before it finished']],
  );
});
