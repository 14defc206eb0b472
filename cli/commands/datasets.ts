// `reft-studio datasets import|list|show`: datasets in the library (logic in library/datasets.ts).
// Import is strict by default, as every CLI command is with bad input: the first malformed row fails
// it naming file:line. --skip-bad-rows imports the rest and lists each bad row on stderr. A big file
// (BIG_FILE_BYTES and more) shows its rows being checked on the progress reporter.

import { statSync } from 'node:fs';
import { DATASET_FORMATS, type DatasetFormat } from '../../electron/backend/library/dataset-formats.ts';
import { type ImportResult, importDatasetFile } from '../../electron/backend/library/dataset-import.ts';
import { datasetRows } from '../../electron/backend/library/dataset-rows.ts';
import { getDataset, listDatasets } from '../../electron/backend/library/datasets.ts';
import { plural } from '../../native-runtime/plural.ts';
import { ROW_KEYS } from '../../native-runtime/training/row-keys.ts';
import { badValue, intAtLeast, parseId, str, UsageError } from '../args.ts';
import {
  type Command,
  type CommandContext,
  formatBytes,
  formatTime,
  nextCommand,
  table,
} from '../command.ts';
import { MAP_OPTION, parseMapping } from '../data-flags.ts';
import { cutText } from '../terminal-text.ts';

/** Files from this size on show progress while their rows are checked. */
const BIG_FILE_BYTES = 4 * 2 ** 20;

/** The reporter's row count for a big file; nothing for a small one (it is done at once). */
function rowProgress(ctx: CommandContext, file: string) {
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    return { onProgress: undefined, done() {} };
  }
  if (size < BIG_FILE_BYTES) return { onProgress: undefined, done() {} };
  const task = ctx.progress.count({ label: 'import', unit: 'rows' });
  return {
    onProgress: (done: number, total: number | null) => task.update(done, total),
    done: () => task.done(),
  };
}

/** Characters of a row `datasets show` prints; a longer one is cut (the stored file keeps it whole). */
const SHOWN_ROW_CHARS = 400;

/** A row on one line, as a person reads it: a 20 MB prompt would otherwise flood the terminal. */
const shownRow = (row: unknown): string => cutText(JSON.stringify(row), SHOWN_ROW_CHARS);

function parseFormat(v: string | undefined): DatasetFormat | 'auto' | undefined {
  if (v === undefined || v === 'auto') return v;
  if ((DATASET_FORMATS as readonly string[]).includes(v)) return v as DatasetFormat;
  throw badValue('--format', `one of auto, ${DATASET_FORMATS.join(', ')}`, v);
}

/**
 * What an import kept and left that the row count does not say: duplicates (kept; the Duplicates
 * tool finds them) and columns the format has no place for (not stored).
 */
function importNotes(r: ImportResult): string[] {
  const notes: string[] = [];
  if (r.duplicateCount)
    notes.push(
      `${plural(r.duplicateCount, 'duplicate row')} (same prompt and completion), kept: the Duplicates tool (the studio's "Duplicates & split" tab) finds and drops them`,
    );
  if (r.unkeptColumns.length) {
    const cols = r.unkeptColumns.map((c) => `"${c}"`).join(', ');
    const which = r.unkeptColumns.length === 1 ? `the column ${cols}` : `the columns ${cols}`;
    notes.push(`not kept: ${which} (a ${r.version.format} row has only ${ROW_KEYS[r.version.format]})`);
  }
  if (r.unkeptMessageKeys.length) {
    const keys = r.unkeptMessageKeys.map((k) => `"${k}"`).join(', ');
    const which = r.unkeptMessageKeys.length === 1 ? `the message key ${keys}` : `the message keys ${keys}`;
    notes.push(`not kept: ${which} (a message has only "role" and "content")`);
  }
  return notes;
}

