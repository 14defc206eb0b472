import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import { planSafetensors, writeSafetensorsStream } from './safetensors-stream.ts';

// Every model folder has a model.safetensors: a message naming only the base name does not say which.
const plan = () => planSafetensors([{ name: 't0', dtype: 'F32', shape: [4, 4] }]);
const produce = async (slot: { byteLength: number }, sink: (b: Uint8Array, at: number) => void) =>
  sink(new Uint8Array(slot.byteLength), 0);

test('a write the disk cannot hold names the whole path of the file', async () => {
  const path = join(tempDir('st-stream-'), 'store', 'model.safetensors');
  await assert.rejects(
    writeSafetensorsStream(path, plan(), { reserveBytes: 2 ** 60, produce }),
    (e: Error) => {
      assert.equal((e as { code?: string }).code, 'disk-full');
      assert.ok(e.message.startsWith(`${path}: needs `), e.message);
      return true;
    },
  );
  assert.equal(existsSync(path), false);
});

test('a cancelled write names the whole path of the file', async () => {
  const path = join(tempDir('st-stream-'), 'store', 'model.safetensors');
  const signal = AbortSignal.abort();
  await assert.rejects(writeSafetensorsStream(path, plan(), { reserveBytes: 0, signal, produce }), {
    code: 'cancelled',
    message: `${path}: conversion cancelled`,
  });
  assert.equal(existsSync(path), false);
});
