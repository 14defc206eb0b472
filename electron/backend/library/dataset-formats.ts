// Training data formats: reads JSONL, JSON (an array of objects), CSV or Parquet, detects which of the
// three row shapes it holds and normalises every row. Malformed rows are never fatal here: each one is
// reported with the line it starts on (Parquet: its 1-based row number) and left out, and the caller
// decides what to do with them. Columns with other names are mapped with `mapping` ({prompt:
// 'question', completion: 'answer'}); a file whose columns fit no format is refused with
// 'unknown-dataset-format' naming its columns, so the UI can ask for a mapping.
//   prompt-completion  {prompt, completion}
//   alpaca             {instruction, input?, output}
//   chat               {messages: [{role, content}, ...]} with at least one assistant turn
// Leaves out: streaming of huge files (the whole file is read), TSV, Parquet nested columns.

import { FormatError } from '../../../native-runtime/errors.ts';

export const DATASET_FORMATS = ['prompt-completion', 'alpaca', 'chat'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];
export type FileKind = 'jsonl' | 'json' | 'csv' | 'parquet';

/** Target field → source column: {prompt: 'question', completion: 'answer'}. */
export type ColumnMapping = Partial<
  Record<'prompt' | 'completion' | 'instruction' | 'input' | 'output' | 'messages', string>
>;

export type PromptCompletionRow = { prompt: string; completion: string };
export type AlpacaRow = { instruction: string; input: string; output: string };
export type ChatMessage = { role: 'system' | 'user' | 'assistant' | 'tool'; content: string };
export type ChatRow = { messages: ChatMessage[] };
export type DatasetRow = PromptCompletionRow | AlpacaRow | ChatRow;

export interface BadRow {
  /** 1-based line in the source file where the row starts. */
  line: number;
  message: string;
}

export interface ParsedDataset {
  kind: FileKind;
  format: DatasetFormat;
  rows: DatasetRow[];
  bad: BadRow[];
}

export interface RawRow {
  line: number;
  value?: unknown;
  error?: string;
}

// ---- file readers -----------------------------------------------------------------------------

/** A JSON.parse error without the echoed input (V8 quotes the start of the text). */
function jsonErrorText(e: unknown): string {
  const m = (e as Error).message;
  const at = /at position \d+/.exec(m)?.[0];
  return at ? `unexpected input ${at}` : m.length > 80 ? `${m.slice(0, 80)}…` : m;
}

function readJsonl(text: string): RawRow[] {
  const out: RawRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].trim();
    if (!s) continue;
    try {
      out.push({ line: i + 1, value: JSON.parse(s) });
    } catch (e) {
      out.push({ line: i + 1, error: `not valid JSON (${jsonErrorText(e)})` });
    }
  }
  return out;
}

/** Line on which each top-level element of a JSON array starts (a tiny scanner, strings aware). */
function arrayElementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inStr = false;
  let esc = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inStr) {
      if (esc) esc = false;
      else if (c === '\\') esc = true;
      else if (c === '"') inStr = false;
      continue;
    }
    if (depth === 1 && expectElement && !/\s/.test(c) && c !== ']') {
      lines.push(line);
      expectElement = false;
    }
    if (c === '"') inStr = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectElement = true;
  }
  return lines;
}

