// How a model (and its adapters) reads a request, known before any weight is touched: the model's
// config and tokenizer, and the prompt format the adapters were trained on. Every refusal that
// depends only on the request — an empty prompt, one longer than the model's context, a token past
// its vocabulary, a chat template the model does not have, adapters that want differently formatted
// prompts — is made here, so it comes before a base is converted or a session opens (minutes on a
// large model). ModelRunner.open hands one out with the load still to do; the loaded runner keeps
// it and checks every request through it again.

import { ConfigError } from '../errors.ts';
import type { StudioManifest } from '../formats/studio-adapter.ts';
import type { ModelSpec } from '../models/config.ts';
import { plural } from '../plural.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import {
  type Dataset,
  encodePrompt,
  specialIds,
  type TextExample,
  tokenizeDataset,
} from '../training/data.ts';
import type { TokenizedRows } from '../training/tokenized-rows.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A prompt: a text (formatted as in training), or a conversation for the chat template. */
export type PromptInput = string | { messages: ChatMessage[] };

/** Composed adapters that want differently formatted prompts, refused where 'auto' must pick one. */
export function templateConflictError(conflict: string): ConfigError {
  return new ConfigError(
    'prompt-template-conflict',
    `${conflict}: compose adapters trained alike, or pass --chat to format the prompt through the chat template for every adapter`,
  );
}

/**
 * A conversation sent to a model without a chat template. `instead` is what the asker can do in its
 * place, worded where that is known (the Playground's Plain prompt option, an evaluation's dataset).
 */
export function noChatTemplateError(instead?: string): ConfigError {
  const why = 'this model has no chat template, so it cannot read a conversation';
  return new ConfigError('missing-chat-template', instead ? `${why}: ${instead}` : why);
}

/** Where a model folder keeps its chat template, as messages that ask for one name it. */
export const CHAT_TEMPLATE_PLACES = 'chat_template.jinja, or chat_template in tokenizer_config.json';

/**
 * A text prompt for an adapter trained through the chat template, on a model without one (a copy of
 * its base with the same weights): the adapter's own need, said as such. `instead` is what the asker
 * can do, worded where that is known (the Playground's Plain prompt option).
 */
export function adapterNeedsChatTemplateError(adapter: string, instead?: string): ConfigError {
  return new ConfigError(
    'adapter-needs-chat-template',
    `${adapter} was trained on chat-formatted prompts, and this model has no chat template: ${instead ?? `use it on a model folder that has the chat template it was trained with (${CHAT_TEMPLATE_PLACES})`}`,
  );
}

/**
 * How a generation request's text prompt is formatted when it does not say (generate without --chat,
 * generate/run without chat): as its adapters were trained ('auto'), and plain on the base model
 * alone, whose prompt is the caller's text as given.
 */
export function defaultChat(withAdapters: boolean): 'auto' | false {
  return withAdapters ? 'auto' : false;
}

/** New tokens a generation asks for when the request does not say. */
export const DEFAULT_MAX_NEW_TOKENS = 128;

export class PromptReader {
  /**
   * `spec` is the model folder's (its positions, vocabulary and end tokens are the same in every
   * base form); `manifest` the adapter whose prompt format counts (null: the base model);
   * `templateConflict` why composed adapters have no common format, or null; `adapterName` names
   * the adapter of `manifest` in messages ("adapter ./pirate").
   */
  constructor(
    readonly spec: ModelSpec,
    readonly tokenizer: Tokenizer,
    readonly manifest: StudioManifest | null,
    readonly templateConflict: string | null = null,
    readonly adapterName = 'the adapter',
  ) {}

  /**
   * Whether a text prompt goes through the chat template by default: as the adapter was trained, or
   * when the model has one. A base model measured beside an adapter takes the adapter's choice.
   * Composed adapters trained on differently formatted prompts have none: refused.
   */
  get usesChatTemplate(): boolean {
    if (this.templateConflict) throw templateConflictError(this.templateConflict);
    return this.manifest ? this.manifest.promptTemplate === 'chat' : this.tokenizer.chatTemplate !== null;
  }

  /** Prompt token ids: through the chat template when `chat` says so ('auto': usesChatTemplate). */
  encodePrompt(prompt: string, chat: boolean | 'auto' = 'auto'): number[] {
    const useTemplate = chat === 'auto' ? this.usesChatTemplate : chat;
    if (useTemplate && !this.tokenizer.chatTemplate) {
      // Asked for by the adapter's training, not by the caller: say so, or the model seems at fault.
      if (chat === 'auto' && this.manifest) throw adapterNeedsChatTemplateError(this.adapterName);
      throw new ConfigError('missing-chat-template', `${this.spec.dir}: the model has no chat template`);
    }
    const ex: TextExample = { line: 0, kind: 'text', prompt, completion: '' };
    return encodePrompt(this.tokenizer, ex, useTemplate ? 'auto' : 'none');
  }

