// Training data for the trainer: reads a dataset file, detects its format, and turns every example
// into token ids with labels and a prompt length (the part interventions are placed on).
//
// Files: every kind the studio library imports but Parquet, read by the library's reader
// (data-files.ts): JSONL (one JSON object per line, streamed), JSON (an array of objects, as Alpaca
// data ships; an object holding one list of rows; one row), CSV and TSV.
// Formats, detected per row from its keys; a file must hold one format (mixed files are refused):
//   prompt-completion  {"prompt", "completion"}   (also {"input", "output"})
//   alpaca             {"instruction", "input"?, "output"}; prompt = instruction, plus "\n\n" + input
//                      when input is non-empty
//   chat               {"messages": [{role, content}, …]} whose last message is the assistant's reply
// Every malformed row (bad JSON, missing or empty completion, wrong types) is a ConfigError naming
// the file and the line; nothing is silently dropped.
//
// Tokenization (one rule for every format, documented in the CLI help):
//   prompt      chat: the chat template over every message but the last, with the generation prompt.
//               prompt-completion / alpaca: the chat template over one user message when the model
//               has a template and `chatTemplate` is 'auto'; otherwise the raw prompt text, encoded
//               with the tokenizer's special tokens (bos).
//   completion  the completion text encoded without special tokens, then eos (when the model has one).
//   ids = prompt ids + completion ids; labels = −100 on the prompt, the ids on the completion.
//   Prompt and completion are encoded separately (pyreft encodes their concatenation), so the label
//   boundary is exact even where a tokenizer would merge across it.
// Truncation to maxLength keeps the prompt's END (where "lN" positions and the reply's context are):
// when prompt + completion is too long, the completion keeps at most maxLength − min(prompt, ⌈maxLength/2⌉)
// tokens (cut at its end, eos included), and the prompt keeps its last maxLength − completion tokens.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, ReftError } from '../errors.ts';
import { fileLinesSync, lineTooLong, withoutBom } from '../formats/line-reader.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { fileKindOfFile, readRawRows } from './data-files.ts';
import {
  type DataFormat,
  decodeDatasetText,
  detectRowFormat,
  exampleOf,
  jsonlRow,
  normalizeRow,
  notUtf8,
  type RawRow,
  type TextExample,
} from './data-formats.ts';

// Format detection and row validation live in data-formats.ts (shared with the studio library).
export {
  type ChatTurn,
  DATA_FORMATS,
  type DataFormat,
  detectRowFormat,
  exampleOf,
  normalizeRow,
  type TextExample,
} from './data-formats.ts';

export interface Dataset {
  path: string;
  format: DataFormat;
  examples: TextExample[];
  /** sha256 of the file bytes: a resumed run must see the same data. */
  hash: string;
}

export interface TokenizedExample {
  line: number;
  ids: number[];
  /** Number of prompt tokens at the start of ids (labels are −100 there). */
  promptLen: number;
  truncated: boolean;
}

const MAX_REPORTED = 5;

type ReadRows = { rows: RawRow[]; hash: string };

/**
 * Rows of a JSONL file, each with its line, read a piece at a time (a file can be over 512 MB,
 * more than one string holds), and the sha256 of the file's bytes.
 */
function readJsonlRows(path: string): ReadRows {
  const hash = createHash('sha256');
  const rows: RawRow[] = [];
  for (const line of fileLinesSync(path, { onChunk: (c) => hash.update(c) })) {
    if (!line.bytes) throw new ConfigError('bad-data', `${path}: line ${line.n} ${lineTooLong(line)}`);
    const bytes = withoutBom(line.bytes, line.n);
    const why = notUtf8(bytes);
    if (why) throw new ConfigError('bad-data', `${path}: line ${line.n} ${why}`);
    const row = jsonlRow(bytes.toString('utf8'), line.n);
    if (row) rows.push(row);
  }
  return { rows, hash: hash.digest('hex') };
}

/**
 * Rows of a dataset file of any kind the library imports (data-files.ts, the same reader and
 * messages): JSONL streamed, JSON documents, CSV and TSV read whole; and the sha256 of its bytes.
 */
function readRows(path: string): ReadRows {
  const kind = fileKindOfFile(path);
  if (kind === 'jsonl') return readJsonlRows(path);
  // hyparquet reads asynchronously only, and the trainer reads its data synchronously.
  if (kind === 'parquet')
    throw new ConfigError(
      'bad-data',
      `${path}: a Parquet file is read by importing it (reft-studio datasets import FILE, then --data ID); here give JSONL, JSON, CSV or TSV`,
    );
  const buf = readFileSync(path);
  const text = decodeDatasetText(buf, (why, line) =>
    line
      ? new ConfigError('bad-data', `${path}: line ${line} ${why}`)
      : new ConfigError('bad-data', `${path}: the file ${why}`),
  );
  return { rows: readRawRows(path, text).raw, hash: createHash('sha256').update(buf).digest('hex') };
}

/**
 * Reads a dataset file. `format` 'auto' detects it per row and refuses a file mixing formats.
 * Any malformed row, or an empty file, is a ConfigError naming the file and line(s).
 */