function readJsonArray(text: string): RawRow[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new FormatError('bad-json', `not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(data)) throw new FormatError('bad-json', 'a .json dataset must be an array of objects');
  const lines = arrayElementLines(text);
  return data.map((value, i) => ({ line: lines[i] ?? i + 1, value }));
}

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. */
function parseCsv(text: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let start = 1;
  let any = false;
  const endRecord = () => {
    fields.push(field);
    if (any || fields.length > 1 || fields[0] !== '') records.push({ line: start, fields });
    fields = [];
    field = '';
    any = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') inQuotes = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      inQuotes = true;
      any = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n') {
      endRecord();
      line++;
      start = line;
    } else if (c !== '\r') field += c;
  }
  if (field !== '' || fields.length) endRecord();
  return records;
}

function readCsv(text: string): RawRow[] {
  const records = parseCsv(text);
  if (!records.length) return [];
  const header = records[0].fields.map((h) => h.trim());
  return records.slice(1).map((r) => {
    if (r.fields.length !== header.length) {
      return { line: r.line, error: `has ${r.fields.length} fields, the header has ${header.length}` };
    }
    const obj: Record<string, unknown> = {};
    header.forEach((h, i) => {
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

// ---- row shapes -------------------------------------------------------------------------------

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The format a row looks like, from its keys alone. */
export function guessRowFormat(v: unknown): DatasetFormat | null {
  if (!isObj(v)) return null;
  if ('messages' in v) return 'chat';
  if ('instruction' in v && 'output' in v) return 'alpaca';
  if ('prompt' in v && 'completion' in v) return 'prompt-completion';
  return null;
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

/** Validates and normalises one row; returns an error message instead of throwing. */
export function normalizeRow(format: DatasetFormat, v: unknown): DatasetRow | string {
  if (!isObj(v)) return 'is not a JSON object';
  const str = (k: string, optional = false): string | { err: string } => {
    const x = v[k];
    if (x === undefined || x === null) return optional ? '' : { err: `missing "${k}"` };
    if (typeof x !== 'string') return { err: `"${k}" must be a string` };
    return x;
  };
  switch (format) {
    case 'prompt-completion': {
      const prompt = str('prompt');
      const completion = str('completion');
      if (typeof prompt !== 'string') return prompt.err;
      if (typeof completion !== 'string') return completion.err;
      if (!completion) return '"completion" is empty';
      return { prompt, completion };
    }
    case 'alpaca': {
      const instruction = str('instruction');
      const input = str('input', true);
      const output = str('output');
      if (typeof instruction !== 'string') return instruction.err;
      if (typeof input !== 'string') return input.err;
      if (typeof output !== 'string') return output.err;
      if (!output) return '"output" is empty';
      return { instruction, input, output };
    }
    case 'chat': {
      const msgs = v.messages;
      if (!Array.isArray(msgs) || msgs.length === 0) return '"messages" must be a non-empty array';
      const out: ChatMessage[] = [];
      for (let i = 0; i < msgs.length; i++) {
        const m = msgs[i];
        if (!isObj(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
          return `messages[${i}] must be {role, content} with string values`;
        }
        if (!ROLES.has(m.role))
          return `messages[${i}].role "${m.role}" is not system, user, assistant or tool`;
        out.push({ role: m.role as ChatMessage['role'], content: m.content });
      }
      if (!out.some((m) => m.role === 'assistant')) return 'no assistant message to learn from';
      return { messages: out };
    }
  }
}

// ---- entry point ------------------------------------------------------------------------------

export function fileKindOf(name: string, text: string): FileKind {
  const lower = name.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.json')) return text.trimStart().startsWith('[') ? 'json' : 'jsonl';
  const head = text.trimStart();
  if (head.startsWith('[')) return 'json';
  if (head.startsWith('{')) return 'jsonl';
  return 'csv';
}

/** Renames columns per `mapping` (unmapped columns are kept; a mapped source column moves). */
export function applyMapping(raw: RawRow[], mapping: ColumnMapping | undefined): RawRow[] {
  const pairs = Object.entries(mapping ?? {}).filter(([, src]) => typeof src === 'string' && src !== '');
  if (!pairs.length) return raw;
  return raw.map((r) => {
    if (r.error || !isObj(r.value)) return r;
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
    return { line: r.line, value: v };
  });
}

/** Reads rows of a text file (JSONL, JSON array or CSV). */
export function readRawRows(name: string, text: string): { kind: FileKind; raw: RawRow[] } {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // BOM from spreadsheet exports
  const kind = fileKindOf(name, text);
  const raw = kind === 'jsonl' ? readJsonl(text) : kind === 'json' ? readJsonArray(text) : readCsv(text);
  return { kind, raw };
}

/** Reads a Parquet file's rows (flat columns; BYTE_ARRAY strings), numbered from 1. */
export async function readParquetRows(bytes: Uint8Array): Promise<RawRow[]> {
  const { parquetReadObjects } = await import('hyparquet');
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let rows: Record<string, unknown>[];
  try {
    rows = (await parquetReadObjects({ file, rowFormat: 'object' })) as Record<string, unknown>[];
  } catch (e) {
    throw new FormatError('bad-parquet', `not a readable Parquet file (${(e as Error).message})`);
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

/**
 * Normalises raw rows. `format` 'auto' (or undefined) picks the format of the first row whose keys
 * are recognised; rows of another shape are then reported as bad.
 */
export function normalizeRows(
  name: string,
  kind: FileKind,
  rawIn: RawRow[],
  format?: DatasetFormat | 'auto',
  mapping?: ColumnMapping,
): ParsedDataset {
  const raw = applyMapping(rawIn, mapping);
  let fmt: DatasetFormat | null = format && format !== 'auto' ? format : null;
  if (!fmt) {
    for (const r of raw) {
      fmt = r.error ? null : guessRowFormat(r.value);
      if (fmt) break;
    }
  }
  if (!fmt) {
    const first = raw.find((r) => !r.error && isObj(r.value));
    const cols = first ? Object.keys(first.value as object) : [];
    if (cols.length) {
      throw new FormatError(
        'unknown-dataset-format',
        `${name}: cannot tell which columns hold the prompt and the completion (columns: ${cols.slice(0, 20).join(', ')}); give a mapping, e.g. {"prompt": "${cols[0]}", "completion": "${cols[1] ?? cols[0]}"}`,
      );
    }
    throw new FormatError(
      'unknown-dataset-format',
      `${name}: cannot tell the format: no row has prompt/completion, instruction/output or messages`,
    );
  }
  const rows: DatasetRow[] = [];
  const bad: BadRow[] = [];
  for (const r of raw) {
    if (r.error) {
      bad.push({ line: r.line, message: r.error });
      continue;
    }
    const n = normalizeRow(fmt, r.value);
    if (typeof n === 'string') bad.push({ line: r.line, message: n });
    else rows.push(n);
  }
  return { kind, format: fmt, rows, bad };
}

/**
 * Parses a dataset file's text. `format` 'auto' (or undefined) picks the format of the first row
 * whose keys are recognised; rows of another shape are then reported as bad.
 */
export function parseDataset(
  name: string,
  text: string,
  format?: DatasetFormat | 'auto',
  mapping?: ColumnMapping,
): ParsedDataset {
  const { kind, raw } = readRawRows(name, text);
  return normalizeRows(name, kind, raw, format, mapping);
}
