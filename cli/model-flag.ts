// The folder a command's --model DIR names, as `models add` and `train --model` take it: a Hugging
// Face cache repository's snapshot chosen without a usable refs/main is said in one warning line
// (resolveModelFolder's note), never taken in silence.

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
