// Dataset rows, shared by the engine (training/data.ts: readDataset for `reft-studio train --resume`
// and the trainer) and the studio library (electron/backend/library/dataset-formats.ts: import of
// JSONL/JSON/CSV/Parquet). This module owns the format names, decoding a file's bytes as UTF-8 (only
// UTF-8: other bytes are refused naming their line), reading JSONL and JSON-array text into rows with
// the line each starts on, and the one set of row rules both use: detecting a row's format
// from its keys, validating a row and giving it its canonical shape (what the library freezes), and
// the example a canonical row trains on:
//   prompt-completion  {prompt, completion}        ("input"/"output" read as prompt/completion)
//   alpaca             {instruction, input?, output}
//   chat               {messages: [{role, content}, ...]}, ending with the assistant's reply
// A row the library accepts is a row the trainer can train on: the rules are the same function.
// Errors are returned as messages (never thrown): each caller wraps them in its own error and code.
// Leaves out: which kind a file is, CSV, JSON documents, Parquet and column mapping (data-files.ts),
// tokenization (data.ts).

import { constants, isUtf8 } from 'node:buffer';
import { jsonSyntaxError } from '../formats/json-file.ts';

export type DataFormat = 'prompt-completion' | 'alpaca' | 'chat';
export const DATA_FORMATS = ['prompt-completion', 'alpaca', 'chat'] as const satisfies readonly DataFormat[];

/** One row of a file before validation: its value, or why it could not be read. */
export interface RawRow {
  /** 1-based line in the source file where the row starts. */
  line: number;
  value?: unknown;
  error?: string;
  /** The start of the row's text where it could not be read (kept to show it, never in messages). */
  text?: string;
  /** 1-based place in a JSON list whose rows share lines (a list on one line): `line` alone is vague. */
  item?: number;
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- reading text -----------------------------------------------------------------------------

/**
 * Why bytes are not UTF-8 text, or null when they are. Decoding them anyway would turn every byte
 * of another encoding (a spreadsheet's Windows-1252 "café") into U+FFFD and train on that silently.
 */
export function notUtf8(bytes: Uint8Array): string | null {
  if (isUtf8(bytes)) return null;
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
    return 'is UTF-16 text; save it as UTF-8';
  return 'is not UTF-8 text (another encoding, such as Latin-1 or Windows-1252?); save it as UTF-8';
}

/**
 * A dataset file's text, decoded strictly; a leading BOM is dropped. Bytes that are not UTF-8 throw
 * what `fail` makes of why and the 1-based line they are on (a newline byte never occurs inside a
 * UTF-8 character, so each line can be checked on its own); a text longer than a JavaScript string
 * can be throws `fail(why, null)` (V8's own error names neither the file nor the limit).
 */
export function decodeDatasetText(
  buf: Uint8Array,
  fail: (why: string, line: number | null) => Error,
): string {
  if (!isUtf8(buf)) {
    const whole = notUtf8(buf) as string;
    if (whole.startsWith('is UTF-16')) throw fail(whole, 1);
    let line = 1;
    for (let start = 0; start <= buf.length; line++) {
      let end = buf.indexOf(0x0a, start);
      if (end === -1) end = buf.length;
      const why = notUtf8(buf.subarray(start, end));
      if (why) throw fail(why, line);
      start = end + 1;
    }
    throw fail(whole, 1);
  }
  try {
    return new TextDecoder().decode(buf); // drops the BOM
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_STRING_TOO_LONG') throw e;
    throw fail(
      `is too long to read whole (${buf.length} bytes; at most ${constants.MAX_STRING_LENGTH} characters)`,
      null,
    );
  }
}

/** Characters of an unreadable row's text kept in RawRow.text. */
export const ROW_TEXT_CHARS = 500;

/**
 * The row of one JSONL line (1-based `line`), or null for a blank line. A line that is not JSON
 * becomes a row with `error` (`not valid JSON (<errorText(e)>)`, by default the position only:
 * V8's own message quotes the text) and `text`, so callers can report every bad line, not just the
 * first.
 */
export function jsonlRow(
  text: string,
  line: number,
  errorText: (e: unknown) => string = jsonSyntaxError,
): RawRow | null {
  const s = text.trim();
  if (!s) return null;
  try {
    return { line, value: JSON.parse(s) };
  } catch (e) {
    return { line, error: `not valid JSON (${errorText(e)})`, text: s.slice(0, ROW_TEXT_CHARS) };
  }
}

/** One row per non-blank line of a JSONL text (jsonlRow). */
export function readJsonlRows(text: string, errorText: (e: unknown) => string = jsonSyntaxError): RawRow[] {
  const out: RawRow[] = [];
  text.split('\n').forEach((l, i) => {
    const row = jsonlRow(l, i + 1, errorText);
    if (row) out.push(row);
  });
  return out;
}

/**
 * Line on which each element of a JSON array starts (a tiny scanner, strings aware): of the
 * top-level array, or with `inObject` of the array that is a value of the top-level object (the
 * rows of {"data": [...]}; the caller has checked that the object has one such array).
 */
export function arrayElementLines(text: string, inObject = false): number[] {
  const lines: number[] = [];
  /** Containers open at the array whose elements are counted, itself included. */
  const at = inObject ? 2 : 1;
  const open: string[] = [];
  let line = 1;
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
    if (expectElement && !/\s/.test(c) && c !== ']') {
      lines.push(line);
      expectElement = false;
    }
    if (c === '"') inStr = true;
    else if (c === '[' || c === '{') {
      open.push(c);
      if (open.length === at && c === '[') expectElement = true;
    } else if (c === ']' || c === '}') open.pop();
    else if (c === ',' && open.length === at && open[at - 1] === '[') expectElement = true;
  }
  return lines;
}

