// The shape of one CLI command and the helpers every command uses: output in people or --json form,
// the progress reporter (cli/progress/reporter.ts) and opening the library in the data folder.
//
// --json: every command prints exactly one JSON object on stdout, its result (docs/cli.md), and
// its notes and warnings as JSON events, one a line, on stderr (electron/backend/jobs/progress-events.ts),
// never plain lines a reader cannot parse. A long command (`stream: true`: train, runs resume, models
// download, runtime install, bench, evaluate, datasets import, generate) streams its progress there too.

import { readOnlyReason } from '../electron/backend/db/database.ts';
import { seedDemo } from '../electron/backend/library/demo.ts';
import { closeLibrary, type Library, openLibrary } from '../electron/backend/library/library.ts';
import { resolveDataDir } from '../electron/backend/paths.ts';
import { type ArgValues, type OptionSpec, str } from './args.ts';
import { clipToWidth, displayWidth, padToWidth } from './display-width.ts';
import { shellLine } from './shell-word.ts';

export { formatBytes } from './units.ts';

import { createReporter, type Reporter, type ReporterMode } from './progress/reporter.ts';

export interface CommandContext {
  /** Positional arguments after the command words. */
  args: string[];
  values: ArgValues;
  json: boolean;
  /** --quiet: no progress and no notes; results and errors still print. */
  quiet: boolean;
  dataDir: string;
  /** Progress and notes of long work: a live bar, plain lines, JSON-lines events or nothing (stderr). */
  progress: Reporter;
  /**
   * Prints the command's result (ending the progress display first): `json` as the one object on
   * stdout with --json, else the `human` text.
   */
  print(json: Record<string, unknown>, human: () => string): void;
  /** Opens the library for the duration of fn. */
  withLibrary<T>(fn: (lib: Library) => T | Promise<T>): Promise<T>;
}

export interface Command {
  /** One or two words: 'serve', 'models list'. */
  name: string;
  summary: string;
  /** Synopsis after `reft-studio`, e.g. 'models add DIR [--name NAME]'. */
  usage: string;
  /** Every option with its one-line description (the global ones are added by the parser). */
  options?: OptionSpec;
  /** Command lines shown under "examples:" in --help, without the leading `reft-studio`. */
  examples: string[];
  /** Long work whose progress, with --json, is a stream of JSON-lines events on stderr. */
  stream?: boolean;
  /** Returns the exit code (default 0). Throw ReftErrors for failures. */
  run(ctx: CommandContext): Promise<number | undefined> | number | undefined;
}

export interface OutputStreams {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** The terminal behind stderr, when it is one (the live bar needs it). */
  tty?: NodeJS.WriteStream;
}

/**
 * How progress and notes are shown: with --json always as events (a short command's warnings too:
 * a reader of stderr meets JSON lines only), else a bar on a terminal, or plain lines.
 */
export function progressMode(json: boolean, quiet: boolean, tty: boolean): ReporterMode {
  if (json) return 'events';
  if (quiet) return 'quiet';
  return tty ? 'bar' : 'lines';
}

/** NO_COLOR (no-color.org): any non-empty value turns colour off. */
export const colorAllowed = (env: NodeJS.ProcessEnv = process.env): boolean => !env.NO_COLOR;

export function makeContext(
  args: string[],
  values: ArgValues,
  out: OutputStreams,
): CommandContext & { printed: boolean } {
  const json = values.json === true;
  const quiet = values.quiet === true;
  const dataDir = resolveDataDir(typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined);
  const progress = createReporter({
    mode: progressMode(json, quiet, out.tty !== undefined),
    write: out.stderr,
    quiet,
    stream: out.tty,
    color: colorAllowed(),
  });
  // Why the library is open read-only (a full disk, a folder not writable): said once a command
  // that reads has worked, before its result; one that fails says why in its error line alone.
  let readOnlyNote: string | null = null;
  const sayReadOnly = () => {
    if (readOnlyNote) progress.log(readOnlyNote, 'warn');
    readOnlyNote = null;
  };
  const ctx = {
    args,
    values,
    json,
    quiet,
    dataDir,
    progress,
    printed: false,
    print(obj: Record<string, unknown>, human: () => string) {
      if (ctx.printed && json) throw new Error('a command printed two JSON objects');
      ctx.printed = true;
      sayReadOnly();
      progress.close();
      out.stdout(json ? `${JSON.stringify(obj)}\n` : `${human().replace(/\n?$/, '\n')}`);
    },
    async withLibrary<T>(fn: (lib: Library) => T | Promise<T>): Promise<T> {
      // The whole file is checked once a day, not at each command (db/file-check.ts).
      const lib = openLibrary(dataDir, { checkFile: 'daily' });
      const readOnly = readOnlyReason(lib.db);
      if (readOnly)
        readOnlyNote = `the library in ${dataDir} is open read-only, as ${readOnly.why}: ${readOnly.fix} to change it`;
      try {
        // The CLI is a host like the studio: a new library starts with the demo.
        seedDemo(lib);
        const result = await fn(lib);
        sayReadOnly();
        return result;
      } catch (e) {
        readOnlyNote = null;
        throw e;
      } finally {
        closeLibrary(lib);
      }
    },
  };
  return ctx;
}

