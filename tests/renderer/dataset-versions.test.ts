// The renderer's dataset-version helpers (what the Train wizard and evaluations use to offer a
// version or a split part): labels, the held-out part that goes with a training part, and the
// runs/start fields. The backend resolves the same selectors (tests/backend/datasets-window.test.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  evaluationDefault,
  heldOutAfterChange,
  heldOutChoices,
  heldOutFor,
  heldOutProblem,
  runDataParams,
  siblingPart,
  trainChoices,
  versionLabel,
} from '../../renderer/src/lib/dataset-versions.ts';
import type { DatasetRecord, DatasetVersion } from '../../renderer/src/lib/rpc/handlers.ts';

function v(id: number, version: number, extra: Partial<DatasetVersion> = {}): DatasetVersion {
  return {
    id,
    datasetId: 1,
    version,
    frozen: true,
    format: 'prompt-completion',
    contentHash: `h${id}`,
    rowCount: 10,
    rejectedCount: 0,
    filePath: `/d/${id}.jsonl`,
    sizeBytes: 100,
    sourcePath: null,
    parentVersionId: null,
    split: null,
    splitSeed: null,
    note: null,
    createdAt: 0,
    ...extra,
  };
}

// v1 full; v2–v4 a split of v1 (seed 7); v5–v6 another split of v1 (seed 8, no test part).
const full = v(1, 1, { rowCount: 100 });
const parts = [
  v(2, 2, { parentVersionId: 1, split: 'train', splitSeed: 7, rowCount: 80 }),
  v(3, 3, { parentVersionId: 1, split: 'validation', splitSeed: 7, rowCount: 10 }),
  v(4, 4, { parentVersionId: 1, split: 'test', splitSeed: 7, rowCount: 10 }),
  v(5, 5, { parentVersionId: 1, split: 'train', splitSeed: 8, rowCount: 90 }),
  v(6, 6, { parentVersionId: 1, split: 'validation', splitSeed: 8, rowCount: 10 }),
];
const ds: DatasetRecord = {
  id: 1,
  name: 'd',
  isDemo: false,
  createdAt: 0,
  latest: full,
  versions: [...parts].reverse().concat(full),
};

test('labels name the part, the version it was cut from and the split’s seed', () => {
  assert.equal(versionLabel(ds, full), 'v1 (100 rows)');
  assert.equal(versionLabel(ds, parts[0]), 'v2 · train part of v1, seed 7 (80 rows)');
  // Two splits of v1: their train parts differ by more than the version number.
  assert.equal(versionLabel(ds, parts[3]), 'v5 · train part of v1, seed 8 (90 rows)');
});

test('training offers full versions and train parts; held-out data goes with its own split', () => {
  assert.deepEqual(
    trainChoices(ds).map((c) => c.versionId),
    [5, 2, 1],
  );
  assert.equal(heldOutFor(ds, 2)?.id, 3, 'the validation part cut with train part v2');
  assert.equal(heldOutFor(ds, 5)?.id, 6);
  assert.equal(heldOutFor(ds, 1), null, 'a full version has no held-out part of its own');
  assert.equal(siblingPart(ds, parts[3], 'test'), null, 'the seed-8 split has no test part');
  assert.equal(siblingPart(ds, full, 'train')?.id, 5, "a full version's newest split");
  assert.ok(!heldOutChoices(ds, 2).some((c) => c.versionId === 2), 'never the training data itself');
});

test('held-out data never shares rows with the training data: the backend’s rule, in the wizard', () => {
  // Bug: the wizard offered (and the backend accepted) v1 as the held-out data of its own train part.
  assert.match(
    heldOutProblem(ds, 2, 1) ?? '',
    /^the held-out v1 is the version the training part v2 was cut from/,
  );
  assert.match(
    heldOutProblem(ds, 1, 3) ?? '',
    /^the held-out v3 is a validation part cut from the training data v1/,
  );
  assert.match(heldOutProblem(ds, 2, 6) ?? '', /cut from v1 by different splits \(seeds 8 and 7\)/);
  assert.match(heldOutProblem(ds, 2, 2) ?? '', /the training data itself/);
  assert.equal(heldOutProblem(ds, 2, 3), null, 'the part cut with it');
  assert.equal(heldOutProblem(ds, 2, 4), null);
  // Offered: only the parts cut with v2, the validation part first.
  assert.deepEqual(
    heldOutChoices(ds, 2).map((c) => c.versionId),
    [3, 4],
  );
  assert.deepEqual(heldOutChoices(ds, 1), [], 'every other version of v1 is cut from it');
  // Training choices: no validation or test part.
  assert.deepEqual(
    trainChoices(ds).map((c) => c.split),
    ['train', 'train', null],
  );
});

test('the Train wizard’s held-out version follows the training version it was chosen with', () => {
  // Bug: the wizard paired train part v2 (seed 7) with the newest validation part of v1, v6 (seed 8),
  // whose rows are partly v2's; and going back to v1 kept a validation part of v1 itself.
  assert.equal(heldOutAfterChange(ds, 1, 2, null), 3, 'the part cut with v2 (same seed)');
  assert.equal(heldOutAfterChange(ds, 5, 2, 6), 3, 'the other split’s part goes');
  assert.equal(heldOutAfterChange(ds, 2, 1, 3), null, 'v2’s part goes with it: its rows are in v1');
  assert.equal(heldOutAfterChange(ds, 2, 1, 6), null, 'a part of v1 shares v1’s rows: it goes too');
  assert.equal(heldOutAfterChange(ds, 2, 1, null), null);
});

test('evaluation defaults to the test part cut with the training part, else its validation part', () => {
  assert.equal(evaluationDefault(ds, 2)?.id, 4);
  assert.equal(evaluationDefault(ds, 5)?.id, 6, 'the seed-8 split has no test part');
  assert.equal(evaluationDefault(ds, 1), null);
  assert.equal(evaluationDefault(ds, null), null);
});

test('runs/start fields: only what was chosen', () => {
  assert.deepEqual(runDataParams({ datasetId: 1 }), { datasetId: 1 });
  assert.deepEqual(runDataParams({ datasetId: 1, versionId: 2, evalVersionId: 3 }), {
    datasetId: 1,
    datasetVersionId: 2,
    evalDatasetVersionId: 3,
  });
});
