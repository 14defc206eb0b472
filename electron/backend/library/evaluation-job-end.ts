// Ending an evaluation job (evaluation-jobs.ts) once the engine has let go of it, the same for the
// studio's queued jobs (handlers/evaluations.ts) and the CLI's `evaluate`: its row ends, and its
// dataset file goes if the dataset was removed meanwhile and nothing else needs it
// (frozen-file-reclaim.ts), and so do its model's old converted weights if its files changed
// meanwhile and nothing else reads them (folder-removal.ts). Apart from evaluation-jobs.ts, which the reclaim itself reads.

import { setEvaluationJobStatus } from './evaluation-jobs.ts';
import { removeOutdatedBaseStores } from './folder-removal.ts';
import { deletingUnusedFrozenFiles } from './frozen-file-reclaim.ts';
import type { Library } from './library-handle.ts';

/**
 * Ends the job of row `rowId`, which read `dataPath`. Housekeeping: a failure leaves the row to the
 * next start-up (it marks it interrupted) and the files to its sweeps.
 */
export function endEvaluationJob(lib: Library, rowId: number, dataPath: string): void {
  if (!lib.db.open) return;
  try {
    deletingUnusedFrozenFiles(lib, () => {
      setEvaluationJobStatus(lib, rowId, 'ended');
      return { result: null, candidates: [dataPath] };
    });
    removeOutdatedBaseStores(lib);
  } catch {}
}
