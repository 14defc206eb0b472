// Temp folders and small datasets for the training tests.

import { writeFileSync } from 'node:fs';
import { tempDir as sharedTempDir } from '../helpers/temp.ts';

/** A temp folder removed when the test file's process exits. */
export const tempDir = (prefix = 'reft-train-'): string => sharedTempDir(prefix);

export function writeJsonl(path: string, rows: unknown[]): string {
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return path;
}

export const WORDS = [
  'cat',
  'dog',
  'sun',
  'moon',
  'tree',
  'rock',
  'fish',
  'bird',
  'rain',
  'snow',
  'wind',
  'fire',
  'star',
  'leaf',
  'sand',
  'milk',
  'bread',
  'ship',
  'road',
  'door',
];

/** 20 prompt-completion rows that all teach the same completion. */
export function constantRows(completion: string): Array<{ prompt: string; completion: string }> {
  return WORDS.map((w) => ({ prompt: `Tell me about the ${w}.`, completion }));
}
