// Keyboard focus after an action removed what held it (the Delete button of a row that is gone):
// the browser drops it to <body>, and the next Tab starts again from the top of the window.

import { tick } from 'svelte';

/** Once the page has updated, gives focus to the page itself (<main>) if nothing holds it. */
export async function keepFocusOnPage(): Promise<void> {
  await tick();
  if (document.activeElement === null || document.activeElement === document.body)
    document.querySelector<HTMLElement>('main')?.focus();
}
