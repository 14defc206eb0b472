// `--map FIELD=COLUMN`: the column mapping of a data file the command imports (`datasets import`,
// and `train` / `evaluate` with --data FILE), declared once so the three take it alike; and
// `--data ID|FILE` where a command reads the file as it is instead of importing it.

import { isDatasetId } from '../electron/backend/library/dataset-import.ts';
import { getDataset } from '../electron/backend/library/datasets.ts';
import type { ErrorDetails, WireError } from '../native-runtime/errors.ts';
import { type ColumnMapping, MAPPED_FIELDS } from '../native-runtime/training/data-files.ts';
import { type ArgValues, type OptionDef, UsageError } from './args.ts';
import { type CommandContext, nextCommand } from './command.ts';
import { shellWord } from './shell-word.ts';

export const MAP_OPTION: OptionDef = {
  type: 'string',
  multiple: true,
  value: 'FIELD=COLUMN',
  description: 'read FIELD (prompt, completion, instruction, input, output, messages) from COLUMN; repeat',
};

/** `--map prompt=question --map completion=answer` → the import's column mapping. */
export function parseMapping(values: ArgValues[string], flag = '--map'): ColumnMapping | undefined {
  const list = Array.isArray(values) ? values : typeof values === 'string' ? [values] : [];
  if (!list.length) return undefined;
  const mapping: ColumnMapping = {};
  for (const item of list) {
    const m = /^([^=]+)=(.+)$/.exec(item);
    if (!m) throw new UsageError(`${flag} ${item}: write FIELD=COLUMN, e.g. prompt=question`);
    const field = m[1].trim();
    if (!(MAPPED_FIELDS as readonly string[]).includes(field))
      throw new UsageError(`${flag} ${item}: FIELD must be one of ${MAPPED_FIELDS.join(', ')}`);
    mapping[field as (typeof MAPPED_FIELDS)[number]] = m[2];
  }
  return mapping;
}

/**
 * A column mapping beside a library dataset id (`--data 2 --map prompt=question`): its columns were
 * mapped when it was imported, so the mapping would map nothing. Bad usage (exit 2): a bare integer
 * that names no file is an id, which the command line alone shows, whatever the library holds.
 * `instead` ends the line with what to do where the default advice does not fit.
 */
export function refuseMappedId(
  command: string,
  flags: { data: string; map: string },
  ref: string | undefined,
  mapping: ColumnMapping | undefined,
  instead = 'its columns were mapped then',
): void {
  if (!mapping || ref === undefined || !isDatasetId(ref)) return;
  throw new UsageError(
    `${command}: ${flags.map} is for ${flags.data} FILE, and dataset ${ref} is already imported: ${instead}`,
  );
}

/**
 * The --map flags that read a refused file's columns (`details.mapping`, set by dataset-formats.ts),
 * to end its refusal with; each flag's value is one word to a shell, whatever the column's name.
 */
export function mapHint(details: ErrorDetails | undefined): string {
  const m = details?.mapping;
  if (!m) return '';
  const flags = Object.entries(m).map(([field, column]) => `--map ${shellWord(`${field}=${column}`)}`);
  return 'messages' in m ? `: map it, e.g. ${flags.join(' ')}` : `; map them, e.g. ${flags.join(' ')}`;
}

/**
 * How to get past a data file refused for a bad row (code 'bad-rows'): `datasets import` has the
 * flag that keeps the good rows; `train` and `evaluate` read a file strictly, so they print that
 * import as a command to paste: the refused file's absolute path, read as it was (format, column
 * mapping), into this command's --data-dir.
 */
export function badRowsHint(
  err: WireError,
  command: string | undefined,
  values: ArgValues | undefined,
): string {
  if (err.code !== 'bad-rows') return '';
  if (command === 'datasets import') return '; fix the file, or import its good rows with --skip-bad-rows';
  const refused = err.details?.refusedFile;
  if (!refused)
    return `; fix the file, or import its good rows with \`${nextCommand(values ?? {}, 'datasets', 'import', 'FILE', '--skip-bad-rows')}\``;
  const format = refused.format && refused.format !== 'auto' ? ['--format', refused.format] : [];
  const map = Object.entries(refused.mapping ?? {}).flatMap(([field, column]) => [
    '--map',
    `${field}=${column}`,
  ]);
  const words = ['datasets', 'import', refused.path, ...format, ...map, '--skip-bad-rows'];
  return `; fix the file, or import its good rows with \`${nextCommand(values ?? {}, ...words)}\` and give the dataset's id instead`;
}

/**
 * The file behind `--data ID|FILE` for a command that reads it as it is (`train --resume`, `export
 * --format bundle`): a library dataset id is its latest version's stored file (JSONL, whatever was
 * imported: the way to give a Parquet file, which only an import reads), a file is itself.
 */
export async function dataFileOf(ctx: CommandContext, ref: string): Promise<string>;
export async function dataFileOf(ctx: CommandContext, ref: string | undefined): Promise<string | undefined>;
export async function dataFileOf(ctx: CommandContext, ref: string | undefined): Promise<string | undefined> {
  if (ref === undefined || !isDatasetId(ref)) return ref;
  return ctx.withLibrary((lib) => getDataset(lib, Number(ref)).latest.filePath);
}
