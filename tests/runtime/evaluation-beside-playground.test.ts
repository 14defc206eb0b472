// The 'infer' engine process keeps the Playground's sessions (engine-tasks.ts runnerFor), and an
// evaluation there opened its own session of the same model beside them: ONNX Runtime maps the
// weights per session (RSS counts them again), and a quantized base pre-packs them per session — at
// TinyLlama's shape in int8 1.5 GB more private memory, ~10 GB at 8B. The evaluation now releases the
// kept sessions over the same weights (model, device, form) before its own opens; a kept session of
// another model stays, and the Playground's next answer loads the model again, answering as before.
// A Playground answer asked while the evaluation runs waits for it to end (its reply says so) rather
// than open a second session beside it, and an evaluation asked during an answer waits for the answer. Counted here as the sessions alive when each is created (a
// machine under load cannot fail it). Real ORT, the Llama and Qwen2 fixtures.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type Emit,
  evaluateTask,
  generateTask,
  releaseRunners,
  WAITING_FOR_ANSWER,
  WAITING_FOR_EVALUATION,
} from '../../electron/backend/jobs/engine-tasks.ts';
import { ort } from '../../native-runtime/runtime/session.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { adapterFor } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';
import { writeJsonl } from '../training/helpers.ts';

const LLAMA = modelDir('llama');
const QWEN = modelDir('qwen2');

/**
 * ONNX Runtime's sessions counted from now: those alive, how many were alive as each new one was
 * created, and `onCreate` told of each (`restore` stops counting).
 */
function countSessions(onCreate: (n: number) => void = () => {}) {
  const alive = new Set<ort.InferenceSession>();
  const aliveAtCreate: number[] = [];
  const create = ort.InferenceSession.create;
  ort.InferenceSession.create = (async (...args: Parameters<typeof create>) => {
    const s = await create.apply(ort.InferenceSession, args);
    aliveAtCreate.push(alive.size);
    alive.add(s);
    const release = s.release.bind(s);
    s.release = () => {
      alive.delete(s);
      return release();
    };
    onCreate(aliveAtCreate.length);
    return s;
  }) as typeof create;
  const restore = () => {
    ort.InferenceSession.create = create;
  };
  return { alive, aliveAtCreate, restore };
}

const signal = new AbortController().signal;

test('an evaluation releases the Playground’s kept session of its model before opening its own', {
  timeout: 120_000,
}, async () => {
  const root = tempDir('eval-beside-playground-');
  const adapter = adapterFor(LLAMA, join(root, 'adapter'));
  const data = writeJsonl(join(root, 'd.jsonl'), [
    { prompt: 'Question 1: what is 1 plus 1?', completion: ' 2' },
    { prompt: 'Question 2: what is 2 plus 2?', completion: ' 4' },
  ]);
  const noop = (() => {}) as Emit<'generate'>;
  // The Playground's way: the adapter as a composition of one.
  const playground = (model: string, adapters: { dir: string; name: string }[] = []) =>
    generateTask(
      { model, adapter: null, adapters, prompts: ['Hello there'], maxNewTokens: 4, temperature: 0 },
      noop,
      signal,
    ).then((g) => g.texts[0].text);

  const { alive, aliveAtCreate, restore } = countSessions();
  try {
    const first = await playground(LLAMA, [{ dir: adapter, name: '#1' }]);
    await playground(QWEN);
    assert.equal(alive.size, 2, 'the Playground keeps both models');

    const report = await evaluateTask(
      { model: LLAMA, adapter, data, kind: 'loss', batchSize: 2 },
      (() => {}) as Emit<'evaluate'>,
      signal,
    );
    assert.ok(Number.isFinite(report.metrics.loss));
    assert.deepEqual(
      aliveAtCreate,
      [0, 1, 1],
      "the evaluation's session opened beside the other model's only: the llama one was released",
    );
    assert.equal(alive.size, 1, "after the evaluation: the other model's kept session alone");

    // The Playground's next answer loads the model again and answers as before.
    assert.equal(await playground(LLAMA, [{ dir: adapter, name: '#1' }]), first);
    assert.equal(aliveAtCreate.length, 4);
  } finally {
    restore();
    await releaseRunners();
  }
  assert.equal(alive.size, 0);
});

