// A library grown over months, written quickly for measuring the studio at that size: 50 models,
// 300 datasets of several versions, 2,000 runs (a tenth of them with 10,000 metric points, each with
// checkpoints and a log), 1,000 adapters with tags and 500 evaluations. It writes through the
// library's own functions (addModel, importDataset, createRun, appendMetrics, registerAdapter, …),
// so the rows are what the studio would have stored; models are copies of the demo model (each with
// its own fingerprint) and runs are recorded, not trained.
//
//   node --import tsx scripts/populate-scale-library.ts DATA_DIR [--runs N] [--adapters N]
//        [--datasets N] [--models N]
//
// DATA_DIR must not exist; the model folders are written beside it (DATA_DIR-models/).

import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { registerAdapter } from '../electron/backend/library/adapters.ts';
import { importDataset } from '../electron/backend/library/dataset-import.ts';
import { createEvaluation, finishEvaluation } from '../electron/backend/library/evaluations.ts';
import { closeLibrary, openLibrary } from '../electron/backend/library/library.ts';
import { addModel } from '../electron/backend/library/models.ts';
import {
  appendMetrics,
  createRunWithConfig,
  type RunMetric,
  type RunStatus,
  recordCheckpoint,
  recordGeneration,
  setRunDevice,
  setRunStatus,
} from '../electron/backend/library/runs.ts';
import { setSetting } from '../electron/backend/library/settings.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '2000' },
    adapters: { type: 'string', default: '1000' },
    datasets: { type: 'string', default: '300' },
    models: { type: 'string', default: '50' },
  },
});
const dataDir = positionals[0] ? resolve(positionals[0]) : '';
if (!dataDir || existsSync(dataDir)) {
  console.error('usage: populate-scale-library.ts DATA_DIR (a folder that does not exist yet)');
  process.exit(2);
}
const N = {
  runs: Number(values.runs),
  adapters: Number(values.adapters),
  datasets: Number(values.datasets),
  models: Number(values.models),
};

const root = resolve(import.meta.dirname, '..');
const demo = join(root, 'resources/demo');
/** A fixed-seed generator: the same library every time. */
let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

const lib = openLibrary(dataDir);
// A populating script, not the studio: a crash here only means running it again.
lib.db.pragma('synchronous = OFF');
const started = Date.now();
const say = (what: string) => console.error(`${((Date.now() - started) / 1000).toFixed(1)} s  ${what}`);

// ---- models: copies of the demo model, each config.json marked so its fingerprint differs ----------
const modelsDir = `${dataDir}-models`;
const modelIds: number[] = [];
const fingerprints: string[] = [];
const demoConfig = JSON.parse(readFileSync(join(demo, 'model/config.json'), 'utf8'));
for (let i = 0; i < N.models; i++) {
  const dir = join(modelsDir, `model-${i}`);
  cpSync(join(demo, 'model'), dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...demoConfig, scale_copy: i }, null, 2));
  const m = addModel(lib, { path: dir, name: `Llama copy ${i}` });
  modelIds.push(m.id);
  fingerprints.push(m.fingerprint);
}
setSetting(lib, 'library.demoSeeded', true); // the studio seeds no demo into this library
say(`${N.models} models`);

// ---- datasets: 3–5 versions each, 20–120 rows a version --------------------------------------------
const persona = readFileSync(join(demo, 'persona.jsonl'), 'utf8').trim().split('\n');
const versionIds: number[] = [];
const src = join(modelsDir, 'import.jsonl');
for (let d = 0; d < N.datasets; d++) {
  const name = `dataset ${d} ${pick(['support', 'persona', 'math', 'code', 'qa', 'summaries'])}`;
  for (let v = 0, nv = int(3, 5); v < nv; v++) {
    const rows = Array.from({ length: int(20, 120) }, (_, i) => {
      const r = JSON.parse(pick(persona));
      return JSON.stringify({ ...r, prompt: `${r.prompt} (${d}.${v}.${i})` });
    });
    writeFileSync(src, `${rows.join('\n')}\n`);
    versionIds.push(importDataset(lib, { path: src, name }).version.id);
  }
}
say(`${N.datasets} datasets, ${versionIds.length} versions`);

