// Dataset rows, shared by the engine (training/data.ts: readDataset for `reft-studio train --resume`
// and the trainer) and the studio library (electron/backend/library/dataset-formats.ts: import of
// JSONL/JSON/CSV/Parquet). This module owns the format names, reading JSONL and JSON-array text into
// rows with the line each starts on, detecting a row's format from its keys, and validating and
// normalising one row of each format:
//   prompt-completion  {prompt, completion}
//   alpaca             {instruction, input?, output}
//   chat               {messages: [{role, content}, ...]}
// Two sets of rules live side by side on purpose, because their callers promise different things:
//   - the trainer's (detectRowFormat, parseRow) reads any file given to it, so one recognised key is
//     enough to pick a format (then the missing field is named), accepts {input, output} as
//     prompt-completion, needs a non-empty prompt, and a chat row must end with the assistant's reply;
//   - the library's (guessRowFormat, normalizeRow) stores rows in the canonical shapes below, so a
//     format needs both of its keys, any role but system/user/assistant/tool is refused and a chat
//     row needs one assistant turn anywhere.
// Errors are returned as messages (never thrown): each caller wraps them in its own error and code.
// Leaves out: CSV, Parquet and column mapping (library only), tokenization (data.ts).

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
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- reading text -----------------------------------------------------------------------------

/** Characters of an unreadable row's text kept in RawRow.text. */
const ROW_TEXT_CHARS = 500;

/**
 * One row per non-blank line. A line that is not JSON becomes a row with `error`
 * (`not valid JSON (<errorText(e)>)`, by default the position only: V8's own message quotes the
 * text) and `text`, so callers can report every bad line, not just the first.
 */
export function readJsonlRows(text: string, errorText: (e: unknown) => string = jsonSyntaxError): RawRow[] {
  const out: RawRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].trim();
    if (!s) continue;
    try {
      out.push({ line: i + 1, value: JSON.parse(s) });
    } catch (e) {
      out.push({
        line: i + 1,
        error: `not valid JSON (${errorText(e)})`,
        text: s.slice(0, ROW_TEXT_CHARS),
      });
    }
  }
  return out;
}

/** Line on which each top-level element of a JSON array starts (a tiny scanner, strings aware). */
export function arrayElementLines(text: string): number[] {
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

// ---- the trainer's rows ------------------------------------------------------------------------

/** One chat message of a dataset row (plain text content). */
export interface ChatTurn {
  role: string;
  content: string;
}

/** One example before tokenization. */
export type TextExample =
  | { line: number; kind: 'text'; prompt: string; completion: string }
  | { line: number; kind: 'chat'; messages: ChatTurn[]; completion: string };

/** The format a row looks like from its keys, or null. */
export function detectRowFormat(v: unknown): DataFormat | null {
  if (!isObj(v)) return null;
  if ('messages' in v) return 'chat';
  if ('instruction' in v) return 'alpaca';
  if ('prompt' in v || 'completion' in v || 'input' in v || 'output' in v) return 'prompt-completion';
  return null;
}

/** Validates one row of a known format; returns the example or an error message. */
export function parseRow(format: DataFormat, v: unknown, line: number): TextExample | string {
  if (!isObj(v)) return 'is not a JSON object';
  const text = (k: string): string | undefined | { err: string } => {
    const x = v[k];
    if (x === undefined || x === null) return undefined;
    return typeof x === 'string' ? x : { err: `"${k}" must be a string` };
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
      return { line, kind: 'text', prompt, completion };
    }
    case 'alpaca': {
      const instruction = text('instruction');
      const input = text('input');
      const output = text('output');
      for (const x of [instruction, input, output]) if (typeof x === 'object') return x.err;
      if (typeof instruction !== 'string' || !instruction) return 'no instruction';
      if (output === undefined) return 'no completion (expected an "output" field)';
      if (!output) return 'the output is empty';
      const prompt = typeof input === 'string' && input ? `${instruction}\n\n${input}` : instruction;
      return { line, kind: 'text', prompt, completion: output as string };
    }
    case 'chat': {
      const msgs = v.messages;
      if (!Array.isArray(msgs) || msgs.length === 0) return '"messages" must be a non-empty array';
      const out: ChatTurn[] = [];
      for (const [i, m] of msgs.entries()) {
        if (!isObj(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
          return `messages[${i}] must be {"role": string, "content": string}`;
        }
        out.push({ role: m.role, content: m.content });
      }
      const lastMsg = out[out.length - 1];
      if (lastMsg.role !== 'assistant')
        return "no completion: the last message must be the assistant's reply";
      if (!lastMsg.content) return 'the last assistant message is empty';
      if (out.length < 2) return 'no prompt: the assistant reply needs at least one message before it';
      return { line, kind: 'chat', messages: out.slice(0, -1), completion: lastMsg.content };
    }
  }
}

// ---- the library's rows ------------------------------------------------------------------------

export type PromptCompletionRow = { prompt: string; completion: string };
export type AlpacaRow = { instruction: string; input: string; output: string };
export type ChatMessage = { role: 'system' | 'user' | 'assistant' | 'tool'; content: string };
export type ChatRow = { messages: ChatMessage[] };
export type DatasetRow = PromptCompletionRow | AlpacaRow | ChatRow;

/** The format a row looks like, from its keys alone. */
export function guessRowFormat(v: unknown): DataFormat | null {
  if (!isObj(v)) return null;
  if ('messages' in v) return 'chat';
  if ('instruction' in v && 'output' in v) return 'alpaca';
  if ('prompt' in v && 'completion' in v) return 'prompt-completion';
  return null;
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

/** Validates and normalises one row; returns an error message instead of throwing. */
export function normalizeRow(format: DataFormat, v: unknown): DatasetRow | string {
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
