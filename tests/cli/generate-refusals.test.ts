// `reft-studio generate` refuses a request the model cannot serve before anything is converted or
// loaded: a prompt longer than the context, an empty one, --chat on a model without a chat template,
// a prompt and answer longer than the window of a model mixing sliding-window and full layers.
// With --quantize int8 the base would be converted first (a copy written under <data>/bases, minutes on
// a large model); the refusal must come alone, as one line, and leave the data folder empty.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { qwenMixedWindow } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';
import { modelWithoutBosOrTemplate } from '../training/helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const root = tempDir('reft-generate-refusals-');
const model = modelWithoutBosOrTemplate(join(root, 'model'));
const mixed = qwenMixedWindow(join(root, 'qwen2-mixed'));

function refused(args: string[], line: RegExp, on = model): void {
  const data = tempDir('reft-generate-refusals-data-');
  const r = spawnSync(
    process.execPath,
    [BIN, 'generate', '--model', on, '--quantize', 'int8', '--data-dir', data, ...args],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, nothing converted first: ${r.stderr}`);
  assert.match(lines[0], line);
  assert.equal(existsSync(join(data, 'bases')), false, 'no converted base written');
}

describe('reft-studio generate: refusals before the base is converted', () => {
  it('a prompt longer than the context', () => {
    refused(
      ['--prompt', 'word '.repeat(3000)],
      /^error: the prompt has \d+ tokens; the model takes at most 255$/,
    );
  });

  it('an empty prompt on a model that adds no start token', () => {
    refused(['--prompt', '  '], /^error: the prompt is empty and this model adds no start token to it/);
  });

  it('a model folder whose config.json is cut short: the file named by its path', () => {
    const broken = join(root, 'broken-config');
    cpSync(model, broken, { recursive: true });
    writeFileSync(join(broken, 'config.json'), '{"model_type": "llama", ');
    // Not "config.json: not valid JSON": a pyreft --adapter beside it has a config.json too.
    refused(['--prompt', 'hello'], /^error: .+broken-config[\\/]config\.json: not valid JSON /, broken);
  });

  it('--chat on a model without a chat template', () => {
    refused(['--prompt', 'hello', '--chat'], /^error: .*: the model has no chat template$/);
  });

  it('a prompt and answer past the window of a model mixing windowed and full layers', () => {
    refused(
      ['--prompt', 'hi', '--max-new-tokens', '3'],
      /^error: this model mixes sliding-window and full-attention layers, so a prompt and its answer must fit in its 4-token window: the prompt has 3 tokens and 3 new ones were asked for; ask for at most 2 new tokens$/,
      mixed,
    );
  });
});
