// adapters/import reads and checks the folder in the engine's worker ('files' lane), not on the RPC
// loop (issue 13: a hostile pyreft folder stalled every client for 10 s). In-process host, real
// WorkerEngine, real SQLite file; the engine is wrapped only to record which operations ran.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { type Engine, WorkerEngine } from '../../electron/backend/jobs/engine.ts';
import { viewsOfOneValue } from '../adapters/hostile-torch.ts';
import { REFT } from '../helpers/fixtures.ts';
import { LLAMA_FIXTURE, tempDir } from './helpers.ts';

const root = tempDir('import-off-loop');
const F2L2 = join(REFT, 'llama-loreft-f2l2', 'pyreft_final');
const ops: string[] = [];
let b: Backend;
let modelId: number;
let nextId = 1;

/** The real worker engine, recording operation names. */
function recording(inner: Engine): Engine {
  return {
    call: (op, args, opts) => {
      ops.push(op);
      return inner.call(op, args, opts);
    },
    refresh: () => inner.refresh(),
    close: () => inner.close(),
    killNow: () => inner.killNow(),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
async function request(method: string, params: unknown): Promise<any> {
  return b.handle({ type: 'request', id: nextId++, method, params });
}

before(async () => {
  b = createBackend(join(root, 'data'), {
    seedDemo: false,
    watchHubCache: false,
    engine: recording(new WorkerEngine()),
  });
  const r = await request('models/add', { path: LLAMA_FIXTURE, name: 'Llama fixture' });
  assert.equal(r.type, 'reply', JSON.stringify(r));
  modelId = r.result.id;
});

after(async () => {
  await b.close();
});

test('adapters/import reads the folder in an engine process and registers it', async () => {
  ops.length = 0;
  const r = await request('adapters/import', { path: F2L2, modelId, name: 'f2l2' });
  assert.equal(r.type, 'reply', JSON.stringify(r));
  assert.deepEqual(ops, ['prepareImport']);
  assert.equal(r.result.kind, 'pyreft');
  assert.equal(r.result.adapter.name, 'f2l2');
  // The tensors crossed the thread boundary intact: the library folder holds the studio files and
  // the original pyreft files byte for byte.
  const files = readdirSync(r.result.adapter.path).sort();
  assert.deepEqual(files, ['adapter.safetensors', 'manifest.json', 'pyreft']);
  assert.deepEqual(readdirSync(join(r.result.adapter.path, 'pyreft')).sort(), readdirSync(F2L2).sort());
  const check = await request('adapters/check', { id: r.result.adapter.id, modelId });
  assert.equal(check.type, 'reply', JSON.stringify(check));
});

test('a tensor bomb is refused by the worker with its code, and the backend keeps answering', async () => {
  const dir = join(root, 'bomb');
  mkdirSync(dir);
  const key = 'layer_0_comp_block_output_unit_pos_nunit_1#0';
  const n = 16384;
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      intervention_constant_sources: [true],
      intervention_dimensions: [n],
      intervention_types: ["<class 'pyreft.interventions.LoreftIntervention'>"],
      mode: 'parallel',
      representations: [
        [0, 'block_output', 'pos', 1, n, null, null, null, null, null, null, null, null, null],
      ],
      sorted_keys: [key],
      transformers_version: '5.17.0',
    }),
  );
  writeFileSync(
    join(dir, `intkey_${key}.bin`),
    viewsOfOneValue(`intkey_${key}`, [
      { name: 'weight', shape: [n, n], stride: [0, 0] },
      { name: 'bias', shape: [n], stride: [0] },
      { name: 'rotate_layer', shape: [n, n], stride: [0, 0] },
    ]),
  );
  ops.length = 0;
  // Without a model the config cannot be refused up front: the worker must refuse the view.
  const [bomb, list] = await Promise.all([
    request('adapters/import', { path: dir }),
    request('adapters/list', {}),
  ]);
  assert.deepEqual(ops, ['prepareImport']);
  assert.equal(bomb.type, 'error');
  assert.equal(bomb.error.code, 'bad-torch-file', bomb.error.message);
  assert.equal(list.type, 'reply');
  assert.equal(list.result.length, 1, 'nothing registered for the bomb');
});
