// `reft-studio chat-template --model DIR --messages FILE.json [--generation-prompt]` → {"text": "..."}:
// the prompt text exactly as the model's chat template renders it (what generate --chat feeds in).
// The messages file holds a list of {role, content} or one chat dataset row {"messages": [...]}.

import { basename } from 'node:path';
import { readJsonFile } from '../../native-runtime/formats/json-file.ts';
import { validateMessages } from '../../native-runtime/tokenizer/chat-template.ts';
import { loadTokenizer } from '../../native-runtime/tokenizer/tokenizer.ts';
import { str, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { modelFolderFlag } from '../model-flag.ts';

/** Messages files: a long conversation, never a model's worth of bytes. */
const MESSAGES_MAX_BYTES = 16 * 1024 * 1024;

function readMessages(path: string): unknown {
  // Capped, regular files only, and errors that never quote the file (json-file.ts).
  const json = readJsonFile(path, path, MESSAGES_MAX_BYTES);
  if (json && typeof json === 'object' && !Array.isArray(json) && 'messages' in json) {
    return (json as { messages: unknown }).messages;
  }
  return json;
}

export const chatTemplateCommand: Command = {
  name: 'chat-template',
  summary: 'render a messages file with the model\'s chat template: {"text": "..."}',
  usage: 'chat-template --model DIR --messages FILE.json [--generation-prompt] [--template NAME]',
  options: {
    model: { type: 'string', description: 'the model folder whose tokenizer and chat template to use' },
    messages: { type: 'string', description: 'a JSON file: [{"role": "user", "content": "..."}, ...]' },
    'generation-prompt': {
      type: 'boolean',
      description: "end with the assistant's turn opening (as for generation)",
    },
    template: { type: 'string', description: 'a named template of the model (e.g. tool_use)' },
  },
  examples: ['chat-template --model ./Qwen2.5-0.5B-Instruct --messages chat.json --generation-prompt'],
  run(ctx) {
    const model = str(ctx.values, 'model');
    const file = str(ctx.values, 'messages');
    if (model === undefined) throw new UsageError('chat-template: --model DIR is required');
    if (file === undefined) throw new UsageError('chat-template: --messages FILE.json is required');
    const messages = validateMessages(readMessages(file), basename(file));
    const tok = loadTokenizer(modelFolderFlag(ctx, model));
    const text = tok.applyChatTemplate(messages, {
      addGenerationPrompt: ctx.values['generation-prompt'] === true,
      templateName: str(ctx.values, 'template'),
    });
    ctx.print({ text }, () => JSON.stringify({ text }));
    return 0;
  },
};
