// A word as the user would type it again in a shell, for the commands the CLI's hints suggest
// (`-- -x`, `--map prompt=the question`): bare where every shell reads it as it is, else quoted.

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
