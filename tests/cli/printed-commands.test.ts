// The commands the CLI prints for the user to run next paste back into a POSIX shell as the same
// words, in a data folder and with paths holding spaces, quotes, `$` and non-ASCII letters, and
// carry the --data-dir they were given. Before, each printer quoted its own way: `runtime env` by
// hand, --data-dir with JSON.stringify (a `$` in it was expanded by the shell), and `models scan`'s,
// `export`'s and `models download`'s hints not at all (a space split the path in two, and `models
// rm`'s, `models scan`'s and `runtime install`'s hints acted on the default library instead).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { appRoot } from '../../electron/backend/paths.ts';
import { cliIn } from '../helpers/cli.ts';
import { startLocalHub } from '../helpers/local-hub.ts';
import { shellWords } from '../helpers/shell.ts';
import { tempDir } from '../helpers/temp.ts';
import { fixtureRepoFiles } from '../hub/helpers.ts';

const LLAMA = join(appRoot(), 'tests', 'fixtures', 'golden', 'models', 'llama');
const AWKWARD = `my "lib" $HOME é`;

/** A folder named AWKWARD inside a fresh temp folder. */
function awkwardDir(prefix: string): string {
  const d = join(tempDir(prefix), AWKWARD);
  mkdirSync(d);
  return d;
}

