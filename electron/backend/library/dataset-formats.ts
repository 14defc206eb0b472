// Training data formats for the library: takes a file's raw rows (read by the engine's data-files.ts:
// JSONL, JSON, CSV, TSV or Parquet), detects which of the three row shapes they hold and normalises
// every row (a row of another shape than the file's is left out). Malformed rows are never fatal
// here: each one is reported with the line it starts on (Parquet: its 1-based row number) and left
// out, and the caller decides what to do with them. Columns with other names are mapped with
// `mapping` ({prompt: 'question', completion: 'answer'}); a file whose columns fit no format is
// refused with 'unknown-dataset-format' naming its columns, so the UI can ask for a mapping.
//   prompt-completion  {prompt, completion}
//   alpaca             {instruction, input?, output}
//   chat               {messages: [{role, content}, ...]} with at least one assistant turn
// Rows go through a RowNormalizer one at a time, so an import can stream a JSONL file of any size
// (library/dataset-import.ts) while parseDataset reads a text whole (small files, tests).
// Leaves out: Parquet nested columns.

import { FormatError } from '../../../native-runtime/errors.ts';
import {
  type ColumnMapping,
  type FileKind,
  isConversation,
  mapRow,
  readRawRows,
} from '../../../native-runtime/training/data-files.ts';
import {
  DATA_FORMATS,
  type DataFormat,
  type DatasetRow,
  detectRowFormat,
  isKeptKey,
  isObj,
  normalizeRow,
  type RawRow,
  ROW_TEXT_CHARS,
} from '../../../native-runtime/training/data-formats.ts';

// Reading files lives in the engine's data-files.ts (the trainer reads files through it too).
export {
  type ColumnMapping,
  type FileKind,
  fileKindOf,
  fileKindOfName,
  MAPPED_FIELDS,
  mapRow,
  parquetRowGroups,
  readRawRows,
} from '../../../native-runtime/training/data-files.ts';
// Format detection and row normalisation live in the engine's data-formats.ts (one owner).
export {
  type AlpacaRow,
  type ChatMessage,
  type ChatRow,
  type DatasetRow,
  detectRowFormat,
  normalizeRow,
  type PromptCompletionRow,
  type RawRow,
} from '../../../native-runtime/training/data-formats.ts';

export const DATASET_FORMATS = DATA_FORMATS;
export type DatasetFormat = DataFormat;

export interface BadRow {
  /** 1-based line in the source file where the row starts. */
  line: number;
  message: string;
  /** The start of the row as it was in the file, to show it (messages never quote a file). */
  text?: string;
}

/** The text of a row, for search and duplicate detection. */
export function rowText(row: DatasetRow): string {
  if ('messages' in row) return row.messages.map((m) => m.content).join('\n');
  if ('instruction' in row) return `${row.instruction}\n${row.input}\n${row.output}`;
  return `${row.prompt}\n${row.completion}`;
}

function rowTextOf(r: RawRow): string | undefined {
  if (r.text !== undefined) return r.text.slice(0, ROW_TEXT_CHARS);
  if (r.value === undefined) return undefined;
  const t = JSON.stringify(r.value) ?? String(r.value);
  return t.slice(0, ROW_TEXT_CHARS);
}

export interface ParsedDataset {
  kind: FileKind;
  format: DatasetFormat;
  rows: DatasetRow[];
  bad: BadRow[];
}

/** Rows checked so far, and all rows once known (a streamed file knows its count only at the end). */
export type RowProgress = (done: number, total: number | null) => void;

/** Bad rows kept with their line and message; more are only counted (a broken file may have millions). */
export const BAD_ROWS_KEPT = 1000;
/** Rows read before any has a recognised shape: past this, the file is refused. */
const UNRECOGNISED_ROWS_MAX = 10_000;

export interface NormalizedSummary {
  format: DatasetFormat;
  /** The first BAD_ROWS_KEPT bad rows. */
  bad: BadRow[];
  /** Every bad row. */
  badCount: number;
  rowCount: number;
  /**
   * Columns of good rows that their format does not keep ("id", "source"; "input" beside "prompt"),
   * as the file names them: the first UNKEPT_COLUMNS_KEPT, for the import to say they were not stored.
   */
  unkeptColumns: string[];
  /**
   * Keys of chat messages other than "role" and "content" ("name", "weight"), which no message keeps:
   * the first UNKEPT_COLUMNS_KEPT, each named once however many messages have it.
   */
  unkeptMessageKeys: string[];
}

