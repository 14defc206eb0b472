// A choice option's select shows a stored value spelled outside its choices as a choice of its own
// (a run's `--quantize int4-b64` reopened in the Train form), so re-using the settings keeps it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QUANTIZE_OPTION_CHOICES } from '../../native-runtime/training/options.ts';
import { choicesShowing } from '../../renderer/src/lib/train/choices.ts';

test('a value outside the choices is added after them; one of them, or none, adds nothing', () => {
  const values = (v: unknown) => choicesShowing(QUANTIZE_OPTION_CHOICES, v).map((c) => c.value);
  assert.deepEqual(values('int4-b64'), ['auto', 'none', 'int8', 'int4', 'int4-b64']);
  assert.deepEqual(values('int8'), ['auto', 'none', 'int8', 'int4']);
  assert.deepEqual(values(null), ['auto', 'none', 'int8', 'int4']);
  assert.deepEqual(values(''), ['auto', 'none', 'int8', 'int4']);
});