// ---- rows ---------------------------------------------------------------------------------------

export type PromptCompletionRow = { prompt: string; completion: string };
export type AlpacaRow = { instruction: string; input: string; output: string };
export type ChatMessage = { role: 'system' | 'user' | 'assistant' | 'tool'; content: string };
export type ChatRow = { messages: ChatMessage[] };
/** A row in its canonical shape: what the library freezes and what the trainer reads. */
export type DatasetRow = PromptCompletionRow | AlpacaRow | ChatRow;

/** One chat message of a dataset row (plain text content). */
export interface ChatTurn {
  role: string;
  content: string;
}

/** One example before tokenization. */
export type TextExample =
  | { line: number; kind: 'text'; prompt: string; completion: string }
  | { line: number; kind: 'chat'; messages: ChatTurn[]; completion: string };

/**
 * The format a row looks like from its keys, or null: chat has "messages", alpaca "instruction" and
 * "output", prompt-completion a prompt ("prompt" or "input") and a completion ("completion" or
 * "output"). A row that has only part of a format is not guessed at: the library then asks for a
 * column mapping, the trainer says what a row needs.
 */
export function detectRowFormat(v: unknown): DataFormat | null {
  if (!isObj(v)) return null;
  if ('messages' in v) return 'chat';
  if ('instruction' in v) return 'output' in v ? 'alpaca' : null;
  if (('prompt' in v || 'input' in v) && ('completion' in v || 'output' in v)) return 'prompt-completion';
  return null;
}

/**
 * Whether normalizeRow keeps key `k` of row `v` (of `format`): a row is stored in its format's
 * canonical shape, so any other key, or an alias beside the key it stands for ("input" beside
 * "prompt"), is not stored.
 */
