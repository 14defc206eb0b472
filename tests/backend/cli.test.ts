// The CLI contract (docs/cli.md): --json prints exactly one JSON object on stdout; errors exit
// non-zero with one `error:` line on stderr and no stack trace.

import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { shellWord } from '../../cli/shell-word.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { appendMetrics, createRun, setRunStatus } from '../../electron/backend/library/runs.ts';
import { detectNvidia, noNvidiaGpu } from '../../native-runtime/runtime/gpus.ts';
import { jsonStream, stderrEvents } from '../cli/json-stream.ts';
import { cudaMissingHere } from '../helpers/cuda-here.ts';
import { cliWithin, LLAMA_FIXTURE, oneJsonObject, ROOT, runCli, tempDir } from './helpers.ts';

const root = tempDir('cli');
const dataDir = join(root, 'data');

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
  // What is missing first: no NVIDIA GPU here (the pack cannot help), else the pack.
  assert.match(result.deviceFallback, new RegExp(`^cuda: ${await cudaMissingHere()}`));
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
  assert.equal(u.stderr, 'error: ID must be a positive integer (got "abc")\n');
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
  // machine (1) when the run is planned; auto was recorded, then failed at its start. With no NVIDIA
  // GPU that is said first, in `devices`' words: installing the pack cannot help such a machine.
  const noGpu = noNvidiaGpu(await detectNvidia());
  const why = noGpu ? `: ${noGpu}` : ', and the CUDA runtime pack is not installed';
  for (const device of ['auto', 'cuda']) {
    const r = await train(['--device', device]);
    assert.deepEqual(
      [r.code, r.stderr],
      [1, `error: bfloat16 needs CUDA${why}: use --dtype fp32 or fp16\n`],
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

// Node's recursive mkdir loops for ever, at full CPU, where mkdir answers ENOENT under a folder that
// exists (/proc, /sys, some FUSE mounts): every folder made on a path the person gave uses makeFolders.
const noProc = !existsSync('/proc/self') && 'no /proc here';

test('a data folder under /proc (--data-dir, REFT_STUDIO_HOME) ends with one error line', {
  skip: noProc,
  timeout: 150_000,
}, () => {
  const home = '/proc/reft-studio-home/library';
  const runs = [
    cliWithin(60, ['adapters', 'list', '--data-dir', home]),
    cliWithin(60, ['models', 'list'], { REFT_STUDIO_HOME: home }),
  ];
  for (const r of runs) {
    assert.equal(r.killed, false, 'a data folder under /proc never ended');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, 'error: /proc/reft-studio-home: no such file or folder\n');
  }
});

test('runtime install into a data folder under /proc ends with one error line', {
  skip: noProc,
  timeout: 90_000,
}, () => {
  // The pack's folder is made before --from is read: the file need not be a pack.
  const from = join(root, 'not-a-pack.zip');
  writeFileSync(from, 'not a zip');
  const r = cliWithin(60, [
    'runtime',
    'install',
    'cuda',
    '--from',
    from,
    '--data-dir',
    '/proc/reft-studio-rt/lib',
  ]);
  assert.equal(r.killed, false, 'runtime install under /proc never ended');
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, 'error: runtime install: /proc/reft-studio-rt: no such file or folder\n');
});

test('train --checkpoint-dir under /proc ends with one error line', { skip: noProc, timeout: 90_000 }, () => {
  const data = join(root, 'proc-train.jsonl');
  writeFileSync(
    data,
    '{"prompt":"What is 1 plus 1?","completion":" 2"}\n{"prompt":"2 plus 2?","completion":" 4"}\n',
  );
  const args = ['train', '--model', LLAMA_FIXTURE, '--data', data, '--max-steps', '2', '-q'];
  const r = cliWithin(60, [
    ...args,
    '--checkpoint-dir',
    '/proc/reft-studio-ckpt/inner',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(r.killed, false, 'train --checkpoint-dir under /proc never ended');
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr,
    'error: --checkpoint-dir /proc/reft-studio-ckpt/inner cannot hold checkpoints: /proc/reft-studio-ckpt: no such file or folder\n',
  );
});