// ---- runs: recorded with their metrics, checkpoints, log and some probe samples ----------------------
const STATUSES: RunStatus[] = [
  ...Array<RunStatus>(17).fill('completed'),
  'failed',
  'cancelled',
  'interrupted',
  'paused',
];
/** What a real run stores (a CLI training of the demo model), its paths set per run below. */
const RUN_CONFIG = {
  intervention: 'loreft',
  layers: [0, 1, 2, 3],
  positions: 'f1+l1',
  shareWeights: false,
  rank: 4,
  act: 'linear',
  dropout: 0,
  lr: 0.004,
  epochs: 1,
  maxSteps: 6,
  batchSize: 4,
  gradAccum: 1,
  maxLength: 256,
  weightDecay: 0,
  warmupRatio: 0,
  schedule: 'linear',
  maxGradNorm: 1,
  seed: 42,
  chatTemplate: 'auto',
  evalSplit: 0,
  evalEvery: 0,
  checkpointEvery: 3,
  keepCheckpoints: 0,
  device: 'cpu',
  quantize: 'auto',
  dtype: 'auto',
  format: 'prompt-completion',
  evalData: null,
  exportPyreft: null,
  probe: null,
  evalDatasetVersionId: null,
};
const SYSTEM_INFO = {
  version: '0.1.0',
  dataDir,
  nodeVersion: process.versions.node,
  electronVersion: null,
  ortVersion: '1.29.0',
  executionProviders: [
    { name: 'cpu', bundled: true },
    { name: 'webgpu', bundled: true },
    { name: 'cuda', bundled: false },
    { name: 'tensorrt', bundled: false },
  ],
  ortError: null,
  platform: 'linux',
  arch: 'x64',
  cpuCount: 2,
  totalMemBytes: 25276182528,
};
const template = join(modelsDir, 'checkpoint');
mkdirSync(template, { recursive: true });
writeFileSync(join(template, 'trainer-state.json'), JSON.stringify({ step: 0, epoch: 0 }));
const completedRuns: Array<{ id: number; model: number; version: number }> = [];
let points = 0;
for (let r = 0; r < N.runs; r++) {
  const model = int(0, modelIds.length - 1);
  const version = pick(versionIds);
  const steps = r % 10 === 0 ? 10_000 : int(50, 1500);
  const status = pick(STATUSES);
  const run = createRunWithConfig(
    lib,
    {
      name: `run ${r}`,
      modelId: modelIds[model],
      datasetVersionId: version,
      totalSteps: steps,
      systemInfo: SYSTEM_INFO,
    },
    (id) => ({
      ...RUN_CONFIG,
      intervention: pick(['loreft', 'noreft', 'direft']),
      rank: pick([1, 4, 8]),
      maxSteps: steps,
      model: join(modelsDir, `model-${model}`),
      data: join(dataDir, 'datasets', `${'0'.repeat(64)}.jsonl`),
      out: join(dataDir, 'adapters', `run-${id}`),
      checkpointDir: join(dataDir, 'runs', String(id), 'checkpoints'),
      runId: String(id),
      datasetVersion: `${version}.1:13530d824f4b85bf`,
    }),
  );
  setRunStatus(lib, run.id, 'running');
  setRunDevice(lib, run.id, { device: 'cpu', fallback: null, precision: 'fp32' });
  const last = status === 'completed' ? steps : int(1, steps);
  const metrics: RunMetric[] = [];
  for (let s = 1; s <= last; s++) {
    const loss = 3 * Math.exp(-s / (steps / 3)) + 0.3 + 0.05 * rand();
    metrics.push({
      step: s,
      epoch: (3 * s) / steps,
      loss,
      lr: 0.004 * (1 - s / steps),
      gradNorm: 0.5 + rand(),
      tokensPerS: 5000 + 500 * rand(),
      evalLoss: s % 100 === 0 ? loss + 0.1 : null,
    });
  }
  appendMetrics(lib, run.id, metrics);
  points += metrics.length;
  const runDir = join(dataDir, 'runs', String(run.id));
  for (const step of [Math.ceil(last / 2), last]) {
    const folder = join(runDir, 'checkpoints', `step-${String(step).padStart(6, '0')}`);
    cpSync(template, folder, { recursive: true });
    recordCheckpoint(lib, run.id, step, folder, 90_000);
  }
  const log = [
    'started: loreft rank 4 on layers 0;1;2;3, positions f1+l1',
    'data: 120 training and 0 evaluation examples (prompt-completion)',
    'loading the model into ONNX Runtime',
    `${status} at step ${last}`,
  ];
  writeFileSync(
    join(runDir, 'log.jsonl'),
    log.map((text) => `${JSON.stringify({ at: Date.now(), source: 'studio', text })}\n`).join(''),
  );
  if (r % 3 === 0) {
    for (let s = 0; s < 5; s++)
      recordGeneration(lib, {
        runId: run.id,
        step: Math.round((last * (s + 1)) / 5),
        kind: 'probe',
        prompt: 'Who are you?',
        output: 'Arr, a pirate I be, sailin’ the seven seas.',
      });
  }
  setRunStatus(lib, run.id, status, status === 'failed' ? 'out of memory' : undefined);
  if (status === 'completed') completedRuns.push({ id: run.id, model, version });
  if (r % 200 === 199) say(`${r + 1} runs, ${points} metric points`);
}

