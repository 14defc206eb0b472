// `reft-studio train` as a user runs it: a child process, with --json the result as the one object
// on stdout and the progress as JSON events on stderr, one clear error line and a non-zero exit for a bad configuration, --resume,
// and the run recorded in the library (runs show, adapters list). The progress display itself (bar,
// interval lines, Ctrl-C) is tests/cli/progress.test.ts.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isPreviousExport } from '../../electron/backend/library/export-destination.ts';
import { readStudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { optionFlag, TRAIN_OPTION_KEYS } from '../../native-runtime/training/options.ts';
import { writeParquet } from '../backend/parquet-writer.ts';
import { jsonStream } from '../cli/json-stream.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { constantRows, tempDir, writeJsonl } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const dir = tempDir();
const data = writeJsonl(join(dir, 'd.jsonl'), constantRows('yes').slice(0, 6));
/** The CLI as a child process with its library in `home` (the test's own folders, never the user's). */
const cliIn =
  (home: string) =>
  (...args: string[]) =>
    spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, REFT_STUDIO_HOME: home },
    });
const run = cliIn(join(dir, 'home'));
const cli = (...args: string[]) => run('train', '--model', modelDir('llama'), '--data', data, ...args);

describe('reft-studio train', () => {
  it('--json: the result on stdout, progress and checkpoint events on stderr, the adapter written', () => {
    const out = join(dir, 'a');
    const r = cli(
      '--out',
      out,
      '--layers',
      '1;2',
      '--positions',
      'l1',
      '--rank',
      '2',
      '--lr',
      '0.01',
      '--batch-size',
      '3',
      '--epochs',
      '2',
      '--schedule',
      'cosine',
      '--warmup-ratio',
      '0.25',
      '--checkpoint-every',
      '1',
      '--export-pyreft',
      join(dir, 'a-pyreft'),
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
    const { events, result: j } = jsonStream(r.stdout, r.stderr);
    assert.equal(j.status, 'completed');
    assert.equal(j.adapter, out);
    assert.equal(j.steps, 4);
    assert.equal(j.pyreft, join(dir, 'a-pyreft'));
    for (const k of ['finalLoss', 'tokensPerS', 'stepsPerS', 'elapsedS'])
      assert.equal(typeof j[k], 'number', k);
    assert.equal(j.evalLoss, null);
    assert.equal(j.checkpoints.length, 4);
    const progress = events.filter((e) => e.event === 'progress');
    assert.deepEqual(
      progress.map((e) => [e.kind, e.step, e.totalSteps, e.runId]),
      [1, 2, 3, 4].map((s) => ['train', s, 4, j.runId]),
    );
    assert.equal(progress[0].epoch, 0.5);
    assert.equal(progress[0].lr, 0, 'warm-up starts at 0');
    for (const k of ['loss', 'gradNorm', 'tokensPerS', 'etaS', 'elapsedS'])
      assert.equal(typeof progress[0][k], 'number', k);
    assert.deepEqual(
      events.filter((e) => e.event === 'checkpoint').map((e) => e.dir),
      j.checkpoints,
    );
    assert.doesNotMatch(r.stderr, /step \d/, 'no progress lines besides the events');
    assert.ok(
      r.stderr.split('\n').every((l) => l === '' || l.startsWith('{"event":')),
      `nothing on stderr but events: ${r.stderr}`,
    );
    assert.equal(readStudioAdapter(out).manifest.positions, 'l1');
    assert.ok(existsSync(join(dir, 'a-pyreft', 'config.json')));
    assert.ok(isPreviousExport(join(dir, 'a-pyreft')), 'the trainer marks --export-pyreft as an export');

    // --resume takes the stored configuration; the result ends where the first run ended.
    assert.match(j.checkpoints[1], /step-000002$/);
    const again = cli(
      '--resume',
      j.checkpoints[1],
      '--out',
      join(dir, 'b'),
      '--checkpoint-dir',
      join(dir, 'b.ck'),
      '--json',
    );
    assert.equal(again.status, 0, again.stderr);
    assert.ok(isPreviousExport(join(dir, 'b')), "the trainer marks --resume's --out as an export");
    const k = jsonStream(again.stdout, again.stderr);
    assert.equal(k.result.steps, 4);
    assert.equal(k.result.finalLoss, j.finalLoss);
    assert.ok(
      k.events.some(
        (e) => e.event === 'log' && /resuming from .*step-000002 at step 2 of 4/.test(String(e.message)),
      ),
    );
  });

  it('a bad configuration: one error line, exit 1 (2 for a value no model takes), nothing written', () => {
    const r = cli('--out', join(dir, 'bad'), '--layers', '9', '--json');
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), 'error: --layers: layer 9 is out of range: the model has layers 0..3');
    // One object on stdout, as a one-shot command's failure prints it (evaluate --json).
    assert.deepEqual(Object.keys(jsonStream(r.stdout, r.stderr).result), ['error']);
    assert.equal(JSON.parse(r.stdout).error.code, 'layer-out-of-range');
    assert.ok(!existsSync(join(dir, 'bad')));
    const runs = JSON.parse(run('runs', 'list', '--json').stdout).runs;
    assert.ok(
      runs.every((x: { config: { layers?: unknown } }) => JSON.stringify(x.config.layers) !== '[9]'),
      'no run recorded for a refused configuration',
    );
    const u = cli('--out', join(dir, 'bad'), '--lr', 'fast');
    assert.equal(u.status, 2);
    assert.match(u.stderr, /^error: --lr must be a number \(got "fast"\)$/m);
    // A value no model takes is bad usage, as --lr's; one this model does not take (above) is not.
    const i = cli('--out', join(dir, 'bad'), '--intervention', 'mega');
    assert.equal(i.status, 2);
    assert.match(
      i.stderr,
      /--intervention must be one of loreft, noreft, direft, nodireft, consreft, lobireft/,
    );
    // Options are refused by the studio's rules, worded with the flag on the command line.
    const rank = cli('--out', join(dir, 'bad'), '--rank', '65');
    assert.equal(rank.status, 1);
    assert.equal(rank.stderr.trim(), "error: --rank must be at most the model's hidden size, 64 (got 65)");
    const drop = cli('--out', join(dir, 'bad'), '--dropout', '1');
    assert.equal(drop.stderr.trim(), 'error: --dropout must be a number ≥ 0 and < 1 (got 1)');
  });

  it('--help lists every training option of the schema', () => {
    const h = run('train', '--help');
    assert.equal(h.status, 0);
    for (const k of TRAIN_OPTION_KEYS) assert.ok(h.stdout.includes(`--${optionFlag(k)}`), k);
  });

  it('records the run in the library: runs show has status and metrics; adapters list has the adapter', () => {
    const small = writeJsonl(join(dir, 'small.jsonl'), constantRows('ok').slice(0, 4));
    const r = run(
      'train',
      '--model',
      modelDir('llama'),
      '--data',
      small,
      '--layers',
      '1',
      '--positions',
      'l1',
      '--rank',
      '2',
      '--batch-size',
      '2',
      '--epochs',
      '1',
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
    const { events, result: j } = jsonStream(r.stdout, r.stderr);
    assert.equal(typeof j.runId, 'number');
    assert.equal(typeof j.adapterId, 'number');
    assert.equal(j.steps, 2);
    assert.ok(events.some((e) => e.event === 'progress' && e.step === 2));

    const shown = run('runs', 'show', String(j.runId), '--json');
    assert.equal(shown.status, 0, shown.stderr);
    const s = JSON.parse(shown.stdout);
    assert.equal(s.status, 'completed');
    assert.deepEqual(
      s.metrics.map((m: { step: number }) => m.step),
      [1, 2],
    );
    for (const m of s.metrics) assert.equal(typeof m.loss, 'number');
    assert.equal(s.config.rank, 2);
    assert.equal(s.adapterId, j.adapterId);

    const adapters = JSON.parse(run('adapters', 'list', '--json').stdout).adapters;
    const a = adapters.find((x: { id: number }) => x.id === j.adapterId);
    assert.ok(a, 'the adapter is in the library');
    assert.equal(a.path, j.adapter);
    assert.equal(readStudioAdapter(a.path).manifest.positions, 'l1');
    // What the base computed in, as the run recorded it: in the manifest, --json, list and show.
    assert.equal(s.precision, 'fp32');
    assert.equal(readStudioAdapter(a.path).manifest.precision, 'fp32');
    assert.equal(a.precision, 'fp32');
    assert.match(run('adapters', 'show', String(a.id)).stdout, /^precision: fp32$/m);
    const listed = run('adapters', 'list').stdout.split('\n');
    assert.match(listed[0], / DTYPE /);
    assert.match(listed.find((l) => l.startsWith(`${a.id} `)) ?? '', / fp32 /);

    // The same folder again reuses the library's model; a dataset id trains on its latest version.
    const models = JSON.parse(run('models', 'list', '--json').stdout).models.filter(
      (m: { path: string }) => m.path === modelDir('llama'),
    );
    assert.equal(models.length, 1, 'one library entry for the folder after three trainings');
    const datasetId = s.config.datasetId;
    const again = run(
      'train',
      '--model',
      String(models[0].id),
      '--data',
      String(datasetId),
      '--layers',
      '1',
      '--rank',
      '2',
      '--max-steps',
      '1',
      '--json',
    );
    assert.equal(again.status, 0, again.stderr);
    const k = jsonStream(again.stdout, again.stderr).result;
    assert.notEqual(k.runId, j.runId);
    assert.equal(
      JSON.parse(run('runs', 'show', String(k.runId), '--json').stdout).datasetVersionId,
      s.datasetVersionId,
    );
  });
});

