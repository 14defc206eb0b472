// KeptScans shares one scan per key between its callers, whichever way they run it (sliced-scans.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forgetKeptScans, KeptScans } from './sliced-scans.ts';

/** A scan of `steps` pauses returning `value`, counting its starts and steps. */
function counted(steps: number, value: string) {
  const seen = { starts: 0, steps: 0 };
  function* scan(): Generator<void, string> {
    seen.starts++;
    for (let k = 0; k < steps; k++) {
      seen.steps++;
      yield;
    }
    return value;
  }
  return { seen, scan };
}

test('a sync get during a sliced scan of its key finishes that scan instead of scanning again', async () => {
  const kept = new KeptScans<string>(2);
  const { seen, scan } = counted(2_000_000, 'index');
  const sliced = kept.getInSlices('a', scan);
  await new Promise((r) => setImmediate(r)); // the sliced scan has begun, not ended
  assert.ok(seen.steps > 0 && seen.steps < 2_000_000, `${seen.steps} steps before the sync get`);
  assert.equal(kept.get('a', scan), 'index');
  assert.equal(await sliced, 'index');
  assert.deepEqual(seen, { starts: 1, steps: 2_000_000 });
  assert.equal(kept.get('a', scan), 'index', 'kept');
  assert.equal(seen.starts, 1);
});

test('a scan that fails under a sync get fails the sliced call sharing it too', async () => {
  const kept = new KeptScans<string>(2);
  let started = 0;
  function* failing(): Generator<void, string> {
    started++;
    for (let k = 0; k < 2_000_000; k++) yield;
    throw new Error('row 7 is not JSON');
  }
  const sliced = kept.getInSlices('b', failing);
  await new Promise((r) => setImmediate(r));
  assert.throws(() => kept.get('b', failing), /row 7 is not JSON/);
  await assert.rejects(sliced, /row 7 is not JSON/);
  assert.equal(started, 1);
});

test("forgetKeptScans drops a file's kept results from every KeptScans, and only that file's", () => {
  const index = new KeptScans<string>(4);
  const search = new KeptScans<string>(4);
  const a = counted(1, 'a');
  const b = counted(1, 'b');
  index.get('/d/a.jsonl', a.scan);
  search.get('/d/a.jsonl\0needle', a.scan);
  index.get('/d/ab.jsonl', b.scan);
  forgetKeptScans('/d/a.jsonl');
  index.get('/d/a.jsonl', a.scan);
  search.get('/d/a.jsonl\0needle', a.scan);
  index.get('/d/ab.jsonl', b.scan);
  assert.equal(a.seen.starts, 4, 'both results of the forgotten file scanned again');
  assert.equal(b.seen.starts, 1, 'another file whose path it begins kept');
});
