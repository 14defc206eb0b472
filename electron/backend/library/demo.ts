// First-start demo content: a tiny Llama with RANDOM weights and a small pirate-persona dataset from
// resources/demo, so a new user can walk through import → train → chat at once. Seeded only into an
// empty library, and only once (the 'library.demoSeeded' setting), so deleting them is permanent.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeTransaction } from '../db/database.ts';
import { resourcesDir } from '../paths.ts';
import { importDataset } from './dataset-import.ts';
import type { Library } from './library.ts';
import { addModel } from './models.ts';
import { getSetting, setSetting } from './settings.ts';

export const DEMO_MODEL_NAME = 'Demo: tiny Llama (random weights)';
export const DEMO_DATASET_NAME = 'Demo: pirate persona';

export function seedDemo(lib: Library, dir = join(resourcesDir(), 'demo')): boolean {
  // Seeded once: read first, so that a library open read-only is not written to.
  if (getSetting(lib, 'library.demoSeeded') !== undefined) return false;
  // One IMMEDIATE transaction: two processes starting on a fresh library must not both seed.
  return writeTransaction(lib.db, () => seedLocked(lib, dir));
}

function seedLocked(lib: Library, dir: string): boolean {
  if (getSetting(lib, 'library.demoSeeded') !== undefined) return false;
  const count = (t: string) => (lib.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
  const empty = count('models') === 0 && count('datasets') === 0;
  // Missing resources (a trimmed install) are not an error: the studio works without the demo.
  if (empty && existsSync(join(dir, 'model', 'config.json')) && existsSync(join(dir, 'persona.jsonl'))) {
    addModel(lib, { path: join(dir, 'model'), name: DEMO_MODEL_NAME, source: 'demo', isDemo: true });
    importDataset(lib, {
      path: join(dir, 'persona.jsonl'),
      name: DEMO_DATASET_NAME,
      isDemo: true,
      onBadRows: 'refuse',
    });
  }
  setSetting(lib, 'library.demoSeeded', true);
  return empty;
}