/** Columns not kept that an import names (a file of thousands of columns is not listed whole). */
export const UNKEPT_COLUMNS_KEPT = 20;

/**
 * Normalises raw rows one at a time and hands each good one to `onRow`. `format` 'auto' (or
 * undefined) picks the format of the first row whose keys are recognised; rows read before it are
 * held (up to UNRECOGNISED_ROWS_MAX) and checked once it is known; rows of another shape are then
 * bad. Bad rows are reported, never thrown.
 */
/** The most columns a refusal hands back to choose from (a header of thousands is no form). */
const COLUMNS_OFFERED = 1000;

export class RowNormalizer {
  #format: DatasetFormat | null;
  /** The line whose row decided the format, when it was detected rather than given. */
  #detectedOn: number | null = null;
  #pending: RawRow[] = [];
  #bad: BadRow[] = [];
  #badCount = 0;
  #rowCount = 0;
  #unkept = new Set<string>();
  #unkeptMessageKeys = new Set<string>();
  /** The first readable row's columns as the file names them (before `mapping`), for errors. */
  #fileColumns: string[] | null = null;
  /** The first of those columns that holds a conversation, to suggest mapping it to the messages. */
  #chatColumn: string | null = null;

  constructor(
    readonly name: string,
    format: DatasetFormat | 'auto' | undefined,
    readonly mapping: ColumnMapping | undefined,
    readonly onRow: (row: DatasetRow) => void,
  ) {
    this.#format = format && format !== 'auto' ? format : null;
  }

