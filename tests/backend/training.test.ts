// Training runs, generation, evaluation and estimates through the backend's RPC (in-process host,
// real engine in its processes, real SQLite file), plus `reft-studio runs resume` from the CLI.

import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { JobProgress } from '../../electron/backend/events.ts';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { type Engine, WorkerEngine } from '../../electron/backend/jobs/engine.ts';
import type { PushMessage } from '../../electron/backend/rpc/envelope.ts';
import { WARMUP_STEPS } from '../../native-runtime/runtime/warm-up.ts';
import { cudaMissingHere } from '../helpers/cuda-here.ts';
import { inProcess, LLAMA_FIXTURE, runCli, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('training');
const dataDir = join(root, 'data');
let b: Backend;
let modelId: number;
let datasetId: number;
const pushes: PushMessage[] = [];
const engineCalls: Array<{ op: string; args: unknown }> = [];

const { call, callError } = inProcess(() => b);

const base = { layers: '1;2', rank: 2, positions: 'f1+l1', intervention: 'loreft', lr: 0.004 };

before(async () => {
  // The real engine processes; each call's op and arguments are noted on the way (what reaches them).
  const real = new WorkerEngine({ dataDir });
  const engine: Engine = {
    call: (op, args, opts) => {
      engineCalls.push({ op, args });
      return real.call(op, args, opts);
    },
    refresh: () => real.refresh(),
    close: () => real.close(),
    killNow: () => real.killNow(),
  };
  b = createBackend(dataDir, { seedDemo: false, engine });
  b.events.onAny((topic, data) => pushes.push({ type: 'push', topic, data }));
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 16);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(() => b.close());

const runOf = (id: number) => call('runs/get', { id });
/** Waits until the run's job has returned (a cancelled job still checkpoints) and it is in `states`. */
const finished = (id: number, states = ['completed', 'failed', 'cancelled', 'paused']) =>
  waitFor(`run ${id} to settle`, async () => {
    await b.jobs.idle();
    const r = await runOf(id);
    return states.includes(r.status) ? r : null;
  });

const steps = (xs: Array<{ step: number }>) => xs.map((x) => x.step);

/** Trains 2 epochs of 4-row batches (8 steps) with a probe every `every` steps, to completion. */
async function trainToEnd(o: { every: number; keepCheckpoints?: number }) {
  const run = await call('runs/start', {
    modelId,
    datasetId,
    ...base,
    epochs: 2,
    batchSize: 4,
    ...(o.keepCheckpoints !== undefined ? { keepCheckpoints: o.keepCheckpoints } : {}),
    probe: { prompts: ['Question 3?'], every: o.every },
  });
  const done = await finished(run.runId);
  assert.equal(done.status, 'completed', done.error ?? '');
  return { run, done };
}

test('runs/start refuses bad runs before recording anything', async () => {
  assert.equal(
    (await callError('runs/start', { modelId, datasetId, ...base, layers: '9' })).code,
    'layer-out-of-range',
  );
  assert.equal((await callError('runs/start', { modelId: 999, datasetId })).code, 'not-found');
  assert.equal((await callError('runs/start', { modelId, datasetId, rank: 'two' })).code, 'bad-rank');
  assert.equal((await callError('runs/start', { datasetId })).code, 'invalid-params');
  assert.equal(
    (await callError('runs/start', { modelId, datasetId, positions: 'x3' })).code,
    'bad-positions',
  );
  // A name that would read as another in a list (a right-to-left override), as the library's names.
  const hidden = await callError('runs/start', { modelId, datasetId, ...base, name: 'run \u202Egnp.exe' });
  assert.equal(hidden.code, 'invalid-params');
  assert.match(hidden.message, /a run name cannot hold a text-direction character \(U\+202E\)/);
  assert.deepEqual(await call('runs/list'), []);
});

test('runs/start and runs/estimate word an option refusal for the studio (label, field), not as a CLI flag', async () => {
  // The fixture's hidden size is 64: the limit depends on the model.
  for (const method of ['runs/start', 'runs/estimate'] as const) {
    const rank = await callError(method, { modelId, datasetId, ...base, rank: 65 });
    assert.equal(rank.code, 'bad-rank');
    assert.equal(rank.message, "Rank must be at most the model's hidden size, 64 (got 65)");
    assert.equal((rank as { field?: string }).field, 'rank');
    // Refused by the schema before the model is looked at: the same wording and field.
    const drop = await callError(method, { modelId, datasetId, ...base, dropout: 1 });
    assert.equal(drop.code, 'bad-dropout');
    assert.equal(drop.message, 'Dropout must be a number ≥ 0 and < 1 (got 1)');
    assert.equal((drop as { field?: string }).field, 'dropout');
    // A value of the wrong type is quoted as JSON, not "[object Object]".
    const layers = await callError(method, { modelId, datasetId, ...base, layers: { a: 1 } });
    assert.equal(layers.code, 'bad-layers');
    assert.equal(layers.message, 'Layers must be written like 2;10;18 (got {"a":1})');
  }
  assert.deepEqual(await call('runs/list'), []);
});

test('a run trains to the end: metrics per step, checkpoints, probe samples, progress pushes, adapter with lineage', async () => {
  pushes.length = 0;
  const { run, done } = await trainToEnd({ every: 4 });
  assert.deepEqual(
    done.metrics.map((m: { step: number }) => m.step),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.equal(done.totalSteps, 8);
  assert.deepEqual(steps(done.checkpoints), [4, 8]);
  // Step 0 is the base model before training: the probe timeline's starting point.
  assert.deepEqual(steps(done.samples), [0, 4, 8]);
  assert.equal(done.config.datasetId, datasetId);
  const jobPushes = pushes.flatMap((p) => (p.topic === 'jobs/progress' ? [p.data as JobProgress] : []));
  const progress = jobPushes.flatMap((p) => (p.detail?.event === 'progress' ? [p] : []));
  assert.deepEqual(
    progress.map((p) => p.detail?.event === 'progress' && p.detail.step),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  const p0 = progress[0];
  assert.equal(p0.runId, run.runId);
  for (const k of ['step', 'totalSteps', 'epoch', 'loss', 'lr', 'gradNorm', 'tokensPerS', 'etaS'])
    assert.equal(typeof (p0.detail as unknown as Record<string, unknown>)[k], 'number', k);
  // Probe samples are pushed as they are taken, and match what was stored.
  const samples = jobPushes.flatMap((p) => (p.detail?.event === 'sample' ? [p.detail] : []));
  assert.deepEqual(
    samples.map((s) => [s.step, s.prompt]),
    [
      [0, 'Question 3?'],
      [4, 'Question 3?'],
      [8, 'Question 3?'],
    ],
  );
  const adapter = await call('adapters/get', { id: done.adapterId });
  assert.equal(adapter.runId, run.runId);
  assert.equal(adapter.datasetVersionId, run.datasetVersionId);
  assert.equal(adapter.type, 'loreft');
  assert.equal(adapter.manifest.runId, String(run.runId));
});

test('keepCheckpoints: older checkpoints leave the disk and the library; probes still sample each one', async () => {
  const { run, done } = await trainToEnd({ every: 2, keepCheckpoints: 1 });
  assert.deepEqual(steps(done.checkpoints), [8]);
  assert.deepEqual(readdirSync(join(dataDir, 'runs', String(run.runId), 'checkpoints')), ['step-000008']);
  // A probe reads its checkpoint when it is written: the pruning that follows cannot take it away.
  assert.deepEqual(steps(done.samples), [0, 2, 4, 6, 8]);
});

test('pause keeps a resumable checkpoint; resume continues without gap; cancel checkpoints then stops', async () => {
  const run = await call('runs/start', {
    modelId,
    datasetId,
    ...base,
    maxSteps: 60,
    batchSize: 1,
    checkpointEvery: 50,
  });
  await waitFor(
    'a few steps',
    async () => ((await runOf(run.runId)).lastStep >= 3 ? true : null),
    60_000,
    10,
  );
  const paused = await call('runs/pause', { id: run.runId });
  assert.ok(['running', 'paused'].includes(paused.status));
  const p = await finished(run.runId);
  assert.equal(p.status, 'paused');
  assert.ok(p.checkpoints.length >= 1, 'pausing saved a checkpoint');
  assert.equal(p.checkpoints.at(-1).step, p.lastStep, 'at the last finished step');
  assert.equal((await callError('runs/pause', { id: run.runId })).code, 'not-pausable');

  await call('runs/resume', { id: run.runId });
  await waitFor(
    'more steps',
    async () => ((await runOf(run.runId)).lastStep >= p.lastStep + 2 ? true : null),
    60_000,
    10,
  );
  const cancelled = await call('runs/cancel', { id: run.runId });
  assert.equal(cancelled.status, 'cancelled');
  const c = await finished(run.runId, ['cancelled']);
  assert.equal(c.checkpoints.at(-1).step, c.lastStep, 'cancel saved a checkpoint at the last step');
  const steps = c.metrics.map((m: { step: number }) => m.step);
  assert.deepEqual(
    steps,
    Array.from({ length: steps.length }, (_, i) => i + 1),
    'no gap, no duplicate',
  );
  assert.equal((await callError('runs/resume', { id: run.runId })).code, 'not-resumable');
  assert.equal((await callError('runs/cancel', { id: run.runId })).code, 'not-cancellable');
});

test('runs/estimate: parameter count, adapter size, memory; calibration measured once, then cached', async () => {
  const params = { modelId, datasetId, ...base, epochs: 2, batchSize: 4 };
  pushes.length = 0;
  const e1 = await call('runs/estimate', { ...params, calibrate: true });
  // The measurement says what it does while it runs: at desktop sizes a step takes minutes (a 1.1B
  // model's 4 × 512 on 2 cores: 174 s), and the wizard once showed only "Measuring speed…" for
  // nine minutes.
  const said = pushes.flatMap((p) => {
    const j = p.data as JobProgress;
    return p.topic === 'jobs/progress' && j.kind === 'calibrate' && j.state === 'running' && j.message
      ? [j.message]
      : [];
  });
  assert.ok(said.includes('loading the model into ONNX Runtime'), said.join(' | '));
  // Bench's untimed warm-up steps first (a session's second run still pays start-up costs), then
  // two timed ones.
  const total = WARMUP_STEPS + 2;
  assert.deepEqual(
    said.filter((m) => m.startsWith('step ')),
    Array.from({ length: total }, (_, i) => `step ${i + 1} of ${total}`),
  );
  assert.equal(e1.calibration?.steps, 2);
  // LoReFT 2·n·r + r per intervention; f1+l1 untied on 2 layers = 4 interventions; n = 64, r = 2.
  assert.equal(e1.interventions, 4);
  assert.equal(e1.trainableParams, 4 * (2 * 64 * 2 + 2));
  assert.equal(e1.stepsPerEpoch, 4);
  assert.equal(e1.totalSteps, 8);
  assert.ok(e1.calibration && e1.calibration.stepMs > 0 && !e1.calibration.cached);
  assert.ok(e1.epochSeconds > 0);
  assert.ok(e1.memory.weightsBytes > 1e6 * 0.9 && e1.memory.totalBytes > e1.memory.weightsBytes);
  const e2 = await call('runs/estimate', params);
  assert.equal(e2.calibration.cached, true);
  // The adapter of the completed run with the same shape: the estimate is within 15%.
  const done = (await call('runs/list', { status: 'completed' }))[0];
  const adapter = await call('adapters/get', { id: (await runOf(done.id)).adapterId });
  const actual = readdirSync(adapter.path).reduce((s, f) => s + statSync(join(adapter.path, f)).size, 0);
  assert.ok(
    Math.abs(e1.adapterBytes - actual) / actual < 0.15,
    `estimate ${e1.adapterBytes} vs actual ${actual}`,
  );
  // Not asked for, not measured: a caller that leaves `calibrate` out gets the cheap answer, never
  // a minutes-long measurement by omission (the window always says which it wants).
  pushes.length = 0;
  for (const ask of [{ calibrate: false }, {}]) {
    const none = await call('runs/estimate', { ...params, rank: 3, ...ask });
    assert.equal(none.calibration, null);
    assert.equal(none.calibrationSkipped, 'not-requested');
  }
  assert.ok(
    !pushes.some((p) => p.topic === 'jobs/progress' && (p.data as JobProgress).kind === 'calibrate'),
    'no measurement ran',
  );
});

test('generate/run streams generate/token pushes and answers {text, tokens, finishReason}', async () => {
  pushes.length = 0;
  const r = await call('generate/run', {
    modelId,
    prompt: 'Question 2: what is 2 plus 2?',
    maxNewTokens: 8,
    temperature: 0,
    requestId: 'req-1',
  });
  assert.equal(r.requestId, 'req-1');
  assert.ok(r.tokens >= 1 && r.tokens <= 8);
  assert.ok(['eos', 'length', 'stop'].includes(r.finishReason));
  const streamed = pushes
    .filter((p) => p.topic === 'generate/token' && (p.data as { requestId: string }).requestId === 'req-1')
    .map((p) => (p.data as { text: string }).text)
    .join('');
  assert.equal(streamed, r.text);
  const again = await call('generate/run', {
    modelId,
    prompt: 'Question 2: what is 2 plus 2?',
    maxNewTokens: 8,
    temperature: 0,
  });
  assert.equal(again.text, r.text, 'greedy is deterministic');
  const adapterId = (await call('adapters/list'))[0].id;
  const withAdapter = await call('generate/run', {
    modelId,
    adapterId,
    prompt: 'Question 2?',
    maxNewTokens: 4,
    seed: 3,
    temperature: 0.7,
    topK: 20,
    topP: 0.9,
  });
  assert.equal(typeof withAdapter.text, 'string');
  // An adapter for another base model is refused.
  const other = join(root, 'other-model');
  const { cpSync, readFileSync, writeFileSync } = await import('node:fs');
  cpSync(LLAMA_FIXTURE, other, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8'));
  writeFileSync(join(other, 'config.json'), JSON.stringify({ ...cfg, rms_norm_eps: 1e-6 }));
  const otherId = (await call('models/add', { path: other })).id;
  assert.equal(
    (await callError('generate/run', { modelId: otherId, adapterId, prompt: 'hi' })).code,
    'adapter-mismatch',
  );
});

test('evaluations/run: loss/perplexity, exact-match and base-vs-adapter comparison, stored with the adapter', async () => {
  const adapterId = (await call('adapters/list')).find((a: { runId: number | null }) => a.runId !== null).id;
  // Evaluations run on the device chosen in Settings, as the Playground's generation does ('auto'
  // is the CPU on a machine without a GPU).
  await call('settings/environment-set', { device: 'auto' });
  engineCalls.length = 0;
  const pushedBefore = pushes.length;
  const loss = await call('evaluations/run', { adapterId, datasetId, kind: 'loss' });
  await call('settings/environment-set', { device: 'cpu' });
  assert.equal(loss.status, 'completed', loss.error ?? '');
  // Before its first example the job says it is opening the sessions (tens of seconds on a large model).
  assert.ok(
    pushes
      .slice(pushedBefore)
      .some(
        (p) =>
          p.topic === 'jobs/progress' &&
          (p.data as JobProgress).message === 'loading the model into ONNX Runtime',
      ),
    'the evaluation job tells the session opening',
  );
  // Once loaded it says it evaluates at once ("0 of 16 examples", each counted once both models have it),
  // not "loading" until its first batch ends (31 s at 1.1B).
  const counts = pushes
    .slice(pushedBefore)
    .flatMap((p) => (p.topic === 'jobs/progress' ? [(p.data as JobProgress).detail] : []))
    .filter((d) => d?.event === 'evaluate-progress');
  assert.deepEqual(counts[0], { event: 'evaluate-progress', done: 0, total: 16 });
  assert.deepEqual(
    engineCalls.map((c) => [c.op, (c.args as { device?: string }).device]),
    [['evaluate', 'auto']],
  );
  assert.ok(
    loss.metrics.loss > 0 &&
      Math.abs(loss.metrics.perplexity - Math.exp(loss.metrics.loss)) < 1e-6 * loss.metrics.perplexity,
  );
  assert.ok(loss.metrics.baseLoss > 0);
  assert.equal(loss.examples, 16);
  const em = await call('evaluations/run', {
    adapterId,
    datasetId,
    kind: 'exact-match',
    limit: 3,
    maxNewTokens: 4,
  });
  assert.equal(em.status, 'completed', em.error ?? '');
  assert.equal(em.metrics.total, 3);
  assert.equal(em.samples.length, 3);
  assert.ok('extracted' in em.samples[0] && 'correct' in em.samples[0]);
  const cmp = await call('evaluations/run', {
    adapterId,
    datasetId,
    kind: 'compare',
    limit: 2,
    maxNewTokens: 4,
  });
  assert.equal(cmp.samples.length, 2);
  assert.equal(typeof cmp.samples[0].baseOutput, 'string');
  const list = await call('evaluations/list', { adapterId });
  assert.deepEqual(
    list.map((e: { kind: string }) => e.kind),
    ['compare', 'exact-match', 'loss'],
  );
});

test('the device that really ran is recorded and returned: a run, an evaluation and a generation asked for CUDA ran on the CPU', async () => {
  // This machine has no CUDA runtime pack, so 'cuda' falls back to the CPU (what a driver or pack
  // problem does on a user's machine): the record must say 'cpu' and why, not the device asked for.
  const started = await call('runs/start', {
    modelId,
    datasetId,
    ...base,
    maxSteps: 2,
    batchSize: 4,
    device: 'cuda',
  });
  const run = await finished(started.runId);
  assert.equal(run.status, 'completed', run.error ?? '');
  assert.equal(run.config.device, 'cuda', 'the config keeps what was asked for');
  assert.equal(run.device, 'cpu');
  assert.match(run.deviceFallback ?? '', new RegExp(`^cuda: ${await cudaMissingHere()}`));
  assert.equal((await call('runs/list')).find((r: { id: number }) => r.id === run.id).device, 'cpu');
  // The fallback is told once in the run's log, not once more as "device 'cuda': running on cpu";
  // marked a warning by its sayer (the session), the one warning of the run's log: a reader shows it
  // as one from that mark, not from its words.
  const logged: { text: string; level?: string }[] = await call('runs/logs', { id: run.id });
  const fallback = `device 'cuda' unavailable — ${run.deviceFallback}; running on cpu`;
  assert.deepEqual(
    logged.filter((l) => l.text.includes("device 'cuda'")).map((l) => l.text),
    [fallback],
  );
  assert.deepEqual(
    logged.filter((l) => l.level === 'warn').map((l) => l.text),
    [fallback],
  );

  await call('settings/environment-set', { device: 'cuda' });
  try {
    const ev = await call('evaluations/run', { adapterId: run.adapterId, datasetId, kind: 'loss', limit: 2 });
    assert.equal(ev.status, 'completed', ev.error ?? '');
    assert.deepEqual(ev.device, { requested: 'cuda', device: 'cpu', fallback: run.deviceFallback });
    assert.deepEqual((await call('evaluations/get', { id: ev.id })).device, ev.device, 'stored with it');
    // Every reply says where it ran, also when the loaded model is reused (its notice came once).
    for (let i = 0; i < 2; i++) {
      const g = await call('generate/run', {
        modelId,
        prompt: 'Question 1?',
        maxNewTokens: 2,
        temperature: 0,
      });
      assert.deepEqual(g.device, { requested: 'cuda', device: 'cpu', fallback: run.deviceFallback });
    }
  } finally {
    await call('settings/environment-set', { device: 'cpu' });
  }
});

test('`reft-studio runs resume` continues a paused run to completion from the CLI', {
  timeout: 120_000,
}, async () => {
  const run = await call('runs/start', {
    modelId,
    datasetId,
    ...base,
    maxSteps: 40,
    batchSize: 1,
    checkpointEvery: 100,
  });
  await waitFor(
    'a few steps',
    async () => ((await runOf(run.runId)).lastStep >= 2 ? true : null),
    60_000,
    10,
  );
  await call('runs/pause', { id: run.runId });
  const p = await finished(run.runId);
  assert.equal(p.status, 'paused');
  const res = await runCli(['runs', 'resume', String(run.runId), '--json', '--data-dir', dataDir]);
  assert.equal(res.code, 0, res.stderr);
  // --json: the result is the one object on stdout.
  const out = JSON.parse(res.stdout);
  assert.equal(out.outcome, 'completed');
  const done = await runOf(run.runId);
  assert.equal(done.status, 'completed');
  assert.deepEqual(
    done.metrics.map((m: { step: number }) => m.step),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  assert.ok(done.adapterId);
});