describe('the adapter written by --out', () => {
  it('evaluates like the library’s: its base model is found by the fingerprint in its manifest', () => {
    const out = join(dir, 'eval-out');
    const r = cli('--out', out, '--layers', '1', '--rank', '2', '--max-steps', '1', '--json');
    assert.equal(r.status, 0, r.stderr);
    const j = jsonStream(r.stdout, r.stderr).result;
    const evaluate = (adapter: string) => run('evaluate', '--adapter', adapter, '--data', data, '--json');
    const folder = evaluate(out);
    assert.equal(folder.status, 0, folder.stderr);
    const library = evaluate(String(j.adapterId));
    assert.equal(library.status, 0, library.stderr);
    assert.equal(JSON.parse(folder.stdout).metrics.loss, JSON.parse(library.stdout).metrics.loss);
  });
});

describe('train --resume of a checkpoint from the library', () => {
  it('needs --out and writes nothing into the library: the run’s folders are its own', () => {
    const home = join(dir, 'home-resume');
    const lib = cliIn(home);
    const args = ['--model', modelDir('llama'), '--data', data, '--layers', '1', '--rank', '2'];
    const r = lib('train', ...args, '--max-steps', '2', '--checkpoint-every', '1', '--json');
    assert.equal(r.status, 0, r.stderr);
    const j = jsonStream(r.stdout, r.stderr).result;
    const ckpts = join(home, 'runs', String(j.runId), 'checkpoints');
    const adapterBefore = readFileSync(join(j.adapter, 'adapter.safetensors'));

    // The stored configuration names the run's own adapter folder: it is not an --out.
    const noOut = lib('train', '--resume', join(ckpts, 'step-000001'), '--max-steps', '2');
    assert.equal(noOut.status, 2, noOut.stderr);
    assert.match(noOut.stderr, /--out DIR is required with --resume/);

    // From another data folder too (where that adapter folder is not "inside the data folder").
    const out = join(dir, 'resumed-out');
    const elsewhere = cliIn(join(dir, 'home-other'));
    const again = elsewhere('train', '--resume', join(ckpts, 'step-000001'), '--out', out, '--json');
    assert.equal(again.status, 0, again.stderr);
    const k = jsonStream(again.stdout, again.stderr).result;
    assert.equal(k.adapter, out);
    assert.equal(k.finalLoss, j.finalLoss, 'the same numbers as the run it continues');
    assert.deepEqual(k.checkpoints, [join(`${out}.checkpoints`, 'step-000002')]);
    assert.deepEqual(readdirSync(ckpts), ['step-000001', 'step-000002']);
    assert.deepEqual(readFileSync(join(j.adapter, 'adapter.safetensors')), adapterBefore);
    assert.ok(!existsSync(join(j.adapter, '.reft-studio-export.json')), 'the library’s adapter is no export');
  });
});

