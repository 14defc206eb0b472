// The prepare step of a dataset import (dataset-import.ts): a file read, its rows checked and
// normalised (dataset-formats.ts) and written to a frozen file (frozen-files.ts), without touching
// the database. The studio runs it in the engine's 'files' process, which loads no database code
// (tests/backend/engine-imports.test.ts); recording the version is dataset-import.ts's.

import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { FormatError } from '../../../native-runtime/errors.ts';
import { fileLines, lineTooLong, withoutBom } from '../../../native-runtime/formats/line-reader.ts';
import { fileKindOfFile, rawRowsScan } from '../../../native-runtime/training/data-files.ts';
import { decodeDatasetText, jsonlRow, notUtf8 } from '../../../native-runtime/training/data-formats.ts';
import {
  type BadRow,
  type ColumnMapping,
  type DatasetFormat,
  parquetRowGroups,
  type RawRow,
  RowNormalizer,
  type RowProgress,
} from './dataset-formats.ts';
import { type FrozenFile, FrozenFileWriter } from './frozen-files.ts';
import { RowHashList, repeatedRows } from './row-hashes.ts';
import { runInSlices } from './sliced-scans.ts';

export interface ImportInput {
  path: string;
  /** The name the file had for the user (an upload's file name); default: the path's. */
  sourceName?: string;
  name?: string;
  format?: DatasetFormat | 'auto';
  /** Add a version to this dataset instead of the one named `name` (or a new one). */
  datasetId?: number;
  /** 'skip' (default): keep good rows, report the bad ones. 'refuse': any bad row fails the import. */
  onBadRows?: 'skip' | 'refuse';
  isDemo?: boolean;
  /** Source columns for the target fields when the file uses other names. */
  mapping?: ColumnMapping;
  /** Rows checked so far, every few thousand (the total once known); the CLI shows it for big files. */
  onProgress?: RowProgress;
}

/** A file's rows normalised and frozen, not yet recorded in the library. */
export interface PreparedImport {
  src: string;
  /** The file's name as the user knows it (messages, the dataset's default name). */
  shownName: string;
  format: DatasetFormat;
  file: FrozenFile;
  bad: BadRow[];
  badCount: number;
  /** Rows the same as an earlier row of the file (same prompt and completion): kept, but said. */
  duplicateCount: number;
  /** Columns the format does not keep (NormalizedSummary.unkeptColumns): not stored, but said. */
  unkeptColumns: string[];
  /** Keys of chat messages no message keeps (NormalizedSummary.unkeptMessageKeys): not stored, but said. */
  unkeptMessageKeys: string[];
}

const PROGRESS_EVERY_ROWS = 2000;
/** Rows checked between two turns of the event loop (whole-file formats). */
const ROWS_PER_TURN = 2000;

export function sourceFile(path: string): string {
  const src = resolve(path);
  if (!existsSync(src)) throw new FormatError('missing-file', `${src}: no such file`);
  const st = statSync(src);
  if (st.isDirectory())
    throw new FormatError('not-a-file', `${src} is a folder; give a JSONL, JSON, CSV, TSV or Parquet file`);
  if (!st.isFile()) throw new FormatError('not-a-file', `${src} is not a regular file`);
  return src;
}

/** Normalises rows into a frozen file; `finish` applies the import's rules about bad and empty files. */
export class Preparation {
  readonly writer: FrozenFileWriter;
  readonly normalizer: RowNormalizer;
  readonly shownName: string;
  #seen = 0;
  /** Every row's hash, to count the duplicates (16 bytes a row, not the rows). */
  #hashes = new RowHashList();

  constructor(
    dataDir: string,
    readonly src: string,
    readonly input: ImportInput,
  ) {
    this.shownName = input.sourceName ?? basename(src);
    this.writer = new FrozenFileWriter(dataDir);
    this.normalizer = new RowNormalizer(this.shownName, input.format, input.mapping, (row) => {
      this.writer.write(row);
      this.#hashes.add(row);
    });
  }

