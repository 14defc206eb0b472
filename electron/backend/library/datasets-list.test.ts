// listDatasets reads every version in one query: it read each dataset's versions on its own, 301
// queries for a library of 300 datasets (the Datasets, Runs and Train pages list them on every
// change). The records are the ones getDataset gives.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { importDataset } from './dataset-import.ts';
import { getDataset, listDatasets } from './datasets.ts';
import { closeLibrary, type Library, openLibrary } from './library.ts';

/** `lib` with a count of the statements it prepares. */
function counting(lib: Library): { lib: Library; prepared: () => number } {
  let n = 0;
  const db = new Proxy(lib.db, {
    get(target, key) {
      const v = Reflect.get(target, key, target);
      if (key !== 'prepare') return typeof v === 'function' ? v.bind(target) : v;
      return (sql: string) => {
        n++;
        return target.prepare(sql);
      };
    },
  });
  return { lib: { ...lib, db, owner: lib.owner }, prepared: () => n };
}

test('listDatasets reads the versions of every dataset in one query', () => {
  const dir = tempDir('reft-datasets-list-');
  const lib = openLibrary(join(dir, 'data'));
  const src = join(dir, 'rows.jsonl');
  for (let d = 0; d < 12; d++) {
    for (let v = 0; v < 3; v++) {
      writeFileSync(src, `${JSON.stringify({ prompt: `q ${d}.${v}`, completion: 'a' })}\n`);
      importDataset(lib, { path: src, name: `set ${d}` });
    }
  }
  const { lib: counted, prepared } = counting(lib);
  const list = listDatasets(counted);
  assert.equal(list.length, 12);
  assert.ok(prepared() <= 2, `${prepared()} statements for 12 datasets`);
  assert.deepEqual(
    list,
    list.map((d) => getDataset(lib, d.id)),
  );
  assert.deepEqual(
    list[0].versions.map((v) => v.version),
    [3, 2, 1],
  );
  closeLibrary(lib);
});
