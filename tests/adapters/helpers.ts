// Shared set-up for the adapter-library tests: temp libraries, copies of fixture folders and a
// snapshot of everything an import could leave behind.

import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Library, openLibrary } from '../../electron/backend/library/library.ts';
import { MODELS, REFT } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

export const LLAMA = join(MODELS, 'llama');
/** LoReFT, layers 1 and 2, f2+l2 untied: four interventions with trained values. */
export const F2L2 = join(REFT, 'llama-loreft-f2l2', 'pyreft_final');
export const F2L2_BIN = 'intkey_layer_2_comp_block_output_unit_pos_nunit_1#1.bin';

/** A temp folder removed when the test file's process exits. */
export function tmp(prefix: string): string {
  return tempDir(`reft-ad-${prefix}-`);
}

export function openTempLibrary(): Library {
  return openLibrary(join(tmp('lib'), 'data'));
}

export function copyFolder(src: string): string {
  const dst = join(tmp('src'), 'pyreft');
  cpSync(src, dst, { recursive: true });
  return dst;
}

/** Adapter rows and the files under <data>/adapters: what a failed import must leave unchanged. */
export function librarySnapshot(lib: Library): { rows: unknown[]; tags: unknown[]; files: string[] } {
  const root = join(lib.dataDir, 'adapters');
  const files: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) walk(join(d, f.name), `${rel}${f.name}/`);
      else files.push(`${rel}${f.name}`);
    }
  };
  if (existsSync(root)) walk(root, '');
  return {
    rows: lib.db.prepare('SELECT * FROM adapters ORDER BY id').all(),
    tags: lib.db.prepare('SELECT * FROM adapter_tags ORDER BY adapter_id, tag').all(),
    files: files.sort(),
  };
}
