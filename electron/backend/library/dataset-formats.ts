// Training data formats: reads JSONL, JSON (an array of rows, or an object holding one), CSV, TSV or
// Parquet, detects which of the three row shapes it holds and normalises every row (a row of another
// shape than the file's is left out). Malformed rows are never fatal here: each one is reported with
// the line it starts on (Parquet: its 1-based row number) and left out, and the caller decides what
// to do with them. Columns with other names are mapped with `mapping` ({prompt:
// 'question', completion: 'answer'}); a file whose columns fit no format is refused with
// 'unknown-dataset-format' naming its columns, so the UI can ask for a mapping.
//   prompt-completion  {prompt, completion}
//   alpaca             {instruction, input?, output}
//   chat               {messages: [{role, content}, ...]} with at least one assistant turn
// Rows go through a RowNormalizer one at a time, so an import can stream a JSONL file of any size
// (library/dataset-import.ts) while parseDataset reads a text whole (small files, tests).
// Leaves out: Parquet nested columns.

import { extname } from 'node:path';
import { FormatError } from '../../../native-runtime/errors.ts';
import { jsonSyntaxError, parseJsonText } from '../../../native-runtime/formats/json-file.ts';
import {
  arrayElementLines,
  DATA_FORMATS,
  type DataFormat,
  type DatasetRow,
  detectRowFormat,
  isObj,
  normalizeRow,
  type RawRow,
  readJsonlRows,
} from '../../../native-runtime/training/data-formats.ts';

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
export type FileKind = 'jsonl' | 'json' | 'csv' | 'tsv' | 'parquet';

/** Target field → source column: {prompt: 'question', completion: 'answer'}. */
/** The fields a column can be mapped to. */
export const MAPPED_FIELDS = ['prompt', 'completion', 'instruction', 'input', 'output', 'messages'] as const;
export type ColumnMapping = Partial<Record<(typeof MAPPED_FIELDS)[number], string>>;

export interface BadRow {
  /** 1-based line in the source file where the row starts. */
  line: number;
  message: string;
  /** The start of the row as it was in the file, to show it (messages never quote a file). */
  text?: string;
}

/** Characters of a bad row kept in BadRow.text. */
const BAD_TEXT_CHARS = 500;

function rowTextOf(r: RawRow): string | undefined {
  if (r.text !== undefined) return r.text.slice(0, BAD_TEXT_CHARS);
  if (r.value === undefined) return undefined;
  const t = JSON.stringify(r.value) ?? String(r.value);
  return t.slice(0, BAD_TEXT_CHARS);
}

export interface ParsedDataset {
  kind: FileKind;
  format: DatasetFormat;
  rows: DatasetRow[];
  bad: BadRow[];
}

// ---- file readers -----------------------------------------------------------------------------

function readJsonl(text: string): RawRow[] {
  return readJsonlRows(text, jsonSyntaxError);
}

/**
 * One JSON document: an array of rows; an object with one list, the rows (`{"data": [...]}`, as
 * exported by many tools; Hugging Face's loader takes it with field="data"); or one row.
 */
function readJsonDocument(name: string, text: string, mapping: ColumnMapping | undefined): RawRow[] {
  const data = parseJsonText(text, name);
  if (Array.isArray(data)) return listRows(data, arrayElementLines(text));
  if (!isObj(data)) throw new FormatError('bad-json', `${name}: a .json dataset must be an array of objects`);
  const lists = Object.keys(data).filter((k) => Array.isArray(data[k]));
  if (!lists.length || isOneRow(data, lists, mapping)) return [{ line: 1, value: data }];
  if (lists.length > 1)
    throw new FormatError(
      'bad-json',
      `${name}: the object holds several lists (${lists.slice(0, 10).join(', ')}); a .json dataset is an array of rows, JSON Lines, or an object with one list of rows`,
    );
  return listRows(data[lists[0]] as unknown[], arrayElementLines(text, true));
}

