// A word as the user would type it again in a shell, for the commands the CLI prints for the user to
// run next (a resume, a rerun, `-- -x`, `--map prompt=the question`, `export VAR=…`): bare where every
// shell reads it as it is, else quoted. Every printed command quotes through here, so a folder with
// spaces, quotes, `$` or non-ASCII letters pastes back as the same one word.

/** Characters no shell treats specially (Python's shlex.quote keeps the same set bare). */
const BARE = /^[\w@%+=:,./-]+$/;
/** Special inside double quotes in sh/bash ($ ` \ ", and ! in an interactive bash) or PowerShell. */
const NOT_IN_DOUBLE_QUOTES = /["$`\\!]/;

/**
 * Bare, else in double quotes (sh, bash, zsh and PowerShell read it alike), else in single quotes
 * with a ' inside written '\'' (POSIX shells).
 */
export function shellWord(w: string): string {
  if (BARE.test(w)) return w;
  if (!NOT_IN_DOUBLE_QUOTES.test(w)) return `"${w}"`;
  return `'${w.replaceAll("'", `'\\''`)}'`;
}

/** Words as one command line that a shell splits back into exactly these words. */
export function shellLine(words: readonly (string | number)[]): string {
  return words.map((w) => shellWord(String(w))).join(' ');
}
