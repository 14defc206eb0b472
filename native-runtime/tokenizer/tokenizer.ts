// Tokenizer of a model folder: a thin wrapper over @huggingface/tokenizers (tokenizer.json +
// tokenizer_config.json) that gives the engine, the backend and the CLI one API with camelCase
// options, resolved special token ids, chat templates and a streaming decoder.
//
// Leaves out: slow (sentencepiece .model / vocab.txt only) tokenizers — transformers has written a
// tokenizer.json next to them for years; batch encoding and padding (the dataset code does that).

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { FormatError } from '../errors.ts';
import { FILE_LIMITS, readJsonFile, readJsonObject, readJsonUntilKey } from '../formats/json-file.ts';
import {
  type ChatMessage,
  type ChatTemplateSource,
  findChatTemplate,
  renderChatTemplate,
  validateMessages,
} from './chat-template.ts';
import { backtrackingPattern } from './pattern-check.ts';
import { StreamDecoder } from './stream-decoder.ts';
import { bytesPerTokenBound, nonWhitespaceBytes } from './token-count-bound.ts';
import { underDeadline } from './tokenize-watchdog.ts';

export interface EncodeOptions {
  /** Add the post-processor's special tokens (bos for llama-style tokenizers). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (bos, eos, pad, chat markers) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  /** A named template ('tool_use', …); the default one when omitted. */
  templateName?: string;
  /** Extra template variables (tools, documents, enable_thinking, …). */
  extra?: Record<string, unknown>;
}

/** Tokenizer files are capped at FILE_LIMITS.tokenizer and never quoted in errors (json-file.ts). */
function readJson(path: string, label: string): Record<string, unknown> {
  return readJsonObject(path, label, FILE_LIMITS.tokenizer);
}

/** Why `file` (a tokenizer.json) is refused for a pattern that backtracks (pattern-check.ts), or null. */
function patternRefusal(file: string, tokenizerJson: Record<string, unknown>): FormatError | null {
  const hostile = backtrackingPattern(tokenizerJson);
  if (!hostile) return null;
  return new FormatError(
    'tokenizer-pattern-refused',
    `${file}: the pattern of ${hostile} repeats a group that itself repeats (like (a+)+), ` +
      'which can take hours on a short text; such a tokenizer is refused',
  );
}

/**
 * Throws what loading `dir`'s tokenizer.json would for its patterns or its JSON, without building
 * the tokenizer (`models scan` lists many folders and must stay quick). The tokenizers library writes
 * the vocabulary ("model") last, after the parts that hold patterns, and that part is nearly all of
 * a real file; so only the bytes before "model" are read and parsed when they hold all three parts
 * (a 10 MB file: read whole and decoded it took 150 ms warm and up to 1 s cold, its head under 1 ms),
 * else the whole file. Loading checks again.
 */
export function checkTokenizerFile(dir: string): void {
  const file = join(resolve(dir), 'tokenizer.json');
  const head = readJsonUntilKey(file, FILE_LIMITS.tokenizer, 'tokenizer.json', 'model');
  let parts: unknown = null;
  if (head?.length) {
    try {
      parts = JSON.parse(`${head.toString('utf8').replace(/,\s*$/, '')}}`);
    } catch {
      parts = null; // not the usual layout: parse it all below
    }
  }
  const usual =
    parts !== null &&
    typeof parts === 'object' &&
    ['normalizer', 'pre_tokenizer', 'decoder'].every((k) => k in (parts as object));
  if (!usual) parts = readJsonFile(file, 'tokenizer.json', FILE_LIMITS.tokenizer);
  if (!parts || typeof parts !== 'object' || Array.isArray(parts))
    throw new FormatError('bad-json', 'tokenizer.json: expected a JSON object');
  const refused = patternRefusal(file, parts as Record<string, unknown>);
  if (refused) throw refused;
}

/** tokenizer_config.json writes special tokens as a string or as an AddedToken dict {content, …}. */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return null;
}

/**
 * Whether decoding removes the space before punctuation (" ." → ".", " 's" → "'s"), decided as
 * transformers 5 decides: only when tokenizer_config.json asks for it, and never for a BPE model
 * unless it insists (`…_for_bpe_even_though_it_will_corrupt_output`). The tokenizers library does it
 * by default; on a BPE model it rewrites what the model wrote (" ." is a token of its own) and the
 * text streamed token by token, which cannot take back a space already shown, would differ from it.
 */
function cleansUpSpaces(tokenizerJson: Record<string, unknown>, config: Record<string, unknown>): boolean {
  if (config.clean_up_tokenization_spaces !== true) return false;
  const model = tokenizerJson.model as { type?: unknown } | undefined;
  return (
    model?.type !== 'BPE' ||
    config.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output === true
  );
}

export class Tokenizer {
  readonly dir: string;
  readonly config: Record<string, unknown>;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** Ids of every token marked special (never produced by splitting ordinary text). */
  readonly specialIds: ReadonlySet<number>;
  /** Number of ids, added tokens included (may be smaller than the model's padded vocabulary). */
  readonly vocabSize: number;
  readonly #hf: HfTokenizer;
  /** Whether decode removes spaces before punctuation (cleansUpSpaces). */
  readonly #cleanUpSpaces: boolean;
  /** The tokenizer.json it was built from, named when it is refused or runs past its deadline. */
  readonly #file: string;
  #chatTemplate: ChatTemplateSource | null | undefined;
  /** tokenizer.json, which HfTokenizer keeps anyway: read again only for minTokens' bound. */
  readonly #json: Record<string, unknown>;
  /** The most non-whitespace bytes one token holds (token-count-bound.ts); null: no bound; undefined: not yet known. */
  #bytesPerToken: number | null | undefined;

