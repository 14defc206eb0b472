// The window starts an evaluation and follows it ('evaluations/start', 'evaluations/jobs') instead of
// holding one request open until it ends: that request gave up after 30 minutes, so an evaluation
// queued behind a long one (or a long one itself) showed as failed in the panel while the backend
// went on and recorded it later. Here: the start is answered at once, even behind another
// evaluation; the jobs say queued/running and, once ended, which evaluation each recorded; a request
// the engine refuses ends its job failed with the reason (the data named as the user knows it) and
// records nothing; an identical request while one is queued or running shares its job.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { REFT } from '../helpers/fixtures.ts';
import { cliJson, inProcess, LLAMA_FIXTURE, tempDir, waitFor } from './helpers.ts';

const root = tempDir('evaluation-jobs');
const dataDir = join(root, 'data');
let b: Backend | null = null;
const { call } = inProcess(() => b as Backend);
after(() => b?.close());

const cliIn = (...args: string[]) => cliJson(dataDir, ...args);

function jsonl(name: string, rows: { prompt: string; completion: string }[]): string {
  const file = join(root, name);
  writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return file;
}

test('evaluations/start answers at once; the jobs are followed to their end', {
  timeout: 180_000,
}, async () => {
  const model = await cliIn('models', 'add', LLAMA_FIXTURE);
  const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
  const { adapter } = await cliIn('import', pyreft, '--model', String(model.id), '--positions', 'l1');
  const rows = Array.from({ length: 40 }, (_, i) => ({ prompt: `Q ${i}?`, completion: ' yes' }));
  const { dataset } = await cliIn('datasets', 'import', jsonl('rows.jsonl', rows));
  // Well past the fixture's 255 prompt tokens: refused by the engine once its turn comes.
  const prompt = 'one two three four five six seven eight nine ten '.repeat(60);
  const { dataset: long } = await cliIn(
    'datasets',
    'import',
    jsonl('long.jsonl', [{ prompt, completion: ' yes' }]),
  );

  b = createBackend(dataDir, { seedDemo: false });
  const base = { adapterId: adapter.id, datasetId: dataset.id };
  const first = await call('evaluations/start', { ...base, kind: 'exact-match', maxNewTokens: 32 });
  const second = await call('evaluations/start', { ...base, kind: 'loss', limit: 2 });
  const refused = await call('evaluations/start', { ...base, datasetId: long.id, kind: 'exact-match' });
  // The same request again (a second window, a double click) is the job already queued or running,
  // not the same work a second time; 'evaluations/run' waits on that job too. Another setting is
  // another job.
  assert.deepEqual(await call('evaluations/start', { ...base, kind: 'loss', limit: 2 }), second);
  assert.deepEqual(
    await call('evaluations/start', { ...base, kind: 'exact-match', maxNewTokens: 32 }),
    first,
  );
  const waited = call('evaluations/run', { ...base, kind: 'loss', limit: 2 });
  const other = await call('evaluations/start', { ...base, kind: 'loss', limit: 3 });
  assert.ok(![first.jobId, second.jobId, refused.jobId].includes(other.jobId));
  await call('evaluations/cancel', { jobId: other.jobId });
  // All three answered while the first has not ended: the later ones wait behind it.
  const jobs = await call('evaluations/jobs', { adapterId: adapter.id });
  assert.deepEqual(
    jobs.map((j: { id: number }) => j.id),
    [other.jobId, refused.jobId, second.jobId, first.jobId],
    'newest first',
  );
  assert.deepEqual(
    jobs.slice(1, 3).map((j: { state: string; evaluationId: number | null }) => [j.state, j.evaluationId]),
    [
      ['queued', null],
      ['queued', null],
    ],
  );
  assert.deepEqual(await call('evaluations/jobs', { adapterId: adapter.id + 1 }), [], "another adapter's");

  const ended = await waitFor(
    'the evaluations to end',
    async () => {
      const js = await call('evaluations/jobs', { adapterId: adapter.id });
      return js.every((j: { state: string }) => j.state !== 'queued' && j.state !== 'running') ? js : null;
    },
    150_000,
  );
  const byId = new Map(ended.map((j: { id: number }) => [j.id, j]));
  // biome-ignore lint/suspicious/noExplicitAny: the job as the window reads it
  const [a, c, r] = [first, second, refused].map(({ jobId }) => byId.get(jobId) as any);
  assert.equal(a.state, 'completed');
  assert.equal(c.state, 'completed');
  assert.equal((await waited).id, c.evaluationId, "the waiting request got the shared job's evaluation");
  assert.deepEqual([r.state, r.evaluationId], ['failed', null]);
  assert.match(
    r.error.message,
    /^dataset “long” v1: line 1: the prompt has \d+ tokens; the model takes at most 255$/,
  );

  const list = await call('evaluations/list', { adapterId: adapter.id });
  assert.deepEqual(
    list.map((e: { id: number; kind: string; status: string }) => [e.id, e.kind, e.status]),
    [
      [c.evaluationId, 'loss', 'completed'],
      [a.evaluationId, 'exact-match', 'completed'],
    ],
    'the refused one is in no history',
  );
});
