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
import { CancelledError, ConfigError, ReftError } from '../errors.ts';
import { fileChunksSync, fileLinesSync, lineTooLong, withoutBom } from '../formats/line-reader.ts';
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
import { TokenizedRows } from './tokenized-rows.ts';

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

/**
 * A file's rows, one at a time, and how many there are (shown as a run's data is prepared: counted
 * only when asked, as most readers never show it and a JSONL count is a second pass over the file);
 * the generator returns the sha256 of the file's bytes.
 */
interface FileRows {
  rows: Generator<RawRow, string>;
  total: () => number;
}

/**
 * Rows of a JSONL file, each with its line, read a piece at a time (a file can be over 512 MB,
 * more than one string holds) and handed on as read (none is kept here).
 */
function* jsonlRows(path: string): Generator<RawRow, string> {
  const hash = createHash('sha256');
  for (const line of fileLinesSync(path, { onChunk: (c) => hash.update(c) })) {
    if (!line.bytes) throw new ConfigError('bad-data', `${path}: line ${line.n} ${lineTooLong(line)}`);
    const bytes = withoutBom(line.bytes, line.n);
    const why = notUtf8(bytes);
    if (why) throw new ConfigError('bad-data', `${path}: line ${line.n} ${why}`);
    const row = jsonlRow(bytes.toString('utf8'), line.n);
    if (row) yield row;
  }
  return hash.digest('hex');
}

/**
 * The rows of a JSONL file, counted without parsing them: its lines holding more than blanks
 * (jsonlRow's rows; a byte scan, ~1 s for 512 MB against minutes of tokenizing).
 */
function jsonlRowCount(path: string): number {
  let n = 0;
  let blank = true;
  for (const bytes of fileChunksSync(path)) {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === 10) {
        if (!blank) n++;
        blank = true;
      } else if (blank && b !== 32 && b !== 9 && b !== 13) blank = false;
    }
  }
  return blank ? n : n + 1;
}

/**
 * Rows of a dataset file of any kind the library imports (data-files.ts, the same reader and
 * messages): JSONL streamed, JSON documents, CSV and TSV read whole.
 */
function fileRows(path: string): FileRows {
  const kind = fileKindOfFile(path);
  if (kind === 'jsonl') return { rows: jsonlRows(path), total: () => jsonlRowCount(path) };
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
  const rows = readRawRows(path, text).raw;
  return {
    rows: (function* () {
      yield* rows;
      return createHash('sha256').update(buf).digest('hex');
    })(),
    total: () => rows.length,
  };
}

/** What reading a dataset file found, besides its examples. */
export interface DatasetInfo {
  path: string;
  format: DataFormat;
  /** Examples the file holds. */
  count: number;
  /** sha256 of the file bytes: a resumed run must see the same data. */
  hash: string;
}

/**
 * Every example of a dataset file, in order, to `each` (which is not called again once a bad row
 * was met: the file is refused anyway). `format` 'auto' detects it per row and refuses a file
 * mixing formats. Any malformed row, or an empty file, is a ConfigError naming the file and
 * line(s). Nothing is kept here, so a caller keeps only what it needs of each example.
 */
export function scanDataset(
  path: string,
  format: DataFormat | 'auto',
  each: (ex: TextExample) => void,
): DatasetInfo {
  const { examples } = datasetExamples(path, format);
  try {
    for (let r = examples.next(); ; r = examples.next()) {
      if (r.done) return r.value;
      each(r.value);
    }
  } finally {
    examples.return(undefined as never); // closes the file when `each` threw
  }
}

/**
 * scanDataset's examples as a generator (its value, once done, the DatasetInfo), for a reader that
 * pauses between them, with the count of rows the file holds (`total()`, which can be asked before
 * any is read; a byte scan of the file for JSONL).
 */
export function datasetExamples(
  path: string,
  format: DataFormat | 'auto',
): { examples: Generator<TextExample, DatasetInfo>; total: () => number } {
  let file: FileRows;
  try {
    file = fileRows(path);
  } catch (e) {
    throw readError(path, e);
  }
  return { examples: examplesOf(path, format, file.rows), total: file.total };
}

