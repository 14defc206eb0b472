import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { z } from 'zod';
import { electronLike } from '../../../tests/helpers/ports.ts';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { createBackend } from '../host.ts';
import { combineHandlers, defineHandlers, handler } from './define-handlers.ts';
import { dispatch } from './dispatch.ts';
import type { ServerMessage } from './envelope.ts';
import { serveMessagePort } from './messageport.ts';

const dir = tempDir('reft-dispatch-');
const backend = createBackend(dir, { seedDemo: false });
after(() => backend.close());
const req = (method: string, params?: unknown, id = 1) => ({ type: 'request', id, method, params });

test('a valid request gets a reply with its id', async () => {
  const r = await backend.handle(JSON.stringify(req('system/info', {}, 7)));
  assert.equal(r.type, 'reply');
  assert.equal(r.id, 7);
  type Info = { dataDir: string; nodeVersion: string; cudaMemBytes: number | null; defaultDevice: string };
  const info = (r as { result: Info }).result;
  assert.equal(info.dataDir, dir);
  assert.equal(info.nodeVersion, process.versions.node);
  // No CUDA runtime pack in this data folder: runs stay on the computer, no GPU memory to weigh.
  assert.equal(info.cudaMemBytes, null);
  assert.equal(info.defaultDevice, 'cpu');
});

test("unknown method → 'unknown-method', including Object.prototype names", async () => {
  for (const method of ['nope/nothing', '__proto__', 'toString', 'constructor']) {
    const r = await backend.handle(req(method));
    assert.equal(r.type, 'error');
    assert.equal(r.type === 'error' && r.error.code, 'unknown-method', method);
  }
});

test("wrong param types → 'invalid-params' naming the path", async () => {
  const r = await backend.handle(req('models/get', { id: 'one' }, 3));
  assert.equal(r.type, 'error');
  assert.equal(r.id, 3);
  assert.equal(r.type === 'error' && r.error.code, 'invalid-params');
  assert.match(r.type === 'error' ? r.error.message : '', /id:/);
  const r2 = await backend.handle(req('adapters/tag', { id: 1, add: [1] }));
  assert.match(r2.type === 'error' ? r2.error.message : '', /add\.0:/);
  const r3 = await backend.handle(req('models/list', { extra: true }));
  assert.equal(r3.type === 'error' && r3.error.code, 'invalid-params', 'unknown keys are refused');
});

test('malformed JSON, non-objects and bad envelopes get error replies, never a throw', async () => {
  const cases: unknown[] = [
    '{"type":',
    'null',
    '42',
    '[1,2]',
    null,
    undefined,
    'garbage',
    { id: 'x' },
    { type: 'request', id: 1.5, method: 'system/info' },
    Buffer.from('{{'),
  ];
  for (const c of cases) {
    const r = await backend.handle(c);
    assert.equal(r.type, 'error', `case ${String(c)}`);
    assert.equal(r.type === 'error' && r.error.code, 'bad-message');
    assert.equal(r.id, null);
  }
  const r = await backend.handle({ type: 'push', id: 4, method: 'system/info' });
  assert.deepEqual([r.type, r.id], ['error', 4]);
  // Still serving.
  assert.equal((await backend.handle(req('models/list'))).type, 'reply');
});

test('handler exceptions become wire errors with their code', async () => {
  const r = await backend.handle(req('models/get', { id: 999 }));
  assert.deepEqual(r.type === 'error' && r.error, {
    type: 'ValidationError',
    code: 'not-found',
    message: 'no model with id 999',
  });
  const r2 = await backend.handle(req('datasets/import', { path: join(dir, 'missing.jsonl') }));
  assert.equal(r2.type === 'error' && r2.error.code, 'missing-file');
});

test('defineHandlers checks names; combineHandlers throws on duplicates', () => {
  const a = defineHandlers({ 'x/get': handler(z.object({}), () => 1) });
  assert.throws(() => defineHandlers({ NotAName: handler(z.object({}), () => 1) }), /domain\/verb/);
  assert.throws(
    () => combineHandlers(a, defineHandlers({ 'x/get': handler(z.object({}), () => 2) })),
    /defined twice/,
  );
});

