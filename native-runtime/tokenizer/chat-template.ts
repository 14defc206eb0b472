// Chat templates: find a model's Jinja chat template and render a list of messages with it, the
// way transformers' apply_chat_template does (variables messages, bos_token, eos_token,
// add_generation_prompt, raise_exception, plus tools/documents/extra keyword arguments).
//
// Where the template lives, in transformers' order of precedence:
//   1. chat_template.jinja (transformers ≥ 4.49 saves it there),
//   2. tokenizer_config.json `chat_template`: a string, or a list of {name, template};
//   3. additional_chat_templates/<name>.jinja for named templates.
// Leaves out: tokenization of the result (Tokenizer.applyChatTemplate does it with
// addSpecialTokens false, because the template already writes bos).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Environment, Template } from '@huggingface/jinja';
import { FormatError, ValidationError } from '../errors.ts';
import { FILE_LIMITS, readFileCapped } from '../formats/json-file.ts';
import { BudgetedInterpreter, boundedRange, TemplateOverBudget } from './template-budget.ts';

export interface ChatMessage {
  role: string;
  /** A string, or a list of content parts ({type: 'text', text}) for multimodal templates. */
  content: string | unknown[] | null;
  [key: string]: unknown;
}

export interface ChatTemplateSource {
  /** The template text. */
  template: string;
  /** Where it came from, for messages: 'chat_template.jinja' or 'tokenizer_config.json chat_template[default]'. */
  source: string;
}

export interface RenderOptions {
  addGenerationPrompt?: boolean;
  bosToken?: string | null;
  eosToken?: string | null;
  /** Extra template variables (tools, documents, enable_thinking, …). */
  extra?: Record<string, unknown>;
}

/**
 * Finds the chat template of a tokenizer folder. `name` selects a named template ('default' when
 * omitted; 'tool_use' and others exist in some models). Returns null when the folder has none.
 */
export function findChatTemplate(
  dir: string,
  tokenizerConfig: Record<string, unknown> | null,
  name?: string,
): ChatTemplateSource | null {
  const wanted = name ?? 'default';
  if (wanted === 'default') {
    const file = join(dir, 'chat_template.jinja');
    if (existsSync(file))
      return {
        template: readFileCapped(file, FILE_LIMITS.config, 'chat_template.jinja').toString('utf8'),
        source: 'chat_template.jinja',
      };
  }
  const field = tokenizerConfig?.chat_template;
  if (typeof field === 'string' && wanted === 'default') {
    return { template: field, source: 'tokenizer_config.json chat_template' };
  }
  if (Array.isArray(field)) {
    for (const entry of field) {
      if (entry && typeof entry === 'object' && (entry as { name?: unknown }).name === wanted) {
        const t = (entry as { template?: unknown }).template;
        if (typeof t !== 'string')
          throw new FormatError(
            'bad-chat-template',
            `tokenizer_config.json: chat_template[${wanted}].template must be a string`,
          );
        return { template: t, source: `tokenizer_config.json chat_template[${wanted}]` };
      }
    }
  }
  const named = join(dir, 'additional_chat_templates', `${wanted}.jinja`);
  if (existsSync(named))
    return {
      template: readFileCapped(
        named,
        FILE_LIMITS.config,
        `additional_chat_templates/${wanted}.jinja`,
      ).toString('utf8'),
      source: `additional_chat_templates/${wanted}.jinja`,
    };
  if (name !== undefined) {
    throw new FormatError(
      'missing-chat-template',
      `tokenizer_config.json: no chat template named "${name}" in ${dir}`,
    );
  }
  return null;
}

