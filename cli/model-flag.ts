// The folder a command's --model DIR names, as `models add` and `train --model` take it: a Hugging
// Face cache repository's snapshot chosen without a usable refs/main is said in one warning line
// (resolveModelFolder's note), never taken in silence.

import type { AdapterRecord } from '../electron/backend/library/adapters.ts';
import type { Library } from '../electron/backend/library/library.ts';
import { listModels } from '../electron/backend/library/models.ts';
import { detectAdapterFolder, readAnyAdapter } from '../native-runtime/adapters/folders.ts';
import { ReftError, ValidationError } from '../native-runtime/errors.ts';
import { resolveModelFolder } from '../native-runtime/models/model-folder.ts';
import type { CommandContext } from './command.ts';

/** Says `note` (how a cache repository's snapshot was chosen), if any, as train and models add do. */
export function warnModelNote(ctx: CommandContext, note: string | undefined): void {
  if (note) ctx.progress.log(note, 'warn');
}

/** The model folder `input` resolves to, its snapshot choice said on stderr. */
export function modelFolderFlag(ctx: CommandContext, input: string): string {
  const { dir, note } = resolveModelFolder(input);
  warnModelNote(ctx, note);
  return dir;
}

/**
 * The base model's fingerprint a folder outside the library names (train --out, an export: the
 * manifest, or a pyreft folder's reft_studio.json); null for a folder that does not name it.
 */
function folderBase(dir: string): string | null {
  // A folder that is missing, a file or no adapter at all is refused as such, not as one whose base
  // model the library lacks ("give it with --model" sent the person after the wrong thing).
  detectAdapterFolder(dir);
  try {
    return readAnyAdapter(dir).manifest.baseModel.fingerprint;
  } catch (e) {
    if (e instanceof ReftError) return null;
    throw e;
  }
}

/**
 * The library model an adapter was trained on, for a command given an adapter but no --model
 * (evaluate, generate): found by the fingerprint its library record or its folder keeps.
 */
export function adapterBaseModel(
  lib: Library,
  adapterRef: string,
  adapter: { path: string; record: AdapterRecord | null },
): { path: string; modelId: number; fingerprint: string } {
  const fingerprint = adapter.record?.baseModelFingerprint ?? folderBase(adapter.path);
  const known = fingerprint ? listModels(lib).find((m) => m.fingerprint === fingerprint) : undefined;
  if (!fingerprint || !known)
    throw new ValidationError(
      'missing-model',
      fingerprint
        ? `the base model of ${adapterRef} is not in the library: give it with --model ID|DIR`
        : `${adapterRef} does not record its base model (a plain pyreft folder): give it with --model ID|DIR`,
    );
  return { path: known.path, modelId: known.id, fingerprint };
}
