// pyreft export folders (what `pyreft.ReftModel.load(dir, model)` reads), read and written.
//
// A folder holds config.json (pyreft-config.ts), one torch.save file `intkey_<key>.bin` per
// intervention (pyreft-bin.ts), and optionally our side file reft_studio.json. In memory an adapter
// is a PyreftAdapter (pyreft-params.ts). This module ties them together and re-exports their names,
// so importers need only this one.
// Reading checks config.json first (against the model, when one is given), sizes each .bin from it,
// and checks every tensor's name and shape before reading its data, so a hostile folder costs
// neither time nor memory before it is refused. Writing goes to a temp folder that is renamed into
// place (atomic-write.ts), so a failure leaves the destination as it was.
// Left out: components other than block_output, units other than "pos", subspaces.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../errors.ts';
import { writeExportableFolder } from './export-marker.ts';
import { FILE_LIMITS, readFileCapped, readJsonFile } from './json-file.ts';
import { encodeInterventionBin, readInterventionBin } from './pyreft-bin.ts';
import {
  canonicalKeys,
  encodePyreftConfig,
  parseConfig,
  parseSidecar,
  SIDECAR_FILE,
} from './pyreft-config.ts';
import { checkAgainstModel, type ModelShape, type PyreftAdapter, validateAdapter } from './pyreft-params.ts';

export { encodeInterventionBin, maxBinBytes } from './pyreft-bin.ts';
export {
  canonicalKeys,
  encodePyreftConfig,
  interventionKey,
  parseInterventionKey,
  parseInterventionType,
  parseLineage,
  parseSidecar,
  pyreftClassString,
  SIDECAR_FILE,
} from './pyreft-config.ts';
export {
  checkAgainstModel,
  checkParams,
  type HouseholderState,
  type InterventionType,
  type ModelShape,
  type ParamSpec,
  type ParamTensor,
  PYREFT_CLASS_NAMES,
  type PyreftAdapter,
  type PyreftIntervention,
  paramSpecs,
  type SidecarLineage,
  type StudioSidecar,
  validateAdapter,
} from './pyreft-params.ts';

export interface ReadPyreftOptions {
  /**
   * The model the adapter is for: config.json's hidden sizes and layers are checked against it
   * before any .bin is read (hidden-size-mismatch, layer-out-of-range).
   */
  model?: ModelShape;
  /**
   * When given, a malformed reft_studio.json is not an error: it is passed here and set aside
   * (`part` 'sidecar'), or only its malformed lineage is (`part` 'lineage'), so an import can go on
   * without it and say so. pyreft's own files are checked as strictly either way.
   */
  onBadSidecar?: (e: FormatError, part: 'sidecar' | 'lineage') => void;
}

/** Reads and validates a pyreft folder (config.json + intkey_*.bin [+ reft_studio.json]). */
export function readPyreftFolder(dir: string, opts: ReadPyreftOptions = {}): PyreftAdapter {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) {
    throw new FormatError(
      'missing-file',
      `${cfgPath}: missing; a pyreft folder needs config.json next to its intkey_*.bin files (checkpoints without it cannot be loaded)`,
    );
  }
  const cfg = parseConfig(readJsonFile(cfgPath, cfgPath, FILE_LIMITS.config, 'bad-config'), cfgPath);
  if (opts.model) checkAgainstModel({ interventions: cfg.entries }, opts.model);
  const interventions = cfg.entries.map((e) => {
    const path = join(dir, `intkey_${e.key}.bin`);
    if (!existsSync(path))
      throw new FormatError('missing-file', `${path}: missing; config.json lists intervention ${e.key}`);
    return readInterventionBin(path, e);
  });
  const adapter: PyreftAdapter = { interventions, transformersVersion: cfg.transformersVersion };
  const sidePath = join(dir, SIDECAR_FILE);
  if (existsSync(sidePath)) {
    const onBad = opts.onBadSidecar;
    try {
      adapter.sidecar = parseSidecar(
        readFileCapped(sidePath, FILE_LIMITS.config, sidePath).toString('utf8'),
        sidePath,
        onBad ? { onBadLineage: (e) => onBad(e, 'lineage') } : {},
      );
    } catch (e) {
      if (!onBad || !(e instanceof FormatError)) throw e;
      onBad(e, 'sidecar');
    }
  }
  return adapter;
}

/**
 * Writes a pyreft folder: config.json, intkey_<key>.bin per intervention (keys regenerated in
 * pyvene's current form), and reft_studio.json when the adapter has a sidecar. Atomic per folder;
 * `asExport` marks the folder as an export (export-marker.ts). Returns the names of the files written.
 */
export function writePyreftFolder(
  dir: string,
  adapter: PyreftAdapter,
  opts: { asExport?: boolean } = {},
): string[] {
  validateAdapter(adapter);
  const keys = canonicalKeys(adapter.interventions.map((iv) => iv.layer));
  const files: Array<[string, string | Uint8Array]> = [
    ['config.json', encodePyreftConfig(adapter.interventions, adapter.transformersVersion)],
  ];
  adapter.interventions.forEach((iv, i) => {
    const stem = `intkey_${keys[i]}`;
    files.push([`${stem}.bin`, encodeInterventionBin(iv, stem)]);
  });
  if (adapter.sidecar) files.push([SIDECAR_FILE, `${JSON.stringify(adapter.sidecar, null, 2)}\n`]);
  writeExportableFolder(dir, files, opts.asExport ? 'pyreft' : undefined);
  return files.map(([name]) => name);
}
