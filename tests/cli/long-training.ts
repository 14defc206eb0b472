// A CLI training whose steps are long enough for a signal to land while one is in flight (200
// micro-batches a step on the demo model), for the tests that stop the CLI from outside.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../../electron/backend/paths.ts';

/** Writes the 200 rows the training reads. */
export function writeLongRows(path: string): void {
  writeFileSync(
    path,
    Array.from({ length: 200 }, (_, i) =>
      JSON.stringify({ prompt: `Question ${i}: what is ${i} plus ${i}?`, completion: `It is ${2 * i}.` }),
    ).join('\n'),
  );
}

/** `train` arguments over `rows`: up to 100 steps of 200 micro-batches, a checkpoint each, --json. */
export const longTrainArgs = (rows: string): string[] => [
  'train',
  '--model',
  join(appRoot(), 'resources', 'demo', 'model'),
  '--data',
  rows,
  '--batch-size',
  '1',
  '--grad-accum',
  '200',
  '--layers',
  '1',
  '--rank',
  '2',
  '--max-steps',
  '100',
  '--checkpoint-every',
  '1',
  '--json',
];