/**
 * Whether an object holding lists (`lists`, its keys whose values are lists) is one row rather than a
 * holder of rows. A row may have a list of its own (a conversation), so it is one row when its
 * columns, mapped, have a format; when the mapping reads one of its columns; when its one list holds
 * something other than objects (rows are objects); or when that list is a conversation (every item
 * has a role and a content) — read as rows, its messages would become prompt/completion pairs.
 */
function isOneRow(
  data: Record<string, unknown>,
  lists: string[],
  mapping: ColumnMapping | undefined,
): boolean {
  if (detectRowFormat(mapRow({ line: 1, value: data }, mapping).value)) return true;
  if (Object.values(mapping ?? {}).some((src) => typeof src === 'string' && Object.hasOwn(data, src)))
    return true;
  if (lists.length > 1) return false;
  const items = data[lists[0] as string] as unknown[];
  return !items.every(isObj) || isConversation(items);
}

/** A list of chat messages: every item an object with a role and a content. */
function isConversation(x: unknown): boolean {
  return Array.isArray(x) && x.length > 0 && x.every((m) => isObj(m) && 'role' in m && 'content' in m);
}

/** A JSON list's rows with the line each starts on, and their place in it where lines are shared. */
function listRows(list: unknown[], lines: number[]): RawRow[] {
  const shared = new Set(lines.filter((l, i) => i > 0 && lines[i - 1] === l));
  return list.map((value, i) => {
    const line = lines[i] ?? 1;
    return shared.has(line) ? { line, value, item: i + 1 } : { line, value };
  });
}

/**
 * RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. A quote opens a quoted
 * field only at the field's start; elsewhere it is text (`He said "hi"`, `5" tall`), as Python's csv
 * and pandas read it, rather than silently dropping the quotes or swallowing the lines after it.
 */
function parseCsv(
  text: string,
  delimiter: ',' | '\t',
): { line: number; fields: string[]; unclosedTo?: number }[] {
  const records: { line: number; fields: string[]; unclosedTo?: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let start = 1;
  let any = false;
  /** Nothing of the current field read yet (a quote here opens a quoted field). */
  let fieldStart = true;
  const endRecord = () => {
    fields.push(field);
    if (any || fields.length > 1 || fields[0] !== '') records.push({ line: start, fields });
    fields = [];
    field = '';
    any = false;
    fieldStart = true;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    // A line ends with \n, \r\n, or a lone \r (classic Mac "CSV (Macintosh)" exports), as Python's
    // csv and pandas read it: a lone \r dropped instead would join two rows' fields silently.
    const lineEnd = c === '\n' || (c === '\r' && text[i + 1] !== '\n');
    if (inQuotes) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') inQuotes = false;
      else {
        if (lineEnd) line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && fieldStart) {
      inQuotes = true;
      any = true;
      fieldStart = false;
    } else if (c === delimiter) {
      fields.push(field);
      field = '';
      fieldStart = true;
    } else if (lineEnd) {
      endRecord();
      line++;
      start = line;
    } else if (c !== '\r') {
      field += c;
      fieldStart = false;
    }
  }
  if (inQuotes) {
    // The quote swallowed everything after it: one bad record that says so, not a field count.
    fields.push(field);
    records.push({ line: start, fields, unclosedTo: /[\r\n]$/.test(text) ? line - 1 : line });
  } else if (field !== '' || fields.length) endRecord();
  return records;
}

/** CSV, or TSV with `delimiter` '\t' (read the same way, as Python's csv and pandas read it). */
function readCsv(name: string, text: string, delimiter: ',' | '\t'): RawRow[] {
  const records = parseCsv(text, delimiter);
  if (!records.length) return [];
  const header = records[0].fields.map((h) => h.trim());
  // Columns without a name (the trailing commas of a spreadsheet's export) hold nothing to read.
  const twice = header.find((h, i) => h !== '' && header.indexOf(h) !== i);
  if (twice !== undefined)
    throw new FormatError('bad-csv', `${name}: the header names "${twice.slice(0, 80)}" twice`);
  return records.slice(1).map((r) => {
    if (r.unclosedTo !== undefined) {
      return {
        line: r.line,
        error: `a quote opened on line ${r.line} is never closed: lines ${r.line}–${r.unclosedTo} are inside it`,
        text: r.fields.join(delimiter).slice(0, BAD_TEXT_CHARS),
      };
    }
    if (r.fields.length !== header.length) {
      return {
        line: r.line,
        error: `has ${r.fields.length} fields, the header has ${header.length}`,
        text: r.fields.join(delimiter).slice(0, BAD_TEXT_CHARS),
      };
    }
    const obj: Record<string, unknown> = {};
    header.forEach((h, i) => {
      if (h === '') return;
      // A chat dataset in CSV keeps `messages` as a JSON string.
      if (h === 'messages') {
        try {
          obj[h] = JSON.parse(r.fields[i]);
        } catch {
          obj[h] = r.fields[i];
        }
      } else obj[h] = r.fields[i];
    });
    return { line: r.line, value: obj };
  });
}

// ---- entry point ------------------------------------------------------------------------------

const KIND_OF_EXTENSION: Record<string, FileKind> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.parquet': 'parquet',
};

