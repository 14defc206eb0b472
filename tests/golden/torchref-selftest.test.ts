// The independent PyTorch reference (tests/tools/torchref.py) that the steering, sliding-window,
// longrope and adapter round-trip checks compare against must itself reproduce every golden fixture:
// its self test runs each model's golden batch (and each pyreft case's loss) and prints the largest
// error. A fixture it cannot run (a new architecture added without it) fails here, not in a later
// cross-check that trusts it. Tolerances are the fixtures' own (README: 2e-3 for llama-bf16).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PYTHON, torchSkipReason } from '../adapters/torch-python.ts';
import { FIXTURES, MODEL_ARCHS, REFT_CASES } from '../helpers/fixtures.ts';

const SELFTEST = fileURLToPath(new URL('../tools/torchref.py', import.meta.url));

test('torchref.py reproduces every golden model and pyreft case', { skip: torchSkipReason() }, () => {
  const r = spawnSync(PYTHON, ['-B', SELFTEST, FIXTURES], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `torchref self test failed: ${r.stderr.trim().split('\n').pop()}`);
  const errors = new Map(
    r.stdout
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .map(([name, err]) => [name, Number(err)] as const),
  );
  const expected = [...MODEL_ARCHS, ...REFT_CASES.map((c) => `reft/${c}`)];
  assert.deepEqual([...errors.keys()].sort(), expected.sort());
  for (const [name, err] of errors)
    assert.ok(err <= (name === 'llama-bf16' ? 2e-3 : 1e-4), `${name}: error ${err}`);
});
