// How many tokens each example of a dataset file is for a model, counted exactly as training will
// tokenize it (data.ts: the same file reader, the chat template rule, the completion plus eos), before
// truncation: the Datasets page draws their histogram and flags the examples longer than maxLength,
// which training would cut. Runs in the engine worker (tokenizing thousands of rows takes a while).
// Leaves out: the histogram itself (the backend bins the lengths) and truncation (only flagged).

import { ConfigError } from '../errors.ts';
import { openModelFolder } from '../models/model-folder.ts';
import { type DataFormat, encodePrompt, readDataset } from './data.ts';

export interface TokenLengthsInput {
  /** A model folder with a tokenizer. */
  model: string;
  /** A dataset file (a library version's frozen JSONL). */
  data: string;
  format?: DataFormat | 'auto';
  chatTemplate?: 'auto' | 'none';
}

export interface TokenLengths {
  /** Prompt + completion (+ eos) tokens of each example, in file order. */
  lengths: number[];
  /** The prompt's part of each. */
  promptLengths: number[];
  /** Whether the prompt was put through the model's chat template. */
  chatTemplate: boolean;
  /** The model's context length (training's maxLength is at most this). */
  maxPositions: number;
}

export function tokenLengths(input: TokenLengthsInput): TokenLengths {
  const folder = openModelFolder(input.model);
  const tok = folder.tokenizer;
  if (!tok)
    throw new ConfigError('missing-tokenizer', `${folder.dir}: no tokenizer.json to count tokens with`);
  const mode = input.chatTemplate ?? 'auto';
  // As prepareRun: the tokenizer's eos, else the model config's.
  const eos = (tok.eosTokenId ?? folder.spec.eosTokenIds[0] ?? null) !== null ? 1 : 0;
  const ds = readDataset(input.data, input.format ?? 'auto');
  const lengths = new Array<number>(ds.examples.length);
  const promptLengths = new Array<number>(ds.examples.length);
  ds.examples.forEach((ex, i) => {
    const p = encodePrompt(tok, ex, mode).length;
    promptLengths[i] = p;
    lengths[i] = p + tok.encode(ex.completion, { addSpecialTokens: false }).length + eos;
  });
  const templated = ds.format === 'chat' || (mode === 'auto' && tok.chatTemplate !== null);
  return { lengths, promptLengths, chatTemplate: templated, maxPositions: folder.spec.maxPositions };
}