  /** A conversation's token ids through the chat template, ready for the assistant's turn. */
  encodeChat(messages: ChatMessage[]): number[] {
    if (!this.tokenizer.chatTemplate) throw noChatTemplateError();
    return this.tokenizer.encodeChat(messages, { addGenerationPrompt: true });
  }

  /** Refuses prompt ids this model cannot read: none, too many for its positions, or past its vocabulary. */
  checkPrompt(ids: readonly number[]): void {
    // A tokenizer that adds no start token (Qwen's) gives an empty text no ids at all.
    if (ids.length === 0)
      throw new ConfigError(
        'empty-prompt',
        'the prompt is empty and this model adds no start token to it: give some text',
      );
    const limit = this.spec.maxPositions;
    if (ids.length >= limit)
      throw new ConfigError(
        'prompt-too-long',
        `the prompt has ${plural(ids.length, 'token')}; the model takes at most ${limit - 1}`,
      );
    // A tokenizer with more ids than the embedding has rows (added tokens, a mismatched
    // tokenizer.json) would reach ORT's Gather as an out-of-bounds index.
    const over = ids.find((id) => id >= this.spec.vocabSize);
    if (over !== undefined)
      throw new ConfigError(
        'bad-token',
        `the prompt has token id ${over}, outside the model's vocabulary (config.json vocab_size=${this.spec.vocabSize}); tokenizer.json has ids the model's weights do not`,
      );
  }

  /** One prompt's ids as the model reads it, checked (`chat` as in encodePrompt). */
  promptIds(prompt: PromptInput, chat: boolean | 'auto' = 'auto'): number[] {
    const ids =
      typeof prompt === 'string' ? this.encodePrompt(prompt, chat) : this.encodeChat(prompt.messages);
    this.checkPrompt(ids);
    return ids;
  }

  /**
   * A generation request read as the model will: every prompt's ids, checked, and the new tokens
   * the batch gets — `maxNewTokens` cut to what the context holds after the longest prompt (the
   * answer then ends with 'context', said, not refused). A model mixing sliding-window and full
   * layers cannot cache past its window: a prompt and answer longer than it are refused.
   */
  request(
    prompts: PromptInput[],
    opts: { chat?: boolean | 'auto'; maxNewTokens?: number } = {},
  ): { ids: number[][]; maxNew: number } {
    const ids = prompts.map((p) => this.promptIds(p, opts.chat ?? 'auto'));
    const longest = Math.max(...ids.map((p) => p.length));
    const maxNew = Math.min(opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS, this.spec.maxPositions - longest);
    const sw = this.spec.slidingWindow;
    // The last new token is not fed back, so the window holds the prompt and maxNew − 1 answer tokens.
    if (sw && !sw.layers.every(Boolean) && longest + maxNew - 1 > sw.size)
      throw new ConfigError(
        'sliding-window-mixed',
        `this model mixes sliding-window and full-attention layers, so a prompt and its answer must fit in its ${sw.size}-token window: the prompt has ${longest} tokens and ${maxNew} new ones were asked for; ${longest <= sw.size ? `ask for at most ${sw.size - longest + 1} new tokens` : 'shorten the prompt'}`,
      );
    return { ids, maxNew };
  }

  /**
   * The ids that end an answer: the model's (generation_config.json, else config.json) and the end
   * token training appends to every completion (data.ts specialIds), which a config may not name:
   * an adapter trained here ends its answers with it.
   */
  get eosTokenIds(): number[] {
    const own = this.spec.eosTokenIds;
    const { eosId } = specialIds(this.tokenizer, this.spec);
    return eosId === null || own.includes(eosId) ? own : [...own, eosId];
  }

  /**
   * A dataset's examples as the held-out loss reads them (prompts as training formats them, or
   * through the chat template as `chat` says), cut to `maxLength` (at most the model's positions).
   */
  lossRows(ds: Dataset, opts: { chat?: boolean; maxLength?: number; limit?: number } = {}): TokenizedRows {
    const chat = (opts.chat ?? this.usesChatTemplate) ? 'auto' : 'none';
    const { eosId } = specialIds(this.tokenizer, this.spec);
    const maxLength = Math.min(opts.maxLength ?? 512, this.spec.maxPositions);
    const limited: Dataset = opts.limit ? { ...ds, examples: ds.examples.slice(0, opts.limit) } : ds;
    return tokenizeDataset(
      this.tokenizer,
      limited,
      { maxLength, chatTemplate: chat, eosId },
      this.spec.vocabSize,
    );
  }
}
