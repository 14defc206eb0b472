// `reft-studio import`, `export` (pyreft and bundle) and `adapters show|search|check` through the real
// CLI: --json prints one object, failures print one `error:` line and leave the library unchanged.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { cliWithin as cliWithinSeconds, ROOT, runCli } from '../backend/helpers.ts';
import { copyFolder, F2L2, F2L2_BIN, LLAMA, librarySnapshot, tmp } from './helpers.ts';

const root = tmp('cli');
const dataDir = join(root, 'data');
const cli = (...args: string[]) => runCli([...args, '--data-dir', dataDir]);

// biome-ignore lint/suspicious/noExplicitAny: test reads arbitrary JSON output
function json(stdout: string): Record<string, any> {
  assert.equal(stdout.trim().split('\n').length, 1, stdout);
  return JSON.parse(stdout);
}

test('import → show (lineage) → search → export (refused, then forced) → check', async () => {
  const imp = await cli(
    'import',
    F2L2,
    '--model',
    LLAMA,
    '--name',
    'pirate',
    '--tag',
    'v1',
    '--tag',
    'persona',
    '--json',
  );
  assert.equal(imp.code, 0, imp.stderr);
  // --json: the note as a log event (json-notes.test.ts).
  assert.match(imp.stderr, /^\{"event":"log","message":".*assuming .*positions \\"f1\+l1\\"/m);
  const a = json(imp.stdout).adapter;
  assert.equal(a.type, 'loreft');
  assert.deepEqual(a.tags, ['persona', 'v1']);

  const show = await cli('adapters', 'show', String(a.id));
  assert.equal(show.code, 0, show.stderr);
  // the demo model (seeded by the CLI) has the fixture's config and shapes, hence its fingerprint,
  // shortened as `adapters list` shows it: the whole 64 digits made the line over 80 columns
  assert.match(
    show.stdout,
    /^base model: Demo: tiny Llama \(random weights\) \[llama\] fingerprint [0-9a-f]{12}$/m,
  );
  const shownJson = json((await cli('adapters', 'show', String(a.id), '--json')).stdout);
  assert.match(shownJson.lineage.baseModel.fingerprint, /^[0-9a-f]{64}$/, '--json keeps it whole');
  assert.match(show.stdout, /layers: 1, 2 {2}positions: f1\+l1 {2}rank: 4 {2}interventions: 4/);
  assert.match(show.stdout, /size on disk: .* \(includes the original pyreft files\)/);

  const found = await cli('adapters', 'search', 'persona', '--json');
  assert.deepEqual(
    json(found.stdout).adapters.map((x: { id: number }) => x.id),
    [a.id],
  );

  // A folder holding anything but a previous export is never replaced, --force or not.
  const mine = join(root, 'mine');
  mkdirSync(mine);
  writeFileSync(join(mine, 'notes.txt'), 'keep');
  for (const force of [[], ['--force']]) {
    const refused = await cli(
      'export',
      '--adapter',
      String(a.id),
      '--format',
      'pyreft',
      '--out',
      mine,
      ...force,
    );
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^error: --out .*mine holds files the studio did not export; choose an empty or new folder\n$/,
    );
  }
  assert.ok(existsSync(join(mine, 'notes.txt')));
  const out = join(root, 'exported');
  const exportTo = (...extra: string[]) =>
    cli('export', '--adapter', String(a.id), '--format', 'pyreft', '--out', out, '--json', ...extra);
  assert.equal((await exportTo()).code, 0);
  // A previous export is replaced only with --force.
  const again = await exportTo();
  assert.equal(again.code, 1);
  assert.match(
    again.stderr,
    /^error: --out .*exported holds a previous export; pass --force to replace it\n$/,
  );
  const forced = await exportTo('--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(json(forced.stdout).exact, true);
  assert.deepEqual(readFileSync(join(out, F2L2_BIN)), readFileSync(join(F2L2, F2L2_BIN)));

  const check = await cli('adapters', 'check', String(a.id), '--model', join(LLAMA, '..', 'llama-bf16'));
  assert.equal(check.code, 1);
  assert.match(
    check.stderr,
    /^error: adapter "pirate" was trained for base model "Demo: tiny Llama \(random weights\)" \(llama, fingerprint [0-9a-f]{16}…\), not for model "llama-bf16" .*pass --force-base/,
  );
  const ok = await cli(
    'adapters',
    'check',
    String(a.id),
    '--model',
    join(LLAMA, '..', 'llama-bf16'),
    '--force-base',
    '--json',
  );
  assert.equal(json(ok.stdout).forced, true);
});

test('a failed import prints one error line and leaves no row and no folder', async () => {
  const lib0 = openLibrary(dataDir);
  const before = librarySnapshot(lib0);
  closeLibrary(lib0);
  const cut = copyFolder(F2L2);
  const data = readFileSync(join(cut, F2L2_BIN));
  writeFileSync(join(cut, F2L2_BIN), data.subarray(0, 100));
  const r = await cli('import', cut, '--model', LLAMA, '--json');
  assert.equal(r.code, 1);
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  assert.equal(json(r.stdout).error.code, 'truncated-file');
  const unknown = await cli('export', '--adapter', '4242', '--out', join(root, 'nowhere'));
  assert.match(unknown.stderr, /^error: no adapter with id 4242\n$/);
  const lib = openLibrary(dataDir);
  assert.deepEqual(librarySnapshot(lib), before);
  closeLibrary(lib);
});

test('export --format bundle --config FILE --data FILE writes the training folder', async () => {
  const cfg = join(root, 'run.json');
  writeFileSync(
    cfg,
    JSON.stringify({ model: LLAMA, layers: [1, 3], positions: 'l1', rank: 2, lr: 0.002, epochs: 2 }),
  );
  const data = join(root, 'rows.jsonl');
  writeFileSync(
    data,
    '{"instruction":"Say hi","input":"","output":"hi"}\n{"instruction":"Count","input":"to 3","output":"1 2 3"}\n',
  );
  const out = join(root, 'bundle');
  const r = await cli(
    'export',
    '--format',
    'bundle',
    '--config',
    cfg,
    '--data',
    data,
    '--out',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const o = json(r.stdout);
  assert.deepEqual(o.files.sort(), ['README.md', 'config.json', 'data.jsonl', 'train.py']);
  assert.deepEqual(readdirSync(out).sort(), [
    '.reft-studio-export.json',
    'README.md',
    'config.json',
    'data.jsonl',
    'train.py',
  ]);
  assert.deepEqual(o.config.layers, [1, 3]);
  assert.equal(o.config.rank, 2);
  assert.equal(o.config.data.format, 'alpaca');
  const rows = readFileSync(join(out, 'data.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(rows, [
    { prompt: 'Say hi', completion: 'hi' },
    { prompt: 'Count\n\nto 3', completion: '1 2 3' },
  ]);
  const again = await cli('export', '--format', 'bundle', '--config', cfg, '--data', data, '--out', out);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: --out .*bundle holds a previous export; pass --force to replace it\n$/);
});

test('export --format bundle --config: a malformed file is named, its contents never quoted', async () => {
  const cfg = join(root, 'secret-run.json');
  writeFileSync(cfg, '{"model":hunter2}');
  const r = await cli('export', '--format', 'bundle', '--config', cfg, '--out', join(root, 'never'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: .*secret-run\.json: not valid JSON \([^")]+\)\n$/);
  assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
  assert.ok(!existsSync(join(root, 'never')));
});

test('adapters list: a filter that matches nothing says so; an unknown --type is bad usage', async () => {
  const dir = join(root, 'filters');
  const run = (...args: string[]) => runCli([...args, '--data-dir', dir]);
  assert.equal((await run('adapters', 'list')).stdout, 'no adapters yet\n');
  assert.equal((await run('import', F2L2, '--model', LLAMA, '--name', 'pirate')).code, 0);
  assert.equal((await run('adapters', 'list', '--tag', 'absent')).stdout, 'no adapters match\n');
  assert.equal((await run('adapters', 'list', '--type', 'noreft')).stdout, 'no adapters match\n');
  assert.equal((await run('adapters', 'search', 'zzz')).stdout, 'no adapters match\n');
  const bogus = await run('adapters', 'list', '--type', 'bogus');
  assert.equal(bogus.code, 2);
  assert.equal(
    bogus.stderr,
    'error: --type must be one of loreft, noreft, direft, nodireft, consreft, lobireft (got "bogus")\n',
  );
  assert.equal((await run('runs', 'list', '--status', 'paused')).stdout, 'no runs are paused\n');
  assert.equal(
    (await run('runs', 'list', '--status', 'bogus')).stderr,
    'error: --status must be one of queued, running, paused, interrupted, completed, failed, cancelled (got "bogus")\n',
  );
});

test('adapters check: --force-base is suggested only for a model whose shapes fit', async () => {
  const dir = join(root, 'check-shapes');
  const run = (...args: string[]) => runCli([...args, '--data-dir', dir]);
  // LoReFT on layers 0 and 3 of the 4-layer Llama fixture; the Qwen2 fixture has layers 0…2.
  const l1 = join(LLAMA, '..', '..', 'reft', 'llama-loreft-l1-shared', 'pyreft_final');
  assert.equal((await run('import', l1, '--model', LLAMA, '--name', 'deep')).code, 0);
  const qwen = await run('adapters', 'check', '1', '--model', join(LLAMA, '..', 'qwen2'));
  assert.equal(qwen.code, 1);
  assert.match(
    qwen.stderr,
    /^error: adapter "deep" was trained for base model .*, not for model "qwen2" .*; it cannot be applied to that model \(adapter intervention \S+ is on layer 3, but the model has layers 0…2\)\n$/,
  );
  assert.doesNotMatch(qwen.stderr, /force-base/);
  // Forcing would fail on the shapes anyway.
  const forced = await run('adapters', 'check', '1', '--model', join(LLAMA, '..', 'qwen2'), '--force-base');
  assert.equal(forced.code, 1);
  // A model of the same shape keeps the suggestion.
  const same = await run('adapters', 'check', '1', '--model', join(LLAMA, '..', 'llama-bf16'));
  assert.match(same.stderr, /pass --force-base to apply it anyway to a model of the same shape\n$/);
});

test('import of a folder imported before: "already in the library" (exit 0), nothing added; a new --name adds it', async () => {
  const dir = join(root, 'twice');
  const run = (...args: string[]) => runCli([...args, '--data-dir', dir]);
  const first = await run('import', F2L2, '--model', LLAMA, '--json');
  assert.equal(first.code, 0, first.stderr);
  const a = json(first.stdout);
  assert.equal(a.created, true);

  const lib0 = openLibrary(dir);
  const before = librarySnapshot(lib0);
  closeLibrary(lib0);
  const again = await run('import', F2L2, '--model', LLAMA);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(
    again.stdout,
    `already in the library: adapter ${a.adapter.id} "pyreft_final", imported before (nothing added; give another --name to add a second one)\n`,
  );
  assert.equal(again.stderr, '', 'no note about assumed positions: nothing was imported');
  const asJson = json((await run('import', F2L2, '--model', LLAMA, '--json')).stdout);
  assert.deepEqual([asJson.created, asJson.adapter.id], [false, a.adapter.id]);
  const lib1 = openLibrary(dir);
  assert.deepEqual(librarySnapshot(lib1), before, 'no row, tag or folder added');
  closeLibrary(lib1);
  // Tags asked for are given to the adapter already there (before: silently dropped).
  const tagged = await run('import', F2L2, '--model', LLAMA, '--tag', 'pirate,kept');
  assert.equal(tagged.code, 0, tagged.stderr);
  assert.match(tagged.stdout, /nothing added; .*; its tags now: kept, pirate\n$/);
  const shown = json((await run('adapters', 'show', String(a.adapter.id), '--json')).stdout);
  assert.deepEqual([...shown.tags].sort(), ['kept', 'pirate']);

  // Other positions make another adapter; so does a name of its own, asked for.
  const other = await run('import', F2L2, '--model', LLAMA, '--positions', 'f2+l2', '--json');
  assert.equal(json(other.stdout).created, true);
  const named = await run('import', F2L2, '--model', LLAMA, '--name', 'pirate', '--json');
  assert.equal(json(named.stdout).created, true);
  const list = json((await run('adapters', 'list', '--json')).stdout).adapters;
  assert.deepEqual(list.map((x: { name: string }) => x.name).sort(), [
    'pirate',
    'pyreft_final',
    'pyreft_final',
  ]);
});

test('import of a pyreft folder without --model: the one library model that fits, said on stderr; several refused', async () => {
  const dir = join(root, 'no-model');
  const run = (...args: string[]) => runCli([...args, '--data-dir', dir]);
  // The demo model (seeded) is the only one of hidden size 64 with layers up to 2.
  const one = await run('import', F2L2, '--json');
  assert.equal(one.code, 0, one.stderr);
  assert.match(
    one.stderr,
    /^\{"event":"log","message":"base model: \\"Demo: tiny Llama \(random weights\)\\" \(id 1\) \(the only library model of hidden size 64 with at least 3 layers\); --model to choose another"\}$/m,
  );
  const lib0 = openLibrary(dir);
  const before = librarySnapshot(lib0);
  closeLibrary(lib0);
  assert.equal((await run('models', 'add', join(LLAMA, '..', 'qwen2'))).code, 0);
  const two = await run('import', F2L2, '--name', 'second');
  assert.equal(two.code, 1);
  assert.equal(
    two.stderr.replace(`${F2L2}: `, ''),
    'error: the folder does not say which base model it was trained for (no reft_studio.json), and 2 library models have hidden size 64 with at least 3 layers: "Demo: tiny Llama (random weights)" (id 1), "qwen2" (id 2); give --model ID|DIR\n',
  );
  const lib1 = openLibrary(dir);
  assert.deepEqual(librarySnapshot(lib1), before, 'nothing stored');
  closeLibrary(lib1);
  const chosen = await run('import', F2L2, '--name', 'second', '--model', '2', '--json');
  assert.equal(chosen.code, 0, chosen.stderr);
  assert.doesNotMatch(chosen.stderr, /base model:/);
});

/** The CLI run synchronously with a deadline: a command that never ends is killed and reads as such. */
function cliWithin(seconds: number, ...args: string[]) {
  return cliWithinSeconds(seconds, [...args, '--data-dir', dataDir]);
}

test('export --out where mkdir answers ENOENT under a folder that exists (/proc) ends with one line', {
  skip: !existsSync('/proc/self') && 'no /proc here',
}, async () => {
  const imp = await cli('import', F2L2, '--model', LLAMA, '--name', 'to-proc', '--json');
  assert.equal(imp.code, 0, imp.stderr);
  const id = String(json(imp.stdout).adapter.id);
  // Node's recursive mkdir loops for ever there: the command spun at full CPU and never ended.
  for (const out of ['/proc/reft-studio-export', '/proc/reft-studio-export/inner']) {
    const r = cliWithin(60, 'export', '--adapter', id, '--format', 'pyreft', '--out', out);
    assert.equal(r.killed, false, `export --out ${out} never ended`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: \/proc\/reft-studio-export: no such file or folder\n$/);
  }
});

test('export --out through a file names that file as "not a folder", not "already exists"', async () => {
  const imp = await cli('import', F2L2, '--model', LLAMA, '--name', 'through-file', '--json');
  const id = String(json(imp.stdout).adapter.id);
  const file = join(root, 'a-file');
  writeFileSync(file, 'kept\n');
  for (const out of [join(file, 'sub'), join(file, 'sub', 'deeper')]) {
    const r = await cli('export', '--adapter', id, '--format', 'pyreft', '--out', out);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `error: ${file}: not a folder\n`);
  }
  assert.equal(readFileSync(file, 'utf8'), 'kept\n');
});

test('adapters list fits 80 columns with DTYPE; an import says none ("-", null, "not recorded")', async () => {
  // A long name and tags cut with an ellipsis: with the precision beside them the row was wider.
  const dir = join(root, 'precision');
  const run = (...args: string[]) => runCli([...args, '--data-dir', dir]);
  const name = 'a pirate persona adapter, imported from the pyreft run of last week';
  const imp = await run(
    'import',
    F2L2,
    '--model',
    LLAMA,
    '--name',
    name,
    '--tag',
    'pirate,persona,v1',
    '--json',
  );
  assert.equal(imp.code, 0, imp.stderr);
  const id = json(imp.stdout).adapter.id;
  assert.equal(json(imp.stdout).adapter.precision, null);
  const listed = await run('adapters', 'list');
  const lines = listed.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^ID +NAME +TYPE +DTYPE +BASE MODEL +TAGS +SIZE +CREATED$/);
  for (const line of lines) assert.ok(Array.from(line).length <= 80, `${Array.from(line).length}: ${line}`);
  // BASE MODEL: the library model with these weights (the demo has the fixture's), its name cut too.
  assert.match(lines[1], new RegExp(`^${id} +a pirate p\\S*… +loreft +- +Demo: tiny ?\\S*… `));
  const listedJson = json((await run('adapters', 'list', '--json')).stdout);
  assert.equal(listedJson.adapters[0].name, name, '--json has the name whole');
  assert.equal(listedJson.adapters[0].precision, null);
  const shown = await run('adapters', 'show', String(id));
  assert.match(shown.stdout, /^precision: not recorded$/m);
  assert.equal(json((await run('adapters', 'show', String(id), '--json')).stdout).precision, null);
});

test('an adapter trained here, exported to pyreft and imported back, shows and generates the same', {
  timeout: 180_000,
}, async () => {
  const dir = join(root, 'round-trip');
  const run = (...args: string[]) => runCli([...args, '--data-dir', dir]);
  const demo = join(ROOT, 'resources', 'demo');
  // Shared weights with first+last positions: one intervention per layer, which a folder without
  // reft_studio.json must not read as untied pairs. A high rate so that 3 steps change the answer.
  const trained = await run(
    ...['train', '--model', join(demo, 'model'), '--data', join(demo, 'persona.jsonl'), '--json'],
    ...['--max-steps', '3', '--lr', '0.05', '--positions', 'f2+l2', '--share-weights', '--layers', '1;3'],
  );
  assert.equal(trained.code, 0, trained.stderr);
  const original = json(trained.stdout).adapterId as number;
  const exported = join(root, 'round-trip-export');
  assert.equal(
    (await run('export', '--adapter', String(original), '--format', 'pyreft', '--out', exported)).code,
    0,
  );
  // As pyreft's own save_pretrained leaves it: no reft_studio.json, so no base model, positions or
  // prompt format; the base model is the only library model that fits (the demo's).
  const plain = join(root, 'round-trip-plain');
  mkdirSync(plain);
  for (const f of readdirSync(exported).filter((f) => f === 'config.json' || f.endsWith('.bin')))
    writeFileSync(join(plain, f), readFileSync(join(exported, f)));
  const imported: Array<[string, string[]]> = [
    ['export', [exported, '--name', 'export']],
    ['export, --model', [exported, '--name', 'export with model', '--model', '1']],
    ['plain', [plain, '--name', 'plain', '--positions', 'f2+l2']],
    ['plain, --model', [plain, '--name', 'plain with model', '--positions', 'f2+l2', '--model', '1']],
  ];
  const ids = new Map<string, { id: number; path: string }>();
  for (const [label, args] of imported) {
    const r = await run('import', ...args, '--json');
    assert.equal(r.code, 0, `${label}: ${r.stderr}`);
    const { id, path } = json(r.stdout).adapter;
    ids.set(label, { id, path });
    if (label === 'plain')
      assert.match(
        r.stderr,
        /^\{"event":"log","message":"base model: \\"Demo: tiny Llama \(random weights\)\\" \(id 1\)/m,
      );
  }
  // biome-ignore lint/suspicious/noExplicitAny: the command's JSON
  const shown = async (id: number): Promise<Record<string, any>> => {
    const r = await run('adapters', 'show', String(id), '--json');
    assert.equal(r.code, 0, r.stderr);
    return json(r.stdout);
  };
  const facts = (a: Awaited<ReturnType<typeof shown>>) => ({
    type: a.type,
    layers: a.manifest.layers,
    positions: a.manifest.positions,
    shareWeights: a.manifest.shareWeights,
    rank: a.manifest.rank,
    interventions: a.manifest.interventions.map((iv: { key: string; type: string }) => [iv.key, iv.type]),
    activation: a.manifest.activation,
  });
  const want = await shown(original);
  assert.equal(want.precision, 'fp32');
  const generate = async (path: string, ...extra: string[]) => {
    const r = await runCli([
      ...['generate', '--model', join(demo, 'model'), '--adapter', path, '--prompt', 'Hello, who are you?'],
      ...['--greedy', '--max-new-tokens', '12', '--json', ...extra],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const { text, tokens } = json(r.stdout);
    return { text, tokens };
  };
  const answer = await generate(want.path);
  const base = json(
    (
      await runCli([
        'generate',
        '--model',
        join(demo, 'model'),
        '--prompt',
        'Hello, who are you?',
        '--greedy',
        '--max-new-tokens',
        '12',
        '--chat',
        '--json',
      ])
    ).stdout,
  );
  assert.notDeepEqual(
    answer.tokens,
    base.tokens,
    'the adapter changes the answer (else this proves nothing)',
  );
  for (const [label, { id, path }] of ids) {
    const a = await shown(id);
    assert.deepEqual(facts(a), facts(want), label);
    // A pyreft folder records no precision nor prompt format: "not recorded", and --chat says it.
    const isPlain = label.startsWith('plain');
    assert.equal(a.precision, isPlain ? null : 'fp32', label);
    assert.deepEqual(await generate(path, ...(isPlain ? ['--chat'] : [])), answer, label);
  }
});
