// `runs resume` reads the run without its metric points: nothing it prints needs them, and a long
// run has them by the hundred thousand (getRun read them all three times: before the resume, for
// the result, and for a stop). The statements the library prepares are watched on the real SQLite
// connection while a paused run is resumed to its end on the Llama fixture.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeContext } from '../../cli/command.ts';
import { runsCommands } from '../../cli/commands/runs.ts';
import { InProcessEngine } from '../../electron/backend/jobs/engine.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { recordRunFromRefs } from '../../electron/backend/library/run-plan.ts';
import { appendMetrics, getRunRecord, setRunStatus } from '../../electron/backend/library/runs.ts';
import { LLAMA_FIXTURE, tempDir, writeJsonl } from '../backend/helpers.ts';

const root = tempDir('resume-reads');
const lib = openLibrary(join(root, 'data'));
after(() => closeLibrary(lib));

test('runs resume reads no metric points, and prints the run as before', async () => {
  const data = join(root, 'train.jsonl');
  writeJsonl(data, 4);
  const { run } = await recordRunFromRefs(
    lib,
    new InProcessEngine(),
    { model: LLAMA_FIXTURE, data },
    { maxSteps: 1 },
  );
  setRunStatus(lib, run.id, 'paused');
  appendMetrics(
    lib,
    run.id,
    Array.from({ length: 50 }, (_, i) => ({
      step: i + 1,
      ...{ epoch: 0, loss: 1, lr: 1e-3, gradNorm: null, tokensPerS: null, evalLoss: null },
    })),
  );

  const prepared: string[] = [];
  const prepare = lib.db.prepare.bind(lib.db);
  lib.db.prepare = ((sql: string) => {
    prepared.push(sql);
    return prepare(sql);
  }) as typeof lib.db.prepare;

  const out: string[] = [];
  const ctx = makeContext(
    [String(run.id)],
    { json: true, quiet: true },
    { stdout: (s) => out.push(s), stderr: () => {} },
  );
  ctx.withLibrary = async (fn) => fn(lib);
  const resume = runsCommands.find((c) => c.name === 'runs resume');
  assert.ok(resume);
  assert.equal(await resume.run(ctx), 0);

  const fullReads = prepared.filter((sql) => /FROM run_metrics WHERE run_id = \? ORDER BY step$/.test(sql));
  assert.deepEqual(fullReads, [], 'every metric point read');
  assert.equal(out.length, 1, 'one object on stdout');
  const result = JSON.parse(out[0]);
  assert.equal(result.outcome, 'completed');
  assert.equal(result.id, run.id);
  assert.equal('metrics' in result, false);
  assert.ok(result.adapterId > 0 && Array.isArray(result.checkpoints));
  assert.equal(getRunRecord(lib, run.id).status, 'completed');
});
