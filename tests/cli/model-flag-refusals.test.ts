// Every command that takes --model DIR refuses a path that is no folder in the same words: a file
// (config.json itself, the usual slip) as a file to be replaced by its folder, a missing path as
// missing. generate, tokenize, bench and chat-template said "model folder does not exist or is not
// a folder" for both, while train said which.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/temp.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const root = tempDir('reft-model-flag-');
const file = join(root, 'config.json');
writeFileSync(file, '{}');
const missing = join(root, 'no-model');
const data = join(root, 'prompts.jsonl');
writeFileSync(data, '{"input": "a", "output": "b"}\n');
const messages = join(root, 'messages.json');
writeFileSync(messages, '[{"role": "user", "content": "hi"}]');

/** Each command's arguments besides --model, enough that --model is what it refuses. */
const COMMANDS: Record<string, string[]> = {
  train: ['train', '--data', data],
  generate: ['generate', '--prompt', 'hi'],
  tokenize: ['tokenize', '--text', 'hi'],
  'bench prefill': ['bench', 'prefill'],
  'chat-template': ['chat-template', '--messages', messages],
};

function refusal(args: string[], model: string): string {
  const r = spawnSync(
    process.execPath,
    [BIN, ...args, '--model', model, '--data-dir', tempDir('reft-model-flag-data-')],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 1, r.stderr);
  return r.stderr;
}

describe('--model DIR given no folder: one wording for every command', () => {
  for (const [name, args] of Object.entries(COMMANDS)) {
    it(`${name}: a file is named as a file, a missing path as missing`, () => {
      assert.equal(
        refusal(args, file),
        `error: ${file} is a file; give the model's folder (the one holding config.json and the safetensors files)\n`,
      );
      assert.equal(refusal(args, missing), `error: ${missing}: no such folder\n`);
    });
  }
});
