// Temp folders and small datasets for the training tests.

import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainConfig } from '../../native-runtime/training/config.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir as sharedTempDir } from '../helpers/temp.ts';

/** A temp folder removed when the test file's process exits. */
export const tempDir = (prefix = 'reft-train-'): string => sharedTempDir(prefix);

/**
 * The Llama fixture copied to `dir` with a tokenizer that adds no bos (a one-word prompt is one
 * token) and, given `normalizer`, that normalizer (a Strip one turns a blank prompt into no tokens).
 */
export function modelWithoutBos(dir: string, normalizer?: unknown): string {
  cpSync(modelDir('llama'), dir, { recursive: true });
  const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  tok.post_processor = null;
  if (normalizer !== undefined) tok.normalizer = normalizer;
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok));
  return dir;
}

/**
 * The Llama fixture in `dir` with a tokenizer that adds no bos and strips blanks (a blank prompt is
 * no tokens), and no chat template: a model that refuses empty prompts and the chat template.
 */
export function modelWithoutBosOrTemplate(dir: string): string {
  modelWithoutBos(dir, { type: 'Strip', strip_left: true, strip_right: true });
  rmSync(join(dir, 'chat_template.jinja'));
  return dir;
}

/**
 * The Llama fixture in `dir` with a tokenizer that strips blanks and no end-of-sequence token
 * (neither the tokenizer's nor the model's): a blank completion is no tokens at all.
 */
export function modelWithoutEos(dir: string): string {
  modelWithoutBos(dir, { type: 'Strip', strip_left: true, strip_right: true });
  for (const [file, key] of [
    ['tokenizer_config.json', 'eos_token'],
    ['config.json', 'eos_token_id'],
    ['generation_config.json', 'eos_token_id'],
  ]) {
    const json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    delete json[key];
    writeFileSync(join(dir, file), JSON.stringify(json));
  }
  return dir;
}

export function writeJsonl(path: string, rows: unknown[]): string {
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return path;
}

export const WORDS = [
  'cat',
  'dog',
  'sun',
  'moon',
  'tree',
  'rock',
  'fish',
  'bird',
  'rain',
  'snow',
  'wind',
  'fire',
  'star',
  'leaf',
  'sand',
  'milk',
  'bread',
  'ship',
  'road',
  'door',
];

/** 20 prompt-completion rows that all teach the same completion. */
export function constantRows(completion: string): Array<{ prompt: string; completion: string }> {
  return WORDS.map((w) => ({ prompt: `Tell me about the ${w}.`, completion }));
}

/** A small LoReFT run on the llama fixture (layers 1 and 3, f1+l1, rank 4, batch 4) over `data`. */
export function llamaRun(data: string, o: Partial<TrainConfig> = {}): Omit<TrainConfig, 'out'> {
  return {
    model: modelDir('llama'),
    data,
    layers: '1;3',
    positions: 'f1+l1',
    rank: 4,
    lr: 1e-2,
    epochs: 2,
    batchSize: 4,
    seed: 3,
    device: 'cpu',
    ...o,
  };
}
