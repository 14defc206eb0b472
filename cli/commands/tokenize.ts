// `reft-studio tokenize --model DIR --text STR [--no-special]` → {"ids": [...], "tokens": [...]}.
// Always JSON, with or without --json: the output is for scripts and for checking a tokenizer
// against transformers.

import { loadTokenizer } from '../../native-runtime/tokenizer/tokenizer.ts';
import { str, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { modelFolderFlag } from '../model-flag.ts';

export const tokenizeCommand: Command = {
  name: 'tokenize',
  summary: 'tokenize text with a model\'s tokenizer: {"ids": [...], "tokens": [...]}',
  usage: 'tokenize --model DIR --text STR [--no-special]',
  options: {
    model: { type: 'string', description: 'the model folder whose tokenizer to use' },
    text: { type: 'string', description: 'the text to tokenize' },
    'no-special': { type: 'boolean', description: 'do not add special tokens (BOS/EOS)' },
  },
  examples: ['tokenize --model ./SmolLM2-135M --text "Hello world"'],
  run(ctx) {
    const model = str(ctx.values, 'model');
    const text = str(ctx.values, 'text');
    if (model === undefined) throw new UsageError('tokenize: --model DIR is required');
    if (text === undefined) throw new UsageError('tokenize: --text STR is required');
    const tok = loadTokenizer(modelFolderFlag(ctx, model));
    const ids = tok.encode(text, { addSpecialTokens: ctx.values['no-special'] !== true });
    const out = { ids, tokens: tok.tokens(ids) };
    ctx.print(out, () => JSON.stringify(out));
    return 0;
  },
};
