// models/scan reads every model of a cache or folder (config, safetensors headers, tokenizer.json) in
// the engine's 'files' process: on the RPC loop, a cache of 300 models held every window's requests
// for 99 s (cold, shared 2-core machine). Its results are those of scanForModels run in-process.
// In-process host, real WorkerEngine, wrapped only to record which operations ran.

import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { scanForModels } from '../../electron/backend/hub/scan.ts';
import { type Engine, WorkerEngine } from '../../electron/backend/jobs/engine.ts';
import { deviceMemories } from '../../electron/backend/library/device-memory.ts';
import { inProcess } from '../backend/helpers.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';
import { writeCacheSnapshot } from './helpers.ts';

const root = tempDir('scan-off-loop');
const ops: string[] = [];
const inner = new WorkerEngine();
const engine: Engine = {
  call: (op, args, opts) => {
    ops.push(op);
    return inner.call(op, args, opts);
  },
  refresh: () => inner.refresh(),
  close: () => inner.close(),
  killNow: () => inner.killNow(),
};
let b: Backend;
const { call } = inProcess(() => b);

function files(arch: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const f of readdirSync(modelDir(arch))) out[f] = readFileSync(join(modelDir(arch), f));
  return out;
}

before(() => {
  const cache = join(root, 'scanned', 'hub');
  writeCacheSnapshot(cache, 'tiny/llama', files('llama'));
  writeCacheSnapshot(cache, 'tiny/half', files('qwen2'), { missing: ['model.safetensors'] });
  writeCacheSnapshot(cache, 'tiny/bert', { 'config.json': Buffer.from('{"model_type":"bert"}') });
  cpSync(modelDir('gpt2'), join(root, 'scanned', 'plain', 'gpt2'), { recursive: true });
  b = createBackend(join(root, 'data'), { seedDemo: false, watchHubCache: false, engine });
});

after(async () => {
  await b.close();
});

test('models/scan runs in an engine process and answers what scanForModels does', async () => {
  const dir = join(root, 'scanned');
  ops.length = 0;
  const res = await call('models/scan', { dir });
  assert.deepEqual(ops, ['scanModels']);
  const here = scanForModels({ dir }, { devices: await deviceMemories() });
  assert.deepEqual(res, { ...here, models: here.models.map((m) => ({ ...m, modelId: null })) });
  assert.deepEqual(
    res.models.map((m: { name: string; supported: boolean }) => [m.name, m.supported]),
    [
      ['tiny/bert', false],
      ['tiny/half', false],
      ['tiny/llama', true],
      ['gpt2', true],
    ],
  );
  await assert.rejects(call('models/scan', { dir: join(root, 'nowhere') }), /no such folder/);
});
