// The CLI contract (docs/cli.md): --json prints exactly one JSON object on stdout; errors exit
// non-zero with one `error:` line on stderr and no stack trace.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { shellWord } from '../../cli/shell-word.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { appendMetrics, createRun, setRunStatus } from '../../electron/backend/library/runs.ts';
import { jsonStream, stderrEvents } from '../cli/json-stream.ts';
import { BIN, LLAMA_FIXTURE, ROOT, runCli, tempDir } from './helpers.ts';
import { writeParquet } from './parquet-writer.ts';

const root = tempDir('cli');
const dataDir = join(root, 'data');

function oneJsonObject(stdout: string): Record<string, unknown> {
  assert.equal(stdout.trim().split('\n').length, 1, `one line on stdout: ${stdout}`);
  const v = JSON.parse(stdout);
  assert.equal(typeof v, 'object');
  assert.ok(v !== null && !Array.isArray(v));
  return v;
}

test('--json list commands print one object; the demo is seeded on first use', async () => {
  const r = await runCli(['models', 'list', '--json', '--data-dir', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  const out = oneJsonObject(r.stdout) as { models: { name: string; isDemo: boolean }[] };
  assert.deepEqual(
    out.models.map((m) => [m.name, m.isDemo]),
    [['Demo: tiny Llama (random weights)', true]],
  );
  const d = await runCli(['--json', '--data-dir', dataDir, 'datasets', 'list']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal((oneJsonObject(d.stdout) as { datasets: unknown[] }).datasets.length, 1);
});

test('Parquet: datasets import FILE.parquet and train --data FILE.parquet', {
  timeout: 120_000,
}, async () => {
  const pq = join(root, 'rows.parquet');
  writeFileSync(
    pq,
    writeParquet({
      prompt: ['What is 1 plus 1?', 'What is 2 plus 2?', 'What is 3 plus 3?'],
      completion: [' 2', ' 4', ' 6'],
    }),
  );
  const imp = await runCli(['datasets', 'import', pq, '--json', '--data-dir', dataDir]);
  assert.equal(imp.code, 0, imp.stderr);
  const out = oneJsonObject(imp.stdout) as { version: { rowCount: number; format: string } };
  assert.deepEqual([out.version.rowCount, out.version.format], [3, 'prompt-completion']);
  const train = await runCli([
    'train',
    '--model',
    LLAMA_FIXTURE,
    '--data',
    pq,
    '--max-steps',
    '2',
    '--json',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(train.code, 0, train.stderr);
  // --json on train: the result as the one object on stdout.
  const result = jsonStream(train.stdout, train.stderr).result;
  assert.equal(result.steps, 2, train.stdout);
  // A run the CLI trained keeps its log as one the studio trained does (it kept none: `runs logs`
  // and the studio's Log tab were empty for it).
  const logs = await runCli(['runs', 'logs', String(result.runId), '--json', '--data-dir', dataDir]);
  const texts = (oneJsonObject(logs.stdout) as { lines: { text: string }[] }).lines.map((l) => l.text);
  assert.match(texts[0] ?? '', /^started: loreft/);
  assert.match(texts.at(-1) ?? '', /^completed; its adapter is #\d+ in the library$/);
});

test('train/evaluate --data FILE --map: the columns the refusal names, mapped as datasets import maps them', {
  timeout: 120_000,
}, async () => {
  const csv = join(root, 'train-qa.csv');
  writeFileSync(csv, 'question,answer\nWhat is 1 plus 1?,2\nWhat is 2 plus 2?,4\n');
  const base = ['--model', LLAMA_FIXTURE, '--data', csv, '--max-steps', '1', '--data-dir', dataDir];
  const refused = await runCli(['train', ...base]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /map them, e\.g\. --map prompt=question --map completion=answer\n$/);
  // The flag the refusal suggests is one train takes (it said "Unknown option '--map'").
  const mapped = ['--map', 'prompt=question', '--map', 'completion=answer'];
  const train = await runCli(['train', ...base, ...mapped, '--json']);
  assert.equal(train.code, 0, train.stderr);
  const result = jsonStream(train.stdout, train.stderr).result;
  assert.equal(result.steps, 1, train.stdout);
  const ev = await runCli([
    'evaluate',
    '--adapter',
    String(result.adapterId),
    '--data',
    csv,
    ...mapped,
    '--json',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(ev.code, 0, ev.stderr);
  // A library id was mapped when it was imported: a mapping with one is refused, not ignored.
  const byId = await runCli([
    'train',
    '--model',
    LLAMA_FIXTURE,
    '--data',
    '1',
    ...mapped,
    '--data-dir',
    dataDir,
  ]);
  // Bad usage (2), as with --eval-data beside it: a bare integer is an id, from the command line alone.
  assert.equal(
    byId.stderr,
    'error: train: --map is for --data FILE, and dataset 1 is already imported: its columns were mapped then\n',
  );
  assert.equal(byId.code, 2);
  const evaluated = await runCli([
    'evaluate',
    '--adapter',
    '1',
    '--data',
    '1',
    ...mapped,
    '--data-dir',
    dataDir,
  ]);
  assert.equal(
    evaluated.stderr,
    'error: evaluate: --map is for --data FILE, and dataset 1 is already imported: its columns were mapped then\n',
  );
  assert.equal(evaluated.code, 2);
});

test('train --eval-map: the held-out file has its own columns; --map beside a library id names it', {
  timeout: 120_000,
}, async () => {
  const trainCsv = join(root, 'eval-map-train.csv');
  writeFileSync(trainCsv, 'question,answer\nWhat is 1 plus 1?,2\nWhat is 2 plus 2?,4\n');
  const evalCsv = join(root, 'eval-map-held-out.csv');
  writeFileSync(evalCsv, 'q,a\nWhat is 3 plus 3?,6\nWhat is 4 plus 4?,8\nWhat is 5 plus 5?,10\n');
  const base = ['train', '--model', LLAMA_FIXTURE, '--max-steps', '1', '--data-dir', dataDir];
  const evalMapped = ['--eval-data', evalCsv, '--eval-map', 'prompt=q', '--eval-map', 'completion=a'];
  // --map applied to both files: beside a library id it was refused as mapping that dataset.
  const byId = await runCli([...base, '--data', '1', '--eval-data', evalCsv, '--map', 'prompt=q']);
  assert.equal(
    byId.stderr,
    "error: train: --map is for --data FILE, and dataset 1 is already imported: map --eval-data's columns with --eval-map FIELD=COLUMN\n",
  );
  assert.equal(byId.code, 2);
  const evalById = await runCli([...base, '--data', evalCsv, '--eval-data', '1', '--eval-map', 'prompt=q']);
  assert.equal(
    evalById.stderr,
    'error: train: --eval-map is for --eval-data FILE, and dataset 1 is already imported: its columns were mapped then\n',
  );
  assert.equal(evalById.code, 2);
  const idRun = await runCli([...base, '--data', '1', ...evalMapped, '--json']);
  assert.equal(idRun.code, 0, idRun.stderr);
  assert.equal(jsonStream(idRun.stdout, idRun.stderr).result.evalExamples, 3, idRun.stdout);
  // Two files, each with its own names.
  const mapped = ['--map', 'prompt=question', '--map', 'completion=answer'];
  const files = await runCli([...base, '--data', trainCsv, ...mapped, ...evalMapped, '--json']);
  assert.equal(files.code, 0, files.stderr);
  assert.equal(jsonStream(files.stdout, files.stderr).result.evalExamples, 3, files.stdout);
  const noHeldOut = await runCli([...base, '--data', trainCsv, ...mapped, '--eval-map', 'prompt=q']);
  assert.equal(noHeldOut.stderr, 'error: train: --eval-map is for --eval-data FILE\n');
});

test('train --device cuda that falls back: the run records and shows the CPU, with why', {
  timeout: 120_000,
}, async () => {
  // No CUDA runtime pack here: the run asks for CUDA and trains on the CPU.
  const data = join(root, 'device-data');
  const rows = join(root, 'device-rows.jsonl');
  writeFileSync(
    rows,
    '{"prompt":"What is 1 plus 1?","completion":" 2"}\n{"prompt":"What is 2 plus 2?","completion":" 4"}\n',
  );
  const train = await runCli([
    'train',
    '--model',
    LLAMA_FIXTURE,
    '--data',
    rows,
    '--max-steps',
    '1',
    '--device',
    'cuda',
    '--json',
    '--data-dir',
    data,
  ]);
  assert.equal(train.code, 0, train.stderr);
  const result = jsonStream(train.stdout, train.stderr).result;
  assert.equal(result.device, 'cpu');
  assert.match(result.deviceFallback, /^cuda: the CUDA runtime pack is not installed/);
  // One line tells the fallback (the session's), not a second "device 'cuda': running on cpu".
  const told = `device 'cuda' unavailable — ${result.deviceFallback}; running on cpu`;
  const events = stderrEvents(train.stderr);
  const notes = events.filter((e) => e.event === 'log' && e.message?.includes("device 'cuda'"));
  assert.deepEqual(
    notes.map((e) => e.message),
    [told],
  );
  // A reader of the stream learns the device when the session exists, before the first step.
  const device = events.findIndex((e) => e.event === 'device');
  assert.ok(device >= 0 && device < events.findIndex((e) => e.event === 'progress'), train.stderr);
  assert.deepEqual(events[device], {
    event: 'device',
    runId: result.runId,
    requested: 'cuda',
    device: 'cpu',
    fallback: result.deviceFallback,
    precision: 'fp32',
  });
  const show = await runCli(['runs', 'show', String(result.runId), '--json', '--data-dir', data]);
  const run = oneJsonObject(show.stdout) as {
    device: string;
    deviceFallback: string;
    config: { device: string };
  };
  assert.deepEqual(
    [run.config.device, run.device, run.deviceFallback],
    ['cuda', 'cpu', result.deviceFallback],
  );
  const list = await runCli(['runs', 'list', '--json', '--data-dir', data]);
  assert.equal((oneJsonObject(list.stdout) as { runs: { device: string }[] }).runs[0].device, 'cpu');
  const text = await runCli(['runs', 'show', String(result.runId), '--data-dir', data]);
  // Wrapped at 80 columns, its continuation lines indented.
  assert.equal(text.stdout.replace(/\n {2}/g, ' ').split('\n')[1], told);
  assert.match(
    (await runCli(['runs', 'list', '--data-dir', data])).stdout,
    /\bcpu\* .*\nDEVICE \*: not the device asked for/s,
  );
  // An evaluation says it too (it fell back silently before): in its result and its record.
  const ev = await runCli([
    'evaluate',
    '--adapter',
    String(result.adapterId),
    '--data',
    rows,
    '--limit',
    '1',
    '--device',
    'cuda',
    '--json',
    '--data-dir',
    data,
  ]);
  assert.equal(ev.code, 0, ev.stderr);
  assert.deepEqual(oneJsonObject(ev.stdout).device, {
    requested: 'cuda',
    device: 'cpu',
    fallback: result.deviceFallback,
  });
});

test('datasets import: strict by default (file:line on stderr), --skip-bad-rows reports each bad line', async () => {
  const f = join(root, 'bad.jsonl');
  writeFileSync(
    f,
    '{"prompt":"a","completion":"b"}\n{oops\n{"prompt":"c"}\n{"prompt":"d","completion":"e"}\n',
  );
  const strict = await runCli(['datasets', 'import', f, '--data-dir', dataDir]);
  assert.equal(strict.code, 1);
  assert.equal(strict.stdout, '');
  // The refusal names the flag that imports the good rows (before: only the bad line).
  assert.match(
    strict.stderr,
    /^error: bad\.jsonl:2: not valid JSON .*\(and 1 more bad rows\); fix the file, or import its good rows with --skip-bad-rows\n$/,
  );
  // train reads a file strictly and has no such flag: its refusal prints the import that does, as a
  // command to paste (before: the placeholder `datasets import FILE --skip-bad-rows`, no --data-dir).
  const train = await runCli(['train', '--model', LLAMA_FIXTURE, '--data', f, '--data-dir', dataDir]);
  assert.equal(train.code, 1);
  const pasted = `reft-studio datasets import ${shellWord(f)} --skip-bad-rows --data-dir ${shellWord(dataDir)}`;
  assert.match(train.stderr, /^error: bad\.jsonl:2: .*; fix the file, or import its good rows with `/);
  assert.ok(train.stderr.endsWith(`\`${pasted}\` and give the dataset's id instead\n`), train.stderr);
  // A file read through --map is imported through the same mapping, from any folder (absolute path).
  const mapped = join(root, 'bad-mapped.jsonl');
  writeFileSync(mapped, '{"q":"a","a":"b"}\n{"q":"c"}\n');
  const mapArgs = ['--map', 'prompt=q', '--map', 'completion=a'];
  const trainMapped = await runCli([
    'train',
    '--model',
    LLAMA_FIXTURE,
    '--data',
    mapped,
    ...mapArgs,
    '--data-dir',
    dataDir,
  ]);
  assert.equal(trainMapped.code, 1);
  assert.ok(
    trainMapped.stderr.includes(
      `\`reft-studio datasets import ${shellWord(mapped)} ${mapArgs.join(' ')} --skip-bad-rows --data-dir ${shellWord(dataDir)}\``,
    ),
    trainMapped.stderr,
  );
  const skip = await runCli([
    'datasets',
    'import',
    f,
    '--skip-bad-rows',
    '--json',
    '--name',
    'mixed',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(skip.code, 0, skip.stderr);
  const out = oneJsonObject(skip.stdout) as { version: { rowCount: number }; rejected: { line: number }[] };
  assert.equal(out.version.rowCount, 2);
  assert.deepEqual(
    out.rejected.map((b) => b.line),
    [2, 3],
  );
  assert.match(skip.stderr, /bad\.jsonl:2: .*\n.*bad\.jsonl:3: no completion/);
  // More bad rows than are listed: the summary counts them all (before: "1000 bad rows skipped").
  const many = join(root, 'many-bad.jsonl');
  const rows = Array.from({ length: 1100 }, (_, i) => `{"prompt":"p${i}","completion":${i}}`);
  writeFileSync(many, ['{"prompt":"a","completion":"b"}', ...rows].join('\n'));
  const counted = await runCli(['datasets', 'import', many, '--skip-bad-rows', '--data-dir', dataDir]);
  assert.equal(counted.code, 0, counted.stderr);
  assert.match(
    counted.stdout,
    /1 prompt-completion row .*, 1100 bad rows skipped \(the first 1000 listed\)\n$/,
  );
});

test('runs show: a run with steps but no recorded device does not say no step has run', async () => {
  // Runs recorded before runs.device existed (or whose device event was lost) have metrics and
  // NULL device: "no step has run yet" above their table of steps was false.
  const lib = openLibrary(dataDir);
  const fresh = createRun(lib, { name: 'not started', config: { device: 'cuda' } });
  const old = createRun(lib, { name: 'before the column', config: { device: 'cuda' } });
  setRunStatus(lib, old.id, 'completed');
  appendMetrics(lib, old.id, [
    { step: 1, epoch: 0, loss: 3.25, lr: 0.001, gradNorm: null, tokensPerS: null, evalLoss: null },
  ]);
  closeLibrary(lib);
  const line = async (id: number) =>
    (await runCli(['runs', 'show', String(id), '--data-dir', dataDir])).stdout.split('\n')[1];
  assert.equal(await line(fresh.id), 'device: cuda asked for; no step has run yet');
  assert.equal(await line(old.id), 'device: cuda asked for; where its steps ran was not recorded');
});

test('runs show --json has status and metrics with step and loss', async () => {
  const lib = openLibrary(dataDir);
  const run = createRun(lib, { name: 'cli run' });
  setRunStatus(lib, run.id, 'running');
  appendMetrics(lib, run.id, [
    { step: 1, epoch: 0, loss: 3.25, lr: 0.001, gradNorm: null, tokensPerS: null, evalLoss: null },
  ]);
  closeLibrary(lib);
  const r = await runCli(['runs', 'show', String(run.id), '--json', '--data-dir', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  const out = oneJsonObject(r.stdout) as { status: string; metrics: { step: number; loss: number }[] };
  assert.equal(out.status, 'running');
  assert.deepEqual(
    out.metrics.map((m) => [m.step, m.loss]),
    [[1, 3.25]],
  );
  const c = await runCli(['runs', 'cancel', String(run.id), '--json', '--data-dir', dataDir]);
  assert.equal((oneJsonObject(c.stdout) as { status: string }).status, 'cancelled');
});

test('errors: one line on stderr, non-zero exit, and still one JSON object with --json', async () => {
  const r = await runCli(['adapters', 'show', '42', '--json', '--data-dir', dataDir]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: no adapter with id 42\n');
  assert.deepEqual(oneJsonObject(r.stdout), {
    error: { type: 'ValidationError', code: 'not-found', message: 'no adapter with id 42' },
  });
  const u = await runCli(['models', 'rm', 'abc', '--data-dir', dataDir]);
  assert.equal(u.code, 2);
  assert.equal(u.stderr, 'error: ID must be a positive integer, got "abc"\n');
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: unknown command "frobnicate"/);
});

test('--help lists every command, and every exit code README documents', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['serve', 'models add', 'datasets import', 'runs cancel', 'adapters tag'])
    assert.match(r.stdout, new RegExp(`\\n  ${c} `));
  // Bug: the line left out 137 (a tokenization past its deadline), which README documents.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = /\*\*Exit codes\*\*:([\s\S]*?)\n\n/.exec(readme)?.[1] ?? '';
  const documented = [...section.matchAll(/`(\d+)`/g)].map((m) => m[1]);
  assert.ok(documented.includes('137'), section);
  const line = /^exit codes: (.*)$/m.exec(r.stdout)?.[1] ?? '';
  const helped = [...line.matchAll(/(?:^|, )(\d+) /g)].map((m) => m[1]);
  assert.deepEqual(helped, [...new Set(documented)]);
});

test('datasets import of a folder or a device says what it is, not "no such file"', async () => {
  const dev = await runCli(['datasets', 'import', '/dev/zero', '--json', '--data-dir', dataDir]);
  assert.equal(dev.code, 1);
  assert.equal(dev.stderr, 'error: /dev/zero is not a regular file\n');
  assert.equal((oneJsonObject(dev.stdout) as { error: { code: string } }).error.code, 'not-a-file');
  const dir = await runCli(['datasets', 'import', root, '--data-dir', dataDir]);
  assert.equal(dir.stderr, `error: ${root} is a folder; give a JSONL, JSON, CSV, TSV or Parquet file\n`);
  const gone = await runCli(['datasets', 'import', join(root, 'nope.jsonl'), '--data-dir', dataDir]);
  assert.equal(gone.stderr, `error: ${join(root, 'nope.jsonl')}: no such file\n`);
});

test('datasets import --map: other column names, as the refusal suggests', async () => {
  const csv = join(root, 'qa.csv');
  writeFileSync(csv, 'q,a\nWhat is 1 plus 1?,2\nWhat is 2 plus 2?,4\n');
  const refused = await runCli(['datasets', 'import', csv, '--data-dir', dataDir]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /columns: q, a\); map them, e\.g\. --map prompt=q --map completion=a\n$/);
  const r = await runCli([
    'datasets',
    'import',
    csv,
    '--map',
    'prompt=q',
    '--map',
    'completion=a',
    '--json',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = oneJsonObject(r.stdout) as { version: { rowCount: number; format: string } };
  assert.deepEqual([out.version.rowCount, out.version.format], [2, 'prompt-completion']);
  // The same columns tab-separated (a .tsv file): the same rows.
  const tsv = join(root, 'qa.tsv');
  writeFileSync(tsv, 'q\ta\nWhat is 1 plus 1?\t2\nWhat is 2, plus 2?\t4\n');
  const t = await runCli([
    'datasets',
    'import',
    tsv,
    '--map',
    'prompt=q',
    '--map',
    'completion=a',
    '--json',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(t.code, 0, t.stderr);
  assert.equal((oneJsonObject(t.stdout) as { version: { rowCount: number } }).version.rowCount, 2);
  const bad = await runCli(['datasets', 'import', csv, '--map', 'answer=a', '--data-dir', dataDir]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /^error: --map answer=a: FIELD must be one of prompt, completion, instruction, input, output, messages\n$/,
  );
});

test('train --data FILE.csv with spaced column names: the --map hint, pasted into a shell, trains', {
  timeout: 120_000,
}, async () => {
  // Before: "map them, e.g. --map prompt=the question --map completion=it's $HOME (a)", which a
  // shell splits at the spaces (and reads $HOME and the parentheses in).
  const csv = join(root, 'spaced.csv');
  writeFileSync(csv, `the question,it's $HOME (a)\nWhat is 1 plus 1?,2\nWhat is 2 plus 2?,4\n`);
  const base = ['--model', LLAMA_FIXTURE, '--data', csv, '--max-steps', '1', '--data-dir', dataDir];
  const refused = await runCli(['train', ...base]);
  assert.equal(refused.code, 1);
  const hint = /; map them, e\.g\. (.*)\n$/.exec(refused.stderr)?.[1];
  assert.equal(hint, `--map "prompt=the question" --map 'completion=it'\\''s $HOME (a)'`);
  // The command again with the hint pasted at its end, as a shell reads it (paths passed as $1…).
  const script = `"$0" "$1" train --model "$2" --data "$3" --max-steps 1 --data-dir "$4" --json ${hint}`;
  const train = spawnSync('/bin/sh', ['-c', script, process.execPath, BIN, LLAMA_FIXTURE, csv, dataDir], {
    encoding: 'utf8',
  });
  assert.equal(train.status, 0, train.stderr);
  assert.equal(jsonStream(train.stdout, train.stderr).result.steps, 1, train.stdout);
});

test('a command given more arguments than it takes refuses them all: models rm 1 2 removes nothing', async () => {
  const ids = async () => {
    const list = await runCli(['models', 'list', '--json', '--data-dir', dataDir]);
    return (oneJsonObject(list.stdout) as { models: { id: number }[] }).models.map((m) => m.id);
  };
  const before = await ids();
  assert.ok(before.includes(1));
  const r = await runCli(['models', 'rm', '1', '2', '--json', '--data-dir', dataDir]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: models rm: unexpected argument "2"\n');
  assert.equal((oneJsonObject(r.stdout) as { error: { code: string } }).error.code, 'usage');
  assert.deepEqual(await ids(), before);
  // `runs list` takes none; `adapters rename ID NAME...` still takes a name of several words.
  const extra = await runCli(['runs', 'list', 'everything', '--data-dir', dataDir]);
  assert.equal(extra.stderr, 'error: runs list: unexpected argument "everything"\n');
  const rename = await runCli(['adapters', 'rename', '42', 'two', 'words', '--data-dir', dataDir]);
  assert.equal(rename.stderr, 'error: no adapter with id 42\n');
});

test('train --dtype bf16 off CUDA is refused before a run is recorded, not failed with a resume hint', async () => {
  const runs = async () => {
    const r = await runCli(['runs', 'list', '--json', '--data-dir', dataDir]);
    return (oneJsonObject(r.stdout) as { runs: { id: number }[] }).runs.length;
  };
  const before = await runs();
  const data = join(root, 'bf16.jsonl');
  writeFileSync(data, '{"prompt": "a", "completion": "b"}\n');
  const train = (device: string[]) =>
    runCli([
      'train',
      '--model',
      LLAMA_FIXTURE,
      '--data',
      data,
      '--dtype',
      'bf16',
      ...device,
      '--max-steps',
      '1',
      '--data-dir',
      dataDir,
    ]);
  const cpu = 'error: bfloat16 needs CUDA (CPU has no bfloat16 kernels): use --dtype fp32 or fp16\n';
  // The device named on the command line: the command line alone is wrong (2).
  const named = await train(['--device', 'cpu']);
  assert.deepEqual([named.code, named.stderr], [2, cpu]);
  // The data folder's device (Settings, else the CPU): refused against the library (1).
  const settled = await train([]);
  assert.deepEqual([settled.code, settled.stderr], [1, cpu]);
  // auto or cuda where CUDA cannot run (no runtime pack in this data folder): refused against the
  // machine (1) when the run is planned; auto was recorded, then failed at its start.
  for (const device of ['auto', 'cuda']) {
    const r = await train(['--device', device]);
    assert.deepEqual(
      [r.code, r.stderr],
      [
        1,
        'error: bfloat16 needs CUDA, and the CUDA runtime pack is not installed: use --dtype fp32 or fp16\n',
      ],
      device,
    );
  }
  assert.equal(await runs(), before);
});

test('models list marks a model whose folder was moved away, and says what to do', async () => {
  const data = join(root, 'data-moved');
  const dir = join(root, 'llama-to-move');
  cpSync(LLAMA_FIXTURE, dir, { recursive: true });
  const add = await runCli(['models', 'add', dir, '--json', '--data-dir', data]);
  assert.equal(add.code, 0, add.stderr);
  const id = (JSON.parse(add.stdout) as { id: number }).id;
  renameSync(dir, `${dir}-moved`);
  const r = await runCli(['models', 'list', '--data-dir', data]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(`${dir} (missing)`), r.stdout);
  assert.ok(
    r.stdout.includes(
      `model ${id}: its folder is gone (moved or deleted); add it from where it is now, and forget this entry with \`reft-studio models rm ${id} --data-dir ${shellWord(data)}\``,
    ),
    r.stdout,
  );
  const json = await runCli(['models', 'list', '--json', '--data-dir', data]);
  const models = (oneJsonObject(json.stdout) as { models: { id: number; missing: boolean }[] }).models;
  assert.deepEqual(
    models.map((m) => [m.id === id, m.missing]),
    [
      [false, false],
      [true, true],
    ],
    'the demo is there, the moved one is missing',
  );
});

test('train on a model with only tokenizer.model is refused before a run is recorded, saying what to do', async () => {
  const data = join(root, 'data-spm');
  const dir = join(root, 'llama-spm');
  cpSync(LLAMA_FIXTURE, dir, { recursive: true });
  rmSync(join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'tokenizer.model'), 'sentencepiece');
  const rows = join(root, 'spm.jsonl');
  writeFileSync(rows, '{"prompt": "a", "completion": "b"}\n');
  const r = await runCli(['train', '--model', dir, '--data', rows, '--max-steps', '1', '--data-dir', data]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `error: ${dir}: no tokenizer.json, only tokenizer.model, which the studio does not read (transformers writes tokenizer.json: AutoTokenizer.from_pretrained(folder).save_pretrained(folder)); training needs the model's tokenizer\n`,
  );
  const list = await runCli(['runs', 'list', '--json', '--data-dir', data]);
  assert.deepEqual((oneJsonObject(list.stdout) as { runs: unknown[] }).runs, [], 'no run recorded');
});

test('a server that refuses the connection is said in words, not as ECONNREFUSED or "fetch failed"', async () => {
  // A port that was free a moment ago: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const refused = 'nothing answers at that address (connection refused)';
  const hub = await runCli(['models', 'download', 'org/name', '--data-dir', join(root, 'net')], {
    HF_ENDPOINT: `http://127.0.0.1:${port}`,
    HF_HUB_CACHE: join(root, 'net-hub'),
  });
  assert.equal(hub.code, 1);
  assert.equal(hub.stderr, `error: cannot reach http://127.0.0.1:${port}: ${refused}\n`);
  const nuget = await runCli([
    'runtime',
    'install',
    'cuda',
    '--source',
    `http://127.0.0.1:${port}/registration`,
    '--data-dir',
    join(root, 'net'),
  ]);
  assert.equal(nuget.code, 1);
  assert.equal(nuget.stderr, `error: cannot reach 127.0.0.1:${port}: ${refused}\n`);
});
