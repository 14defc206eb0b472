// What the Datasets page's import form holds before Import (the file chosen, or a path typed, the name
// and the format): the page is made anew on each visit, so the form reads and writes it here, and a
// look at another page loses nothing — as the Train wizard keeps its draft. An import empties it.

import type { DatasetFormat } from '../rpc/handlers.ts';
import type { PickedFile } from '../transfers.ts';

export class ImportDraft {
  file = $state.raw<PickedFile | null>(null);
  path = $state('');
  name = $state('');
  format = $state<DatasetFormat | 'auto'>('auto');

  /** After an import: the next one starts from an empty form (the format is a preference, kept). */
  clear(): void {
    this.file = null;
    this.path = '';
    this.name = '';
  }
}

/** The window's one import form. */
export const importDraft = new ImportDraft();
