// A separate process that writes one library in a loop through the library modules (what the CLI
// commands call), for the concurrent-writer tests:
//   node --import tsx library-writer.ts DATA_DIR MODE MS ARG...
//     annotate DATASET_ID PREFIX   adds tag PREFIX<i> to row i % rows (a read-modify-write per call)
//     import FILE DATASET_ID       imports FILE plus one row of its own as a new version of the dataset
//                                  (the same rows again would add no version)
//     settings PREFIX              sets PREFIX.<i> = i
//     hold FILE                    starts a run and an evaluation (of FILE), prints {runId, evaluationId},
//                                  then keeps the library open until killed (MS is ignored)
// Prints one JSON line {done, errors} at the end: errors are counted, not thrown, so the test sees
// every "database is locked" rather than the first.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerAdapter } from '../../electron/backend/library/adapters.ts';
import { annotateRows } from '../../electron/backend/library/dataset-annotations.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { getDataset } from '../../electron/backend/library/datasets.ts';
import { createEvaluation } from '../../electron/backend/library/evaluations.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { createRun, setRunStatus } from '../../electron/backend/library/runs.ts';
import { setSetting } from '../../electron/backend/library/settings.ts';

const [dataDir, mode, msText, a, b] = process.argv.slice(2);
const lib = openLibrary(dataDir, { skipIntegrityCheck: true });
if (mode === 'hold') {
  const run = createRun(lib, { name: 'held' });
  setRunStatus(lib, run.id, 'running');
  const adapter = registerAdapter(lib, {
    name: 'a',
    path: join(dataDir, 'adapters', 'a'),
    type: 'loreft',
    baseModelFingerprint: 'f',
  });
  const version = importDataset(lib, { path: a }).version;
  const ev = createEvaluation(lib, {
    adapterId: adapter.id,
    modelId: null,
    datasetVersionId: version.id,
    kind: 'loss',
  });
  process.stdout.write(`${JSON.stringify({ runId: run.id, evaluationId: ev.id, pid: process.pid })}\n`);
  setInterval(() => {}, 60_000);
} else {
  const end = Date.now() + Number(msText);
  let done = 0;
  const errors: string[] = [];
  const rows = mode === 'annotate' ? getDataset(lib, Number(a)).latest.rowCount : 0;
  const base = mode === 'import' ? readFileSync(a, 'utf8').replace(/\n?$/, '\n') : '';

  while (Date.now() < end) {
    try {
      if (mode === 'annotate') {
        annotateRows(lib, { datasetId: Number(a), indices: [done % rows], addTags: [`${b}${done}`] });
      } else if (mode === 'import') {
        const path = `${a}.${process.pid}.jsonl`;
        writeFileSync(path, `${base}${JSON.stringify({ prompt: `import ${done}`, completion: 'x' })}\n`);
        importDataset(lib, { path, datasetId: Number(b) });
      } else if (mode === 'settings') {
        setSetting(lib, `${a}.${done}`, done);
      } else throw new Error(`unknown mode ${mode}`);
      done++;
    } catch (e) {
      errors.push((e as Error).message);
      if (errors.length > 1000) break;
    }
  }
  closeLibrary(lib);
  process.stdout.write(`${JSON.stringify({ done, errors })}\n`);
}