export function isKeptKey(format: DataFormat, v: Record<string, unknown>, k: string): boolean {
  const has = (key: string) => v[key] !== undefined && v[key] !== null;
  if (format === 'prompt-completion')
    return (
      k === 'prompt' ||
      k === 'completion' ||
      (k === 'input' && !has('prompt')) ||
      (k === 'output' && !has('completion'))
    );
  if (format === 'alpaca') return k === 'instruction' || k === 'input' || k === 'output';
  return k === 'messages';
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

/**
 * Why a field's text is refused, or null. A lone UTF-16 surrogate (JSON's "\ud800" without its
 * pair) is no character: UTF-8 cannot hold it, so the tokenizer would read U+FFFD instead, and
 * Python's tokenizers refuse the string (an exported bundle would fail in pyreft). Every other
 * character is kept as it is, NUL included (JSON escapes it; the tokenizer reads byte 0).
 */
function textProblem(s: string, field: string): string | null {
  const lone = /\p{Cs}/u.exec(s); // with /u a surrogate pair is one code point: only lone ones match
  if (!lone) return null;
  const hex = lone[0].charCodeAt(0).toString(16);
  return `${field} holds \\u${hex}, half of a UTF-16 surrogate pair without its other half, which is no character`;
}

/**
 * Validates one row of `format` and returns it in its canonical shape, or why it cannot be trained
 * on: every field a string of text (textProblem), a prompt and a completion that are not empty, a
 * chat that ends with the assistant's reply after at least one other message. The one set of rules for importing into the
 * library and for training from a file. `shown` names a field in messages (an import with a column
 * mapping names the file's column the field was read from).
 */
export function normalizeRow(
  format: DataFormat,
  v: unknown,
  shown: (field: string) => string = (k) => `"${k}"`,
): DatasetRow | string {
  if (!isObj(v)) return 'is not a JSON object';
  const text = (k: string): string | undefined | { err: string } => {
    const x = v[k];
    if (x === undefined || x === null) return undefined;
    if (typeof x !== 'string') return { err: `${shown(k)} must be a string` };
    const bad = textProblem(x, shown(k));
    return bad ? { err: bad } : x;
  };
  const pick = (...keys: string[]) => {
    for (const k of keys) {
      const x = text(k);
      if (x !== undefined) return x;
    }
    return undefined;
  };
  switch (format) {
    case 'prompt-completion': {
      const prompt = pick('prompt', 'input');
      const completion = pick('completion', 'output');
      if (typeof prompt === 'object') return prompt.err;
      if (typeof completion === 'object') return completion.err;
      if (prompt === undefined) return 'no prompt (expected a "prompt" or "input" field)';
      if (completion === undefined) return 'no completion (expected a "completion" or "output" field)';
      if (!prompt) return 'the prompt is empty';
      if (!completion) return 'the completion is empty';
      return { prompt, completion };
    }
    case 'alpaca': {
      const instruction = text('instruction');
      const input = text('input');
      const output = text('output');
      for (const x of [instruction, input, output]) if (typeof x === 'object') return x.err;
      if (typeof instruction !== 'string' || !instruction) return 'no instruction';
      if (output === undefined) return 'no completion (expected an "output" field)';
      if (!output) return 'the output is empty';
      return { instruction, input: (input as string | undefined) ?? '', output: output as string };
    }
    case 'chat': {
      const msgs = v.messages;
      if (!Array.isArray(msgs) || msgs.length === 0) return `${shown('messages')} must be a non-empty array`;
      const out: ChatMessage[] = [];
      for (const [i, m] of msgs.entries()) {
        if (!isObj(m) || typeof m.role !== 'string' || typeof m.content !== 'string')
          return `messages[${i}] must be {"role": string, "content": string}`;
        if (!ROLES.has(m.role))
          return `messages[${i}].role "${m.role}" is not system, user, assistant or tool`;
        const bad = textProblem(m.content, `messages[${i}].content`);
        if (bad) return bad;
        out.push({ role: m.role as ChatMessage['role'], content: m.content });
      }
      const last = out[out.length - 1];
      if (last.role !== 'assistant') return "no completion: the last message must be the assistant's reply";
      if (!last.content) return 'the last assistant message is empty';
      if (out.length < 2) return 'no prompt: the assistant reply needs at least one message before it';
      return { messages: out };
    }
  }
}

/** The example a canonical row trains on: the prompt (or the chat before the reply) and the reply. */
export function exampleOf(row: DatasetRow, line: number): TextExample {
  if ('messages' in row)
    return {
      line,
      kind: 'chat',
      messages: row.messages.slice(0, -1),
      completion: row.messages[row.messages.length - 1].content,
    };
  if ('instruction' in row)
    return {
      line,
      kind: 'text',
      prompt: row.input ? `${row.instruction}\n\n${row.input}` : row.instruction,
      completion: row.output,
    };
  return { line, kind: 'text', prompt: row.prompt, completion: row.completion };
}
