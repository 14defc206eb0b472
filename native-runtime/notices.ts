// Notes for people (what loading a model and training say), and which of them are warnings. Whoever
// says a note knows its kind (a fallback to the CPU, a software adapter) and marks it here; every
// callback, engine event, stored log line and printout carries the mark on, so no reader guesses it
// back from the words (a reworded line kept its text's prefix test, not its warning).

/** A warning's mark; a plain note has none. */
export type NoteLevel = 'warn';

/** Takes one note for people; `level` 'warn' on a warning. */
export type Notify = (message: string, level?: NoteLevel) => void;
