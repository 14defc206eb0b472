import assert from 'node:assert/strict';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import { checkpointName, listCheckpoints, readAdamStep, STATE_FILE } from './checkpoint.ts';

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

test('readAdamStep reads only the header: an optimizer file past 2 GiB still gives its step', () => {
  // The moments of a big run: 3.2 GB of F32, a sparse file here (no disk, nothing read). Reading the
  // whole file for its header failed past 2 GiB (ERR_FS_FILE_TOO_LARGE) and held it all in memory.
  const path = join(tempDir('ckpt-adam-step-'), 'optimizer.safetensors');
  const bytes = 3_200_000_000;
  const header = Buffer.from(
    JSON.stringify({
      __metadata__: { format: 'reft-studio-optimizer', adamStep: '7' },
      'm/x': { dtype: 'F32', shape: [bytes / 4], data_offsets: [0, bytes] },
    }),
  );
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(path, Buffer.concat([len, header]));
  truncateSync(path, 8 + header.length + bytes);
  assert.equal(readAdamStep(path), 7);
});
