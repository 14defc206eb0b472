// Temp folders and small datasets for the training tests.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A temp folder removed after the test file. */
export function tempDir(prefix = 'reft-train-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

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
