import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import { checkpointName, listCheckpoints, STATE_FILE } from './checkpoint.ts';

test('listCheckpoints: oldest first by step, past the 6 digits names are padded to', () => {
  const dir = tempDir('ckpt-order-');
  for (const step of [1_000_000, 999_999, 12, 2_000_001]) {
    mkdirSync(join(dir, checkpointName(step)));
    writeFileSync(join(dir, checkpointName(step), STATE_FILE), '{}');
  }
  mkdirSync(join(dir, checkpointName(5))); // no state file: not a checkpoint (a write that died)
  assert.deepEqual(
    listCheckpoints(dir).map((p) => basename(p)),
    ['step-000012', 'step-999999', 'step-1000000', 'step-2000001'],
  );
});
