// How long commands report progress, run as a user runs them (a child process of bin/reft-studio.js
// training the demo model): under a pseudo-terminal (util-linux `script`) one bar redrawn in place;
// through a pipe plain lines at a steady interval and the last step; --json one event per line ending
// with the result; Ctrl-C once pauses with a checkpoint and twice stops at once, both resumable with
// `runs resume`; `evaluate` stopped with Ctrl-C says how far it got (not an error); `bench --json`
// keeps exactly one object on stdout.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { shellWord } from '../../cli/shell-word.ts';
import { listEvaluations } from '../../electron/backend/library/evaluations.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { appRoot } from '../../electron/backend/paths.ts';
import { writeJsonl } from '../backend/helpers.ts';
import { writeParquet } from '../backend/parquet-writer.ts';
import { slowToConvertLlama } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';
import { followEvents, jsonStream, onlyEvents } from './json-stream.ts';

const ROOT = appRoot();
const BIN = join(ROOT, 'bin', 'reft-studio.js');
const MODEL = join(ROOT, 'resources', 'demo', 'model');
const DATA = join(ROOT, 'resources', 'demo', 'persona.jsonl');
const ESC = '\x1b';
const hasScript = spawnSync('script', ['--version']).status === 0;
// biome-ignore lint/suspicious/noExplicitAny: JSON events as the CLI printed them
type Json = Record<string, any>;

/** A fresh library per test: runs are numbered from 1 there. */
const home = () => join(tempDir('reft-cli-progress-'), 'home');
const TRAIN = [
  'train',
  '--model',
  MODEL,
  '--data',
  DATA,
  '--batch-size',
  '2',
  '--layers',
  '1',
  '--rank',
  '2',
];

function run(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI under a pseudo-terminal: stdout and stderr are both the terminal; returns what it drew. */
function underTerminal(args: string[], env: NodeJS.ProcessEnv): { code: number | null; screen: string } {
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  const cmd = [process.execPath, BIN, ...args].map(quote).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '', ...env },
    timeout: 120_000,
  });
  return { code: r.status, screen: r.stdout };
}

const stepLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('step'))
    .map((l) => Number(/^step +(\d+)\//.exec(l)?.[1]));

describe('progress on a terminal, a pipe and --json', () => {
  it('a terminal: a 200-step run redraws one bar in place (one line of steps among the summary)', {
    skip: hasScript ? false : 'needs util-linux `script`',
  }, () => {
    const r = underTerminal([...TRAIN, '--max-steps', '200'], { REFT_STUDIO_HOME: home() });
    assert.equal(r.code, 0, r.screen);
    // The bar is one line however many steps; the run's header and summary are the others.
    const lines = r.screen.split('\n');
    assert.equal(lines.filter((l) => l.includes('/200')).length, 1, `one line of steps:\n${r.screen}`);
    assert.ok(lines.length - 1 < 14, `${lines.length - 1} lines:\n${r.screen}`);
    // cli-progress moves to column 1 (ESC[1G) before each redraw of the line.
    const frames = r.screen.split(`${ESC}[1G`).filter((f) => f.includes('/200'));
    assert.ok(frames.length >= 3, `the bar is redrawn (${frames.length} frames)`);
    const last = frames.at(-1) as string;
    assert.match(
      last,
      /^200\/200 .*█.* ep \d+\.\d\d avg loss \d\.\d{4} lr \S+ \S+ tok\/s \[\d\d:\d\d<00:00\]/,
    );
    assert.ok(r.screen.includes(`${ESC}[36m`), 'the bar is coloured');
    assert.match(r.screen, /run 1 completed; adapter 1 in the library/);
  });

  it('NO_COLOR: the same bar without colour', {
    skip: hasScript ? false : 'needs util-linux `script`',
  }, () => {
    const r = underTerminal([...TRAIN, '--max-steps', '10'], { REFT_STUDIO_HOME: home(), NO_COLOR: '1' });
    assert.equal(r.code, 0, r.screen);
    assert.match(r.screen, /10\/10 █+ /);
    assert.doesNotMatch(r.screen, new RegExp(`${ESC}\\[\\d*m`), 'no colour codes');
  });

  it('a pipe: one plain line every 5% of the steps and the last step, no escape codes', () => {
    const r = run([...TRAIN, '--max-steps', '60'], { REFT_STUDIO_HOME: home() });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(stepLines(r.stderr), [1, ...Array.from({ length: 20 }, (_, i) => 3 * (i + 1))]);
    assert.match(
      r.stderr,
      /^step 60\/60 {2}epoch \d+\.\d\d {2}loss \d\.\d{4} {2}avg \d\.\d{4} {2}lr \S+ .* tok\/s {2}elapsed \d+s {2}eta 0s$/m,
    );
    assert.match(r.stderr, /^checkpoint: .*step-000060$/m);
    assert.ok(!r.stderr.includes(ESC) && !r.stdout.includes(ESC));
    assert.match(r.stdout, /^run 1 completed; adapter 1 in the library$/m);
  });

  it('--json: the result on stdout, one event per line on stderr; --quiet keeps only checkpoints; evaluate', () => {
    const dir = home();
    const r = run([...TRAIN, '--max-steps', '12', '--json'], { REFT_STUDIO_HOME: dir });
    assert.equal(r.code, 0, r.stderr);
    const { result, events: ev } = jsonStream(r.stdout, r.stderr);
    // Every step, once. A 'preparing data' count comes first only when reading the data took over
    // 100 ms (training/events.ts): on a busy machine it does, so whether it came is not asserted.
    const progress = ev.filter((e) => e.event === 'progress');
    assert.ok(
      progress.every((e) => e.kind === 'train' || (e.kind === 'count' && e.label === 'preparing data')),
      r.stderr,
    );
    assert.deepEqual(
      progress.filter((e) => e.kind === 'train').map((e) => [e.kind, e.step, e.totalSteps, e.runId]),
      Array.from({ length: 12 }, (_, i) => ['train', i + 1, 12, 1]),
    );
    assert.ok(ev.some((e) => e.event === 'log' && /^data: 12 training/.test(e.message)));
    assert.ok(ev.some((e) => e.event === 'checkpoint' && e.step === 12));
    assert.equal(result.event, undefined, 'the result is no event');
    assert.equal(result.status, 'completed');
    assert.equal(result.steps, 12);
    assert.equal(typeof result.adapterId, 'number');
    assert.equal(r.stderr.trim().split('\n').length, ev.length, `nothing on stderr but events: ${r.stderr}`);

    const q = run([...TRAIN, '--max-steps', '3', '--json', '--quiet'], { REFT_STUDIO_HOME: dir });
    assert.equal(q.code, 0, q.stderr);
    const quiet = jsonStream(q.stdout, q.stderr);
    assert.deepEqual(new Set(quiet.events.map((e) => e.event)), new Set(['checkpoint']));
    assert.equal(quiet.result.status, 'completed');
    const plain = run([...TRAIN, '--max-steps', '3', '-q'], { REFT_STUDIO_HOME: dir });
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stderr, '');
    assert.match(plain.stdout, /^run 3 completed/);

    // evaluate: examples counted on stderr, one object on stdout, kept with the library adapter.
    const evaluated = run(['evaluate', '--adapter', '3', '--data', '1', '--json'], { REFT_STUDIO_HOME: dir });
    assert.equal(evaluated.code, 0, evaluated.stderr);
    const report = JSON.parse(evaluated.stdout);
    assert.equal(report.kind, 'loss');
    assert.equal(report.examples, 12);
    assert.equal(typeof report.metrics.perplexity, 'number');
    // Its progress as the train events' JSON lines, every stderr line one (before: plain lines).
    const counts = onlyEvents(evaluated.stderr).filter((e) => e.event === 'progress');
    assert.ok(counts.length > 0, evaluated.stderr);
    assert.ok(counts.every((e) => e.kind === 'count' && e.unit === 'examples'));
    assert.equal(counts.at(-1)?.done, 12);
    assert.equal(counts.at(-1)?.total, 12);
    const lib = openLibrary(dir);
    try {
      const [stored] = listEvaluations(lib, { adapterId: 3 });
      assert.equal(stored.status, 'completed');
      assert.equal(stored.metrics.perplexity, report.metrics.perplexity);
    } finally {
      closeLibrary(lib);
    }
    // Listed with the adapter: `adapters show` prints its metrics, --json carries the record.
    const shown = run(['adapters', 'show', '3', '--data-dir', dir], {});
    assert.match(shown.stdout, /^1 +loss +completed +dataset “Demo: pirate persona” v1 +12 +.*perplexity=/m);
    const json = JSON.parse(run(['adapters', 'show', '3', '--json', '--data-dir', dir], {}).stdout);
    assert.equal(json.evaluations[0].metrics.perplexity, report.metrics.perplexity);
  });

  it('datasets import: a big file shows its rows being checked; --json stays one object; Parquet too', () => {
    const dir = home();
    const big = join(tempDir('reft-cli-import-'), 'big.jsonl');
    const row = (i: number) =>
      JSON.stringify({
        prompt: `Question ${i}: what is ${i} plus ${i}? `.repeat(2),
        completion: `It is ${2 * i}.`,
      });
    writeFileSync(big, `${Array.from({ length: 50_000 }, (_, i) => row(i)).join('\n')}\n`);
    const r = run(['datasets', 'import', big, '--json'], { REFT_STUDIO_HOME: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).version.rowCount, 50_000);
    // Rows counted as JSON events, every stderr line one (before: plain `import: …` lines).
    const last = onlyEvents(r.stderr).at(-1);
    assert.deepEqual(
      [last?.event, last?.kind, last?.label, last?.done, last?.total],
      ['progress', 'count', 'import', 50_000, 50_000],
    );
    // Without --json, people get the plain lines.
    const plain = run(['datasets', 'import', big, '--name', 'again'], { REFT_STUDIO_HOME: dir });
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /^import: {2}50000\/50000 rows {2}/m);
    const small = run(['datasets', 'import', DATA, '--json'], { REFT_STUDIO_HOME: dir });
    assert.equal(small.stderr, '', 'a small file imports without progress');
    // The CLI reads Parquet too (asynchronously, as the studio does).
    const pq = join(tempDir('reft-cli-import-'), 'rows.parquet');
    writeFileSync(pq, writeParquet({ prompt: ['a', 'b'], completion: ['c', 'd'] }));
    const p = run(['datasets', 'import', pq, '--json'], { REFT_STUDIO_HOME: dir });
    assert.equal(p.code, 0, p.stderr);
    assert.equal(JSON.parse(p.stdout).version.rowCount, 2);
  });

  it('bench --json: exactly one object on stdout, progress as JSON events on stderr', () => {
    const r = run(
      ['bench', 'train', '--model', MODEL, '--seq', '16', '--prompt', '8', '--steps', '2', '--json'],
      {},
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1, r.stdout);
    const j = JSON.parse(r.stdout);
    assert.equal(typeof j.tokens_per_s, 'number');
    // Every stderr line an event (before: plain lines, which broke a reader parsing each line).
    const events = onlyEvents(r.stderr);
    const steps = events.filter((e) => e.event === 'progress');
    assert.ok(steps.every((e) => e.kind === 'count' && e.label === 'bench train' && e.unit === 'steps'));
    // Only the timed steps are counted: the untimed warm-up is not "1/3 steps" of --steps 2.
    assert.deepEqual([steps.at(-1)?.done, steps.at(-1)?.total], [2, 2]);
    assert.ok(steps.every((e) => e.total === 2));
    // Opening the session, before any step is counted, is said too.
    assert.ok(
      events.some(
        (e) =>
          e.event === 'log' &&
          e.message === 'bench train: loading the model into ONNX Runtime, then an untimed warm-up',
      ),
    );
    // Without --json, people get the plain lines.
    const plain = run(
      ['bench', 'train', '--model', MODEL, '--seq', '16', '--prompt', '8', '--steps', '2'],
      {},
    );
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /^bench train: {2}2\/2 steps/m);
  });
});

