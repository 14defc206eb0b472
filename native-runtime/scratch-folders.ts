// Scratch folders in the data folder's `tmp/`, `<data>/tmp/<what>-<pid>-<tag>/`: a bench's synthetic
// model (gigabytes of random weights), a run estimate's calibration. The process that made one
// deletes it when done; one left by a killed process is swept at the next start (the library's
// open, or the next synthetic model's build), once the pid in its name no longer runs. A pid reused
// by another process keeps its folder until a later sweep: never one still in use.

import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeFolders } from './formats/atomic-write.ts';
import { processAlive } from './process-alive.ts';

/** The folder scratch folders live in. */
export const scratchRoot = (dataDir: string): string => join(dataDir, 'tmp');

/** A new, empty scratch folder for `what` (a word or two: 'synthetic-llama3-8b', 'calibrate'). */
export function makeScratchFolder(dataDir: string, what: string): string {
  const dir = join(scratchRoot(dataDir), `${what}-${process.pid}-${Date.now().toString(36)}`);
  makeFolders(dir);
  return dir;
}

/** Deletes the scratch folders whose process is gone; a folder it cannot delete is left for the next. */
export function sweepScratchFolders(dataDir: string): void {
  let names: string[];
  try {
    names = readdirSync(scratchRoot(dataDir));
  } catch {
    return; // no tmp/ yet
  }
  for (const name of names) {
    const m = /^.+-(\d+)-[0-9a-z]+$/.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      rmSync(join(scratchRoot(dataDir), name), { recursive: true, force: true });
    } catch {}
  }
}
