// A --positions value the command line alone shows to be wrong is bad usage (docs/cli.md: one clear
// line, exit 2), said before any model is loaded or library entry made, as `train` and `bench train`
// say it. `generate`, `evaluate` and `import` read it only once the adapter was being opened: exit 1
// after "loading the model", and `generate` without an --adapter took it in silence.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, tempDir } from '../backend/helpers.ts';

const MODEL = 'tests/fixtures/golden/models/llama';
const PYREFT = 'tests/fixtures/golden/reft/llama-noreft/pyreft_final';
const DATA = 'resources/demo/persona.jsonl';
const LINE =
  'error: --positions: "f1+x" is not understood: use "fN" (first N prompt tokens), "lM" (last M) or "fN+lM", e.g. "f1+l1"\n';

async function refused(args: string[], line = LINE, code = 'bad-positions'): Promise<void> {
  const dataDir = join(tempDir('positions-refusals'), 'data');
  const r = await runCli([...args, '--positions', 'f1+x', '--data-dir', dataDir]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, line, 'one line, and nothing loaded before it');
  assert.equal(r.stdout, '');
  // Refused before the library was opened: nothing recorded, nothing converted.
  assert.equal(existsSync(dataDir), false, 'the data folder is not made');

  const json = await runCli([...args, '--positions', 'f1+x', '--data-dir', dataDir, '--json']);
  assert.equal(json.code, 2);
  const error = JSON.parse(json.stdout).error;
  assert.equal(error.type, 'UsageError');
  assert.equal(error.code, code);
}

describe('a malformed --positions is bad usage before anything is loaded', () => {
  it('generate with an adapter folder', () =>
    refused(['generate', '--model', MODEL, '--adapter', PYREFT, '--prompt', 'hi']));

  // Without an adapter any --positions is refused, well-formed or not (generate-compose.test.ts).
  it('generate without an adapter: refused, not ignored', () =>
    refused(
      ['generate', '--model', MODEL, '--prompt', 'hi'],
      'error: generate: --positions needs --adapter (it applies to an adapter)\n',
      'usage',
    ));

  it('evaluate', () =>
    refused(['evaluate', '--model', MODEL, '--adapter', PYREFT, '--data', DATA, '--limit', '1']));

  it('import', () => refused(['import', PYREFT, '--model', MODEL]));
});
