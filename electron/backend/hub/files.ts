// Which files of a Hub repository a model needs here: config, tokenizer, chat template, generation
// config and the safetensors weights at the top level — for a sharded checkpoint, the shards its
// index names (a repository can hold stale shards of an earlier upload, or shards named otherwise).
// Everything else (pytorch_model.bin, ONNX and GGUF exports, original/ checkpoints, images, READMEs)
// is left on the Hub.

import { FormatError, UnsupportedError } from '../../../native-runtime/errors.ts';
import { parseJsonText } from '../../../native-runtime/formats/json-file.ts';
import { readShardIndex } from '../../../native-runtime/models/weights.ts';
import type { HubFile } from './client.ts';

export const SHARD_INDEX = 'model.safetensors.index.json';

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
  SHARD_INDEX,
]);

/**
 * The files to download but a sharded checkpoint's shards (shardFiles names those, from the index),
 * or an UnsupportedError naming what is missing.
 */
export function selectModelFiles(repo: string, files: HubFile[]): HubFile[] {
  const picked = files.filter((f) => NEEDED.has(f.path));
  const names = new Set(picked.map((f) => f.path));
  if (!names.has('config.json'))
    throw new UnsupportedError('no-config', `${repo} has no config.json: not a transformers model`);
  if (!names.has('model.safetensors') && !names.has(SHARD_INDEX)) {
    const bin = files.some((f) => /^pytorch_model.*\.bin$/.test(f.path));
    const gguf = files.some((f) => f.path.endsWith('.gguf'));
    throw new UnsupportedError(
      'no-safetensors',
      `${repo} has no safetensors weights${bin ? ' (only pytorch_model.bin)' : gguf ? ' (only GGUF files)' : ''}; the studio reads model.safetensors or its shards`,
    );
  }
  // A single file and an index both present: the index wins, as in transformers; drop the stray file.
  if (names.has(SHARD_INDEX)) return picked.filter((f) => f.path !== 'model.safetensors');
  return picked;
}

/** The shards `indexText` (the repository's model.safetensors.index.json) names, each one listed. */
export function shardFiles(repo: string, files: HubFile[], indexText: string): HubFile[] {
  const label = `${repo}: ${SHARD_INDEX}`;
  const json = parseJsonText(indexText, label);
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new FormatError('bad-json', `${label}: expected a JSON object`);
  const byPath = new Map(files.map((f) => [f.path, f]));
  return readShardIndex(json as Record<string, unknown>, label).shards.map((s) => {
    const f = byPath.get(s);
    if (!f)
      throw new FormatError(
        'missing-shard',
        `${label} names ${s.slice(0, 120)}, which the repository does not have`,
      );
    return f;
  });
}