test('MessagePort transport: replies and pushes over a real port', async () => {
  const { port1, port2 } = new MessageChannel();
  const got: ServerMessage[] = [];
  const waitFor = (pred: (m: ServerMessage) => boolean) =>
    new Promise<ServerMessage>((resolve) => {
      const check = () => {
        const m = got.find(pred);
        if (m) resolve(m);
        else setTimeout(check, 5);
      };
      check();
    });
  port2.on('message', (m) => got.push(m as ServerMessage));
  const stop = serveMessagePort(electronLike(port1), backend);
  port2.postMessage(req('settings/set', { key: 'k', value: [1, 'a'] }, 11));
  const reply = await waitFor((m) => m.type === 'reply' && m.id === 11);
  assert.deepEqual(reply, { type: 'reply', id: 11, result: { key: 'k' } });
  const push = await waitFor((m) => m.type === 'push');
  assert.deepEqual(push, {
    type: 'push',
    topic: 'library/changed',
    data: { kind: 'settings', action: 'updated' },
  });
  port2.postMessage('not json');
  assert.equal((await waitFor((m) => m.type === 'error')).type, 'error');
  stop();
  port1.close();
});

test('MessagePort transport: a closed window is no longer sent pushes', async () => {
  const { port1, port2 } = new MessageChannel();
  let posted = 0;
  const port = electronLike(port1);
  const post = port.postMessage;
  port.postMessage = (m) => {
    posted++;
    post(m);
  };
  serveMessagePort(port, backend);
  backend.events.emit('library/changed', { kind: 'settings', action: 'updated' });
  assert.equal(posted, 1);
  // The window reloads: its end of the channel goes away.
  const closed = new Promise((r) => port1.once('close', r));
  port2.close();
  await closed;
  // Every push went on to the dead port before, one more subscription per reload.
  backend.events.emit('library/changed', { kind: 'settings', action: 'updated' });
  assert.equal(posted, 1);
});

