// Every RPC handler with well-formed but wrong params (in-process host, real engine and SQLite file):
// ids that do not exist, paths that are missing, folders, garbage files, a device file, names the
// library does not know, and each field alone set to each such value. The params are built from each
// handler's own zod schema, so a new handler is covered without editing this file. A bad input must
// get a specific error code; 'internal' is for bugs, and a reply must come for every call.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { z } from 'zod';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import type { ServerMessage } from '../../electron/backend/rpc/envelope.ts';
import { tempDir } from './helpers.ts';

const root = tempDir('handler-fuzz');
let b: Backend;
let nextId = 1;
const paths: string[] = [];

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  getter?: () => z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string>;
  values?: unknown[];
}
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema under optional/nullable/default/pipe/lazy wrappers. */
function unwrap(s: z.ZodType): z.ZodType {
  let d = defOf(s);
  while (['optional', 'nullable', 'default', 'pipe', 'lazy'].includes(d.type)) {
    s = (d.type === 'pipe' ? d.in : d.type === 'lazy' ? d.getter?.() : d.innerType) as z.ZodType;
    d = defOf(s);
  }
  return s;
}

/** Values worth trying for field `key`; the first is the most plausible. */
function candidates(key: string, schema: z.ZodType): unknown[] {
  const s = unwrap(schema);
  const d = defOf(s);
  switch (d.type) {
    case 'number':
      return /dropout|ratio|split|temperature|topP|decay|lr|fraction/i.test(key)
        ? [0.1, 0, 0.5, 1]
        : [1, 999_999, 0, 2];
    case 'string':
      if (key === 'layers') return ['1', '0;1', '99'];
      if (key === 'positions') return ['l1', 'f1+l1', 'f99'];
      if (/path|out|dir|src|file/i.test(key)) return paths;
      return ['x', '1', 'a/b', 'main', '../x'];
    case 'boolean':
      return [true, false];
    case 'enum':
      return Object.values(d.entries ?? {});
    case 'literal':
      return d.values ?? [null];
    case 'array':
      return [[], [candidates(key, d.element as z.ZodType)[0]], [999_999]];
    case 'object':
      return [fill(s, 0)];
    case 'union':
      return (d.options ?? []).flatMap((o) => candidates(key, o).slice(0, 3));
    case 'record':
      return [{}, { a: 'b' }];
    default:
      return [null];
  }
}

function shapeOf(s: z.ZodType): Record<string, z.ZodType> {
  return (s as unknown as { shape?: Record<string, z.ZodType> }).shape ?? {};
}

function fill(s: z.ZodType, pick: number): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(shapeOf(s)).map(([k, f]) => {
      const c = candidates(k, f);
      return [k, c[pick % c.length]];
    }),
  );
}

async function call(method: string, params: unknown): Promise<ServerMessage> {
  const timeout = new Promise<ServerMessage>((resolve) =>
    setTimeout(
      () =>
        resolve({
          type: 'error',
          id: null,
          error: { type: 'Error', code: 'no-reply', message: 'no reply in 30 s' },
        }),
      30_000,
    ),
  );
  return Promise.race([b.handle({ type: 'request', id: nextId++, method, params }), timeout]);
}

before(async () => {
  const f = (name: string, data: string | Uint8Array) => {
    const p = join(root, name);
    writeFileSync(p, data);
    return p;
  };
  const folder = (name: string, files: Record<string, string> = {}) => {
    const p = join(root, name);
    mkdirSync(p, { recursive: true });
    for (const [n, d] of Object.entries(files)) writeFileSync(join(p, n), d);
    return p;
  };
  paths.push(
    f('ok.jsonl', '{"prompt":"a","completion":"b"}\n'),
    join(root, 'missing.jsonl'),
    f('garbage.bin', Buffer.from([0xff, 0, 1, 2, 0x80])),
    f('empty.jsonl', ''),
    folder('a-folder.jsonl'),
    f('bad.parquet', 'PAR1garbagePAR1'),
    f('bad.zip', 'PK\x03\x04garbage'),
    folder('model-no-weights', { 'config.json': '{"model_type": "llama"}' }),
    folder('model-bad', { 'config.json': '[1, 2]', 'model.safetensors': 'garbage' }),
    root,
    '/',
  );
  // A device file whose read fails with EIO.
  if (existsSync('/proc/self/mem')) paths.push('/proc/self/mem');
  b = createBackend(join(root, 'data'), { seedDemo: true });
  // A finished run and its adapter, so run and adapter ids 1 exist.
  const models = (await call('models/list', {})) as { result: { id: number }[] };
  const datasets = (await call('datasets/list', {})) as { result: { id: number }[] };
  const run = await call('runs/start', {
    modelId: models.result[0].id,
    datasetId: datasets.result[0].id,
    maxSteps: 2,
    layers: '1',
    rank: 1,
  });
  assert.equal(run.type, 'reply', JSON.stringify(run));
  await new Promise((r) => setTimeout(r, 200));
  await b.jobs.idle();
});
after(() => b.close());

test('no handler answers a bad input with "internal" (or not at all)', { timeout: 600_000 }, async (t) => {
  const internal: string[] = [];
  const codes = new Map<string, number>();
  let calls = 0;
  for (const [method, def] of Object.entries(b.handlers)) {
    const schema = unwrap(def.params as z.ZodType);
    if (defOf(schema).type !== 'object') continue;
    const tries: Record<string, unknown>[] = [{}];
    for (let pick = 0; pick < 8; pick++) tries.push(fill(schema, pick));
    for (const [k, f] of Object.entries(shapeOf(schema)))
      for (const c of candidates(k, f)) tries.push({ ...fill(schema, 0), [k]: c });
    for (const params of tries) {
      const r = await call(method, params);
      calls++;
      if (r.type !== 'error') continue;
      codes.set(r.error.code, (codes.get(r.error.code) ?? 0) + 1);
      if (r.error.code === 'internal' || r.error.code === 'no-reply')
        internal.push(`${method} ${JSON.stringify(params).slice(0, 160)} → ${r.error.message.slice(0, 160)}`);
    }
    // Anything the calls started (a run, an evaluation) ends before the next method's calls.
    for (const j of b.jobs.list()) b.jobs.cancel(j.id);
    await b.jobs.idle();
  }
  t.diagnostic(`${calls} calls; ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`);
  assert.deepEqual([...new Set(internal)], []);
});