/**
 * The kind a file's extension says, or null when it says nothing (.json and others). A .jsonl name
 * is not the last word: fileKindOf reads such a file's start too.
 */
export function fileKindOfName(name: string): FileKind | null {
  return KIND_OF_EXTENSION[extname(name).toLowerCase()] ?? null;
}

/**
 * The kind of a file from its name, or from its text when the name does not say (.json and others;
 * its first two non-blank lines are enough). Text that starts with "{" is JSON Lines when another
 * line follows and one of the two is a whole JSON object on its own (so a broken first row is
 * still one bad line); otherwise it is one JSON document (an object holding the rows, or one row
 * pretty-printed, or `{"data": [` with a row on each following line), read whole. A .jsonl file
 * that starts with "[" is a JSON list saved under that name (json.dump of a list), as Hugging Face's
 * loader reads it: JSON Lines rows are objects, so none starts with "[".
 */
export function fileKindOf(name: string, text: string): FileKind {
  const byName = fileKindOfName(name);
  const head = text.trimStart();
  if (byName === 'jsonl' && head.startsWith('[')) return 'json';
  if (byName) return byName;
  if (head.startsWith('[')) return 'json';
  if (head.startsWith('{')) return isJsonLines(head) ? 'jsonl' : 'json';
  if (extname(name).toLowerCase() === '.json') return 'jsonl';
  return 'csv';
}

/** See fileKindOf: `head` starts with "{". */
function isJsonLines(head: string): boolean {
  const end = head.indexOf('\n');
  if (end === -1) return false;
  const next = /\S/g;
  next.lastIndex = end;
  const second = next.exec(head);
  if (!second) return false;
  const secondEnd = head.indexOf('\n', second.index);
  const isObjectLine = (line: string) => {
    try {
      return isObj(JSON.parse(line));
    } catch {
      return false;
    }
  };
  return (
    isObjectLine(head.slice(0, end)) ||
    isObjectLine(head.slice(second.index, secondEnd === -1 ? undefined : secondEnd))
  );
}

/** Renames columns per `mapping` (unmapped columns are kept; a mapped source column moves). */
export function mapRow(r: RawRow, mapping: ColumnMapping | undefined): RawRow {
  const pairs = Object.entries(mapping ?? {}).filter(([, src]) => typeof src === 'string' && src !== '');
  if (!pairs.length || r.error || !isObj(r.value)) return r;
  const v: Record<string, unknown> = { ...r.value };
  for (const [, src] of pairs) delete v[src as string];
  for (const [dst, src] of pairs) {
    if (!Object.hasOwn(r.value, src as string)) continue;
    let x = r.value[src as string];
    // A chat column from CSV/Parquet holds JSON text.
    if (dst === 'messages' && typeof x === 'string') {
      try {
        x = JSON.parse(x);
      } catch {}
    }
    v[dst] = x;
  }
  return { ...r, value: v };
}