  push(rawIn: RawRow): void {
    if (!this.#fileColumns && !rawIn.error && isObj(rawIn.value)) {
      const value = rawIn.value;
      this.#fileColumns = Object.keys(value);
      this.#chatColumn = this.#fileColumns.find((k) => isConversation(value[k])) ?? null;
    }
    const r = mapRow(rawIn, this.mapping);
    if (!this.#format) {
      const guess = r.error ? null : detectRowFormat(r.value);
      if (!guess) {
        this.#pending.push(r);
        if (this.#pending.length > UNRECOGNISED_ROWS_MAX) this.#unknownFormat();
        return;
      }
      this.#format = guess;
      this.#detectedOn = r.line;
      const held = this.#pending;
      this.#pending = [];
      for (const p of held) this.#check(guess, p);
    }
    this.#check(this.#format, r);
  }

  finish(): NormalizedSummary {
    if (!this.#format) this.#unknownFormat();
    return {
      format: this.#format as DatasetFormat,
      bad: this.#bad,
      badCount: this.#badCount,
      rowCount: this.#rowCount,
      unkeptColumns: [...this.#unkept],
      unkeptMessageKeys: [...this.#unkeptMessageKeys],
    };
  }

  #check(format: DatasetFormat, r: RawRow): void {
    const n = r.error
      ? r.error
      : (this.#otherFormat(format, r) ?? normalizeRow(format, r.value, (k) => this.#shown(k)));
    if (typeof n === 'string') {
      this.#badCount++;
      const message = r.item ? `row ${r.item} of the list: ${n}` : n;
      if (this.#bad.length < BAD_ROWS_KEPT) this.#bad.push({ line: r.line, message, text: rowTextOf(r) });
      return;
    }
    this.#rowCount++;
    if (isObj(r.value) && this.#unkept.size < UNKEPT_COLUMNS_KEPT)
      for (const k of Object.keys(r.value))
        if (!isKeptKey(format, r.value, k) && this.#unkept.size < UNKEPT_COLUMNS_KEPT)
          // A field the mapping filled is named by the file's column it was read from.
          this.#unkept.add(this.mapping?.[k as keyof ColumnMapping] || k);
    if ('messages' in n) this.#noteMessageKeys(r.value);
    this.onRow(n);
  }

  /** The keys of a good chat row's messages (its mapped value) that a message does not keep. */
  #noteMessageKeys(value: unknown): void {
    const messages = isObj(value) ? value.messages : undefined;
    if (!Array.isArray(messages) || this.#unkeptMessageKeys.size >= UNKEPT_COLUMNS_KEPT) return;
    for (const m of messages)
      for (const k of isObj(m) ? Object.keys(m) : [])
        if (k !== 'role' && k !== 'content' && this.#unkeptMessageKeys.size < UNKEPT_COLUMNS_KEPT)
          this.#unkeptMessageKeys.add(k);
  }

  /** A field as messages name it: the file's column when the mapping reads it from one. */
  #shown(field: string): string {
    const column = this.mapping?.[field as keyof ColumnMapping];
    return column ? `"${column}" (read as the ${field})` : `"${field}"`;
  }

  /**
   * Why a row of another format than the detected one is left out, as the trainer refuses a file
   * mixing them: read as the file's format, an alpaca row in a prompt-completion file would silently
   * lose its instruction (its input taken as the prompt).
   */
  #otherFormat(format: DatasetFormat, r: RawRow): string | null {
    const own = this.#detectedOn === null ? null : detectRowFormat(r.value);
    if (!own || own === format) return null;
    return `is ${own} but line ${this.#detectedOn} is ${format}; a dataset holds one format`;
  }

  #unknownFormat(): never {
    if (this.#pending.length === 0)
      throw new FormatError('empty-dataset', `${this.name}: no rows in the file`);
    // No row could be read at all: that, not the columns, is what is wrong with the file.
    if (this.#pending.every((r) => r.error)) {
      const [bad, more] = [this.#pending[0], this.#pending.length - 1];
      throw new FormatError(
        'bad-json',
        `${this.name}:${bad.line}: ${bad.error}${more ? ` (and ${more} more bad row${more > 1 ? 's' : ''})` : ''}`,
      );
    }
    const cols = this.#fileColumns ?? [];
    // The message names 20 columns; the window reads them all from `details`, never from the text.
    const listed = `(columns: ${cols.slice(0, 20).join(', ')})`;
    const columns = cols.slice(0, COLUMNS_OFFERED);
    // A mapping that names a column the file does not have (a typo) is the likelier mistake.
    const missing = Object.entries(this.mapping ?? {}).find(
      ([, src]) => typeof src === 'string' && src !== '' && !cols.includes(src),
    );
    if (missing && cols.length) {
      throw new FormatError(
        'unknown-dataset-format',
        `${this.name}: no column "${missing[1]}" to read the ${missing[0]} from ${listed}`,
        { details: { columns } },
      );
    }
    // The hint to map them is each caller's own (the CLI's --map, the window's column choice).
    if (this.#chatColumn !== null) {
      throw new FormatError(
        'unknown-dataset-format',
        `${this.name}: cannot tell the format ${listed}; "${this.#chatColumn}" holds a conversation`,
        { details: { columns, mapping: { messages: this.#chatColumn } } },
      );
    }
    if (cols.length) {
      throw new FormatError(
        'unknown-dataset-format',
        `${this.name}: cannot tell which columns hold the prompt and the completion ${listed}`,
        { details: { columns, mapping: { prompt: cols[0], completion: cols[1] ?? cols[0] } } },
      );
    }
    throw new FormatError(
      'unknown-dataset-format',
      `${this.name}: cannot tell the format: no row has prompt/completion, instruction/output or messages`,
    );
  }
}

/**
 * Parses a dataset file's whole text into normalised rows (see RowNormalizer). For small files and
 * tests; imports stream (library/dataset-import.ts).
 */
export function parseDataset(
  name: string,
  text: string,
  format?: DatasetFormat | 'auto',
  mapping?: ColumnMapping,
): ParsedDataset {
  const { kind, raw } = readRawRows(name, text, mapping);
  const rows: DatasetRow[] = [];
  const n = new RowNormalizer(name, format, mapping, (row) => rows.push(row));
  for (const r of raw) n.push(r);
  const { format: fmt, bad } = n.finish();
  return { kind, format: fmt, rows, bad };
}
