// Why an answer of several tokens has no text: a model's vocabulary is often padded past its
// tokenizer's (Llama 3, Qwen2; the demo model's 640 rows for 384 tokens), and those ids decode to
// nothing; special tokens (an end of turn) are left out of answers; a stop text at the very start cuts
// everything. An empty box with "4 tokens" under it reads as a bug: this line says which it was.

import { plural } from '../plural.ts';

/** What the note needs of the tokenizer (tokenizer.ts's Tokenizer). */
export interface NoteTokenizer {
  readonly vocabSize: number;
  readonly specialIds: ReadonlySet<number>;
  idToToken(id: number): string | undefined;
}

/** The first few distinct items, then "…" for the rest. */
function examples(items: readonly string[], most = 5): string {
  const distinct = [...new Set(items)];
  return distinct.slice(0, most).join(', ') + (distinct.length > most ? ', …' : '');
}

/**
 * One line, "no text: the 4 tokens decode to nothing (4 ids past the tokenizer's 384: 412, 501, …)",
 * when `ids` were generated and `text` is empty; null otherwise. `stopped`: the answer ended at a stop
 * text, which the other tokens began.
 */
export function emptyAnswerNote(
  tok: NoteTokenizer,
  ids: readonly number[],
  text: string,
  stopped: boolean,
): string | null {
  if (text !== '' || ids.length === 0) return null;
  const past = ids.filter((i) => i < 0 || i >= tok.vocabSize);
  const special = ids.filter((i) => tok.specialIds.has(i));
  const rest = ids.length - past.length - special.length;
  const why: string[] = [];
  if (past.length)
    why.push(
      `${plural(past.length, 'id')} past the tokenizer's ${tok.vocabSize}: ${examples(past.map(String))}`,
    );
  if (special.length)
    why.push(
      `${plural(special.length, 'special token')}, left out of answers: ${examples(special.map((i) => tok.idToToken(i) ?? `#${i}`))}`,
    );
  if (rest)
    why.push(
      stopped
        ? `${plural(rest, 'token')} of the stop text it began with`
        : `${plural(rest, 'token')} whose text is empty`,
    );
  return `no text: the ${plural(ids.length, 'token')} ${ids.length === 1 ? 'decodes' : 'decode'} to nothing (${why.join('; ')})`;
}
