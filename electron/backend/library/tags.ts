// Tags as people type them, the one rule for every place a tag is entered (a dataset row's or an
// adapter's tag box, `adapters tag`, `import --tag`, the RPC): a comma separates tags, so "pirate, best"
// is two tags and no tag holds a comma. Lists of tags are shown joined with commas (`adapters list`),
// where one tag holding a comma read as two. Like names, a tag holds no control or text-direction
// characters (names.ts).
// Tags stored before this rule may hold a comma; they are still found and removed by their whole text.

import { ValidationError } from '../../../native-runtime/errors.ts';
import { hiddenCharacterProblem } from './names.ts';

export const TAG_MAX_CHARS = 64;

function pieces(entry: string): string[] {
  return entry
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

/** The tags one entry names; an entry that names none (blank, only commas) is refused. */
function named(entry: string): string[] {
  const tags = pieces(entry);
  if (!tags.length)
    throw new ValidationError('bad-tag', 'a tag must be 1 to 64 characters (a comma separates tags)');
  return tags;
}

/** The tags `entries` name (each split at its commas, trimmed, once each); a bad one is refused. */
export function tagsToAdd(entries: readonly string[]): string[] {
  const out = new Set<string>();
  for (const entry of entries) {
    for (const t of named(entry)) {
      if (t.length > TAG_MAX_CHARS)
        throw new ValidationError(
          'bad-tag',
          `a tag must be 1 to 64 characters ("${t.slice(0, 20)}…" is ${t.length})`,
        );
      const hidden = hiddenCharacterProblem(t);
      if (hidden) throw new ValidationError('bad-tag', `a tag cannot hold ${hidden}`);
      out.add(t);
    }
  }
  return [...out];
}

/**
 * The tags of `has` that `entries` name: a whole stored tag (even one with a comma), else its pieces;
 * an entry that names no tag is refused, as when adding.
 */
export function tagsToRemove(entries: readonly string[], has: readonly string[]): string[] {
  return entries.flatMap((e) => (has.includes(e.trim()) ? [e.trim()] : named(e)));
}

/** Why a tag box's text cannot be added (the rule tagsToAdd applies, in its words), or null. */
export function tagDraftProblem(draft: string): string | null {
  try {
    tagsToAdd([draft]);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * A filter by tag, read once for the many rows it is tried on: `tags` match it when they hold the
 * whole tag, or every tag it names between commas.
 */
export function tagFilter(filter: string): (tags: readonly string[]) => boolean {
  const whole = filter.trim();
  const f = pieces(filter);
  return (tags) => tags.includes(whole) || (f.length > 0 && f.every((t) => tags.includes(t)));
}

/** Whether `tags` match a filter by tag (tagFilter, for one list). */
export function matchesTag(tags: readonly string[], filter: string): boolean {
  return tagFilter(filter)(tags);
}