export const datasetsCommands: Command[] = [
  {
    name: 'datasets import',
    summary: 'import a JSONL/JSON/CSV/TSV/Parquet file as a frozen dataset version',
    usage:
      'datasets import FILE [--name NAME] [--format auto|prompt-completion|alpaca|chat] [--into ID] [--skip-bad-rows] [--map FIELD=COLUMN]...',
    options: {
      name: { type: 'string', description: 'the dataset name (default: the file name)' },
      format: { type: 'string', description: 'the row format (default auto: detected from the rows)' },
      into: {
        type: 'string',
        value: 'ID',
        description: 'add a new version to this dataset (default: the dataset of that name, else a new one)',
      },
      'skip-bad-rows': {
        type: 'boolean',
        description: 'import the good rows and list each bad one (default: refuse the file)',
      },
      map: MAP_OPTION,
    },
    stream: true,
    examples: [
      'datasets import persona.jsonl --name persona',
      'datasets import more.csv --into 2 --skip-bad-rows',
      'datasets import qa.csv --map prompt=question --map completion=answer',
    ],
    async run(ctx) {
      const file = ctx.args[0];
      if (!file) throw new UsageError('missing FILE');
      const into = str(ctx.values, 'into');
      const rows = rowProgress(ctx, file);
      const r = await ctx.withLibrary((lib) =>
        importDatasetFile(lib, {
          onProgress: rows.onProgress,
          path: file,
          name: str(ctx.values, 'name'),
          format: parseFormat(str(ctx.values, 'format')),
          datasetId: into === undefined ? undefined : parseId(into, '--into'),
          onBadRows: ctx.values['skip-bad-rows'] === true ? 'skip' : 'refuse',
          mapping: parseMapping(ctx.values.map),
        }),
      );
      rows.done();
      // Through the reporter: a warning line, or with --json a warning event (the result lists them too).
      for (const b of r.rejected) ctx.progress.log(`${file}:${b.line}: ${b.message} (skipped)`, 'warn');
      const what = {
        created: 'new dataset',
        // --into names the dataset: the file's name need not be its name.
        'new-version':
          into === undefined ? 'new version of the dataset of that name' : 'new version of that dataset',
        unchanged: 'unchanged: the latest version has exactly these rows',
      }[r.action];
      const listed = r.rejected.length < r.rejectedCount ? ` (the first ${r.rejected.length} listed)` : '';
      ctx.print(
        {
          dataset: r.dataset,
          version: r.version,
          action: r.action,
          rejected: r.rejected,
          rejectedCount: r.rejectedCount,
          duplicateCount: r.duplicateCount,
          unkeptColumns: r.unkeptColumns,
          unkeptMessageKeys: r.unkeptMessageKeys,
        },
        () =>
          [
            `dataset ${r.dataset.id} "${r.dataset.name}" version ${r.version.version}: ${plural(r.version.rowCount, `${r.version.format} row`)} (${what})` +
              (r.rejectedCount ? `, ${plural(r.rejectedCount, 'bad row')} skipped${listed}` : ''),
            ...importNotes(r),
          ].join('\n'),
      );
      return 0;
    },
  },
  {
    name: 'datasets list',
    summary: 'list the datasets in the library',
    usage: 'datasets list',
    examples: ['datasets list'],
    async run(ctx) {
      const datasets = await ctx.withLibrary((lib) => listDatasets(lib));
      ctx.print({ datasets }, () =>
        datasets.length
          ? table(
              ['ID', 'NAME', 'FORMAT', 'ROWS', 'VERSION', 'SIZE', 'CREATED'],
              datasets.map((d) => [
                d.id,
                d.name,
                d.latest.format,
                d.latest.rowCount,
                d.latest.version,
                formatBytes(d.latest.sizeBytes),
                formatTime(d.createdAt),
              ]),
              { shrink: [1] }, // the name: `datasets show ID` has it whole
            )
          : `no datasets yet: import one with \`${nextCommand(ctx.values, 'datasets', 'import', 'FILE')}\``,
      );
      return 0;
    },
  },
  {
    name: 'datasets show',
    summary: 'show a dataset, its versions and its first rows',
    usage: 'datasets show ID [--rows N]',
    options: { rows: { type: 'string', description: 'how many rows to show (default 5; 0 = none)' } },
    examples: ['datasets show 2 --rows 10'],
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const limit = intAtLeast(ctx.values, 'rows', 0) ?? 5;
      const { dataset, page } = await ctx.withLibrary((lib) => ({
        dataset: getDataset(lib, id),
        page: limit > 0 ? datasetRows(lib, { datasetId: id, limit }) : null,
      }));
      ctx.print({ ...dataset, rows: page?.rows ?? [] }, () => {
        const head = `dataset ${dataset.id} "${dataset.name}"${dataset.isDemo ? ' (demo)' : ''}`;
        const versions = table(
          ['VERSION', 'FORMAT', 'ROWS', 'REJECTED', 'HASH', 'CREATED'],
          dataset.versions.map((v) => [
            v.version,
            v.format,
            v.rowCount,
            v.rejectedCount,
            v.contentHash.slice(0, 12),
            formatTime(v.createdAt),
          ]),
        );
        const rows = page ? page.rows.map((r) => `  ${shownRow(r)}`).join('\n') : '';
        return `${head}\n${versions}${rows ? `\nfirst rows of version ${dataset.latest.version}:\n${rows}` : ''}`;
      });
      return 0;
    },
  },
];