  push(r: RawRow, total: number | null): void {
    if (this.input.onProgress && this.#seen % PROGRESS_EVERY_ROWS === 0)
      this.input.onProgress(this.#seen, total);
    this.#seen++;
    this.normalizer.push(r);
  }

  finish(): PreparedImport {
    const name = this.shownName;
    const where = (b: BadRow) => `${name}:${b.line}: ${b.message}`;
    const { format, bad, badCount, rowCount, unkeptColumns, unkeptMessageKeys } = this.normalizer.finish();
    if (badCount && this.input.onBadRows === 'refuse') {
      const more = badCount > 1 ? ` (and ${badCount - 1} more bad rows)` : '';
      // How the file was read goes with the refusal: the CLI prints the import that keeps the rest.
      const { format: asked, mapping } = this.input;
      const refusedFile = {
        path: this.src,
        ...(asked ? { format: asked } : {}),
        ...(mapping ? { mapping } : {}),
      };
      throw new FormatError('bad-rows', `${where(bad[0])}${more}`, { details: { refusedFile } });
    }
    if (!rowCount) {
      const first = bad[0] ? `; first problem: ${where(bad[0])}` : '';
      throw new FormatError('empty-dataset', `${name}: no usable ${format} rows${first}`);
    }
    this.input.onProgress?.(this.#seen, this.#seen);
    return {
      src: this.src,
      shownName: name,
      format,
      file: this.writer.finish(),
      bad,
      badCount,
      duplicateCount: repeatedRows(this.#hashes.hashes()),
      unkeptColumns,
      unkeptMessageKeys,
    };
  }
}

/**
 * One JSONL row per non-blank line, read a chunk at a time. Each line is checked as UTF-8 before it
 * is decoded (a decoding stream would turn another encoding's bytes into U+FFFD silently); a line
 * too long to be one string is a bad row naming its length and the limit.
 */
async function streamJsonl(src: string, p: Preparation): Promise<void> {
  for await (const l of fileLines(src)) {
    if (!l.bytes) {
      p.push({ line: l.n, error: `the line ${lineTooLong(l)}` }, null);
      continue;
    }
    const line = withoutBom(l.bytes, l.n);
    const why = notUtf8(line);
    if (why) {
      p.push(
        { line: l.n, error: `the line ${why}`, text: line.toString('utf8', 0, 2000).slice(0, 500) },
        null,
      );
      continue;
    }
    const row = jsonlRow(line.toString('utf8'), l.n);
    if (row) p.push(row, null);
  }
}

/** Pushes rows read whole, letting the event loop turn every ROWS_PER_TURN rows. */
async function pushRows(p: Preparation, raw: RawRow[], total: number): Promise<void> {
  for (let i = 0; i < raw.length; i++) {
    if (i % ROWS_PER_TURN === ROWS_PER_TURN - 1) await nextTurn();
    p.push(raw[i], total);
  }
}

/** A whole file's text, refused naming the line when it is not UTF-8, or when it is too long. */
export function fileText(name: string, bytes: Uint8Array): string {
  return decodeDatasetText(bytes, (why, line) =>
    line
      ? new FormatError('not-utf8', `${name}:${line}: the file ${why}`)
      : new FormatError(
          'file-too-large',
          `${name}: the file ${why}; split it, or save it as JSONL, which is read a line at a time`,
        ),
  );
}

/** Reads, checks and freezes a file's rows without touching the database. */
export async function prepareImport(dataDir: string, input: ImportInput): Promise<PreparedImport> {
  const src = sourceFile(input.path);
  const kind = fileKindOfFile(src);
  const p = new Preparation(dataDir, src, input);
  try {
    if (kind === 'jsonl') await streamJsonl(src, p);
    else if (kind === 'parquet')
      for await (const { rows, total } of parquetRowGroups(p.shownName, src)) await pushRows(p, rows, total);
    else {
      const text = fileText(p.shownName, await readFile(src));
      const { raw } = await runInSlices(rawRowsScan(p.shownName, text, input.mapping));
      await pushRows(p, raw, raw.length);
    }
    return p.finish();
  } catch (e) {
    p.writer.abort();
    throw e;
  }
}