/** The command inside `…` of the line that starts with `lead`. */
function quotedAfter(text: string, lead: string): string {
  const line = text.split('\n').find((l) => l.includes(lead));
  assert.ok(line, `no line with "${lead}" in:\n${text}`);
  const m = /`([^`]+)`/.exec(line.slice(line.indexOf(lead)));
  assert.ok(m, line);
  return m[1];
}

test('export --format bundle: its cd and import lines name the bundle folder as one word', async () => {
  const base = awkwardDir('reft-printed-bundle-');
  const data = join(base, 'data');
  const config = join(base, 'config.json');
  writeFileSync(config, JSON.stringify({ model: LLAMA, intervention: 'loreft', layers: [1], rank: 2 }));
  const rows = join(base, 'rows.jsonl');
  writeFileSync(rows, `${JSON.stringify({ prompt: 'a', completion: 'b' })}\n`);
  const out = join(base, 'bundle $x');
  const r = await cliIn(
    data,
    'export',
    '--format',
    'bundle',
    '--config',
    config,
    '--data',
    rows,
    '--out',
    out,
  );
  assert.equal(r.code, 0, r.err);
  const cd = r.out.split('\n').find((l) => l.trim().startsWith('cd ')) ?? '';
  assert.deepEqual(shellWords(cd.split(' && ')[0].trim()), ['cd', out]);
  const imp = r.out.split('\n').find((l) => l.trim().startsWith('reft-studio import')) ?? '';
  assert.deepEqual(shellWords(imp.trim()), [
    'reft-studio',
    'import',
    join(out, 'result'),
    '--data-dir',
    data,
  ]);
});

test("models list: the hint for a moved model's folder removes it from the same library", async () => {
  const data = join(awkwardDir('reft-printed-models-'), 'data');
  const model = join(tempDir('reft-printed-model-'), 'llama');
  cpSync(LLAMA, model, { recursive: true });
  assert.equal((await cliIn(data, 'models', 'add', model)).code, 0);
  renameSync(model, `${model}-away`);
  const r = await cliIn(data, 'models', 'list');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(shellWords(quotedAfter(r.out, 'its folder is gone')), [
    'reft-studio',
    'models',
    'rm',
    '2',
    '--data-dir',
    data,
  ]);
});

test('models scan DIR: the hint to add what it found names DIR and the library as one word each', async () => {
  const base = awkwardDir('reft-printed-scan-');
  cpSync(LLAMA, join(base, 'models', 'llama'), { recursive: true });
  const data = join(base, 'data');
  const r = await cliIn(data, 'models', 'scan', join(base, 'models'));
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(shellWords(quotedAfter(r.out, 'not in the library yet')), [
    'reft-studio',
    'models',
    'scan',
    join(base, 'models'),
    '--add',
    '--data-dir',
    data,
  ]);
});

test('runtime list, install and env: the install and the check name the same library, the export lines set the paths as they are', async () => {
  const data = join(awkwardDir('reft-printed-runtime-'), 'data');
  const pack = join(appRoot(), 'tests', 'fixtures', 'cuda-pack');
  const none = await cliIn(data, 'runtime', 'list');
  assert.deepEqual(shellWords(quotedAfter(none.out, 'no runtime packs')), [
    'reft-studio',
    'runtime',
    'install',
    'cuda',
    '--data-dir',
    data,
  ]);
  const installed = await cliIn(data, 'runtime', 'install', 'cuda', '--from', pack, '-q');
  assert.equal(installed.code, 0, installed.err);
  assert.deepEqual(shellWords(quotedAfter(installed.out, 'check with')), [
    'reft-studio',
    'devices',
    '--data-dir',
    data,
  ]);
  const env = await cliIn(data, 'runtime', 'env');
  assert.equal(env.code, 0, env.err);
  const json = JSON.parse((await cliIn(data, 'runtime', 'env', '--json')).out).env as Record<string, string>;
  assert.ok(json.LD_LIBRARY_PATH.includes(AWKWARD), json.LD_LIBRARY_PATH);
  // What `eval "$(reft-studio runtime env)"` sets: the values --json gives, unchanged.
  const names = Object.keys(json);
  const script = `${env.out}printf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}`;
  const sh = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  assert.deepEqual(sh.stdout.split('\0').slice(0, -1), Object.values(json), sh.stderr);
});

test('models download stopped with Ctrl-C: the command it prints resumes the same revision into the same library', async () => {
  // The weights stall on their way: the Ctrl-C comes while they download.
  const hub = await startLocalHub({ 'org/name': { files: fixtureRepoFiles('llama') } });
  hub.faults.push({ path: 'model.safetensors', kind: 'stall', afterBytes: 1000 });
  hub.onStall = () => process.emit('SIGINT', 'SIGINT');
  const saved = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_HUB_CACHE: process.env.HF_HUB_CACHE };
  const base = awkwardDir('reft-printed-download-');
  process.env.HF_ENDPOINT = hub.url;
  process.env.HF_HUB_CACHE = join(base, 'hub');
  try {
    const data = join(base, 'data');
    const commit = hub.repos.get('org/name')?.commit as string;
    const r = await cliIn(data, 'models', 'download', 'org/name', '--revision', commit, '--json');
    assert.equal(r.code, 130, r.err);
    const result = JSON.parse(r.out);
    assert.equal(result.status, 'cancelled');
    assert.deepEqual(shellWords(result.resume), [
      'reft-studio',
      'models',
      'download',
      'org/name',
      '--revision',
      commit,
      '--data-dir',
      data,
    ]);
  } finally {
    await hub.stop();
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
});

// The hints with a word left to fill in (DIR, ID, DATA) carry the library all the same: before,
// `adapters show`'s said `reft-studio evaluate --adapter ID --data ID|FILE` (a pipe, once pasted)
// and `models list`'s `reft-studio models add DIR`, both acting on the default library.
test('adapters show and an empty models list: the hints name this adapter and this library', async () => {
  const data = join(awkwardDir('reft-printed-hints-'), 'data');
  const pyreft = join(appRoot(), 'tests', 'fixtures', 'golden', 'reft', 'llama-loreft-f2l2', 'pyreft_final');
  const imported = await cliIn(data, 'import', pyreft, '--model', LLAMA, '--positions', 'f2+l2', '--json');
  assert.equal(imported.code, 0, imported.err);
  const id = String(JSON.parse(imported.out).adapter.id);
  const shown = await cliIn(data, 'adapters', 'show', id);
  assert.equal(shown.code, 0, shown.err);
  assert.deepEqual(shellWords(quotedAfter(shown.out, 'evaluations: none')), [
    'reft-studio',
    'evaluate',
    '--adapter',
    id,
    '--data',
    'DATA',
    '--data-dir',
    data,
  ]);
  const models = JSON.parse((await cliIn(data, 'models', 'list', '--json')).out).models as { id: number }[];
  for (const m of models) assert.equal((await cliIn(data, 'models', 'rm', String(m.id))).code, 0);
  const empty = await cliIn(data, 'models', 'list');
  assert.equal(empty.code, 0, empty.err);
  assert.deepEqual(shellWords(quotedAfter(empty.out, 'no models yet')), [
    'reft-studio',
    'models',
    'add',
    'DIR',
    '--data-dir',
    data,
  ]);
});
