// Keep the best and early stopping where people use them: `reft-studio train` refuses them without
// held-out data in the command line's words and runs/start in the studio's (the same rule); a run with
// them prints and records its best evaluation (train's summary and --json, `runs show`, runs/get).
// The trainer's own behaviour and exact resume are tests/training/keep-best.test.ts.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { readStudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { inProcess } from '../backend/helpers.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir, WORDS, writeJsonl } from '../training/helpers.ts';
import { jsonStream, stderrEvents } from './json-stream.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const dir = tempDir('reft-best-cli-');
// Each prompt its own completion: the held-out loss falls, then rises (as in the trainer's test).
const data = writeJsonl(
  join(dir, 'd.jsonl'),
  WORDS.map((w, i) => ({ prompt: `Tell me about the ${w}.`, completion: WORDS[(i * 7 + 3) % WORDS.length] })),
);
const home = join(dir, 'home');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, REFT_STUDIO_HOME: home },
  });
const run = [
  'layers',
  '1;3',
  'positions',
  'f1+l1',
  'rank',
  '4',
  'batch-size',
  '4',
  'seed',
  '3',
  'lr',
  '0.05',
];
const flags = (o: string[]) => o.flatMap((x, i) => (i % 2 === 0 ? [`--${x}`] : [x]));
const train = (...args: string[]) =>
  cli('train', '--model', modelDir('llama'), '--data', data, ...flags(run), ...args);

