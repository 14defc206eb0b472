// The 'tokens' process keeps the last model folders it opened (building a tokenizer takes a
// moment), but a folder whose tokenizer files changed since is opened again: the Train wizard's
// preview kept showing the old chat template after chat_template.jinja was edited, though training
// (which opens the folder afresh) would use the new one.

import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modelDir } from '../../../tests/helpers/fixtures.ts';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { previewTokens } from './run-tokenizing.ts';

test('previewTokens reads a chat template edited since the folder was kept', () => {
  const dir = join(tempDir('reft-run-tokenizing-'), 'llama');
  cpSync(modelDir('llama'), dir, { recursive: true });
  const args = {
    model: dir,
    example: { line: 1, kind: 'text' as const, prompt: 'Hi', completion: 'Ahoy' },
    config: {
      positions: 'f1+l1',
      layers: [1],
      shareWeights: false,
      maxLength: 64,
      chatTemplate: 'auto' as const,
    },
    probe: null,
  };
  const text = () =>
    previewTokens(args)
      .tokens.map((t) => t.text)
      .join('');
  assert.match(text(), /<\|user\|>/);
  writeFileSync(
    join(dir, 'chat_template.jinja'),
    "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}",
  );
  const after = text();
  assert.doesNotMatch(after, /<\|user\|>/);
  assert.match(after, /\[user\] Hi\[assistant\]/);
});