/** A value nested `levels` deep: [[[…1…]]]. */
function nestedArray(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

test("values nested thousands of levels deep → 'too-deep', as text and as a decoded object", async () => {
  for (const levels of [2000, 50_000]) {
    const text = `{"type":"request","id":21,"method":"settings/set","params":{"key":"k","value":${'['.repeat(levels)}1${']'.repeat(levels)}}}`;
    const r = await backend.handle(text);
    assert.deepEqual(
      [r.type, r.id, r.type === 'error' && r.error.code],
      ['error', 21, 'too-deep'],
      `${levels}`,
    );
  }
  const r = await backend.handle(req('settings/set', { key: 'k', value: nestedArray(5000) }, 22));
  assert.deepEqual([r.type, r.id, r.type === 'error' && r.error.code], ['error', 22, 'too-deep']);
  // A cycle (a structured clone keeps them) is too deep, not an endless walk.
  const cyclic: Record<string, unknown> = { key: 'k' };
  cyclic.value = cyclic;
  const c = await backend.handle(req('settings/set', cyclic, 23));
  assert.equal(c.type === 'error' && c.error.code, 'too-deep');
  assert.equal((await backend.handle(req('settings/get', {}, 24))).type, 'reply');
});

test("oversized messages → 'too-large'; oversized settings values → 'invalid-params', nothing stored", async () => {
  const big = `{"type":"request","id":31,"method":"settings/set","params":{"key":"k","value":"${'x'.repeat(17 * 1024 * 1024)}"}}`;
  const r = await backend.handle(big);
  assert.deepEqual([r.type, r.type === 'error' && r.error.code], ['error', 'too-large']);
  for (const value of ['y'.repeat(100 * 1024), Array(50_000).fill(0), nestedArray(20)]) {
    const s = await backend.handle(req('settings/set', { key: 'big', value }, 32));
    assert.equal(s.type === 'error' && s.error.code, 'invalid-params');
  }
  const got = await backend.handle(req('settings/get', { key: 'big' }, 33));
  assert.deepEqual(got.type === 'reply' && got.result, null);
});

test('a validator that throws becomes an error reply with the request id', async () => {
  const set = defineHandlers({
    'x/boom': handler(
      z.object({}).superRefine(() => {
        throw new RangeError('Maximum call stack size exceeded');
      }),
      () => 1,
    ),
  });
  const r = await dispatch(set, req('x/boom', {}, 41), backend);
  assert.deepEqual(r, {
    type: 'error',
    id: 41,
    error: { type: 'Error', code: 'internal', message: 'Maximum call stack size exceeded' },
  });
});

test('MessagePort transport: a deep message and a failing handle() are both answered', async () => {
  const { port1, port2 } = new MessageChannel();
  const got: ServerMessage[] = [];
  port2.on('message', (m) => got.push(m as ServerMessage));
  const stop = serveMessagePort(electronLike(port1), backend);
  port2.postMessage(req('settings/set', { key: 'k', value: nestedArray(3000) }, 51));
  // A backend whose handle() rejects (it never should) still answers instead of ending the process.
  const broken = { events: backend.events, handle: () => Promise.reject(new Error('broken')) };
  const { port1: b1, port2: b2 } = new MessageChannel();
  b2.on('message', (m) => got.push(m as ServerMessage));
  const stopBroken = serveMessagePort(
    electronLike(b1),
    broken as unknown as Parameters<typeof serveMessagePort>[1],
  );
  b2.postMessage(req('system/info', {}, 52));
  const end = Date.now() + 10_000;
  while (got.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  const deep = got.find((m) => m.type === 'error' && m.id === 51);
  assert.equal(deep?.type === 'error' && deep.error.code, 'too-deep');
  const failed = got.find((m) => m.type === 'error' && m.id === null);
  assert.equal(failed?.type === 'error' && failed.error.code, 'internal');
  stop();
  stopBroken();
  port1.close();
  b1.close();
});

test("MessagePort transport: a typed array, Map or Date (a structured clone's) → 'not-json', unwalked", async (t) => {
  const { port1, port2 } = new MessageChannel();
  const got: ServerMessage[] = [];
  port2.on('message', (m) => got.push(m as ServerMessage));
  const stop = serveMessagePort(electronLike(port1), backend);
  // An open port keeps the test process alive: closed whether or not the assertions hold.
  t.after(() => {
    stop();
    port1.close();
  });
  // Walking a typed array's keys made a string per byte: 100 MB ran the backend out of memory.
  // 1 MB was walked whole and refused only by the schema, as 'invalid-params'.
  const values: [number, unknown][] = [
    [61, new Uint8Array(1 << 20)],
    [62, new Float64Array(8)],
    [63, new Map([['k', 'v']])],
    [64, new Date(0)],
  ];
  for (const [id, value] of values) port2.postMessage(req('settings/set', { key: 'k', value }, id));
  const end = Date.now() + 10_000;
  while (got.length < values.length && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  for (const [id, value] of values) {
    const r = got.find((m) => m.type !== 'push' && m.id === id);
    assert.equal(r?.type === 'error' && r.error.code, 'not-json', `${id}: ${JSON.stringify(r)}`);
    const type = Object.prototype.toString.call(value).slice(8, -1);
    assert.equal(
      r?.type === 'error' && r.error.message,
      `message holds a value of type ${type}; only JSON values (objects, arrays, strings, numbers, booleans, null) are accepted`,
    );
  }
  // Objects without a prototype are JSON's too; the backend goes on serving.
  const bare = Object.assign(Object.create(null), { key: 'k', value: 1 });
  assert.equal((await backend.handle(req('settings/set', bare, 65))).type, 'reply');
});

test("an error's message shows the caller's control characters, one line", async () => {
  // A value the caller sent comes back in the message: a newline or an escape sequence in it would
  // split the notice or act on a terminal (ESC ] 0 sets a window title, ESC [ 2 J clears the screen).
  const raw = '\n\u001b]0;owned\u0007\u001b[2J';
  const shown = '\\x0a\\x1b]0;owned\\x07\\x1b[2J';
  const cases: [string, unknown][] = [
    ['models/add', { path: `/nowhere${raw}` }],
    ['models/scan', { dir: `/nowhere${raw}` }],
    ['models/hub-info', { repo: `a/b${raw}` }],
    ['models/download', { repo: `a/b${raw}` }],
    ['system/runtime-remove', { name: `cuda${raw}` }],
    ['runs/estimate', { modelId: 1, datasetId: 1, layers: `1;${raw}` }],
    ['adapters/export', { id: 1, out: `relative${raw}` }],
    [`nope${raw}`, {}],
    ['models/list', { [`key${raw}`]: 1 }],
  ];
  for (const [method, params] of cases) {
    const r = await backend.handle(req(method, params));
    assert.equal(r.type, 'error', method);
    const message = r.type === 'error' ? r.error.message : '';
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may be left
    assert.doesNotMatch(message, /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/, `${method}: ${message}`);
    assert.ok(message.includes(shown), `${method}: ${message}`);
  }
});
