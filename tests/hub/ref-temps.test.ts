// A ref (refs/<branch> in a Hugging Face cache) is written through a temp file renamed into place. A
// download killed between the two left that temp in refs/ for good, where a scan took it for a branch
// of its own. Now writing a ref removes such temps once ten minutes old (a younger one may be another
// process's write in flight), and a scan never lists one.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { listCachedSnapshots, writeRef } from '../../electron/backend/hub/cache.ts';
import { tempDir } from '../helpers/temp.ts';
import { writeCacheSnapshot } from './helpers.ts';

test('writing a ref sweeps the old temps of killed writes; a scan lists none of them', () => {
  const cache = tempDir('ref-temps');
  const commit = 'a'.repeat(40);
  writeCacheSnapshot(cache, 'tiny/llama', { 'config.json': Buffer.from('{}') }, { commit, ref: null });
  const refs = join(cache, 'models--tiny--llama', 'refs');
  writeRef(cache, 'tiny/llama', 'v1', commit);
  // What kills leave: a temp from long ago, one from a write in flight now; and a branch whose own
  // name ends in .tmp, which is a ref like any other.
  const stale = 'main.0123456789ab.tmp';
  const fresh = 'main.ba9876543210.tmp';
  for (const name of [stale, fresh, 'nightly.tmp']) writeFileSync(join(refs, name), commit);
  const longAgo = new Date(Date.now() - 3_600_000);
  for (const name of [stale, 'nightly.tmp']) utimesSync(join(refs, name), longAgo, longAgo);
  assert.deepEqual(listCachedSnapshots(cache)[0].refs.sort(), ['nightly.tmp', 'v1']);

  writeRef(cache, 'tiny/llama', 'main', commit);
  assert.deepEqual(readdirSync(refs).sort(), ['main', fresh, 'nightly.tmp', 'v1']);
  assert.equal(readFileSync(join(refs, 'main'), 'utf8'), commit);
  assert.deepEqual(listCachedSnapshots(cache)[0].refs.sort(), ['main', 'nightly.tmp', 'v1']);
});