/**
 * Reads rows of a text file (JSONL, JSON, CSV or TSV). `mapping` is the import's: it helps tell a JSON
 * document that is one row from one that holds the rows in a list.
 */
export function readRawRows(
  name: string,
  text: string,
  mapping?: ColumnMapping,
): { kind: FileKind; raw: RawRow[] } {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // BOM from spreadsheet exports
  const kind = fileKindOf(name, text);
  if (kind === 'parquet')
    throw new FormatError('async-only', `${name}: Parquet is read with readParquetRows`);
  const raw =
    kind === 'jsonl'
      ? readJsonl(text)
      : kind === 'json'
        ? readJsonDocument(name, text, mapping)
        : readCsv(name, text, kind === 'tsv' ? '\t' : ',');
  return { kind, raw };
}

/** Reads a Parquet file's rows (flat columns; BYTE_ARRAY strings), numbered from 1. */
export async function readParquetRows(name: string, bytes: Uint8Array): Promise<RawRow[]> {
  const { parquetReadObjects } = await import('hyparquet');
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let rows: Record<string, unknown>[];
  try {
    rows = (await parquetReadObjects({ file, rowFormat: 'object' })) as Record<string, unknown>[];
  } catch (e) {
    throw new FormatError('bad-parquet', `${name}: not a readable Parquet file (${(e as Error).message})`);
  }
  return rows.map((value, i) => {
    const v: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(value)) {
      if (k === 'messages' && typeof x === 'string') {
        try {
          v[k] = JSON.parse(x);
          continue;
        } catch {}
      }
      v[k] = typeof x === 'bigint' ? Number(x) : x;
    }
    return { line: i + 1, value: v };
  });
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
}

/**
 * Normalises raw rows one at a time and hands each good one to `onRow`. `format` 'auto' (or
 * undefined) picks the format of the first row whose keys are recognised; rows read before it are
 * held (up to UNRECOGNISED_ROWS_MAX) and checked once it is known; rows of another shape are then
 * bad. Bad rows are reported, never thrown.
 */
export class RowNormalizer {
  #format: DatasetFormat | null;
  /** The line whose row decided the format, when it was detected rather than given. */
  #detectedOn: number | null = null;
  #pending: RawRow[] = [];
  #bad: BadRow[] = [];
  #badCount = 0;
  #rowCount = 0;
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
    this.onRow(n);
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
    // A mapping that names a column the file does not have (a typo) is the likelier mistake.
    const missing = Object.entries(this.mapping ?? {}).find(
      ([, src]) => typeof src === 'string' && src !== '' && !cols.includes(src),
    );
    if (missing && cols.length) {
      throw new FormatError(
        'unknown-dataset-format',
        `${this.name}: no column "${missing[1]}" to read the ${missing[0]} from (columns: ${cols.slice(0, 20).join(', ')})`,
      );
    }
    if (this.#chatColumn !== null) {
      throw new FormatError(
        'unknown-dataset-format',
        `${this.name}: cannot tell the format (columns: ${cols.slice(0, 20).join(', ')}); "${this.#chatColumn}" holds a conversation: map it, e.g. --map messages=${this.#chatColumn}`,
      );
    }
    if (cols.length) {
      throw new FormatError(
        'unknown-dataset-format',
        `${this.name}: cannot tell which columns hold the prompt and the completion (columns: ${cols.slice(0, 20).join(', ')}); map them, e.g. --map prompt=${cols[0]} --map completion=${cols[1] ?? cols[0]}`,
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
