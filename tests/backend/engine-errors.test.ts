// An engine refusal says as much after crossing from an engine process (the studio: WorkerEngine)
// as thrown in-process (the CLI: InProcessEngine): the option it is about (`field`, which a form
// shows beside that option) and its `details` (a refused file's columns, which the import form
// offers) travel with code, message and type. Real engine process, real trainer.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromWire, InProcessEngine, WorkerEngine } from '../../electron/backend/jobs/engine.ts';
import { toWireError } from '../../native-runtime/errors.ts';
import { tempDir } from '../helpers/temp.ts';
import { constantRows, llamaRun, writeJsonl } from '../training/helpers.ts';

const refusal = async (engine: InProcessEngine | WorkerEngine, config: Parameters<typeof llamaRun>[1]) => {
  const dir = tempDir('engine-errors-');
  const data = writeJsonl(join(dir, 'd.jsonl'), constantRows('yes'));
  try {
    await engine.call('train', { config: { ...llamaRun(data, config), out: join(dir, 'out') } });
  } catch (e) {
    return toWireError(e);
  } finally {
    await engine.close();
  }
  assert.fail('the run was not refused');
};

test('a refused option reads the same through an engine process as in-process, its field included', {
  timeout: 60_000,
}, async () => {
  const inProcess = await refusal(new InProcessEngine(), { rank: 0 });
  assert.equal(inProcess.field, 'rank');
  assert.deepEqual(await refusal(new WorkerEngine(), { rank: 0 }), inProcess);
});

test('details from an engine process are kept, in the shape ErrorDetails declares only', () => {
  const wire = {
    type: 'FormatError',
    code: 'unknown-dataset-format',
    message: 'd.csv: cannot tell which columns hold the prompt and the completion (columns: q, a)',
  };
  const details = { columns: ['q', 'a, in full)'], mapping: { prompt: 'q', completion: 'a, in full)' } };
  assert.deepEqual(toWireError(fromWire({ ...wire, details })), { ...wire, details });
  // Anything else is dropped, not passed on to the window or the CLI's --json.
  const odd = { columns: ['q', 1], mapping: { prompt: 'q' }, stack: 'at …' } as never;
  assert.deepEqual(toWireError(fromWire({ ...wire, details: odd })), { ...wire, details: {} });
});

test('a killed engine process reads as killed by the system or by hand, not as out of memory only', {
  timeout: 60_000,
}, async () => {
  const engine = new WorkerEngine();
  try {
    const call = engine.call('processInfo', {});
    const [proc] = engine.processes();
    assert.ok(proc, 'the call started an engine process');
    // What a user's `kill -9` or task manager does; the out-of-memory killer sends the same signal.
    process.kill(proc.pid, 'SIGKILL');
    const e = toWireError(
      await call.then(
        () => assert.fail('the call succeeded'),
        (err) => err,
      ),
    );
    assert.equal(e.code, 'engine-crashed');
    assert.match(e.message, /^the engine process stopped \(signal SIGKILL\)/);
    assert.match(e.message, /memory runs out/);
    assert.match(e.message, /by hand/, 'a kill by hand is not worded as memory running out only');
    assert.doesNotMatch(e.message, /\n/);
  } finally {
    await engine.close();
  }
});
