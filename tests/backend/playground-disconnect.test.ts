// A Playground answer belongs to the window that asked for it: the client fails its requests in
// flight at once when the link drops (renderer/src/lib/rpc/client.ts), and no other window knows
// its request id. An answer whose window went away (a tab closed or reloaded, a WebSocket dropped,
// an Electron window's port closed) used to decode on to maxNewTokens for nobody, holding the
// 'infer' process. It is cancelled now, and only it: another window's answer on the same model goes
// on, and so does it when that window's Stop ends the first.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { WebSocketServer } from 'ws';
import { createBackend } from '../../electron/backend/host.ts';
import { type Engine, WorkerEngine } from '../../electron/backend/jobs/engine.ts';
import { serveMessagePort } from '../../electron/backend/rpc/messageport.ts';
import { attachWebSocketRpc } from '../../electron/backend/rpc/websocket.ts';
import { electronLike } from '../helpers/ports.ts';
import { connect, inProcess, LLAMA_FIXTURE, type RpcClient, tempDir } from './helpers.ts';

// The real engine, each generation's end noted: 'done' with its token count, or the error's code.
const real = new WorkerEngine();
const ends = new Map<string, Promise<string>>();
const engine: Engine = {
  call(op, args, opts) {
    const p = real.call(op, args, opts);
    // The requestId is not sent to the engine: the test's prompts name their request instead.
    if (op === 'generate') {
      const key = String((args as { prompts: unknown[] }).prompts[0]);
      ends.set(
        key,
        p.then(
          (g) => `done ${(g as { texts: { tokens: number }[] }).texts[0].tokens}`,
          (e) => (e as { code: string }).code,
        ),
      );
    }
    return p;
  },
  refresh: () => real.refresh(),
  close: () => real.close(),
  killNow: () => real.killNow(),
};

const b = createBackend(join(tempDir('playground-disconnect'), 'data'), {
  seedDemo: false,
  watchHubCache: false,
  watchLibrary: false,
  engine,
});
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
attachWebSocketRpc(wss, b);
after(async () => {
  wss.close();
  await b.close();
});
const { call } = inProcess(() => b);
let modelId: number;
/** The answer to 'Tell me about ships.' asked alone. */
let alone: { text: string; finishReason: string };

/** A long greedy answer (the fixture's whole context: ~250 tokens, close to a second here). */
const long = (prompt: string, requestId: string) => ({
  modelId,
  prompt,
  requestId,
  maxNewTokens: 1000,
  temperature: 0,
  chat: false,
});

before(async () => {
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  // Loaded once, so that the answers below start decoding at once.
  await call('generate/run', { modelId, prompt: 'Hi', maxNewTokens: 2, temperature: 0, chat: false });
  alone = await call('generate/run', long('Tell me about ships.', 'alone'));
  assert.equal(alone.finishReason, 'context', 'the answer fills the context (else nothing is in flight)');
});

/** Resolves once request `requestId` has streamed its first piece of text. */
function firstToken(requestId: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = b.events.onAny((topic, data) => {
      if (topic !== 'generate/token' || (data as { requestId: string }).requestId !== requestId) return;
      stop();
      resolve();
    });
  });
}

const recorded = (prompt: string) =>
  b.lib.db
    .prepare("SELECT count(*) AS n FROM generations WHERE kind = 'playground' AND prompt = ?")
    .get(prompt) as {
    n: number;
  };

const wsClient = (): Promise<RpcClient> => {
  const { port } = wss.address() as { port: number };
  return connect(`ws://127.0.0.1:${port}/rpc`);
};

test('a tab that closes mid-answer cancels its generation; a second tab answers on in full', async () => {
  const [gone, stays] = [await wsClient(), await wsClient()];
  const started = Promise.all([firstToken('gone'), firstToken('stays')]);
  void gone.call('generate/run', long('Tell me about cats.', 'gone'));
  const answer = stays.call('generate/run', long('Tell me about ships.', 'stays'));
  await started;
  gone.close(); // the tab closes
  assert.equal(await ends.get('Tell me about cats.'), 'cancelled');
  assert.equal(recorded('Tell me about cats.').n, 0, 'an answer nobody received is not stored');
  const r = await answer;
  assert.equal(r.type, 'reply');
  assert.equal(r.type === 'reply' && (r.result as { text: string }).text, alone.text);
  stays.close();
});

test('an Electron window whose port closes mid-answer cancels its generation', async () => {
  const { port1, port2 } = new MessageChannel();
  const stop = serveMessagePort(electronLike(port1), b);
  const started = firstToken('window');
  port2.postMessage({ type: 'request', id: 1, method: 'generate/run', params: long('Hello', 'window') });
  await started;
  port2.close(); // the window closes or reloads
  assert.equal(await ends.get('Hello'), 'cancelled');
  stop();
});

test('Stop in one tab ends its answer only; the other tab on the same model answers in full', async () => {
  const [one, two] = [await wsClient(), await wsClient()];
  const started = Promise.all([firstToken('one'), firstToken('two')]);
  const stopped = one.call('generate/run', long('Once upon a time', 'one'));
  const answer = two.call('generate/run', long('Tell me about ships.', 'two'));
  await started;
  const cancel = await one.call('generate/cancel', { requestId: 'one' });
  assert.equal(cancel.type === 'reply' && (cancel.result as { cancelled: boolean }).cancelled, true);
  const s = await stopped;
  assert.equal(s.type === 'error' && s.error.code, 'cancelled');
  const r = await answer;
  assert.equal(r.type === 'reply' && (r.result as { text: string }).text, alone.text);
  one.close();
  two.close();
});
