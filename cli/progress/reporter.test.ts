// The progress reporter's decisions, on a fake clock: which steps become plain lines, how events are
// throttled, what the smoothed loss is, and how the bar's line fits a terminal (with and without
// colour). The CLI under a real pseudo-terminal and pipe is tests/cli/progress.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StreamEvent, TrainProgress } from '../../electron/backend/jobs/progress-events.ts';
import { displayWidth } from '../display-width.ts';
import { visibleWriter } from '../terminal-text.ts';
import { BarSink } from './bar.ts';
import { fitFields, formatClock, formatDuration } from './format.ts';
import { createReporter, type TaskView } from './reporter.ts';

function step(s: number, total: number, loss = 2): TrainProgress {
  return {
    step: s,
    totalSteps: total,
    epoch: s / 10,
    loss,
    lr: 1e-3,
    gradNorm: 0.5,
    tokensPerS: 1234,
    etaS: total - s,
  };
}

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('lines: the first step, every 5% of the total and always the last step', () => {
  const out: string[] = [];
  const c = clock();
  const r = createReporter({ mode: 'lines', write: (s) => out.push(s), now: c.now });
  const t = r.train({ totalSteps: 200, runId: 3 });
  for (let s = 1; s <= 200; s++) {
    c.advance(10);
    t.update(step(s, 200));
  }
  t.done();
  const steps = out.map((l) => Number(/^step +(\d+)\/200 /.exec(l)?.[1]));
  assert.deepEqual(steps, [1, ...Array.from({ length: 20 }, (_, i) => 10 * (i + 1))]);
  assert.ok(out.every((l) => l.endsWith('\n') && l.split('\n').length === 2));
  assert.match(out[0], /epoch 0\.10 {2}loss 2\.0000 {2}lr 1\.00e-3 .* tok\/s {2}elapsed \d+s {2}eta 3m19s$/m);
});

