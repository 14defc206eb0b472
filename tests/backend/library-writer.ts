// A separate process that writes one library in a loop through the library modules (what the CLI
// commands call), for the concurrent-writer tests:
//   node --import tsx library-writer.ts DATA_DIR MODE MS ARG...
//     annotate DATASET_ID PREFIX   adds tag PREFIX<i> to row i % rows (a read-modify-write per call)
//     import FILE DATASET_ID       imports FILE plus one row of its own as a new version of the dataset
//                                  (the same rows again would add no version)
//     settings PREFIX              sets PREFIX.<i> = i
// Prints one JSON line {done, errors} at the end: errors are counted, not thrown, so the test sees
// every "database is locked" rather than the first.

import { readFileSync, writeFileSync } from 'node:fs';
import { annotateRows } from '../../electron/backend/library/dataset-annotations.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { getDataset } from '../../electron/backend/library/datasets.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { setSetting } from '../../electron/backend/library/settings.ts';

const [dataDir, mode, msText, a, b] = process.argv.slice(2);
const lib = openLibrary(dataDir, { seedDemo: false, skipIntegrityCheck: true });
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
