// Errors reach the window in words, without Node's errno text or temporary paths: the estimate of a
// run whose dataset file went missing answered "ENOENT: no such file or directory, open '/…/<hash>.jsonl'"
// as an internal error; the studio's own errors keep their code with errno fragments rewritten.

import assert from 'node:assert/strict';
import { readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { cleanMessage, toUserError } from '../../electron/backend/rpc/user-errors.ts';
import { FormatError } from '../../native-runtime/errors.ts';
import { LLAMA_FIXTURE, tempDir, writeJsonl } from './helpers.ts';

const root = tempDir('user-errors');
const dataDir = join(root, 'data');
let b: Backend;
let nextId = 1;

// biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
async function call(method: string, params: unknown): Promise<any> {
  return b.handle({ type: 'request', id: nextId++, method, params });
}

before(() => {
  b = createBackend(dataDir, { seedDemo: false });
});
after(() => b.close());

test('a missing dataset file: a file-missing error in words, not errno text', async () => {
  const modelId = (await call('models/add', { path: LLAMA_FIXTURE })).result.id;
  const file = join(root, 'd.jsonl');
  writeJsonl(file, 4);
  const ds = (await call('datasets/import', { path: file })).result;
  unlinkSync(ds.version.filePath);
  const r = await call('runs/estimate', { modelId, datasetId: ds.dataset.id, calibrate: true });
  assert.equal(r.type, 'error');
  assert.equal(r.error.code, 'file-missing');
  assert.doesNotMatch(r.error.message, /ENOENT|no such file or directory, open|\/tmp\//);
  assert.match(r.error.message, /^datasets\/[0-9a-f]+\.jsonl in the data folder: no such file or folder$/);
});

test('Node file errors and errno fragments become phrases; temporary paths lose their folder', () => {
  let raw: unknown;
  try {
    readFileSync(join(tmpdir(), 'reft-calibrate-x1y2', 'ckpt', 'state.json'));
  } catch (e) {
    raw = e;
  }
  assert.deepEqual(toUserError(raw, dataDir), {
    type: 'FileError',
    code: 'file-missing',
    message: 'the temporary file state.json: no such file or folder',
  });
  const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  assert.deepEqual(toUserError(full, dataDir), {
    type: 'FileError',
    code: 'disk-full',
    message: 'the disk is full',
  });
  const own = new FormatError(
    'missing-file',
    `${join(dataDir, 'adapters', 'a', 'x.safetensors')}: cannot open (ENOENT)`,
  );
  assert.deepEqual(toUserError(own, dataDir), {
    type: 'FormatError',
    code: 'missing-file',
    message: 'adapters/a/x.safetensors in the data folder: cannot open (no such file or folder)',
  });
  assert.equal(
    cleanMessage("probe failed: EACCES: permission denied, open '/home/me/x.json'", dataDir),
    'probe failed: /home/me/x.json: permission denied',
  );
  // A person's own path outside the studio's folders is kept as it is.
  assert.equal(cleanMessage('/home/me/model: no such folder', dataDir), '/home/me/model: no such folder');
});