/**
 * Follows a child's lines through a terminal as they come (CR LF, and ^C echoed): there its stdout
 * (the --json result) and stderr (the events) are one.
 */
function followTerminal(child: ChildProcess, on: (e: Json) => void): Promise<number | null> {
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    const line = l.replace(/^(\^C)+/, '').trim();
    if (line) on(JSON.parse(line));
  });
  return done;
}

describe('Ctrl-C', () => {
  // Steps of 200 micro-batches, so that a step is in flight when the signals come.
  const data = join(tempDir('reft-cli-sigint-'), 'rows.jsonl');
  writeFileSync(
    data,
    Array.from({ length: 200 }, (_, i) =>
      JSON.stringify({ prompt: `Question ${i}: what is ${i} plus ${i}?`, completion: `It is ${2 * i}.` }),
    ).join('\n'),
  );
  const args = ['train', '--model', MODEL, '--data', data, '--batch-size', '1', '--grad-accum', '200'];
  const long = [
    ...args,
    '--layers',
    '1',
    '--rank',
    '2',
    '--max-steps',
    '3',
    '--checkpoint-every',
    '1',
    '--json',
  ];

  /**
   * Trains with --json and presses Ctrl-C at the end of step 1 (step 2 is then in flight), and with
   * `times` 2 again once the first was heard. 'terminal': the keys go through a pseudo-terminal,
   * whose line discipline turns ^C into SIGINT for the foreground process, as a shell's terminal
   * does (the events come back through it, echoed ^C and all); 'signal': kill -INT to the process.
   */
  async function interrupted(times: 1 | 2, dataDir: string, via: 'terminal' | 'signal') {
    const argv = [BIN, ...long, '--data-dir', dataDir];
    const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
    const child =
      via === 'terminal'
        ? spawn('script', ['-qec', [process.execPath, ...argv].map(quote).join(' '), '/dev/null'], {
            cwd: ROOT,
            stdio: ['pipe', 'pipe', 'pipe'],
          })
        : spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const ctrlC = () => (via === 'terminal' ? child.stdin?.write('\x03') : child.kill('SIGINT'));
    const on = (e: Json) => {
      if (e.event === 'progress' && e.step === 1) ctrlC();
      // The second once the first was heard, still during step 2.
      if (times === 2 && e.event === 'log' && /^pausing/.test(e.message)) ctrlC();
    };
    if (via === 'signal') {
      const r = await followEvents(child, on);
      return {
        code: r.code,
        seen: r.events,
        result: jsonStream(r.stdout, r.stderr).result,
        stderr: r.stderr,
      };
    }
    const lines: Json[] = [];
    const code = await followTerminal(child, (e) => {
      lines.push(e);
      if (e.event) on(e);
    });
    // The result is the one line that is no event, and the last.
    const results = lines.filter((e) => e.event === undefined);
    assert.equal(results.length, 1, JSON.stringify(lines));
    assert.equal(lines.at(-1), results[0]);
    return { code, seen: lines.filter((e) => e.event !== undefined), result: results[0], stderr: '' };
  }

  function resume(dataDir: string, id: number) {
    const r = run(['runs', 'resume', String(id), '--json', '--data-dir', dataDir], {});
    assert.equal(r.code, 0, r.stderr);
    const { result, events } = jsonStream(r.stdout, r.stderr);
    assert.equal(result.outcome, 'completed');
    // Its steps as events on stderr, up to the last.
    assert.equal(events.filter((e) => e.event === 'progress' && e.kind === 'train').at(-1)?.step, 3);
    const shown = JSON.parse(run(['runs', 'show', String(id), '--json', '--data-dir', dataDir], {}).stdout);
    assert.equal(shown.status, 'completed');
    assert.deepEqual(
      shown.metrics.map((m: { step: number }) => m.step),
      [1, 2, 3],
    );
  }

  it('once on a terminal: the step in flight finishes, a checkpoint is saved, paused; runs resume completes it', {
    skip: hasScript ? false : 'needs util-linux `script`',
  }, async () => {
    const dir = home();
    const r = await interrupted(1, dir, 'terminal');
    assert.equal(r.code, 130, r.stderr);
    const result = r.result;
    assert.equal(result.status, 'paused');
    assert.equal(result.step, 2);
    assert.equal(result.runId, 1);
    assert.equal(typeof result.lastLoss, 'number', "the last step's loss, as runs show has it");
    assert.equal(result.checkpoint.step, 2);
    assert.equal(result.resume, `reft-studio runs resume 1 --data-dir ${shellWord(dir)}`);
    assert.deepEqual(readdirSync(join(dir, 'runs', '1', 'checkpoints')).sort(), [
      'step-000001',
      'step-000002',
    ]);
    resume(dir, 1);
  });

  it('during the conversion of the base weights: stops at once, paused before the first step; the resume converts on', async () => {
    const model = await slowToConvertLlama(join(tempDir('reft-cli-convert-'), 'model'));
    const dir = home();
    const argv = [BIN, 'train', '--model', model, '--data', DATA, '--max-steps', '1', '--quantize', 'int8'];
    const child = spawn(process.execPath, [...argv, '--layers', '1', '--json', '--data-dir', dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const {
      code,
      events: seen,
      ...out
    } = await followEvents(child, (e) => {
      if (e.event === 'log' && /^converting the base weights/.test(e.message) && !child.killed)
        child.kill('SIGINT');
    });
    assert.equal(code, 130);
    const logs = seen.filter((e) => e.event === 'log').map((e) => e.message);
    assert.ok(
      logs.includes(
        'stopping before training starts (a conversion of the base weights resumes where it stopped)',
      ),
      logs.join('\n'),
    );
    assert.ok(!logs.some((m) => /^loading the model/.test(m)), 'stopped in the conversion');
    const { result } = jsonStream(out.stdout, out.stderr);
    assert.deepEqual(
      [result.status, result.step, result.lastLoss, result.checkpoint],
      ['paused', 0, null, null],
    );
    // The store is left resumable (a partial file and its journal), not as a finished one.
    const store = readdirSync(join(dir, 'bases'), { recursive: true }).map(String);
    assert.ok(
      store.some((f) => f.endsWith('weights.safetensors.partial')),
      store.join(', '),
    );
    assert.ok(
      !store.some((f) => f.endsWith('weights.safetensors') || f.endsWith('convert.lock')),
      store.join(', '),
    );
    const r = run(['runs', 'resume', '1', '--json', '--data-dir', dir], {});
    assert.equal(r.code, 0, r.stderr);
    assert.equal(jsonStream(r.stdout, r.stderr).result.outcome, 'completed');
  });

  it('during the data preparation: stops at once, and says so (not a conversion of the base weights)', async () => {
    // Tokenizing 40,000 rows takes seconds: the first "preparing data" line comes after one.
    const rows = join(tempDir('reft-cli-preparing-'), 'rows.jsonl');
    writeJsonl(rows, 40_000);
    const dir = home();
    const argv = [BIN, 'train', '--model', MODEL, '--data', rows, '--max-steps', '1', '--layers', '1'];
    const child = spawn(process.execPath, [...argv, '--json', '--data-dir', dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const {
      code,
      events: seen,
      ...out
    } = await followEvents(child, (e) => {
      if (e.event === 'log' && /^preparing data: /.test(e.message) && !child.killed) child.kill('SIGINT');
    });
    assert.equal(code, 130);
    const logs = seen.filter((e) => e.event === 'log').map((e) => e.message);
    // Bug: it said "a conversion of the base weights resumes where it stopped", while none had begun.
    assert.ok(
      logs.includes(
        'stopping the data preparation before training starts (a resume prepares the data again)',
      ),
      logs.join('\n'),
    );
    assert.ok(!logs.some((m) => /^data: /.test(m)), 'stopped in the preparation');
    // How far it got, as numbers a script reads (a count of rows), not only in the log line's words.
    const counts = seen.flatMap((e) =>
      e.event === 'progress' && e.kind === 'count' && e.label === 'preparing data' ? [e] : [],
    );
    assert.ok(counts.length > 0, 'no "preparing data" count');
    for (const [i, c] of counts.entries()) {
      assert.deepEqual([c.unit, c.total], ['rows', 40_000]);
      if (i > 0) assert.ok(c.done > counts[i - 1].done, counts.map((x) => x.done).join(', '));
    }
    const { result } = jsonStream(out.stdout, out.stderr);
    assert.deepEqual([result.status, result.step], ['paused', 0]);
  });

  it('a resume that fails (its model folder moved away) can be resumed again once the folder is back', async () => {
    const dir = home();
    const model = join(tempDir('reft-cli-moved-'), 'model');
    cpSync(MODEL, model, { recursive: true });
    const argv = [BIN, ...long.map((a) => (a === MODEL ? model : a)), '--data-dir', dir];
    const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const { code } = await followEvents(child, (e) => {
      if (e.event === 'progress' && e.step === 1) child.kill('SIGINT');
    });
    assert.equal(code, 130);
    renameSync(model, `${model}-away`);
    const failed = run(['runs', 'resume', '1', '--json', '--data-dir', dir], {});
    assert.equal(failed.code, 1);
    // With --json: stdout is the one {"error"} object a failing command prints; the events it got
    // to, then its error line, on stderr.
    const { result, events } = jsonStream(failed.stdout, failed.stderr);
    assert.deepEqual(Object.keys(result), ['error']);
    assert.equal(`error: ${result.error.message}`, failed.stderr.trim().split('\n').at(-1));
    assert.ok(events.some((e) => e.event === 'log' && /^run 1: resuming from step \d/.test(e.message)));
    // Named as every --model refusal names it (requireModelFolder); a temporary folder by its name.
    assert.match(failed.stderr, /\bmodel: no such folder/);
    assert.match(failed.stderr, /reft-studio runs resume 1/, 'the error says how to try again');
    renameSync(`${model}-away`, model);
    resume(dir, 1);
  });

  it('a reader of the events that goes away (2>&1 | head -1): no crash; the run pauses as for one Ctrl-C and resumes', async () => {
    const dir = home();
    const child = spawn(process.execPath, [BIN, ...long, '--data-dir', dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout?.on('data', (d) => (stdout += d));
    // Like `head -1` on the events: read the first one, then close the pipe.
    await new Promise<void>((res) => child.stderr?.once('data', () => res()));
    child.stderr?.destroy();
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    // A crash on EPIPE would exit 1 without a result.
    assert.equal(code, 130, stdout);
    assert.equal(jsonStream(stdout, '').result.status, 'paused');
    const shown = JSON.parse(run(['runs', 'show', '1', '--json', '--data-dir', dir], {}).stdout);
    assert.equal(shown.status, 'paused');
    resume(dir, 1);
  });

  it('twice within 2 s (kill -INT): stops at once with the last checkpoint, interrupted; runs resume completes it', async () => {
    const dir = home();
    const r = await interrupted(2, dir, 'signal');
    assert.equal(r.code, 130, r.stderr);
    assert.ok(r.seen.some((e) => e.event === 'log' && /^stopping now/.test(e.message)));
    const result = r.result;
    assert.equal(result.status, 'interrupted');
    assert.equal(result.checkpoint.step, 1);
    assert.ok(!r.seen.some((e) => e.event === 'progress' && e.step === 2), 'step 2 was not finished');
    assert.deepEqual(readdirSync(join(dir, 'runs', '1', 'checkpoints')), ['step-000001']);
    const shown = JSON.parse(run(['runs', 'show', '1', '--json', '--data-dir', dir], {}).stdout);
    assert.equal(shown.status, 'interrupted');
    resume(dir, 1);
  });

  it('evaluate: one Ctrl-C stops it with a summary, not an error; kept as cancelled with how far it got', async () => {
    const dir = home();
    const trained = run([...TRAIN, '--max-steps', '2', '-q', '--data-dir', dir], {});
    assert.equal(trained.code, 0, trained.stderr);
    // One example per batch, generating: the count moves while the signal comes.
    const argv = [BIN, 'evaluate', '--adapter', '1', '--data', data, '--kind', 'exact-match'];
    const child = spawn(
      process.execPath,
      [...argv, '--batch-size', '1', '--max-new-tokens', '16', '--json', '--data-dir', dir],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => {
      stderr += d;
      // Its --json progress: count events ("done" before "total", as the reporter writes them).
      if (/"done":[1-9]\d*,"total":200\b/.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    assert.equal(code, 130, stderr);
    assert.doesNotMatch(stderr, /^error:/m, 'a stop the user asked for is not an error');
    const stop = JSON.parse(stdout);
    assert.equal(stop.status, 'cancelled');
    assert.equal(stop.evaluationId, 1);
    assert.equal(stop.examplesTotal, 200);
    assert.ok(stop.examplesDone > 0 && stop.examplesDone < 200, `${stop.examplesDone} examples done`);
    const dd = ` --data-dir ${shellWord(dir)}`;
    assert.equal(stop.show, `reft-studio adapters show 1${dd}`);
    assert.match(
      stop.rerun,
      /^reft-studio evaluate --adapter 1 --data \d+ --kind exact-match --max-new-tokens 16 --batch-size 1 --data-dir /,
    );
    const lib = openLibrary(dir);
    try {
      const [stored] = listEvaluations(lib, { adapterId: 1 });
      assert.equal(stored.status, 'cancelled');
      assert.equal(stored.error, `stopped with Ctrl-C after ${stop.examplesDone} of 200 examples`);
    } finally {
      closeLibrary(lib);
    }
    // `adapters show`, as the summary suggests: the evaluation listed, with why it has no metrics.
    const shown = run(['adapters', 'show', '1', '--data-dir', dir], {});
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      /^evaluations:\nID +KIND +STATUS +DATA +EXAMPLES +CREATED +RESULT\n1 +exact-match +cancelled +dataset “rows” v1 +- +\S+ \S+ +stopped with Ctrl-C after \d+ of 200 examples$/m,
    );
    const json = JSON.parse(run(['adapters', 'show', '1', '--json', '--data-dir', dir], {}).stdout);
    assert.deepEqual(
      json.evaluations.map((e: Json) => [e.id, e.kind, e.status]),
      [[1, 'exact-match', 'cancelled']],
    );
  });
});
