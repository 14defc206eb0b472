// A copy of the app's launch scripts in a folder of the test's choosing, for what depends on where
// the app sits (a path with a space, as "My Projects" or "Application Support" have). Only the
// given files are copied, so each finds its folder from its own location; the rest of the app is
// linked (Node loads a linked module from its real path, so imports resolve in the real tree).

import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../backend/helpers.ts';

/** Copies `files` (paths relative to the app) into `dir` and links `links` there; returns `dir`. */
export function appCopy(dir: string, files: string[], links: string[]): string {
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    copyFileSync(join(ROOT, f), join(dir, f));
  }
  for (const l of links) symlinkSync(join(ROOT, l), join(dir, l));
  return dir;
}