/** Checks that `messages` is a list of {role, content} objects; `label` names the input in errors. */
export function validateMessages(messages: unknown, label = 'messages'): ChatMessage[] {
  if (!Array.isArray(messages))
    throw new ValidationError('bad-messages', `${label}: expected a JSON array of {role, content} objects`);
  messages.forEach((m, i) => {
    if (!m || typeof m !== 'object' || Array.isArray(m))
      throw new ValidationError('bad-messages', `${label}[${i}]: expected an object with role and content`);
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || role === '')
      throw new ValidationError('bad-messages', `${label}[${i}].role: expected a non-empty string`);
    if (content !== null && content !== undefined && typeof content !== 'string' && !Array.isArray(content)) {
      throw new ValidationError(
        'bad-messages',
        `${label}[${i}].content: expected a string or a list of parts`,
      );
    }
  });
  return messages as ChatMessage[];
}

class TemplateRejected extends Error {}

/** strftime_now(format) as transformers provides it (Llama 3 templates print today's date). */
function strftimeNow(format: string): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'long' | 'short') => new Intl.DateTimeFormat('en-US', { month: style }).format(d);
  const weekday = (style: 'long' | 'short') => new Intl.DateTimeFormat('en-US', { weekday: style }).format(d);
  const table: Record<string, () => string> = {
    Y: () => String(d.getFullYear()),
    y: () => pad(d.getFullYear() % 100),
    m: () => pad(d.getMonth() + 1),
    d: () => pad(d.getDate()),
    b: () => month('short'),
    B: () => month('long'),
    a: () => weekday('short'),
    A: () => weekday('long'),
    H: () => pad(d.getHours()),
    M: () => pad(d.getMinutes()),
    S: () => pad(d.getSeconds()),
    '%': () => '%',
  };
  return format.replace(/%(.)/g, (m, c: string) => table[c]?.() ?? m);
}

/** The globals @huggingface/jinja's Template.render() defines, minus raise_exception (ours). */
const JINJA_GLOBALS: Record<string, unknown> = {
  true: true,
  false: false,
  none: null,
  True: true,
  False: false,
  None: null,
  range: boundedRange,
  strftime_now: strftimeNow,
};

// Parsing a long template costs a few ms; generation renders the same one on every turn.
const compiled = new Map<string, Template>();

/** Renders messages with a chat template. */
export function renderChatTemplate(
  src: ChatTemplateSource,
  messages: ChatMessage[],
  opts: RenderOptions = {},
): string {
  let tmpl = compiled.get(src.template);
  if (!tmpl) {
    try {
      tmpl = new Template(src.template);
    } catch (e) {
      throw new FormatError(
        'bad-chat-template',
        `${src.source}: cannot parse the chat template (${(e as Error).message})`,
      );
    }
    if (compiled.size > 32) compiled.clear();
    compiled.set(src.template, tmpl);
  }
  // A template calls raise_exception to reject the conversation (roles not alternating, a system
  // message where none is allowed): that is a problem with the messages, not with the template.
  // Template.render() refuses to redefine its built-in raise_exception (and the built-in throws a
  // plain Error), so we run the interpreter on our own environment with the same globals.
  const raise = (msg: unknown) => {
    throw new TemplateRejected(String(msg));
  };
  try {
    const env = new Environment();
    const vars = {
      ...JINJA_GLOBALS,
      ...opts.extra,
      messages,
      bos_token: opts.bosToken ?? '',
      eos_token: opts.eosToken ?? '',
      add_generation_prompt: opts.addGenerationPrompt ?? false,
      raise_exception: raise,
    };
    for (const [k, v] of Object.entries(vars)) env.set(k, v);
    // The template comes with the model: its work is bounded (template-budget.ts).
    return new BudgetedInterpreter(env).run(tmpl.parsed).value as string;
  } catch (e) {
    if (e instanceof TemplateRejected)
      throw new ValidationError(
        'chat-template-rejected',
        `${src.source}: the chat template rejected the messages: ${e.message}`,
      );
    if (e instanceof TemplateOverBudget)
      throw new FormatError(
        'chat-template-too-costly',
        `${src.source}: the chat template was stopped: ${e.message}; a chat template only formats messages, so this one is broken or hostile`,
      );
    throw new FormatError('chat-template-error', `${src.source}: rendering failed (${(e as Error).message})`);
  }
}
