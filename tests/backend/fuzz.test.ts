// Fuzzing the RPC of a real `reft-studio serve` child process with 200 malformed inputs (seeded, so a
// failure reproduces): garbled JSON, non-objects, missing ids, unknown methods, wrong param types for
// every method, oversized strings, path traversal in file names; then hostile shapes (values nested
// thousands of levels deep, oversized settings values). Each must get a clear error reply; the server
// must keep serving on the same connection and answer a new one, and the library must pass PRAGMA
// integrity_check afterwards.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { allHandlers } from '../../electron/backend/handlers/index.ts';
import { mulberry32 } from '../../native-runtime/generation/sampling.ts';
import { connectTo, exitOf, fakeRenderer, spawnServe, tempDir } from './helpers.ts';

const root = tempDir('fuzz');

interface Reply {
  type: string;
  id: number | null;
  error?: { type: string; code: string; message: string };
}

function makeInputs(): { frame: string | Buffer; why: string; expectId: number | null; code?: string }[] {
  const rng = mulberry32(20251128);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
  const methods = Object.keys(allHandlers);
  const out: { frame: string | Buffer; why: string; expectId: number | null; code?: string }[] = [];
  let id = 1000;
  const req = (method: unknown, params: unknown, why: string, code?: string) => {
    const i = id++;
    out.push({ frame: JSON.stringify({ type: 'request', id: i, method, params }), why, expectId: i, code });
  };
  // 1. Garbled JSON and random bytes (40).
  const valid = JSON.stringify({ type: 'request', id: 1, method: 'models/list', params: {} });
  for (let k = 0; k < 30; k++) {
    const chars = [...valid];
    const cut = 1 + Math.floor(rng() * (chars.length - 2));
    const mode = k % 3;
    const garbled =
      mode === 0
        ? chars.slice(0, cut).join('')
        : mode === 1
          ? chars.map((c) => (rng() < 0.15 ? String.fromCharCode(33 + Math.floor(rng() * 90)) : c)).join('')
          : `${chars.slice(0, cut).join('')}}}{{${chars.slice(cut).join('')}`;
    let parses = true;
    try {
      JSON.parse(garbled);
    } catch {
      parses = false;
    }
    if (!parses) out.push({ frame: garbled, why: `garbled JSON #${k}`, expectId: null, code: 'bad-message' });
  }
  while (out.length < 40) {
    const bytes = Buffer.from(
      Array.from({ length: 1 + Math.floor(rng() * 64) }, () => Math.floor(rng() * 256)),
    );
    bytes[0] = 0xff; // never valid JSON
    out.push({ frame: bytes, why: 'random binary frame', expectId: null, code: 'bad-message' });
  }
  // 2. Valid JSON that is not a request (20).
  for (const v of [
    '42',
    '"text"',
    'null',
    'true',
    '[]',
    '[1,2]',
    '{}',
    '{"id": "7"}',
    '{"id": 1.5}',
    '{"method": "models/list"}',
  ]) {
    out.push({ frame: v, why: `not a request: ${v}`, expectId: null, code: 'bad-message' });
  }
  for (const type of ['reply', 'push', 'REQUEST', null, 5]) {
    const i = id++;
    out.push({
      frame: JSON.stringify({ type, id: i, method: 'models/list' }),
      why: `type ${type}`,
      expectId: i,
      code: 'bad-message',
    });
  }
  for (const m of [5, null, ['models/list'], { x: 1 }, true])
    req(m, {}, `method ${JSON.stringify(m)}`, 'bad-message');
  // 3. Unknown methods (20).
  for (const m of [
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'models',
    'models/',
    '/list',
    'MODELS/LIST',
    '../models/list',
    'models/list ',
  ]) {
    req(m, {}, `unknown method ${m}`, 'unknown-method');
  }
  for (let k = 0; k < 10; k++) {
    const m = Array.from({ length: 1 + Math.floor(rng() * 30) }, () =>
      String.fromCharCode(32 + Math.floor(rng() * 95)),
    ).join('');
    if (!methods.includes(m)) req(m, {}, `random method ${JSON.stringify(m)}`, 'unknown-method');
  }
  // 4. Wrong param types for every method (non-object params are never valid).
  const badParams: unknown[] = [42, 'str', [1, 2], true, -1];
  for (const m of methods) req(m, pick(badParams), `${m} with non-object params`, 'invalid-params');
  // 5. Wrong field types on methods with fields.
  // Training options are checked by the one options schema, whose refusals name the option.
  for (const [p, code] of [
    [{ modelId: 1, datasetId: 1, rank: 'four' }, 'bad-rank'],
    [{ modelId: 1, datasetId: 1, layers: { a: 1 } }, 'bad-layers'],
    [{ modelId: 1, datasetId: 1, lr: -1 }, 'bad-lr'],
  ] as const)
    req('runs/start', p, `runs/start ${JSON.stringify(p)}`, code);
  const fieldCases: [string, unknown][] = [
    ['models/get', { id: 'one' }],
    ['models/get', { id: -3 }],
    ['models/get', { id: 1.5 }],
    ['datasets/rows', { datasetId: 1, limit: 100000 }],
    ['datasets/rows', { datasetId: {}, offset: -1 }],
    ['runs/start', { modelId: 1 }],
    ['runs/get', { id: null }],
    ['generate/run', { modelId: 1, prompt: '' }],
    ['generate/run', { modelId: 1, prompt: 'x', temperature: 'hot' }],
    ['evaluations/run', { adapterId: 1, datasetId: 1, kind: 'vibes' }],
    ['settings/set', { key: '', value: 1 }],
    ['adapters/tag', { id: 1, add: [''] }],
    ['datasets/annotate', { datasetId: 1, indices: [], rating: 3 }],
    ['datasets/annotate', { datasetId: 1, indices: [0], rating: 9 }],
    ['datasets/split', { datasetId: 1, ratios: { train: 2, validation: 0, test: 0 } }],
    ['datasets/import', { path: '/tmp/x.jsonl', unexpected: true }],
    ['runs/estimate', { modelId: 1, datasetId: 1, calibrate: 'yes' }],
  ];
  for (const [m, p] of fieldCases) req(m, p, `${m} ${JSON.stringify(p)}`, 'invalid-params');
  // 6. Path traversal and odd paths in file names (refused, or a clear not-found).
  const paths = [
    '../../etc/passwd',
    '../../../../../../etc/shadow',
    '/tmp/../etc/passwd',
    'relative/data.jsonl',
    '..\\..\\windows\\system32',
    '/definitely/not/here.jsonl',
    '/tmp/a\u0000b.jsonl',
    '~/.ssh/id_rsa',
    '/proc/self/environ/..',
    'file:///etc/passwd',
  ];
  for (const p of paths) {
    req('datasets/import', { path: p }, `datasets/import ${JSON.stringify(p)}`);
    req('models/add', { path: p }, `models/add ${JSON.stringify(p)}`);
  }
  // 7. Oversized strings (5 MB) in several fields.
  const huge = 'A'.repeat(5 * 1024 * 1024);
  req('datasets/import', { path: huge }, '5 MB path', 'invalid-params');
  req('models/add', { path: `/${huge}` }, '5 MB model path', 'invalid-params');
  req('settings/set', { key: huge, value: 1 }, '5 MB settings key', 'invalid-params');
  req('generate/run', { modelId: 1, prompt: huge }, '5 MB prompt', 'invalid-params');
  req(huge.slice(0, 100_000), {}, '100 KB method name', 'unknown-method');
  // Fill up to 200 with random structured junk.
  while (out.length < 200) {
    const m = pick(methods);
    req(m, pick([42, 'x', [null], false]), `${m} junk #${out.length}`, 'invalid-params');
  }
  return out.slice(0, 200);
}

