// The CLI's data files (docs/cli.md): `datasets import` and `train/evaluate --data FILE` with Parquet,
// CSV, other column names (--map, --eval-map) and bad lines; each error one line on stderr. Split from
// cli.test.ts, whose runs came near the runner's 15-minute limit per file on a loaded machine.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { shellWord } from '../../cli/shell-word.ts';
import { jsonStream, onlyEvents } from '../cli/json-stream.ts';
import { BIN, LLAMA_FIXTURE, oneJsonObject, runCli, tempDir } from './helpers.ts';
import { writeParquet } from './parquet-writer.ts';

const root = tempDir('cli-data');
const dataDir = join(root, 'data');

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
  // With --json each bad row is a warning event, every stderr line one (before: `warning:` lines).
  const warned = onlyEvents(skip.stderr);
  assert.deepEqual(
    warned.map((e) => [e.event, e.level]),
    [
      ['log', 'warn'],
      ['log', 'warn'],
    ],
  );
  assert.match(warned[0].message, /bad\.jsonl:2: .* \(skipped\)$/);
  assert.match(warned[1].message, /bad\.jsonl:3: no completion/);
  // More bad rows than are listed: the summary counts them all (before: "1000 bad rows skipped").
  const many = join(root, 'many-bad.jsonl');
  const rows = Array.from({ length: 1100 }, (_, i) => `{"prompt":"p${i}","completion":${i}}`);
  writeFileSync(many, ['{"prompt":"a","completion":"b"}', ...rows].join('\n'));
  const counted = await runCli(['datasets', 'import', many, '--skip-bad-rows', '--data-dir', dataDir]);
  assert.equal(counted.code, 0, counted.stderr);
  // For people, each listed bad row is a warning line.
  assert.match(counted.stderr, /^warning: .*many-bad\.jsonl:2: .*\(skipped\)$/m);
  assert.match(
    counted.stdout,
    /1 prompt-completion row .*, 1100 bad rows skipped \(the first 1000 listed\)\n$/,
  );
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