function* examplesOf(
  path: string,
  format: DataFormat | 'auto',
  rows: Generator<RawRow, string>,
): Generator<TextExample, DatasetInfo> {
  let fmt: DataFormat | null = format === 'auto' ? null : format;
  let fmtLine = 0;
  const bad: string[] = [];
  let badCount = 0;
  const report = (line: number, msg: string) => {
    badCount++;
    if (bad.length < MAX_REPORTED) bad.push(`line ${line}: ${msg}`);
  };
  let count = 0;
  let hash: string;
  // The file is closed however the reading ends: a bad row, or a caller that stopped early.
  try {
    for (;;) {
      let next: IteratorResult<RawRow, string>;
      try {
        next = rows.next();
      } catch (e) {
        // Only reading the file is "cannot read"; the caller's own failures never pass through here.
        throw readError(path, e);
      }
      if (next.done) {
        hash = next.value;
        break;
      }
      const r = next.value;
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
      else {
        count++;
        if (!badCount) yield exampleOf(row, r.line);
      }
    }
  } finally {
    rows.return('');
  }
  if (badCount) {
    const more = badCount > bad.length ? ` (and ${badCount - bad.length} more)` : '';
    throw new ConfigError('bad-data', `${path}: ${bad.join('; ')}${more}`);
  }
  if (count === 0 || !fmt) throw new ConfigError('empty-dataset', `${path}: the dataset has no examples`);
  return { path, format: fmt, count, hash };
}

/** A file that could not be read, as one line (the engine's own refusals pass as they are). */
function readError(path: string, e: unknown): ReftError {
  if (e instanceof ReftError) return e;
  return new ConfigError(
    'missing-data',
    `${path}: cannot read the dataset (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
  );
}

/** Reads a whole dataset file (scanDataset's checks): for the callers that need every text. */
export function readDataset(path: string, format: DataFormat | 'auto' = 'auto'): Dataset {
  const examples: TextExample[] = [];
  const info = scanDataset(path, format, (ex) => examples.push(ex));
  return { path, format: info.format, examples, hash: info.hash };
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

/**
 * Whether a prompt goes through the chat template — the one rule, which encodePrompt applies and
 * the intervention preview and a run's adapter report: a conversation always, a text prompt when
 * the model has a template and the Chat template option is auto.
 */
export function promptUsesChatTemplate(
  kind: TextExample['kind'],
  chatTemplate: 'auto' | 'none',
  tok: Tokenizer,
): boolean {
  return kind === 'chat' || (chatTemplate === 'auto' && tok.chatTemplate !== null);
}

/**
 * Whether a run formats its prompts through the chat template (its adapter records this as
 * promptTemplate 'chat', and generation then formats prompts alike): a chat dataset's rows are
 * conversations, the other formats' text prompts.
 */
export function trainsThroughChatTemplate(
  format: DataFormat,
  chatTemplate: 'auto' | 'none',
  tok: Tokenizer,
): boolean {
  return promptUsesChatTemplate(format === 'chat' ? 'chat' : 'text', chatTemplate, tok);
}

/**
 * The text the prompt's token ids are encoded from, and whether the tokenizer adds its special tokens
 * (not to a rendered chat template, which writes them itself).
 */
export function promptText(
  tok: Tokenizer,
  ex: TextExample,
  chatTemplate: 'auto' | 'none',
): { text: string; addSpecialTokens: boolean } {
  if (ex.kind === 'chat')
    return {
      text: tok.applyChatTemplate(ex.messages, { addGenerationPrompt: true }),
      addSpecialTokens: false,
    };
  if (promptUsesChatTemplate(ex.kind, chatTemplate, tok)) {
    const text = tok.applyChatTemplate([{ role: 'user', content: ex.prompt }], { addGenerationPrompt: true });
    return { text, addSpecialTokens: false };
  }
  return { text: ex.prompt, addSpecialTokens: true };
}

/** The prompt's token ids as training and generation see them. */
export function encodePrompt(tok: Tokenizer, ex: TextExample, chatTemplate: 'auto' | 'none'): number[] {
  const { text, addSpecialTokens } = promptText(tok, ex, chatTemplate);
  return tok.encode(text, { addSpecialTokens });
}

/**
 * An example whose prompt or completion encodes to no token, refused (by the trainer and the bundle
 * alike) naming its line, and its file where known. A completion can only be empty where the model
 * has no eos to append: its text all dropped by the tokenizer (a normalizer that strips blanks).
 */
export function noTokens(part: 'prompt' | 'completion', line: number, path?: string): ConfigError {
  const why =
    part === 'prompt'
      ? 'the prompt has no tokens'
      : 'the completion has no tokens (the tokenizer keeps none of its text and the model has no end token), so there is nothing to learn';
  return new ConfigError(`empty-${part}`, `${path ? `${path}: ` : ''}line ${line}: ${why}`);
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
  if (prompt.length === 0) throw noTokens('prompt', ex.line);
  if (completion.length === 0) throw noTokens('completion', ex.line);
  return { line: ex.line, ids: [...prompt, ...completion], promptLen: prompt.length, truncated };
}

/** One example tokenized for a run, its refusals naming the file (`path`) and line. */
function tokenizeChecked(
  tok: Tokenizer,
  ex: TextExample,
  opts: TokenizeOptions,
  vocabSize: number,
  path: string,
): TokenizedExample {
  let t: TokenizedExample;
  try {
    t = tokenizeExample(tok, ex, opts);
  } catch (e) {
    // An example's own refusal names its line only; here the file is known too.
    if (e instanceof ConfigError && (e.code === 'empty-prompt' || e.code === 'empty-completion'))
      throw new ConfigError(e.code, `${path}: ${e.message}`);
    if (e instanceof ConfigError) throw e;
    throw new ConfigError('bad-data', `${path}: line ${ex.line}: ${(e as Error).message}`);
  }
  const over = t.ids.find((id) => id >= vocabSize);
  if (over !== undefined) {
    throw new ConfigError(
      'bad-token',
      `${path}: line ${ex.line}: token id ${over} is outside the model's vocabulary (${vocabSize})`,
    );
  }
  return t;
}