/** Messages shaped to exhaust the stack or the database rather than to be malformed. */
function hostileInputs(): { frame: string; why: string; expectId: number | null; code: string }[] {
  const out: { frame: string; why: string; expectId: number | null; code: string }[] = [];
  let id = 5000;
  const nested = (levels: number, open: string, close: string, leaf = '1') =>
    `${open.repeat(levels)}${leaf}${close.repeat(levels)}`;
  const raw = (paramsJson: string, method: string, why: string, code: string) => {
    const i = id++;
    out.push({
      frame: `{"type":"request","id":${i},"method":"${method}","params":${paramsJson}}`,
      why,
      // A message over the size cap is refused unread, so its id is unknown.
      expectId: code === 'too-large' ? null : i,
      code,
    });
  };
  // ~4 KB and ~200 KB messages: a recursive validator overflows the stack on these.
  raw(`{"key":"k","value":${nested(2000, '[', ']')}}`, 'settings/set', '2,000-deep array value', 'too-deep');
  raw(
    `{"key":"k","value":${nested(2000, '{"a":', '}')}}`,
    'settings/set',
    '2,000-deep object value',
    'too-deep',
  );
  raw(
    `{"key":"k","value":${nested(100_000, '[', ']')}}`,
    'settings/set',
    '100,000-deep array value',
    'too-deep',
  );
  raw(
    `{"datasetId":1,"append":[{"x":${nested(5000, '[', ']')}}]}`,
    'datasets/edit',
    '5,000-deep dataset row',
    'too-deep',
  );
  raw(`${nested(3000, '[', ']')}`, 'models/list', '3,000-deep params', 'too-deep');
  // Oversized settings values (a preference is never megabytes).
  raw(
    `{"key":"k","value":"${'B'.repeat(2 * 1024 * 1024)}"}`,
    'settings/set',
    '2 MB settings string',
    'invalid-params',
  );
  raw(
    `{"key":"k","value":[${Array.from({ length: 200_000 }, () => '0').join(',')}]}`,
    'settings/set',
    '200,000-element settings array',
    'invalid-params',
  );
  // A message over the size cap is refused before it is parsed.
  raw(
    `{"key":"k","value":"${'C'.repeat(16.5 * 1024 * 1024)}"}`,
    'settings/set',
    '16.5 MB message',
    'too-large',
  );
  return out;
}

