// The trainer end to end on the llama fixture model (4 layers, hidden 64): a trained direction that
// changes the greedy output, exact resume, cancel → checkpoint → resume, every intervention type,
// and the refusals that must come before any training.

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CancelledError, ConfigError } from '../../native-runtime/errors.ts';
import { readPyreftFolder } from '../../native-runtime/formats/pyreft.ts';
import { readStudioAdapter, studioToPyreft } from '../../native-runtime/formats/studio-adapter.ts';
import { INTERVENTION_TYPES } from '../../native-runtime/interventions/kinds.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { ort } from '../../native-runtime/runtime/session.ts';
import { loadTokenizer } from '../../native-runtime/tokenizer/tokenizer.ts';
import { listCheckpoints, readTrainerState } from '../../native-runtime/training/checkpoint.ts';
import type { TrainConfig } from '../../native-runtime/training/config.ts';
import { encodePrompt, specialIds } from '../../native-runtime/training/data.ts';
import { interventionLocations, parsePositions } from '../../native-runtime/training/positions.ts';
import { ReftModel, statesFromPyreft } from '../../native-runtime/training/reft-model.ts';
import { buildBatch, stepPlan, type TrainProgress, train } from '../../native-runtime/training/trainer.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { constantRows, tempDir, writeJsonl } from './helpers.ts';

const MODEL = modelDir('llama');
const dir = tempDir();
const tok = loadTokenizer(MODEL);
const spec = loadModelSpec(MODEL);

/** Greedy continuation of a prompt, with an adapter folder's interventions or none. */
async function greedy(prompt: string, adapterDir: string | null): Promise<number[]> {
  const ids = encodePrompt(tok, { line: 0, kind: 'text', prompt, completion: '' }, 'auto');
  if (!adapterDir) {
    const base = await ReftModel.load(spec, []);
    return (await base.generator().generate([ids], { greedy: true, maxNewTokens: 8 })).tokens[0];
  }
  const ad = readStudioAdapter(adapterDir);
  const model = await ReftModel.load(spec, statesFromPyreft(studioToPyreft(ad)));
  const locs = interventionLocations(
    ids.length,
    parsePositions(ad.manifest.positions),
    model.states.length,
    !ad.manifest.shareWeights,
  );
  const out = await model.generator().generate([ids], {
    greedy: true,
    maxNewTokens: 8,
    interventions: { params: model.paramFeed(), locations: [locs] },
  });
  return out.tokens[0];
}

/** One session holds training, evaluation and generation (training/reft-graph.ts). */
const SESSIONS_PER_RUN = 1;

