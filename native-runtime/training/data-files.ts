// Dataset files: which kind a file is (JSONL, JSON, CSV, TSV, Parquet: from its name, else from its
// first two non-blank lines) and its raw rows, each with the line it starts on. The one reader of
// dataset files: the studio library's import (electron/backend/library/dataset-import.ts) and the
// trainer's readDataset (data.ts: `train --resume --data`, `export --format bundle --data`) both
// read through it, so a file one accepts the other accepts, with the same messages.
// Leaves out: streaming a large JSONL file (each caller reads it a line at a time through
// data-formats.ts jsonlRow, with its own policy for bad lines: the import keeps them as bad rows,
// the trainer refuses the file), validating rows (data-formats.ts normalizeRow; RowNormalizer).

import { extname } from 'node:path';
import { FormatError } from '../errors.ts';
import { jsonSyntaxError, parseJsonText } from '../formats/json-file.ts';
import { fileLinesSync } from '../formats/line-reader.ts';
import { runThrough } from '../scans.ts';
import { type CsvRecord, csvRecords } from './csv-records.ts';
import {
  arrayElementLines,
  detectRowFormat,
  isObj,
  notUtf8,
  type RawRow,
  ROW_TEXT_CHARS,
  readJsonlRows,
} from './data-formats.ts';

export type FileKind = 'jsonl' | 'json' | 'csv' | 'tsv' | 'parquet';

