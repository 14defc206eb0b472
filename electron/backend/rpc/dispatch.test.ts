import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { z } from 'zod';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { createBackend } from '../host.ts';
import { combineHandlers, defineHandlers, handler } from './define-handlers.ts';
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
  const info = (r as { result: { dataDir: string; nodeVersion: string } }).result;
  assert.equal(info.dataDir, dir);
  assert.equal(info.nodeVersion, process.versions.node);
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
  // node's MessagePort emits the payload itself; Electron's emits {data}: adapt like utility-entry does.
  const stop = serveMessagePort(
    { postMessage: (m) => port1.postMessage(m), on: (_e, l) => port1.on('message', (data) => l({ data })) },
    backend,
  );
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