describe('reft-studio train --keep-best --early-stopping-patience', () => {
  it('without held-out data: one line in the command line’s words, exit 1, no run recorded', () => {
    const r = train('--keep-best');
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr.trim(),
      'error: --keep-best needs held-out data to measure the loss on: give --eval-split X or --eval-data FILE',
    );
    const p = train('--early-stopping-patience', '2');
    assert.equal(
      p.stderr.trim(),
      'error: --early-stopping-patience needs held-out data to measure the loss on: give --eval-split X or --eval-data FILE',
    );
    assert.deepEqual(JSON.parse(cli('runs', 'list', '--json').stdout).runs, []);
  });

  const judged = ['--eval-split', '0.2', '--eval-every', '1', '--max-steps', '30', '--keep-best'];

  it('--json: the result carries the best evaluation and why the run stopped', () => {
    const r = train(...judged, '--early-stopping-patience', '3', '--json');
    assert.equal(r.status, 0, r.stderr);
    const { result, events } = jsonStream(r.stdout, r.stderr);
    assert.equal(result.status, 'completed');
    assert.equal(result.steps, 10);
    assert.equal(result.totalSteps, 30);
    // The training steps' events: a slow data preparation also sends count events, without evalLoss.
    const evals = events
      .filter((e) => e.event === 'progress' && e.kind === 'train')
      .map((e) => e.evalLoss as number);
    const lowest = Math.min(...evals);
    assert.deepEqual(result.best, { step: evals.indexOf(lowest) + 1, evalLoss: lowest });
    assert.equal(result.keptBest, true);
    assert.match(
      result.stoppedEarly,
      /^the held-out loss has not improved for 3 evaluations since step 7 \(/,
    );
    assert.ok(events.some((e) => e.event === 'log' && /^stopping early at step 10 of 30: /.test(e.message)));
    // runs show says it too, and its --json carries it.
    const show = cli('runs', 'show', String(result.runId));
    assert.match(
      show.stdout,
      new RegExp(`^best: step 7, held-out loss ${lowest.toFixed(4)} \\(the adapter's\\)$`, 'm'),
    );
    const shown = JSON.parse(cli('runs', 'show', String(result.runId), '--json').stdout);
    assert.deepEqual(shown.best, { step: 7, evalLoss: lowest, kept: true });
    assert.equal(shown.status, 'completed');
    // Completed, and 10 of 30 steps: it says why, as the run's page does.
    assert.match(show.stdout, /^stopped early at step 10 of 30: the held-out loss stopped improving$/m);
    assert.equal(shown.stoppedEarly, true);
    // runs list, as the studio's Runs list.
    const row = cli('runs', 'list')
      .stdout.split('\n')
      .find((l) => l.startsWith(`${result.runId} `));
    assert.match(row ?? '', /\bcompleted\* /);
    // Its bundle trains on the rows the run trained on: the held-out ones apart (bundle.test.ts).
    const b = cli(
      'export',
      '--format',
      'bundle',
      '--run',
      String(result.runId),
      '--out',
      join(dir, 'bundle'),
    );
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout, /^wrote a pyreft training bundle to .* \(16 training examples, 4 held out\)$/m);
  });

  it('killed (SIGKILL) after a checkpoint, `runs resume` ends with the same adapter at the same step', async () => {
    const args = [...judged, '--early-stopping-patience', '3', '--checkpoint-every', '1', '--json'];
    const first = train(...args);
    const whole = jsonStream(first.stdout, first.stderr).result;
    const child = spawn(
      process.execPath,
      [BIN, 'train', '--model', modelDir('llama'), '--data', data, ...flags(run), ...args],
      { env: { ...process.env, REFT_STUDIO_HOME: home } },
    );
    let runId: number | undefined;
    const killed = new Promise<void>((resolve) => {
      let buf = '';
      child.stderr.on('data', (d) => {
        buf += d;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const [e] = stderrEvents(buf.slice(0, i));
          buf = buf.slice(i + 1);
          if (!e) continue;
          runId ??= e.runId;
          // After step 8's checkpoint: the best (step 7) is behind it, patience partly spent.
          if (e.event === 'checkpoint' && e.step === 8) child.kill('SIGKILL');
        }
      });
      child.on('close', () => resolve());
    });
    await killed;
    assert.equal(child.signalCode, 'SIGKILL');
    // Stopped before its end it has no adapter: its best so far is not called the adapter's, as
    // the run's page does not mark its probe answers so.
    const stopped = cli('runs', 'show', String(runId));
    assert.match(stopped.stdout, /^best: step 7, held-out loss \d+\.\d{4}$/m);
    assert.deepEqual(JSON.parse(cli('runs', 'show', String(runId), '--json').stdout).best, {
      ...whole.best,
      kept: false,
    });
    const r = cli('runs', 'resume', String(runId), '--json');
    assert.equal(r.status, 0, r.stderr);
    const resumed = jsonStream(r.stdout, r.stderr).result;
    assert.equal(resumed.outcome, 'completed');
    assert.equal(resumed.lastStep, 10);
    assert.deepEqual(resumed.best, { ...whole.best, kept: true });
    const tensors = (folder: string) =>
      readStudioAdapter(folder).interventions.map((iv) => Object.values(iv.params).map((t) => [...t.data]));
    assert.deepEqual(tensors(resumed.adapter), tensors(whole.adapter));
  });

  it('the summary for people names the best step and the early stop', () => {
    const r = train(...judged, '--early-stopping-patience', '3');
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^stopped early at step 10 of 30: the held-out loss has not improved for 3 evaluations since step 7 \(\d+\.\d{4}\)$/m,
    );
    assert.match(r.stdout, /^best: step 7, held-out loss \d+\.\d{4} \(the adapter's\)$/m);
  });
});

describe('runs/start', () => {
  let b: Backend | undefined;
  after(() => b?.close());
  const { call, callError } = inProcess(() => b as Backend);

  it('refuses them without held-out data in the studio’s words, naming the field', async () => {
    b = createBackend(join(dir, 'studio'), { seedDemo: false });
    const modelId = (await call('models/add', { path: modelDir('llama') })).id;
    const datasetId = (await call('datasets/import', { path: data })).dataset.id;
    const e = await callError('runs/start', { modelId, datasetId, keepBest: true });
    assert.equal(e.code, 'needs-held-out');
    assert.equal(
      e.message,
      'Keep the best needs held-out data to measure the loss on: under Validation (Model & data), hold out rows or choose another version',
    );
    assert.equal((e as { field?: string }).field, 'keepBest');
    assert.deepEqual(await call('runs/list'), []);
  });
});