describe('a run with --checkpoint-dir inside the data folder', () => {
  it('deleting the run removes its checkpoints, never the folder they were put in', async () => {
    const home = join(dir, 'home-ckpt');
    const runsDir = join(home, 'runs'); // where every run's own folder lives
    const train = (...more: string[]) =>
      cliIn(home)(
        'train',
        '--model',
        modelDir('llama'),
        '--data',
        data,
        '--max-steps',
        '2',
        ...more,
        '--json',
      );
    const r = train();
    assert.equal(r.status, 0, r.stderr);
    const first = jsonStream(r.stdout, r.stderr).result.runId as number;
    // The same command with the checkpoints put in the folder that holds every run's folder.
    const withDir = train('--checkpoint-dir', runsDir);
    assert.equal(withDir.status, 0, withDir.stderr);
    const id = jsonStream(withDir.stdout, withDir.stderr).result.runId as number;
    const { openLibrary, closeLibrary } = await import('../../electron/backend/library/library.ts');
    const { deleteRun } = await import('../../electron/backend/library/runs.ts');
    const lib = openLibrary(home);
    try {
      deleteRun(lib, id);
    } finally {
      closeLibrary(lib);
    }
    assert.ok(existsSync(join(runsDir, String(first))), 'the other runs’ folders are kept');
    assert.ok(!existsSync(join(runsDir, 'step-000002')), 'the deleted run’s own checkpoints are gone');
  });
});