test('lines: a stop between intervals still prints the step it stopped at; slow runs print by time', () => {
  const out: string[] = [];
  const c = clock();
  const r = createReporter({ mode: 'lines', write: (s) => out.push(s), now: c.now });
  const t = r.train({ totalSteps: 1000 });
  t.update(step(1, 1000));
  c.advance(31_000); // longer than the 30 s interval: printed although not at a 5% mark
  t.update(step(7, 1000));
  t.update(step(8, 1000));
  t.done();
  assert.deepEqual(
    out.map((l) => Number(/^step +(\d+)\//.exec(l)?.[1])),
    [1, 7, 8],
  );
});

test('events: every training step, transfers throttled to 250 ms plus the last', () => {
  const events: StreamEvent[] = [];
  const c = clock();
  const r = createReporter({
    mode: 'events',
    write: (s) => {
      assert.ok(s.endsWith('\n'));
      events.push(JSON.parse(s));
    },
    now: c.now,
  });
  r.log('hello');
  const t = r.train({ totalSteps: 3, runId: 9 });
  for (let s = 1; s <= 3; s++) t.update(step(s, 3, 4 - s));
  r.checkpoint({ runId: 9, step: 3, dir: '/ck/step-3' });
  t.done();
  const x = r.transfer({ label: 'model.safetensors', totalBytes: 1000 });
  for (let b = 100; b <= 1000; b += 100) {
    c.advance(100);
    x.update(b);
  }
  x.done();
  assert.deepEqual(events[0], { event: 'log', message: 'hello' });
  const train = events.filter((e) => e.event === 'progress' && e.kind === 'train');
  assert.deepEqual(
    train.map((e) => [e.event === 'progress' && e.kind === 'train' && e.step, 'runId' in e && e.runId]),
    [
      [1, 9],
      [2, 9],
      [3, 9],
    ],
  );
  assert.deepEqual(events[4], { event: 'checkpoint', runId: 9, step: 3, dir: '/ck/step-3' });
  const bytes = events.flatMap((e) => (e.event === 'progress' && e.kind === 'transfer' ? [e.bytes] : []));
  // 100 ms apart: the first, then at least 250 ms later each, and the last always.
  assert.deepEqual(bytes, [100, 400, 700, 1000]);
  const last = events.at(-1);
  assert.ok(last?.event === 'progress' && last.kind === 'transfer');
  assert.equal(last.totalBytes, 1000);
  assert.ok(last.bytesPerS > 0 && last.etaS === 0);
});

test("a run's device: an event in the stream (not with --quiet), no line for people", () => {
  const d = {
    runId: 2,
    requested: 'cuda',
    device: 'cpu',
    fallback: 'cuda: no driver',
    precision: 'fp32',
  } as const;
  const seen = { events: [] as string[], quiet: [] as string[], lines: [] as string[] };
  createReporter({ mode: 'events', write: (s) => seen.events.push(s) }).device(d);
  createReporter({ mode: 'events', write: (s) => seen.quiet.push(s), quiet: true }).device(d);
  // Lines (and the bar): the fallback is a log line already, the device is in the summary.
  createReporter({ mode: 'lines', write: (s) => seen.lines.push(s) }).device(d);
  assert.deepEqual(seen, {
    events: [`${JSON.stringify({ event: 'device', ...d })}\n`],
    quiet: [],
    lines: [],
  });
});

test('a task stopped before its first number shows nothing (no "step 0/0 loss NaN")', () => {
  const out: string[] = [];
  const events: string[] = [];
  for (const mode of ['lines', 'events'] as const) {
    const r = createReporter({ mode, write: (s) => (mode === 'events' ? events : out).push(s) });
    r.train({ totalSteps: 0 }).done();
    r.transfer({ label: 'x.bin', totalBytes: 10 }).done();
  }
  assert.deepEqual([out, events], [[], []]);
});

test('events --quiet: no progress or notes, checkpoints still', () => {
  const lines: string[] = [];
  const r = createReporter({
    mode: 'events',
    write: (s) => lines.push(s),
    quiet: true,
  });
  r.log('note');
  const t = r.train({ totalSteps: 2 });
  t.update(step(1, 2));
  r.checkpoint({ step: 1, dir: '/ck' });
  t.done();
  assert.deepEqual(lines, ['{"event":"checkpoint","step":1,"dir":"/ck"}\n']);
});

test('the smoothed loss is a bias-corrected moving average: the first value exactly, then lagging', () => {
  const out: string[] = [];
  const r = createReporter({ mode: 'lines', write: (s) => out.push(s) });
  const t = r.train({ totalSteps: 40 });
  t.update(step(1, 40, 4));
  t.update(step(2, 40, 0)); // not at an interval: no line, but the average moves
  t.done();
  // The first step: its loss is the average, said once.
  assert.match(out[0], /loss 4\.0000 {2}lr/);
  // (0.9·0.1·4 + 0.1·0) / (1 − 0.9²) = 0.36 / 0.19
  assert.match(out[1], /avg 1\.8947/);
});

test("a step reported again (a resume's checkpoint step, with its held-out loss): counted once, its eval printed", () => {
  // Bug: a resumed run reports its checkpoint's step a second time with the held-out loss a pause
  // stopped (trainer.ts), and the average took that step's loss twice (4, 0, 0 again, 0 read avg
  // 0.8479), while plain lines never printed the held-out loss (the step had a line already).
  const out: string[] = [];
  const r = createReporter({ mode: 'lines', write: (s) => out.push(s) });
  const t = r.train({ totalSteps: 40 });
  t.update(step(1, 40, 4));
  t.update(step(2, 40, 0));
  t.update({ ...step(2, 40, 0), evalLoss: 1.5, etaS: Number.NaN });
  t.update(step(4, 40, 0));
  t.done();
  assert.equal(out.length, 4, out.join(''));
  assert.match(out[2], /^step {2}2\/40 .* eval 1\.5000 .* eta \?$/m, 'the repeat, with what it adds');
  // (0.9²·0.1·4) / (1 − 0.9³) = 0.324 / 0.271: three steps in the average, not four.
  assert.match(out[3], /^step {2}4\/40 .* avg 1\.1956 /m);
});

test("a line's loss is its step's own (the summary's final loss), the average named avg", () => {
  const out: string[] = [];
  const r = createReporter({ mode: 'lines', write: (s) => out.push(s) });
  const t = r.train({ totalSteps: 3 });
  for (const [s, loss] of [
    [1, 10.5381],
    [2, 10.5002],
    [3, 10.4445],
  ])
    t.update(step(s, 3, loss));
  t.done();
  // Once "loss 10.4910" here (the average), above a summary's "final loss: 10.4445".
  assert.match(out.at(-1) ?? '', /^step 3\/3 {2}epoch \S+ {2}loss 10\.4445 {2}avg 10\.4910 {2}lr /);
});

function view(event: TaskView['event'], over: Partial<TaskView> = {}): TaskView {
  return {
    id: 1,
    startedAt: 0,
    event,
    at: 0,
    smoothedLoss: 2.5,
    checkpointStep: null,
    finished: true,
    updated: true,
    ...over,
  };
}

test('bar line: every field on a wide terminal, the important ones on a narrow one, never wider', () => {
  const sink = new BarSink(process.stderr, false, () => 0);
  const e = { event: 'progress', kind: 'train', elapsedS: 65, ...step(57, 200) } as const;
  const wide = sink.line(view(e, { checkpointStep: 40 }), 160);
  assert.match(
    wide,
    /^ 57\/200 █+░+ ep 5\.70 avg loss 2\.5000 lr 1\.0e-3 1\.2k tok\/s ckpt 40 \[01:05<02:23\]$/,
  );
  for (const width of [120, 80, 60, 40, 24]) {
    const l = sink.line(view(e), width);
    assert.ok(l.length < width, `${width}: ${l}`);
    assert.match(l, / 57\/200 .*avg loss 2\.5000/, `${width}: ${l}`);
  }
  assert.match(sink.line(view(e), 80), /█.*ep .*lr .*tok\/s .*\[01:05<02:23\]/);
  assert.doesNotMatch(sink.line(view(e), 40), /█|lr /);
  const x = sink.line(
    view({
      event: 'progress',
      kind: 'transfer',
      label: 'model.safetensors',
      bytes: 3e6,
      totalBytes: 12e6,
      bytesPerS: 1e6,
      etaS: 9,
      elapsedS: 3,
    }),
    100,
  );
  assert.match(x, /^model\.safetensors █+░+ 3\.0 MB\/12\.0 MB 1\.0 MB\/s \[00:03<00:09\]$/);
});

test('bar line: a CJK or emoji label is measured in terminal columns and cut between whole characters', () => {
  // Bug: the line was measured in UTF-16 units and cut with slice(): a CJK label (two columns a
  // character) overflowed the terminal, and an emoji at the edge was cut in half (a lone surrogate).
  const sink = new BarSink(process.stderr, false, () => 0);
  const transfer = (label: string) =>
    view({
      event: 'progress',
      kind: 'transfer',
      label,
      bytes: 3e6,
      totalBytes: 12e6,
      bytesPerS: 1e6,
      etaS: 9,
      elapsedS: 3,
    });
  const halfPair = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
  const labels = ['日本語のモデル.safetensors', '🏴‍☠️👍🏽'.repeat(12), `${'a'.repeat(30)}😀😀😀`];
  for (const label of labels)
    for (let width = 12; width <= 100; width++) {
      const l = sink.line(transfer(label), width);
      assert.ok(displayWidth(l) < width, `${width}: ${l} is ${displayWidth(l)} columns`);
      assert.doesNotMatch(l, halfPair, `${width}: ${l}`);
    }
  // 26 columns of label (14 of them its 7 CJK characters): every field fits in 80, the bar too; in 43
  // the bar, rate and clock go (measured in units, the rate and clock would have stayed).
  assert.match(
    sink.line(transfer(labels[0] as string), 80),
    /^日本語のモデル\.safetensors █+░+ 3\.0 MB\/12\.0 MB 1\.0 MB\/s \[00:03<00:09\]$/,
  );
  assert.equal(sink.line(transfer(labels[0] as string), 43), '日本語のモデル.safetensors 3.0 MB/12.0 MB');
  // Too wide even alone: cut at the edge between whole characters, the cut marked.
  assert.equal(sink.line(transfer(labels[2] as string), 33), `${'a'.repeat(30)}…`);
  assert.equal(sink.line(transfer(labels[2] as string), 35), `${'a'.repeat(30)}😀…`);
});

test('bar colour: escape codes only on the bar, none when colour is off (NO_COLOR)', () => {
  const e = { event: 'progress', kind: 'train', elapsedS: 1, ...step(5, 10) } as const;
  const coloured = new BarSink(process.stderr, true, () => 0).line(view(e), 100);
  const plain = new BarSink(process.stderr, false, () => 0).line(view(e), 100);
  const ESC = '\x1b';
  assert.match(coloured, new RegExp(`${ESC}\\[36m█+${ESC}\\[0m${ESC}\\[2m░+${ESC}\\[0m`));
  assert.ok(!plain.includes(ESC));
  assert.equal(coloured.replace(new RegExp(`${ESC}\\[\\d+m`, 'g'), ''), plain);
});

test('formatting helpers', () => {
  assert.equal(formatDuration(7.4), '7s');
  assert.equal(formatDuration(65), '1m05s');
  assert.equal(formatDuration(7380), '2h03m');
  assert.equal(formatDuration(null), '?');
  assert.equal(formatClock(65), '01:05');
  assert.equal(formatClock(3725), '1:02:05');
  assert.equal(formatClock(Number.NaN), '??');
  const f = [
    { text: 'aaaa', rank: 0 },
    { text: 'bb', rank: 2 },
    { text: 'cc', rank: 1 },
  ];
  assert.deepEqual(
    fitFields(f, 10).map((x) => x.text),
    ['aaaa', 'cc'],
  );
  assert.deepEqual(
    fitFields(f, 2).map((x) => x.text),
    ['aaaa'],
  );
});

test('events stay JSON through the stderr writer that makes control characters visible', () => {
  // A log note quoting a file: ESC (C0), DEL and CSI (C1). visibleWriter, which every stderr write
  // goes through, writes a raw DEL or C1 as `\xNN`, which is not JSON.
  const lines: string[] = [];
  const r = createReporter({ mode: 'events', write: visibleWriter((s) => lines.push(s)) });
  const message = 'column "a\u001b]0;x\u0007b\u007fc\u009bd" is empty';
  r.log(message);
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]), { event: 'log', message });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  assert.doesNotMatch(lines[0].trimEnd(), /[\u0000-\u001f\u007f-\u009f]/, 'nothing a terminal acts on');
});