/**
 * A `reft-studio` command for the user to run next (a resume, a rerun, a fix), as one line to paste
 * into a shell: every word quoted by shellLine, and the --data-dir this command was given, so that
 * it acts on the same library.
 */
export function nextCommand(values: ArgValues, ...words: (string | number)[]): string {
  const dir = str(values, 'data-dir');
  return shellLine(['reft-studio', ...words, ...(dir ? ['--data-dir', dir] : [])]);
}

/** The width the CLI's tables keep to when told to fit, and `runs show` wraps at: a terminal's default. */
export const TERMINAL_WIDTH = 80;

/**
 * Which columns of a table give up room so that its lines fit `width` columns: each listed column is
 * cut at its end with an ellipsis, the widest first, down to `min` columns; the other columns are
 * kept whole (a folder, to be copied, never cut). Names are what gives way: the same names are whole
 * in `show ID` and in --json.
 */
export interface TableFit {
  shrink: number[];
  width?: number;
  min?: number;
  /** A column's own least width where it is not `min` (by column index). */
  mins?: Record<number, number>;
}

/**
 * A plain-text table: columns padded to their widest cell, measured in terminal columns
 * (display-width.ts), so that a CJK or emoji name, two columns a character, lines up as an ASCII one.
 * With `fit`, the listed columns are cut so that each line keeps to fit.width (80) when it can.
 */
export function table(
  headers: string[],
  rows: (string | number | null | undefined)[][],
  fit?: TableFit,
): string {
  let cells = [headers, ...rows.map((r) => r.map((c) => (c == null ? '-' : String(c))))];
  let widths = headers.map((_, i) => Math.max(...cells.map((r) => displayWidth(r[i] ?? ''))));
  if (fit) {
    const fitted = fittedWidths(widths, fit);
    cells = cells.map((r) => r.map((c, i) => (fitted[i] < widths[i] ? clipToWidth(c, fitted[i]) : c)));
    widths = fitted;
  }
  return cells
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : padToWidth(c, widths[i]))).join(COLUMN_GAP))
    .join('\n');
}

const COLUMN_GAP = '  ';

/** The columns' widths once fit.shrink's have given up what the line has over fit.width, widest first. */
function fittedWidths(widths: number[], fit: TableFit): number[] {
  const fitted = [...widths];
  const min = (i: number) => fit.mins?.[i] ?? fit.min ?? 12;
  const line = () => fitted.reduce((sum, w) => sum + w, 0) + COLUMN_GAP.length * (fitted.length - 1);
  for (let over = line() - (fit.width ?? TERMINAL_WIDTH); over > 0; over--) {
    const widest = fit.shrink.reduce<number | null>(
      (best, i) => (fitted[i] > min(i) && (best === null || fitted[i] > fitted[best]) ? i : best),
      null,
    );
    if (widest === null) break; // every shrinkable column is at its least: the line stays wider
    fitted[widest]--;
  }
  return fitted;
}

/**
 * When something was made, in UTC as formatTime says it, as `ls -l` shortens a date: this year's to
 * the minute without the year (12-07 13:28), an older one's by its date (2025-12-07).
 */
export function shortTime(ms: number, now = Date.now()): string {
  const full = formatTime(ms); // 2026-12-07 13:28:32
  return full.slice(0, 4) === formatTime(now).slice(0, 4) ? full.slice(5, 16) : full.slice(0, 10);
}

export function formatCount(n: number | null | undefined): string {
  if (n == null) return '-';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function formatTime(ms: number | null | undefined): string {
  return ms == null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}