/** The fields a column can be mapped to. */
export const MAPPED_FIELDS = ['prompt', 'completion', 'instruction', 'input', 'output', 'messages'] as const;
/** Target field → source column: {prompt: 'question', completion: 'answer'}. */
export type ColumnMapping = Partial<Record<(typeof MAPPED_FIELDS)[number], string>>;

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
export function isConversation(x: unknown): boolean {
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

/** Rows of a CSV file read between pauses of csvRows. */
const ROWS_PER_PAUSE = 1000;

/**
 * CSV, or TSV with `delimiter` '\t' (read the same way, as Python's csv and pandas read it). A scan
 * (native-runtime/scans.ts): it pauses as csvRecords does, and every ROWS_PER_PAUSE rows.
 */
function* csvRows(name: string, text: string, delimiter: ',' | '\t'): Generator<void, RawRow[]> {
  const records = yield* csvRecords(text, delimiter);
  if (!records.length) return [];
  const header = records[0].fields.map((h) => h.trim());
  // Columns without a name (the trailing commas of a spreadsheet's export) hold nothing to read.
  const twice = header.find((h, i) => h !== '' && header.indexOf(h) !== i);
  if (twice !== undefined)
    throw new FormatError('bad-csv', `${name}: the header names "${twice.slice(0, 80)}" twice`);
  const rows: RawRow[] = [];
  for (let k = 1; k < records.length; k++) {
    rows.push(csvRow(records[k], header, delimiter));
    if (k % ROWS_PER_PAUSE === 0) yield;
  }
  return rows;
}

/** One record under `header` as a row, or as a bad row saying what is wrong with it. */
function csvRow(r: CsvRecord, header: string[], delimiter: ',' | '\t'): RawRow {
  if (r.unclosedTo !== undefined) {
    return {
      line: r.line,
      error: `a quote opened on line ${r.line} is never closed: ${
        r.unclosedTo > r.line ? `lines ${r.line}–${r.unclosedTo} are inside it` : 'the file ends on that line'
      }`,
      text: r.fields.join(delimiter).slice(0, ROW_TEXT_CHARS),
    };
  }
  if (r.closedLateOn) {
    const { from, to } = r.closedLateOn;
    return {
      line: r.line,
      error: `a quote opened on line ${from} closes only on line ${to}, with text after it: lines ${from}–${to} would be one field. Close the quote on line ${from} (a quote inside a quoted field is written twice: "")`,
      text: r.fields.join(delimiter).slice(0, ROW_TEXT_CHARS),
    };
  }
  if (r.fields.length !== header.length) {
    return {
      line: r.line,
      error: `has ${r.fields.length} fields, the header has ${header.length}`,
      text: r.fields.join(delimiter).slice(0, ROW_TEXT_CHARS),
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

/** The kind of a file from its name, or from its first two non-blank lines (fileKindOf). */
export function fileKindOfFile(path: string): FileKind {
  const byName = fileKindOfName(path);
  if (byName && byName !== 'jsonl') return byName;
  const lines: string[] = [];
  for (const { bytes } of fileLinesSync(path)) {
    if (!bytes) break; // not a line of JSON
    const s = bytes.toString('utf8').replace(/^\uFEFF/, '');
    if (s.trim()) lines.push(s);
    if (lines.length === 2) break;
  }
  return fileKindOf(path, lines.join('\n'));
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
 * document that is one row from one that holds the rows in a list. A scan (native-runtime/scans.ts):
 * a CSV or TSV file's reading pauses every thousand records and rows (a JSON document is parsed at
 * once), so that the studio's 'files' process runs it in time slices (dataset-import.ts).
 */
export function* rawRowsScan(
  name: string,
  text: string,
  mapping?: ColumnMapping,
): Generator<void, { kind: FileKind; raw: RawRow[] }> {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // BOM from spreadsheet exports
  const kind = fileKindOf(name, text);
  if (kind === 'parquet')
    throw new FormatError('async-only', `${name}: Parquet is read with parquetRowGroups`);
  const raw =
    kind === 'jsonl'
      ? readJsonl(text)
      : kind === 'json'
        ? readJsonDocument(name, text, mapping)
        : yield* csvRows(name, text, kind === 'tsv' ? '\t' : ',');
  return { kind, raw };
}

/** rawRowsScan, read at once. */
export function readRawRows(
  name: string,
  text: string,
  mapping?: ColumnMapping,
): { kind: FileKind; raw: RawRow[] } {
  return runThrough(rawRowsScan(name, text, mapping));
}

/**
 * A Parquet file's rows (flat columns; BYTE_ARRAY strings), numbered from 1, one row group at a time
 * read from the file: memory holds one group's rows, not the file and every row (1M short rows
 * read whole peaked at 935 MB), and the caller's event loop turns between groups. `total` is the
 * file's row count.
 */
export async function* parquetRowGroups(
  name: string,
  path: string,
): AsyncGenerator<{ rows: RawRow[]; total: number }> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  const unreadable = (e: unknown) =>
    new FormatError('bad-parquet', `${name}: not a readable Parquet file (${(e as Error).message})`);
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file).catch((e) => {
    throw unreadable(e);
  });
  const total = Number(metadata.num_rows);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const objects = (await parquetReadObjects({
      file,
      metadata,
      rowStart,
      rowEnd,
      rowFormat: 'object',
      parsers: { stringFromBytes: exactText },
    }).catch((e) => {
      throw unreadable(e);
    })) as Record<string, unknown>[];
    yield { rows: objects.map((value, i) => parquetRow(value, rowStart + i + 1)), total };
    rowStart = rowEnd;
  }
}

/** A Parquet string whose bytes are not UTF-8: its row is refused, naming the column. */
class NotUtf8Text {
  constructor(readonly bytes: Uint8Array) {}
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A Parquet string's text, exactly: hyparquet's own decoder drops a U+FEFF that starts a value and
 * turns bytes that are not UTF-8 into U+FFFD, which would then be trained on silently.
 */
function exactText(bytes: Uint8Array | undefined): string | NotUtf8Text | undefined {
  if (!bytes) return bytes;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return new NotUtf8Text(bytes);
  }
}

/** One Parquet row as a raw row: a chat column's JSON text parsed, 64-bit integers as numbers. */
function parquetRow(value: Record<string, unknown>, line: number): RawRow {
  const v: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(value)) {
    if (x instanceof NotUtf8Text) return { line, error: `"${k}" ${notUtf8(x.bytes)}` };
    if (k === 'messages' && typeof x === 'string') {
      try {
        v[k] = JSON.parse(x);
        continue;
      } catch {}
    }
    v[k] = typeof x === 'bigint' ? Number(x) : x;
  }
  return { line, value: v };
}