describe('trained direction', () => {
  it('LoReFT f1+l1 rank 4 learns a fixed completion; the base model says something else', async () => {
    const data = writeJsonl(join(dir, 'ok.jsonl'), constantRows('ok'));
    const progress: TrainProgress[] = [];
    // What a wall-time bound meant to catch: per-step work that rebuilds graphs or sessions. Count
    // the ONNX Runtime sessions the 100-step run creates instead (a machine under load cannot fail it).
    let sessions = 0;
    const create = ort.InferenceSession.create;
    ort.InferenceSession.create = ((...args: Parameters<typeof create>) => {
      sessions++;
      return create.apply(ort.InferenceSession, args);
    }) as typeof create;
    const r = await train(
      {
        model: MODEL,
        data,
        out: join(dir, 'ok-adapter'),
        exportPyreft: join(dir, 'ok-pyreft'),
        layers: 'all',
        positions: 'f1+l1',
        rank: 4,
        lr: 2e-2,
        epochs: 20,
        batchSize: 4,
        seed: 1,
      },
      { onProgress: (p) => progress.push(p) },
    ).finally(() => {
      ort.InferenceSession.create = create;
    });
    assert.equal(sessions, SESSIONS_PER_RUN, 'sessions created by a 100-step run');
    assert.equal(r.steps, 100);
    assert.equal(progress.length, 100);
    assert.deepEqual(
      progress.map((p) => p.step),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.ok(
      progress.every(
        (p) => p.totalSteps === 100 && p.tokensPerS > 0 && p.etaS >= 0 && Number.isFinite(p.gradNorm),
      ),
    );
    assert.ok(r.finalLoss < progress[0].loss / 3, `loss ${progress[0].loss} → ${r.finalLoss}`);
    assert.equal(progress[0].lr, 2e-2); // linear decay, no warm-up
    assert.ok(Math.abs(progress[99].lr - 2e-2 / 100) < 1e-12);

    const want = [...tok.encode('ok', { addSpecialTokens: false }), tok.eosTokenId!];
    const trained = await greedy('Tell me about the cat.', r.adapter);
    const base = await greedy('Tell me about the cat.', null);
    assert.deepEqual(trained, want, `trained output ${JSON.stringify(tok.decode(trained))}`);
    assert.notDeepEqual(base.slice(0, want.length), want);
    // It generalises to a prompt it never saw.
    assert.deepEqual(await greedy('Tell me about the zebra.', r.adapter), want);

    const m = readStudioAdapter(r.adapter).manifest;
    assert.equal(m.positions, 'f1+l1');
    assert.equal(m.shareWeights, false);
    assert.deepEqual(m.layers, [0, 1, 2, 3]);
    assert.equal(m.interventions.length, 8);
    assert.equal(m.rank, 4);
    assert.deepEqual(m.baseModel, { arch: 'llama', fingerprint: spec.fingerprint, form: 'fp32' });
    assert.equal(m.promptTemplate, 'chat');
    assert.equal(m.metrics.finalLoss, r.finalLoss);
    assert.ok(!Number.isNaN(Date.parse(m.createdAt)));
    const py = readPyreftFolder(join(dir, 'ok-pyreft'));
    assert.deepEqual(
      py.interventions.map((iv) => iv.key),
      m.interventions.map((iv) => iv.key),
    );
  });
});

describe('checkpoints, resume and cancel', () => {
  const data = writeJsonl(join(dir, 'resume.jsonl'), constantRows('yes'));
  // 16 training rows → 4 micro-batches of 4 per epoch, G = 3 → 2 steps per epoch (3 + 1 micro-batches).
  const base: Omit<TrainConfig, 'out'> = {
    model: MODEL,
    data,
    layers: '1;3',
    positions: 'f2+l1',
    rank: 4,
    lr: 1e-2,
    epochs: 4,
    batchSize: 4,
    gradAccum: 3,
    dropout: 0.1,
    warmupRatio: 0.25,
    schedule: 'cosine',
    evalSplit: 0.2,
    seed: 5,
  };
  const strip = (ms: TrainProgress[] | Array<{ tokensPerS: number }>) =>
    ms.map((m) => ({ ...m, tokensPerS: 0, etaS: 0 }));
  let full: Awaited<ReturnType<typeof train>>;

  it('an uninterrupted run with checkpoints every 3 steps', async () => {
    full = await train({ ...base, out: join(dir, 'full'), checkpointEvery: 3 });
    assert.equal(full.totalSteps, 8);
    assert.equal(full.trainExamples, 16);
    assert.equal(full.evalExamples, 4);
    assert.deepEqual(
      listCheckpoints(join(dir, 'full.checkpoints')).map((p) => p.slice(-11)),
      ['step-000003', 'step-000006', 'step-000008'],
    );
    assert.equal(full.metrics.filter((m) => m.evalLoss !== null).length, 4); // end of each epoch
    const st = readTrainerState(join(dir, 'full.checkpoints', 'step-000003'));
    assert.equal(st.step, 3);
    assert.equal(st.epoch, 1);
    assert.equal(st.micro, 3);
    assert.equal(st.metrics.length, 3);
    // A checkpoint folder is a readable studio adapter.
    assert.equal(readStudioAdapter(join(dir, 'full.checkpoints', 'step-000003')).interventions.length, 4);
  });

  it('resuming from step 3 reproduces the uninterrupted run exactly', async () => {
    const r = await train({
      ...base,
      out: join(dir, 'resumed'),
      resumeFrom: join(dir, 'full.checkpoints', 'step-000003'),
    });
    assert.equal(r.resumedFrom, join(dir, 'full.checkpoints', 'step-000003'));
    assert.deepEqual(strip(r.metrics), strip(full.metrics));
    const a = readStudioAdapter(full.adapter),
      b = readStudioAdapter(r.adapter);
    a.interventions.forEach((iv, i) => {
      for (const [name, t] of Object.entries(iv.params))
        assert.deepEqual(b.interventions[i].params[name].data, t.data, `${iv.key} ${name}`);
    });
  });

  it('cancel saves a checkpoint and stops; resuming it finishes like the uninterrupted run', async () => {
    const ac = new AbortController();
    const seen: TrainProgress[] = [];
    const saved: number[] = [];
    await assert.rejects(
      train(
        { ...base, out: join(dir, 'cancelled') },
        {
          signal: ac.signal,
          onProgress: (p) => {
            seen.push(p);
            if (p.step === 5) ac.abort();
          },
          onCheckpoint: (c) => void saved.push(c.step),
        },
      ),
      (e: Error) =>
        e instanceof CancelledError && /cancelled at step 5 of 8; checkpoint: .*step-000005/.test(e.message),
    );
    assert.equal(seen.length, 5);
    assert.deepEqual(saved, [5]);
    assert.ok(!existsSync(join(dir, 'cancelled')), 'no final adapter after a cancel');
    const ckpt = join(dir, 'cancelled.checkpoints', 'step-000005');
    const r = await train({ ...base, out: join(dir, 'cancelled'), resumeFrom: ckpt });
    assert.deepEqual(strip(r.metrics), strip(full.metrics));
    assert.equal(r.steps, 8);
  });

  it('cancel right after a resume points at the checkpoint it resumed from', async () => {
    const ac = new AbortController();
    ac.abort();
    const ckpt = join(dir, 'full.checkpoints', 'step-000003');
    await assert.rejects(
      train({ ...base, out: join(dir, 'c2'), resumeFrom: ckpt }, { signal: ac.signal }),
      (e: Error) => e instanceof CancelledError && e.message.endsWith(`step 3 of 8; checkpoint: ${ckpt}`),
    );
    assert.ok(!existsSync(join(dir, 'c2.checkpoints')));
  });

  it("keepCheckpoints keeps the newest N of this run, across a resume, and no other run's", async () => {
    const ckDir = join(dir, 'kept.checkpoints');
    // Another run's checkpoint in the same folder (a shared --checkpoint-dir): never pruned.
    mkdirSync(ckDir, { recursive: true });
    cpSync(join(dir, 'full.checkpoints', 'step-000003'), join(ckDir, 'step-000100'), { recursive: true });
    const kept = { ...base, out: join(dir, 'kept'), checkpointDir: ckDir, checkpointEvery: 1 };
    const ac = new AbortController();
    const reports: Array<{ step: number; removed?: string[] }> = [];
    await assert.rejects(
      train(
        { ...kept, keepCheckpoints: 2, runId: 'r7' },
        {
          signal: ac.signal,
          onProgress: (p) => p.step === 4 && ac.abort(),
          onCheckpoint: (c) =>
            void reports.push({ step: c.step, removed: c.removed?.map((d) => d.slice(-11)) }),
        },
      ),
      CancelledError,
    );
    assert.deepEqual(reports, [
      { step: 1, removed: undefined },
      { step: 2, removed: undefined },
      { step: 3, removed: ['step-000001'] },
      { step: 4, removed: ['step-000002'] },
    ]);
    const names = () => listCheckpoints(ckDir).map((p) => p.slice(-11));
    assert.deepEqual(names(), ['step-000003', 'step-000004', 'step-000100']);
    // The resumed session prunes the first session's checkpoints too (same run id and data).
    const r = await train({
      ...kept,
      keepCheckpoints: 2,
      runId: 'r7',
      resumeFrom: join(ckDir, 'step-000004'),
    });
    assert.deepEqual(names(), ['step-000007', 'step-000008', 'step-000100']);
    assert.deepEqual(
      r.checkpoints.map((p) => p.slice(-11)),
      ['step-000007', 'step-000008'],
    );
    // Pruning changes nothing in the numbers.
    assert.deepEqual(strip(r.metrics), strip(full.metrics));
  });

  it('refuses to resume with options that change the numbers, or changed data', async () => {
    const ckpt = join(dir, 'full.checkpoints', 'step-000003');
    await assert.rejects(train({ ...base, lr: 2e-2, out: join(dir, 'x1'), resumeFrom: ckpt }), {
      code: 'checkpoint-mismatch',
      message: /lr was 0\.01, now 0\.02/,
    });
    const other = writeJsonl(join(dir, 'other.jsonl'), constantRows('no'));
    await assert.rejects(train({ ...base, data: other, out: join(dir, 'x2'), resumeFrom: ckpt }), {
      code: 'checkpoint-mismatch',
      message: /training data .* changed/,
    });
  });
});

describe('evaluation data', () => {
  it('--eval-data gives an eval loss at the end of every epoch and of the run', async () => {
    const data = writeJsonl(join(dir, 'tr.jsonl'), constantRows('yes').slice(0, 4));
    const evalData = writeJsonl(join(dir, 'ev.jsonl'), constantRows('yes').slice(4, 7));
    const seen: TrainProgress[] = [];
    const r = await train(
      {
        model: MODEL,
        data,
        evalData,
        out: join(dir, 'ev'),
        layers: '3',
        positions: 'l1',
        epochs: 2,
        batchSize: 2,
      },
      { onProgress: (p) => seen.push(p) },
    );
    assert.equal(r.evalExamples, 3);
    assert.deepEqual(
      seen.map((p) => p.evalLoss !== undefined),
      [false, true, false, true],
    );
    assert.equal(r.evalLoss, seen[3].evalLoss);
    assert.equal(readStudioAdapter(r.adapter).manifest.metrics.evalLoss, r.evalLoss);
  });
});

describe('every intervention type trains', () => {
  it('three steps of each type lower the loss and write a loadable adapter', async () => {
    const data = writeJsonl(join(dir, 'types.jsonl'), constantRows('yes').slice(0, 8));
    for (const type of INTERVENTION_TYPES) {
      const out = join(dir, `type-${type}`);
      const r = await train({
        model: MODEL,
        data,
        out,
        intervention: type,
        layers: '2',
        positions: 'l2',
        rank: 2,
        lr: 2e-2,
        maxSteps: 4,
        batchSize: 8,
        dropout: 0.05,
      });
      assert.ok(r.metrics[3].loss < r.metrics[0].loss, `${type}: ${r.metrics.map((m) => m.loss)}`);
      const ad = readStudioAdapter(out);
      assert.equal(ad.interventions[0].type, type);
      assert.equal(ad.manifest.dropout, 0.05);
    }
  });
});

describe('refused before training', () => {
  const data = writeJsonl(join(dir, 'good.jsonl'), constantRows('yes').slice(0, 4));
  const cases: Array<[string, Partial<TrainConfig>, string, RegExp]> = [
    [
      'layer out of range',
      { layers: '2;9' },
      'layer-out-of-range',
      /layer 9 is out of range: the model has layers 0\.\.3/,
    ],
    [
      'rank larger than the hidden size',
      { rank: 65 },
      'bad-rank',
      /Rank must be at most the model's hidden size, 64 \(got 65\)/,
    ],
    ['rank below 1', { rank: 0 }, 'bad-rank', /Rank must be an integer ≥ 1 \(got 0\)/],
    ['f0 positions', { positions: 'f0' }, 'bad-positions', /f0 selects no token/],
    [
      'unparsable positions',
      { positions: 'first3' },
      'bad-positions',
      /positions "first3" is not understood/,
    ],
    [
      'positions longer than max length',
      { positions: 'l300', maxLength: 256 },
      'bad-positions',
      /l300 is longer than 256 tokens/,
    ],
    ['lr 0', { lr: 0 }, 'bad-lr', /Learning rate must be a number > 0/],
    ['negative lr', { lr: -1e-3 }, 'bad-lr', /Learning rate must be a number > 0/],
    [
      'batch size 0',
      { batchSize: 0 },
      'bad-batch-size',
      /Batch size must be an integer from 1 to 4096 \(got 0\)/,
    ],
    [
      'unknown intervention type',
      { intervention: 'superreft' as never },
      'unknown-intervention',
      /Intervention type must be one of loreft, .* \(got "superreft"\)/,
    ],
    ['dropout 1', { dropout: 1 }, 'bad-dropout', /Dropout must be a number ≥ 0 and < 1/],
    [
      'max length beyond the model',
      { maxLength: 1000 },
      'bad-max-length',
      /Max length must be at most the model's 256 positions/,
    ],
  ];
  for (const [name, patch, code, message] of cases) {
    it(name, async () => {
      const out = join(dir, `refused-${code}`);
      await assert.rejects(
        train({ model: MODEL, data, out, ...patch }, { onProgress: () => assert.fail('trained') }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, String(e));
          assert.equal(e.code, code);
          assert.match(e.message, message);
          return true;
        },
      );
      assert.ok(!existsSync(out));
    });
  }
  it('empty dataset', async () => {
    const empty = join(dir, 'empty.jsonl');
    writeJsonl(empty, []);
    await assert.rejects(train({ model: MODEL, data: empty, out: join(dir, 'e') }), {
      code: 'empty-dataset',
      message: /empty\.jsonl: the dataset has no examples/,
    });
  });
  it('a line without a completion', async () => {
    const bad = writeJsonl(join(dir, 'bad.jsonl'), [
      { prompt: 'a', completion: 'b' },
      { prompt: 'no answer' },
    ]);
    await assert.rejects(train({ model: MODEL, data: bad, out: join(dir, 'b') }), {
      code: 'bad-data',
      message: /bad\.jsonl: line 2: no completion/,
    });
  });
});