/** Every example of a dataset read whole (readDataset), tokenized and packed. */
export function tokenizeDataset(
  tok: Tokenizer,
  ds: Dataset,
  opts: TokenizeOptions,
  vocabSize: number,
): TokenizedRows {
  const rows = new TokenizedRows(ds.examples.length);
  for (const ex of ds.examples) rows.push(tokenizeChecked(tok, ex, opts, vocabSize, ds.path));
  return rows;
}

/** How a run's data preparation is stopped and watched. */
export interface PrepareWatch {
  /** Aborted: the preparation stops between rows with a CancelledError. */
  signal?: AbortSignal;
  /** Rows read so far of the file's `total`, each time the preparation lets its thread go. */
  onRows?: (done: number, total: number) => void;
}

/**
 * How long preparing a run's data holds its thread at most before it lets a cancel, a pause and its
 * process's messages in (tokenizing 20,000 rows takes seconds to a minute).
 */
const SLICE_MS = 100;

/**
 * A dataset file tokenized as it is read (training's data): only the packed token ids are kept,
 * never the texts, so memory grows by the tokens, not by the rows' objects and strings. Refusals
 * come as if the file had been read whole first (readDataset), then tokenized: a bad row anywhere
 * is reported before an example that fails to tokenize. Yields its thread every SLICE_MS (`watch`).
 */
export async function readTokenizedDataset(
  tok: Tokenizer,
  path: string,
  format: DataFormat | 'auto',
  opts: TokenizeOptions,
  vocabSize: number,
  watch: PrepareWatch = {},
): Promise<{ info: DatasetInfo; rows: TokenizedRows }> {
  const rows = new TokenizedRows();
  let refused: unknown = null; // thrown once the whole file is known to be readable
  const file = datasetExamples(path, format);
  const { examples } = file;
  let total: number | undefined; // counted once the preparation turns out to take a while
  let done = 0;
  let sliceStart = performance.now();
  try {
    for (let r = examples.next(); ; r = examples.next()) {
      if (r.done) {
        if (refused) throw refused;
        return { info: r.value, rows };
      }
      done++;
      if (!refused) {
        try {
          rows.push(tokenizeChecked(tok, r.value, opts, vocabSize, path));
        } catch (e) {
          refused = e;
        }
      }
      if (performance.now() - sliceStart >= SLICE_MS) {
        total ??= file.total();
        watch.onRows?.(done, Math.max(done, total));
        await new Promise(setImmediate);
        if (watch.signal?.aborted)
          throw new CancelledError(`stopped while preparing the data, at row ${done} of ${total}`);
        sliceStart = performance.now();
      }
    }
  } finally {
    examples.return(undefined as never);
  }
}