  constructor(dir: string, tokenizerJson: Record<string, unknown>, config: Record<string, unknown>) {
    this.dir = dir;
    this.config = config;
    this.#file = join(dir, 'tokenizer.json');
    this.#json = tokenizerJson;
    const refused = patternRefusal(this.#file, tokenizerJson);
    if (refused) throw refused;
    try {
      this.#hf = new HfTokenizer(tokenizerJson, config);
    } catch (e) {
      throw new FormatError(
        'bad-tokenizer',
        `tokenizer.json: cannot build the tokenizer (${(e as Error).message})`,
      );
    }
    this.#cleanUpSpaces = cleansUpSpaces(tokenizerJson, config);
    const added = this.#hf.get_added_tokens_decoder();
    this.specialIds = new Set([...added.entries()].filter(([, t]) => t.special).map(([id]) => id));
    let maxId = -1;
    for (const id of this.#hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bosToken = tokenString(config.bos_token);
    this.eosToken = tokenString(config.eos_token);
    this.padToken = tokenString(config.pad_token);
    const id = (t: string | null) => (t === null ? null : (this.#hf.token_to_id(t) ?? null));
    this.bosTokenId = id(this.bosToken);
    this.eosTokenId = id(this.eosToken);
    this.padTokenId = id(this.padToken);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const add_special_tokens = opts.addSpecialTokens ?? true;
    return underDeadline(this.#file, () => this.#hf.encode(text, { add_special_tokens }).ids);
  }

  /**
   * A lower bound on encode(text).length, from the text's length alone (token-count-bound.ts): 0
   * where this tokenizer has no such bound. Tells "this text is at least n tokens" without
   * tokenizing it, which costs ~100 µs per line of text; `enough` stops counting at that many.
   */
  minTokens(text: string, enough = Number.POSITIVE_INFINITY): number {
    if (this.#bytesPerToken === undefined) this.#bytesPerToken = bytesPerTokenBound(this.#json, this.config);
    const w = this.#bytesPerToken;
    return w === null ? 0 : Math.ceil(nonWhitespaceBytes(text, enough * w) / w);
  }

  /** The vocabulary strings of ids (byte-level tokens show 'Ġ' for a space). */
  tokens(ids: readonly number[]): string[] {
    return ids.map((i) => {
      const t = this.#hf.id_to_token(i);
      if (t === undefined)
        throw new FormatError(
          'unknown-token-id',
          `token id ${i} is outside the tokenizer's vocabulary (${this.vocabSize})`,
        );
      return t;
    });
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    // Ids the model can emit beyond the tokenizer's vocabulary (padded embedding rows) decode to
    // nothing rather than failing mid-generation.
    const known = ids.filter((i) => i >= 0 && i < this.vocabSize);
    if (known.length === 0) return '';
    const skip_special_tokens = opts.skipSpecialTokens ?? false;
    const clean_up_tokenization_spaces = this.#cleanUpSpaces;
    return underDeadline(this.#file, () =>
      this.#hf.decode(known, { skip_special_tokens, clean_up_tokenization_spaces }),
    );
  }

  tokenToId(token: string): number | undefined {
    return this.#hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.#hf.id_to_token(id);
  }

  /** A decoder that turns ids arriving one by one into text, emitting only complete characters. */
  streamDecoder(opts: DecodeOptions = { skipSpecialTokens: true }): StreamDecoder {
    return new StreamDecoder(this, opts);
  }

  /** The default chat template, or null when the model has none. */
  get chatTemplate(): ChatTemplateSource | null {
    if (this.#chatTemplate === undefined) this.#chatTemplate = findChatTemplate(this.dir, this.config);
    return this.#chatTemplate;
  }

  /** Renders messages with the model's chat template (text, not ids). */
  applyChatTemplate(messages: unknown, opts: ChatTemplateOptions = {}): string {
    const src =
      opts.templateName !== undefined
        ? findChatTemplate(this.dir, this.config, opts.templateName)
        : this.chatTemplate;
    if (!src)
      throw new FormatError(
        'missing-chat-template',
        `tokenizer_config.json: no chat_template (and no chat_template.jinja) in ${this.dir}`,
      );
    return renderChatTemplate(src, validateMessages(messages as ChatMessage[]), {
      addGenerationPrompt: opts.addGenerationPrompt,
      bosToken: this.bosToken,
      eosToken: this.eosToken,
      extra: opts.extra,
    });
  }

  /** Renders and tokenizes a chat; no special tokens are added since the template writes them. */
  encodeChat(messages: unknown, opts: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, opts), { addSpecialTokens: false });
  }
}

/** Loads tokenizer.json and tokenizer_config.json (plus special_tokens_map.json if present). */
export function loadTokenizer(dir: string): Tokenizer {
  const root = resolve(dir);
  const tjPath = join(root, 'tokenizer.json');
  if (!existsSync(tjPath)) throw new FormatError('missing-file', `tokenizer.json: not found in ${root}`);
  const tokenizerJson = readJson(tjPath, 'tokenizer.json');
  const cfgPath = join(root, 'tokenizer_config.json');
  const config = existsSync(cfgPath) ? readJson(cfgPath, 'tokenizer_config.json') : {};
  // Older folders keep bos/eos/pad only in special_tokens_map.json.
  const mapPath = join(root, 'special_tokens_map.json');
  if (existsSync(mapPath)) {
    const map = readJson(mapPath, 'special_tokens_map.json');
    for (const k of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      if (config[k] === undefined || config[k] === null) if (map[k] !== undefined) config[k] = map[k];
    }
  }
  return new Tokenizer(root, tokenizerJson, config);
}
