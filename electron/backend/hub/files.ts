// Which files of a Hub repository a model needs here: config, tokenizer, chat template, generation
// config and the safetensors weights at the top level. Everything else (pytorch_model.bin, ONNX and
// GGUF exports, original/ checkpoints, images, READMEs) is left on the Hub.

import { UnsupportedError } from '../../../native-runtime/errors.ts';
import type { HubFile } from './client.ts';

const NEEDED = new Set([
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'chat_template.jinja',
  'chat_template.json',
  'model.safetensors',
  'model.safetensors.index.json',
]);

const SHARD = /^model-\d{5}-of-\d{5}\.safetensors$/;

/** The files to download, or an UnsupportedError naming what is missing. */
export function selectModelFiles(repo: string, files: HubFile[]): HubFile[] {
  const top = files.filter((f) => !f.path.includes('/'));
  const picked = top.filter((f) => NEEDED.has(f.path) || SHARD.test(f.path));
  const names = new Set(picked.map((f) => f.path));
  if (!names.has('config.json'))
    throw new UnsupportedError('no-config', `${repo} has no config.json: not a transformers model`);
  if (!names.has('model.safetensors') && !names.has('model.safetensors.index.json')) {
    const bin = top.some((f) => /^pytorch_model.*\.bin$/.test(f.path));
    const gguf = files.some((f) => f.path.endsWith('.gguf'));
    throw new UnsupportedError(
      'no-safetensors',
      `${repo} has no safetensors weights${bin ? ' (only pytorch_model.bin)' : gguf ? ' (only GGUF files)' : ''}; the studio reads model.safetensors or its shards`,
    );
  }
  // A single file and an index both present: the index wins, as in transformers; drop the stray file.
  if (names.has('model.safetensors.index.json')) return picked.filter((f) => f.path !== 'model.safetensors');
  return picked.filter((f) => !SHARD.test(f.path));
}
