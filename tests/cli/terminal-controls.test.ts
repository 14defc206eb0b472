// What the CLI prints for people never carries a file's control characters to the terminal raw: a
// CSV header, a config.json value or a dataset row holding ESC ] 52 (write the clipboard), ESC ] 0
// (set the window title) or ESC [ 2 J (clear the screen) is shown as \x1b…, while --json keeps the
// exact text for the programs that read it (cli/terminal-text.ts).

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliIn } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

const root = tempDir('reft-terminal-controls-');
const data = join(root, 'home');
const OSC_TITLE = '\x1b]0;PWNED\x07';
const OSC_CLIPBOARD = '\x1b]52;c;cHduZWQ=\x07';
// Every control but newline and tab, C1 (U+0080–U+009F: U+009B is CSI on 8-bit terminals) included.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding raw control characters is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

test('an error line quoting a CSV header shows its escape sequences instead of sending them', async () => {
  const csv = join(root, 'evil.csv');
  writeFileSync(csv, `a${OSC_TITLE}b,c\x1b[31mRED\r\n1,2\n`);
  const r = await cliIn(data, 'datasets', 'import', csv);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.err, RAW_CONTROL, JSON.stringify(r.err));
  assert.match(r.err, /columns: a\\x1b\]0;PWNED\\x07b, c\\x1b\[31mRED/);
});

test("a model folder's config.json value in an error: visible in words, exact in --json", async () => {
  const model = join(root, 'evil-model');
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), JSON.stringify({ model_type: `ll${OSC_CLIPBOARD}ama` }));
  const r = await cliIn(data, 'models', 'add', model);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.err, RAW_CONTROL, JSON.stringify(r.err));
  assert.match(r.err, /model_type "ll\\x1b\]52;c;cHduZWQ=\\x07ama"/);

  const j = await cliIn(data, 'models', 'add', model, '--json');
  assert.equal(j.code, 1);
  assert.ok(JSON.parse(j.out).error.message.includes(`ll${OSC_CLIPBOARD}ama`), j.out);
});

test('rows a dataset shows keep newlines readable, C1 controls visible', async () => {
  const file = join(root, 'rows.jsonl');
  writeFileSync(file, `${JSON.stringify({ prompt: 'tab\there', completion: 'csi\u009b2Jx' })}\n`);
  const imported = await cliIn(data, 'datasets', 'import', file, '--json');
  assert.equal(imported.code, 0, imported.err);
  const id = JSON.parse(imported.out).dataset.id as number;
  const r = await cliIn(data, 'datasets', 'show', String(id), '--rows', '1');
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, RAW_CONTROL, JSON.stringify(r.out));
  assert.match(r.out, /csi\\x9b2Jx/);
});