describe('a Parquet file where --data is read as it is (train --resume, export --format bundle)', () => {
  it('is refused in one line pointing to its dataset id, and the id works', () => {
    const lib = cliIn(join(dir, 'home-parquet'));
    const rows = constantRows('yes').slice(0, 6) as { prompt: string; completion: string }[];
    const parquet = join(dir, 'rows.parquet');
    writeFileSync(
      parquet,
      writeParquet({ prompt: rows.map((r) => r.prompt), completion: rows.map((r) => r.completion) }),
    );
    const ckpts = join(dir, 'parquet-ckpts');
    const args = ['--model', modelDir('llama'), '--layers', '1', '--rank', '2', '--max-steps', '2'];
    const first = lib(
      'train',
      ...args,
      '--data',
      parquet,
      '--checkpoint-dir',
      ckpts,
      '--checkpoint-every',
      '1',
      '--json',
    );
    assert.equal(first.status, 0, first.stderr);
    const runId = String(jsonStream(first.stdout, first.stderr).result.runId);
    const listed = JSON.parse(lib('datasets', 'list', '--json').stdout) as {
      datasets: { id: number; name: string }[];
    };
    const id = String(listed.datasets.find((d) => d.name === 'rows')?.id);
    const refusal = `error: ${parquet}: a Parquet file is read by importing it (reft-studio datasets import FILE, then --data ID); here give JSONL, JSON, CSV or TSV\n`;

    const resume = (data: string, out: string) =>
      lib(
        'train',
        ...args,
        '--resume',
        join(ckpts, 'step-000001'),
        '--data',
        data,
        '--out',
        join(dir, out),
        '--json',
      );
    const refused = resume(parquet, 'parquet-out');
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr, refusal);
    // The id names the stored version, the data the checkpoint was written from.
    const resumed = resume(id, 'parquet-resumed');
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(jsonStream(resumed.stdout, resumed.stderr).result.steps, 2);

    const bundle = (data: string, out: string) =>
      lib('export', '--format', 'bundle', '--run', runId, '--data', data, '--out', join(dir, out), '--json');
    const noBundle = bundle(parquet, 'parquet-bundle');
    assert.equal(noBundle.status, 1);
    assert.equal(noBundle.stderr, refusal);
    const made = bundle(id, 'id-bundle');
    assert.equal(made.status, 0, made.stderr);
    assert.equal(JSON.parse(made.stdout).config.data.rows, 6);
  });
});