describe('batches and step plan', () => {
  it('right padding, labels on completions only, per-intervention locations with −1 padding, dropout masks', async () => {
    const rows = [
      { line: 1, ids: [1, 10, 11, 12, 20, 2], promptLen: 4, truncated: false },
      { line: 2, ids: [1, 10, 21, 2], promptLen: 2, truncated: false },
    ];
    const pos = parsePositions('f2+l2');
    const specs = Array.from({ length: 2 }, (_, j) => ({
      key: `k${j}`,
      layer: 0,
      type: 'loreft' as const,
      rank: 2,
      embedDim: 3,
      act: 'linear' as const,
      dropout: 0.5,
    }));
    let u = 0;
    const { batch, tokens } = buildBatch(rows, pos, true, 2, 0, {
      specs,
      rng: () => {
        u = (u + 0.37) % 1;
        return u;
      },
    });
    assert.equal(tokens, 10);
    assert.deepEqual(batch.dims, [2, 6]);
    assert.deepEqual([...batch.inputIds].map(Number), [1, 10, 11, 12, 20, 2, 1, 10, 21, 2, 0, 0]);
    assert.deepEqual([...batch.attentionMask].map(Number), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    assert.deepEqual(
      [...batch.labels!].map(Number),
      [-100, -100, -100, -100, 20, 2, -100, -100, 21, 2, -100, -100],
    );
    // Row 0: L = 4 → prefix [0, 1], suffix [2, 3]; row 1: L = 2 → [0, −1], [1, −1].
    assert.deepEqual(
      batch.locations.map((l) => [l.P, [...l.data].map(Number)]),
      [
        [2, [0, 1, 0, -1]],
        [2, [2, 3, 1, -1]],
      ],
    );
    const m = batch.dropoutMasks![0]!;
    assert.equal(m.length, 2 * 2 * 3);
    assert.ok(m.every((x) => x === 0 || x === 2) && m.some((x) => x === 0) && m.some((x) => x === 2));
  });

  it('a pad token past the embedding (added to tokenizer.json, model not resized) is passed over for one inside it', async () => {
    // It reached the embedding's Gather as id 700 of 640 rows and stopped the run with ORT's words.
    const model = join(dir, 'big-pad');
    cpSync(MODEL, model, { recursive: true });
    const tj = JSON.parse(readFileSync(join(model, 'tokenizer.json'), 'utf8'));
    tj.added_tokens.push({
      id: spec.vocabSize + 60,
      content: '<pad>',
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
    writeFileSync(join(model, 'tokenizer.json'), JSON.stringify(tj));
    const tc = JSON.parse(readFileSync(join(model, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(join(model, 'tokenizer_config.json'), JSON.stringify({ ...tc, pad_token: '<pad>' }));
    const t = loadTokenizer(model);
    assert.equal(t.padTokenId, spec.vocabSize + 60);
    assert.deepEqual(specialIds(t, spec), { eosId: t.eosTokenId, padId: spec.padTokenId ?? t.eosTokenId });
    const data = writeJsonl(join(dir, 'uneven.jsonl'), [
      { prompt: 'a much longer prompt than the other', completion: 'yes' },
      { prompt: 'short', completion: 'no' },
    ]);
    const r = await train({
      model,
      data,
      out: join(dir, 'big-pad-out'),
      batchSize: 2,
      maxSteps: 1,
      layers: '1',
    });
    assert.ok(Number.isFinite(r.finalLoss));
  });

  it('steps per epoch round up; maxSteps overrides epochs; warm-up rounds up', () => {
    const cfg = { batchSize: 4, gradAccum: 3, epochs: 2, maxSteps: 0, warmupRatio: 0.1 } as Parameters<
      typeof stepPlan
    >[0];
    assert.deepEqual(stepPlan(cfg, 17), { microPerEpoch: 5, stepsPerEpoch: 2, totalSteps: 4, warmup: 1 });
    assert.equal(stepPlan({ ...cfg, maxSteps: 7 }, 17).totalSteps, 7);
  });
});

// Keeps the fixture tokenizer in sync with the test's expectations (a changed fixture would make
// the trained-direction test meaningless rather than failing).
it('fixture: "ok" is a short token sequence and the model has a chat template', () => {
  assert.ok(tok.encode('ok', { addSpecialTokens: false }).length <= 3);
  assert.ok(tok.chatTemplate);
  assert.ok(readFileSync(join(MODEL, 'config.json'), 'utf8').includes('"hidden_size": 64'));
});