export function readDataset(path: string, format: DataFormat | 'auto' = 'auto'): Dataset {
  let read: ReadRows;
  try {
    read = readRows(path);
  } catch (e) {
    if (e instanceof ReftError) throw e;
    throw new ConfigError(
      'missing-data',
      `${path}: cannot read the dataset (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const { rows } = read;
  if (rows.length === 0) throw new ConfigError('empty-dataset', `${path}: the dataset has no examples`);
  let fmt: DataFormat | null = format === 'auto' ? null : format;
  let fmtLine = 0;
  const bad: string[] = [];
  let badCount = 0;
  const report = (line: number, msg: string) => {
    badCount++;
    if (bad.length < MAX_REPORTED) bad.push(`line ${line}: ${msg}`);
  };
  const examples: TextExample[] = [];
  for (const r of rows) {
    if (r.error) {
      report(r.line, r.error);
      continue;
    }
    const rowFmt = format === 'auto' ? detectRowFormat(r.value) : format;
    if (!rowFmt) {
      report(
        r.line,
        'no completion: expected {"prompt", "completion"}, {"instruction", "output"} or {"messages": [...]}',
      );
      continue;
    }
    if (!fmt) {
      fmt = rowFmt;
      fmtLine = r.line;
    } else if (rowFmt !== fmt) {
      throw new ConfigError(
        'mixed-formats',
        `${path}: line ${r.line} is ${rowFmt} but line ${fmtLine} is ${fmt}; a dataset file must use one format`,
      );
    }
    const row = normalizeRow(rowFmt, r.value);
    if (typeof row === 'string') report(r.line, row);
    else examples.push(exampleOf(row, r.line));
  }
  if (badCount) {
    const more = badCount > bad.length ? ` (and ${badCount - bad.length} more)` : '';
    throw new ConfigError('bad-data', `${path}: ${bad.join('; ')}${more}`);
  }
  if (examples.length === 0 || !fmt)
    throw new ConfigError('empty-dataset', `${path}: the dataset has no examples`);
  return { path, format: fmt, examples, hash: read.hash };
}

export interface TokenizeOptions {
  maxLength: number;
  /** 'auto': use the model's chat template for prompt-completion/alpaca when it has one. */
  chatTemplate: 'auto' | 'none';
  /** Appended to every completion; null = none. */
  eosId: number | null;
}

/**
 * The end-of-sequence id appended to every completion (the tokenizer's, else the model's) and the
 * id that pads batches: the tokenizer's pad, else the model's, else eos, else 0 — the first of them
 * inside the embedding. A pad token added to tokenizer.json without resizing the model (id ≥
 * vocab_size) would reach the embedding's Gather out of bounds; padded positions are masked out of
 * attention and loss, so which id fills them changes no result.
 */
export function specialIds(
  tok: Tokenizer,
  model: { eosTokenIds: readonly number[]; padTokenId: number | null; vocabSize: number },
): { eosId: number | null; padId: number } {
  const eosId = tok.eosTokenId ?? model.eosTokenIds[0] ?? null;
  const padId = [tok.padTokenId, model.padTokenId, eosId].find((id) => id != null && id < model.vocabSize);
  return { eosId, padId: padId ?? 0 };
}

/** The prompt's token ids as training and generation see them. */
export function encodePrompt(tok: Tokenizer, ex: TextExample, chatTemplate: 'auto' | 'none'): number[] {
  if (ex.kind === 'chat') return tok.encodeChat(ex.messages, { addGenerationPrompt: true });
  if (chatTemplate === 'auto' && tok.chatTemplate) {
    return tok.encodeChat([{ role: 'user', content: ex.prompt }], { addGenerationPrompt: true });
  }
  return tok.encode(ex.prompt, { addSpecialTokens: true });
}

/** Token ids, prompt length and truncation of one example (see the header for the rules). */
export function tokenizeExample(tok: Tokenizer, ex: TextExample, opts: TokenizeOptions): TokenizedExample {
  let prompt = encodePrompt(tok, ex, opts.chatTemplate);
  let completion = tok.encode(ex.completion, { addSpecialTokens: false });
  if (opts.eosId !== null) completion.push(opts.eosId);
  const max = opts.maxLength;
  let truncated = false;
  if (prompt.length + completion.length > max) {
    truncated = true;
    const keepPrompt = Math.min(prompt.length, Math.ceil(max / 2));
    completion = completion.slice(0, Math.max(1, max - keepPrompt));
    prompt = prompt.slice(prompt.length - (max - completion.length));
  }
  if (prompt.length === 0) throw new ConfigError('empty-prompt', `line ${ex.line}: the prompt has no tokens`);
  return { line: ex.line, ids: [...prompt, ...completion], promptLen: prompt.length, truncated };
}

export function tokenizeDataset(
  tok: Tokenizer,
  ds: Dataset,
  opts: TokenizeOptions,
  vocabSize: number,
): TokenizedExample[] {
  return ds.examples.map((ex) => {
    let t: TokenizedExample;
    try {
      t = tokenizeExample(tok, ex, opts);
    } catch (e) {
      // An example's own refusal names its line only; here the file is known too.
      if (e instanceof ConfigError && e.code === 'empty-prompt')
        throw new ConfigError(e.code, `${ds.path}: ${e.message}`);
      if (e instanceof ConfigError) throw e;
      throw new ConfigError('bad-data', `${ds.path}: line ${ex.line}: ${(e as Error).message}`);
    }
    const over = t.ids.find((id) => id >= vocabSize);
    if (over !== undefined) {
      throw new ConfigError(
        'bad-token',
        `${ds.path}: line ${ex.line}: token id ${over} is outside the model's vocabulary (${vocabSize})`,
      );
    }
    return t;
  });
}