test('a Playground answer asked while an evaluation of its model runs waits for it: one session at a time', {
  timeout: 120_000,
}, async () => {
  const root = tempDir('playground-during-eval-');
  const adapter = adapterFor(LLAMA, join(root, 'adapter'));
  // Long enough that the answer, asked as the evaluation's session opens, would load beside it.
  const data = writeJsonl(
    join(root, 'd.jsonl'),
    Array.from({ length: 8 }, (_, i) => ({
      prompt: `Question ${i}: what is ${i} plus 1?`,
      completion: ` ${i + 1}`,
    })),
  );
  const ask = (notices: string[], s = signal) =>
    generateTask(
      { model: LLAMA, adapter: null, prompts: ['Hello there'], maxNewTokens: 4, temperature: 0 },
      ((e: string, d: { text: string }) => e === 'notice' && notices.push(d.text)) as Emit<'generate'>,
      s,
    ).then((g) => g.texts[0].text);
  const alone = await ask([]);
  await releaseRunners();

  const notices: string[] = [];
  const stopped: string[] = [];
  let answer: Promise<string> | null = null;
  let cancelled: Promise<unknown> | null = null;
  let evaluating = true;
  const { alive, aliveAtCreate, restore } = countSessions((n) => {
    if (n !== 1) return;
    // The evaluation's session is open: the Playground asks now, twice, and one asker gives up.
    answer = ask(notices).then((text) => {
      assert.equal(evaluating, false, 'answered after the evaluation ended');
      return text;
    });
    const stop = new AbortController();
    cancelled = ask(stopped, stop.signal).catch((e) => e);
    setTimeout(() => stop.abort(), 50);
  });
  try {
    const report = await evaluateTask(
      { model: LLAMA, adapter, data, kind: 'compare', maxNewTokens: 8, batchSize: 1 },
      (() => {}) as Emit<'evaluate'>,
      signal,
    );
    evaluating = false;
    assert.equal(report.examples, 8);
    assert.ok(answer && cancelled, "the evaluation's session opened");
    const gaveUp = (await cancelled) as Error & { code?: string };
    assert.equal(gaveUp.code, 'cancelled', 'a cancel ends the wait at once');
    assert.deepEqual(stopped, [WAITING_FOR_EVALUATION]);
    assert.equal(await answer, alone, 'the answer is as asked alone');
    assert.deepEqual(notices, [WAITING_FOR_EVALUATION, 'loading the model into ONNX Runtime']);
    assert.deepEqual(aliveAtCreate, [0, 0], "the answer's session opened once the evaluation's was released");
  } finally {
    restore();
    await releaseRunners();
  }
  assert.equal(alive.size, 0);
});

test('an evaluation asked while the Playground answers on its model waits for the answer to end', {
  timeout: 120_000,
}, async () => {
  const root = tempDir('eval-during-playground-');
  const adapter = adapterFor(LLAMA, join(root, 'adapter'));
  const data = writeJsonl(join(root, 'd.jsonl'), [
    { prompt: 'Question 1: what is 1 plus 1?', completion: ' 2' },
  ]);
  const evalNotices: string[] = [];
  let answered = false;
  let evaluation: Promise<unknown> | null = null;
  const { alive, aliveAtCreate, restore } = countSessions((n) => {
    if (n !== 1) return;
    // The Playground's session is open, its answer under way: the evaluation is asked now.
    evaluation = evaluateTask(
      { model: LLAMA, adapter, data, kind: 'loss', batchSize: 1 },
      ((e: string, d: { text: string }) => e === 'notice' && evalNotices.push(d.text)) as Emit<'evaluate'>,
      signal,
    ).then((r) => {
      assert.ok(answered, 'the evaluation ended after the answer');
      return r;
    });
  });
  try {
    const out = await generateTask(
      { model: LLAMA, adapter: null, prompts: ['Hello there'], maxNewTokens: 48, temperature: 0 },
      (() => {}) as Emit<'generate'>,
      signal,
    );
    answered = true;
    assert.ok(out.texts[0].tokens > 0);
    assert.ok(evaluation, "the Playground's session opened");
    await evaluation;
    assert.equal(evalNotices[0], WAITING_FOR_ANSWER);
    assert.deepEqual(aliveAtCreate, [0, 0], "the evaluation's session opened once the answer's was released");
  } finally {
    restore();
    await releaseRunners();
  }
  assert.equal(alive.size, 0);
});