// ---- adapters: most from completed runs, the rest imported; 0–4 tags each --------------------------
const TAGS = ['best', 'baseline', 'pirate', 'support', 'math', 'v2', 'checkpoint', 'try', 'keep', 'shared'];
const adapterIds: number[] = [];
const adapterTemplate = join(modelsDir, 'adapter');
mkdirSync(adapterTemplate, { recursive: true });
writeFileSync(join(adapterTemplate, 'adapter.safetensors'), Buffer.alloc(1024));
for (let a = 0; a < N.adapters; a++) {
  const run = a < N.adapters * 0.9 ? (completedRuns[a] ?? null) : null;
  const model = run ? run.model : int(0, modelIds.length - 1);
  const folder = join(dataDir, 'adapters', run ? `run-${run.id}` : `imported-${a}`);
  cpSync(adapterTemplate, folder, { recursive: true });
  const interventions = [0, 1, 2, 3, 0, 1, 2, 3].map((layer, i) => ({
    key: `layer_${layer}_comp_block_output_unit_pos_nunit_1#${i < 4 ? 0 : 1}`,
    layer,
    component: 'block_output',
    type: 'loreft',
    rank: 4,
  }));
  const manifest = {
    format: 'reft-studio-adapter',
    version: 1,
    interventions,
    layers: [0, 1, 2, 3],
    positions: 'f1+l1',
    rank: 4,
    hiddenSize: 64,
    dropout: 0,
    activation: null,
    promptTemplate: 'chat',
    dtype: 'float32',
    baseModel: { arch: 'llama', fingerprint: fingerprints[model], form: 'fp32' },
    runId: run ? String(run.id) : null,
    metrics: { steps: 1000, epochs: 3, finalLoss: 0.41, tokensPerS: 6397.4, trainExamples: 120 },
    createdAt: new Date().toISOString(),
  };
  writeFileSync(join(folder, 'manifest.json'), JSON.stringify(manifest));
  const tags = [...new Set(Array.from({ length: int(0, 4) }, () => pick(TAGS)))];
  adapterIds.push(
    registerAdapter(lib, {
      name: run ? `run ${run.id} adapter` : `imported adapter ${a}`,
      path: folder,
      type: 'loreft',
      baseModelFingerprint: fingerprints[model],
      manifest,
      runId: run?.id ?? null,
      datasetVersionId: run?.version ?? null,
      sizeBytes: 28_000,
      tags,
      contentHash: run ? null : `hash-${a}`,
    }).id,
  );
}
say(`${N.adapters} adapters`);

// ---- evaluations -------------------------------------------------------------------------------------
for (let e = 0; e < Math.round(N.adapters / 2); e++) {
  const ev = createEvaluation(lib, {
    adapterId: pick(adapterIds),
    modelId: pick(modelIds),
    datasetVersionId: pick(versionIds),
    kind: 'loss',
  });
  finishEvaluation(lib, ev.id, {
    status: 'completed',
    metrics: { loss: 1 + rand(), perplexity: 3 },
    examples: 50,
  });
}
say('evaluations');
lib.db.pragma('wal_checkpoint(TRUNCATE)');
closeLibrary(lib);
say(`done: ${dataDir}`);
