// Whether a version can be a run's held-out data beside its training version: never rows it trains
// on. The training data itself, the version a training part was cut from (it holds every training
// row), a part cut from the training version (its rows are training rows), and a part of the same
// version cut by another split (another seed: a random share of its rows are the training part's)
// all validate on rows the adapter learns. Plain data in and one line out: runs/start (run-plan.ts
// planRunData, the CLI's `train --eval-data` included) refuses with it, the Train wizard shows it and
// does not offer such versions (renderer/src/lib/dataset-versions.ts).

import type { DatasetVersion } from './datasets.ts';

type Lineage = Pick<
  DatasetVersion,
  'id' | 'version' | 'contentHash' | 'parentVersionId' | 'split' | 'splitSeed'
>;

/**
 * Why `held` cannot be held out beside training version `train` (the rows overlap), or null. `parent`
 * names a version by id (the version a part was cut from), for the message.
 */
export function heldOutOverlap(
  train: Lineage,
  held: Lineage,
  parent: (id: number) => Pick<DatasetVersion, 'version'> | undefined,
): string | null {
  if (held.id === train.id || held.contentHash === train.contentHash)
    return 'the held-out data is the training data itself; choose a validation or test part';
  if (train.split !== null && train.parentVersionId === held.id)
    return `the held-out v${held.version} is the version the training part v${train.version} was cut from, so it holds every training row; choose the part cut with v${train.version}`;
  if (held.split !== null && held.parentVersionId === train.id)
    return `the held-out v${held.version} is a ${held.split} part cut from the training data v${train.version}, so its rows are training rows; train on the train part cut with it`;
  if (
    train.split !== null &&
    held.split !== null &&
    held.parentVersionId === train.parentVersionId &&
    held.splitSeed !== train.splitSeed
  ) {
    const from = train.parentVersionId === null ? undefined : parent(train.parentVersionId);
    return `the held-out v${held.version} and the training part v${train.version} were cut from v${from?.version ?? '?'} by different splits (seeds ${held.splitSeed} and ${train.splitSeed}), so they share rows; choose the part cut with v${train.version}`;
  }
  return null;
}