test('200 malformed inputs each get a clear error; the server keeps serving; integrity_check = ok', {
  timeout: 180_000,
}, async (t) => {
  const dataDir = join(root, 'data');
  const s = await spawnServe(['--data-dir', dataDir, '--renderer-dir', fakeRenderer(root)]);
  const ws = new WebSocket(`ws://127.0.0.1:${s.url.port}/rpc?token=${s.url.searchParams.get('token')}`);
  // A failed assertion must not leave the server and the socket holding the test file open (it hung
  // until the runner's 15-minute limit).
  t.after(() => {
    ws.terminate();
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  const queue: Reply[] = [];
  let wake: (() => void) | null = null;
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as Reply;
    if (m.type === 'push') return;
    queue.push(m);
    wake?.();
  });
  const next = async (): Promise<Reply> => {
    const end = Date.now() + 20_000;
    while (!queue.length) {
      if (Date.now() > end) throw new Error('no reply within 20 s');
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 200);
      });
    }
    return queue.shift()!;
  };

  const inputs = makeInputs();
  assert.equal(inputs.length, 200);
  const codes = new Map<string, number>();
  for (const input of inputs) {
    ws.send(input.frame, { binary: Buffer.isBuffer(input.frame) });
    const r = await next();
    assert.equal(
      r.type,
      'error',
      `${input.why}: expected an error reply, got ${JSON.stringify(r).slice(0, 200)}`,
    );
    assert.equal(r.id, input.expectId, `${input.why}: reply id`);
    assert.ok(r.error?.code && r.error.message.length > 5, `${input.why}: a clear error`);
    assert.ok(r.error.message.length < 2000, `${input.why}: the error does not echo a huge input`);
    assert.notEqual(r.error.code, 'internal', `${input.why}: not an internal error (${r.error.message})`);
    if (input.code) assert.equal(r.error.code, input.code, `${input.why}: ${r.error.message}`);
    codes.set(r.error.code, (codes.get(r.error.code) ?? 0) + 1);
  }
  t.diagnostic(`error codes: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`);

  for (const input of hostileInputs()) {
    ws.send(input.frame);
    const r = await next();
    assert.equal(
      r.type,
      'error',
      `${input.why}: expected an error reply, got ${JSON.stringify(r).slice(0, 200)}`,
    );
    assert.equal(r.id, input.expectId, `${input.why}: reply id`);
    assert.equal(r.error?.code, input.code, `${input.why}: ${r.error?.message}`);
    assert.ok(r.error.message.length < 2000, `${input.why}: the error does not echo a huge input`);
  }

  // Still serving, on the same connection and a new one.
  ws.send(JSON.stringify({ type: 'request', id: 1, method: 'system/info', params: {} }));
  const info = await next();
  assert.equal(info.type, 'reply');
  ws.terminate();
  const fresh = await connectTo(s.url);
  const settings = await fresh.call('settings/get', {});
  assert.equal(settings.type, 'reply', 'a new connection is answered');
  assert.ok(!('k' in (settings as { result: object }).result), 'no refused value was stored');
  fresh.close();
  s.child.kill('SIGTERM');
  assert.equal((await exitOf(s.child)).code, 0, s.stderr());

  const db = new Database(join(dataDir, 'library.db'), { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    db.close();
  }
});
