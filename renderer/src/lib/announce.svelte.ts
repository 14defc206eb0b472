// What a screen reader is told of work going on out of sight: one polite live region (App.svelte),
// in the page from its first render — a role=status element inserted already holding its text is
// often not read at all. Progress (a run's steps, an evaluation's examples, a download, an upload)
// is said now and then, never at every step or token: a count read out each second would talk over
// everything else the person does.

import type { Attachment } from 'svelte/attachments';

class Announcements {
  /** The text of the live region. */
  message = $state('');
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Says `text` (politely: after what the reader is saying now). */
  say(text: string): void {
    // Emptied first, so the same sentence twice ("Run 3: step 10 of 10" after a reload) is read again.
    this.message = '';
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.message = text;
    }, 50);
  }
}

export const announcements = new Announcements();

/**
 * For a note an action leaves where it happened (saved, imported, cancelled, exported…):
 * `<p class="ok" {@attach spoken(text)}>{text}</p>` says `text` through the live region once the note
 * is on the page, and again when the text changes. Notes carry no role=status of their own, for the
 * reason above. A note that got focus (focusWhenShown, after an action whose button was disabled) is
 * read as focus lands on it, so it is not said twice.
 */
export function spoken(text: string): Attachment<HTMLElement> {
  return (note) => {
    const timer = setTimeout(() => {
      if (!note.contains(document.activeElement)) announcements.say(text);
    }, 100);
    return () => clearTimeout(timer);
  };
}

/** The least time between two progress reports of one piece of work. */
export const PROGRESS_EVERY_MS = 10_000;

/**
 * Progress of one piece of work, said at most every `everyMs`: the first report at once, later
 * ones once that much time has passed, and the last (`final`) always.
 */
export class ProgressAnnouncer {
  #last = Number.NEGATIVE_INFINITY;
  #said = '';

  constructor(readonly everyMs = PROGRESS_EVERY_MS) {}

  report(text: string, final = false): void {
    const now = performance.now();
    if (text === this.#said || (!final && now - this.#last < this.everyMs)) return;
    this.#last = now;
    this.#said = text;
    announcements.say(text);
  }
}

/**
 * What a held or repeated key explores (a chart's cursor), said once the keys rest for `quietMs`:
 * each press queued in a polite region would be read out one after another long after the person
 * stopped.
 */
export class SettledAnnouncer {
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly quietMs = 400) {}

  report(text: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => announcements.say(text), this.quietMs);
  }

  /** Drops what was waiting to be said (focus left). */
  cancel(): void {
    clearTimeout(this.#timer);
  }
}
