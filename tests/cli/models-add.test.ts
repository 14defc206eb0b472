// `models add` of a folder without tokenizer.json: registered (debug forward needs none), with a
// warning on stderr that generation and training need one, as `models inspect` and `models scan`
// say. Before, it was added in silence and the first `train` or `generate` was what said so.

import assert from 'node:assert/strict';
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliIn } from '../helpers/cli.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';
import { modelSplittingOn } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';
import { fixtureRepoFiles, writeCacheSnapshot } from '../hub/helpers.ts';
import { onlyEvents } from './json-stream.ts';

const dir = tempDir('reft-models-add-');

const cli = (...argv: string[]) => cliIn(join(dir, 'data'), ...argv);

test('models add: a folder without tokenizer.json is added with a warning saying what it lacks', async () => {
  const bare = join(dir, 'bare');
  mkdirSync(bare);
  for (const f of readdirSync(modelDir('llama')))
    if (!f.startsWith('tokenizer')) symlinkSync(join(modelDir('llama'), f), join(bare, f));
  const added = await cli('models', 'add', bare, '--json');
  assert.equal(added.code, 0, added.err);
  assert.equal(JSON.parse(added.out).created, true);
  // --json: the warning as a warn event (json-notes.test.ts).
  assert.ok(warnedEvent(added.err, 'no tokenizer.json: generation and training need one'), added.err);

  const whole = await cli('models', 'add', modelDir('llama'));
  assert.equal(whole.code, 0, whole.err);
  assert.equal(whole.err, '', 'no warning for a folder with its tokenizer');
});

test("models list: the size column is the folder's size on disk, and says so", async () => {
  const listed = await cli('models', 'list');
  assert.equal(listed.code, 0, listed.err);
  const [head, ...rows] = listed.out.trim().split('\n');
  assert.match(head, /^ID +NAME +ARCH +PARAMS +DTYPE +ON DISK +PATH$/);
  // The Llama fixture's folder holds its golden files beside the weights: all of them count.
  const llama = await cli('models', 'list', '--json');
  const m = (JSON.parse(llama.out).models as { path: string; sizeBytes: number }[]).find(
    (x) => x.path === modelDir('llama'),
  );
  assert.ok(m, rows.join('\n'));
  const files = readdirSync(modelDir('llama')).reduce(
    (n, f) => n + statSync(join(modelDir('llama'), f)).size,
    0,
  );
  assert.equal(m.sizeBytes, files);
});

test('models add: a tokenizer refused when read is said at once, naming the file', async () => {
  // Added all the same, as a folder without one; it used to be added in silence and refused only
  // by the first `train` or `generate`.
  const nested = modelSplittingOn(dir, 'nested', '(a+)+$');
  const added = await cli('models', 'add', nested);
  assert.equal(added.code, 0, added.err);
  assert.equal(
    added.err,
    `warning: ${join(nested, 'tokenizer.json')}: the pattern of pre_tokenizer.pretokenizers[0] repeats a ` +
      'group that itself repeats (like (a+)+), which can take hours on a short text; such a tokenizer is refused\n',
  );
});

test('models list: a tokenizer.json edited into one refused after the model was added says so', async () => {
  // It used to list as usable until a `train` or `generate` loaded it.
  const later = join(dir, 'edited-later');
  cpSync(modelDir('llama'), later, { recursive: true });
  const added = await cli('models', 'add', later, '--json');
  assert.equal(added.code, 0, added.err);
  const id = JSON.parse(added.out).id as number;
  const file = join(later, 'tokenizer.json');
  const tj = JSON.parse(readFileSync(file, 'utf8'));
  tj.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false };
  writeFileSync(file, JSON.stringify(tj));

  const listed = await cli('models', 'list');
  assert.equal(listed.code, 0, listed.err);
  assert.ok(listed.out.includes(`${later} (no usable tokenizer)`), listed.out);
  assert.ok(
    listed.out.includes(
      `\nmodel ${id}: ${file}: the pattern of pre_tokenizer repeats a group that itself repeats (like (a+)+), ` +
        'which can take hours on a short text; such a tokenizer is refused\n',
    ),
    listed.out,
  );
  const json = await cli('models', 'list', '--json');
  const models = JSON.parse(json.out).models as { id: number; tokenizerProblem: { code: string } | null }[];
  const problemOf = (mid: number) => models.find((m) => m.id === mid)?.tokenizerProblem?.code ?? null;
  assert.deepEqual(
    [problemOf(1), problemOf(id)],
    [null, 'tokenizer-pattern-refused'],
    'the demo, the edited one',
  );
});

/** How a cache repository's refs/main names no snapshot: a folder, a line of garbage, or none. */
const UNUSABLE_REFS: [string, (ref: string) => void][] = [
  ['a folder', (ref) => mkdirSync(ref)],
  ['garbage', (ref) => writeFileSync(ref, 'not a commit\n')],
  ['missing', () => {}],
];

/** A cache repository folder with snapshots of these commits, its refs/main made unusable by `spoil`. */
function repoWithSnapshots(name: string, commits: string[], spoil: (ref: string) => void): string {
  const cache = join(dir, 'cache', name);
  for (const commit of commits) writeCacheSnapshot(cache, 'org/tiny', fixtureRepoFiles('llama'), { commit });
  const ref = join(cache, 'models--org--tiny', 'refs', 'main');
  rmSync(ref);
  spoil(ref);
  return join(cache, 'models--org--tiny');
}

test('models add of a cache repository whose refs/main names no snapshot: its only snapshot, said in one line', async () => {
  // Bug: refs/main as a folder refused the add ("refs/main: not a regular file") though one snapshot
  // was there; garbage in it or none at all took that snapshot without a word.
  const commit = 'a1'.repeat(20);
  for (const [kind, spoil] of UNUSABLE_REFS) {
    const repo = repoWithSnapshots(`one-${kind.replace(' ', '-')}`, [commit], spoil);
    const added = await cli('models', 'add', repo, '--json');
    assert.equal(added.code, 0, `${kind}: ${added.err}`);
    assert.equal(JSON.parse(added.out).path, join(repo, 'snapshots', commit), kind);
    const events = onlyEvents(added.err);
    assert.equal(events.length, 1, `${kind}: ${added.err}`);
    assert.equal(events[0].level, 'warn', kind);
    assert.match(events[0].message, new RegExp(`refs/main.*; using its only snapshot, ${commit}$`), kind);
    assert.equal(JSON.parse(added.out).note, events[0].message, kind);
  }
});

test('models add of a cache repository whose refs/main names a snapshot still downloading: said so, not "no snapshot"', async () => {
  // Bug: refs/main naming a snapshot folder without config.json yet (huggingface_hub writes the ref
  // as a download starts) read "refs/main names no snapshot here", though that snapshot was right
  // there, half downloaded; the older snapshot was taken for a reason the line got wrong.
  const [old, downloading] = ['d4'.repeat(20), 'e5'.repeat(20)];
  const repo = repoWithSnapshots('downloading', [old], (ref) => writeFileSync(ref, downloading));
  const { 'config.json': _config, ...rest } = fixtureRepoFiles('llama');
  writeCacheSnapshot(join(repo, '..'), 'org/tiny', rest, { commit: downloading, ref: null });
  const added = await cli('models', 'add', repo, '--json');
  assert.equal(added.code, 0, added.err);
  assert.equal(JSON.parse(added.out).path, join(repo, 'snapshots', old));
  assert.deepEqual(onlyEvents(added.err), [
    {
      event: 'log',
      level: 'warn',
      message: `${repo}: refs/main names ${downloading}, whose snapshot has no config.json (a download not finished?); using its only snapshot, ${old}`,
    },
  ]);
});

test('train --model of a cache repository without refs/main says which snapshot it took, as models add does', async () => {
  // Bug: `train --model DIR` adds the folder to the library as `models add` does, but dropped the
  // note: the run trained on the repository's only snapshot without a word of how it was chosen.
  const commit = 'f6'.repeat(20);
  const repo = repoWithSnapshots('train-noref', [commit], () => {});
  const data = join(dir, 'train-noref.jsonl');
  writeFileSync(data, ['q1', 'q2'].map((q) => JSON.stringify({ prompt: q, completion: 'a' })).join('\n'));
  const trained = await cli('train', '--model', repo, '--data', data, '--max-steps', '1');
  assert.equal(trained.code, 0, trained.err);
  assert.match(
    trained.err,
    new RegExp(`^warning: ${repo}: no refs/main; using its only snapshot, ${commit}$`, 'm'),
  );
});

/** Whether a command's --json stderr (events only) has `message` as a warning. */
const warnedEvent = (stderr: string, message: string): boolean =>
  onlyEvents(stderr).some((e) => e.event === 'log' && e.level === 'warn' && e.message === message);

test('generate, evaluate and tokenize --model of a cache repository without refs/main say which snapshot they took', async () => {
  // Bug: these opened the repository's only snapshot in silence (openModelFolder → resolveModelDir),
  // where `train --model` and `models add` warn.
  const commit = '97'.repeat(20);
  const repo = repoWithSnapshots('use-noref', [commit], () => {});
  const said = new RegExp(`^warning: ${repo}: no refs/main; using its only snapshot, ${commit}$`, 'm');
  // generate, evaluate and bench stream their notes as events under --json.
  const event = `${repo}: no refs/main; using its only snapshot, ${commit}`;
  const generated = await cli(
    'generate',
    '--model',
    repo,
    '--prompt',
    'hi',
    '--max-new-tokens',
    '1',
    '--json',
  );
  assert.equal(generated.code, 0, generated.err);
  assert.ok(warnedEvent(generated.err, event), `generate: ${generated.err}`);
  const tokenized = await cli('tokenize', '--model', repo, '--text', 'hi');
  assert.equal(tokenized.code, 0, tokenized.err);
  assert.match(tokenized.err, said, 'tokenize');

  const data = join(dir, 'use-noref.jsonl');
  writeFileSync(data, ['q1', 'q2'].map((q) => JSON.stringify({ prompt: q, completion: 'a' })).join('\n'));
  const out = join(dir, 'use-noref-adapter'); // an adapter of this snapshot's weights, to evaluate
  const trained = await cli('train', '--model', repo, '--data', data, '--max-steps', '1', '--out', out);
  assert.equal(trained.code, 0, trained.err);
  const evaluated = await cli(
    'evaluate',
    '--adapter',
    out,
    '--model',
    repo,
    '--data',
    data,
    '--limit',
    '1',
    '--json',
  );
  assert.equal(evaluated.code, 0, evaluated.err);
  assert.ok(warnedEvent(evaluated.err, event), `evaluate: ${evaluated.err}`);
});

test('bench and debug --model of a cache repository without refs/main say which snapshot they took', async () => {
  // Bug: these resolved the repository to its only snapshot in silence (resolveModelDir), where
  // train, generate, evaluate and tokenize warn. debug's stdout (the parity summary) stays as it was.
  const commit = '5e'.repeat(20);
  const repo = repoWithSnapshots('bench-debug-noref', [commit], () => {});
  const bench = await cli(
    'bench',
    'prefill',
    '--model',
    repo,
    '--batch',
    '1',
    '--seq',
    '4',
    '--steps',
    '1',
    '--json',
  );
  assert.equal(bench.code, 0, bench.err);
  const event = `${repo}: no refs/main; using its only snapshot, ${commit}`;
  assert.ok(warnedEvent(bench.err, event), `bench (events under --json): ${bench.err}`);

  const c = join(REFT, 'llama-loreft-f2l2');
  const batch = join(c, 'golden_reft.safetensors');
  const args = [
    '--adapter',
    join(c, 'pyreft_init'),
    '--batch',
    batch,
    '--out',
    join(dir, 'debug.safetensors'),
  ];
  for (const [cmd, ...more] of [['forward'], ['grad'], ['train', '--steps', '1', '--lr', '0.01']]) {
    const fromRepo = await cli('debug', cmd, '--model', repo, ...args, ...more, '--json');
    assert.equal(fromRepo.code, 0, fromRepo.err);
    assert.ok(warnedEvent(fromRepo.err, event), `debug ${cmd}: ${fromRepo.err}`);
    const fromSnapshot = await cli(
      'debug',
      cmd,
      '--model',
      join(repo, 'snapshots', commit),
      ...args,
      ...more,
      '--json',
    );
    assert.equal(fromSnapshot.err, '', `debug ${cmd}: nothing to say of a snapshot folder`);
    assert.equal(fromRepo.out, fromSnapshot.out, `debug ${cmd}: the same parity output`);
  }
});

test('models add of a cache repository with several snapshots and no usable refs/main is refused, naming them', async () => {
  const commits = ['b2'.repeat(20), 'c3'.repeat(20)];
  for (const [kind, spoil] of UNUSABLE_REFS) {
    const repo = repoWithSnapshots(`two-${kind.replace(' ', '-')}`, commits, spoil);
    const refused = await cli('models', 'add', repo, '--json');
    assert.equal(refused.code, 1, `${kind}: ${refused.out}`);
    const { error } = JSON.parse(refused.out);
    assert.equal(error.code, 'ambiguous-snapshot', `${kind}: ${refused.out}`);
    assert.match(error.message, /refs\/main/, kind);
    assert.match(
      error.message,
      new RegExp(`several snapshots \\(${commits.join(', ')}\\); pass one snapshots/<rev> folder$`),
      kind,
    );
  }
  // With refs/main naming one of them, that one, without a word.
  const repo = repoWithSnapshots('two-main', commits, (ref) => writeFileSync(ref, commits[1]));
  const added = await cli('models', 'add', repo, '--json');
  assert.equal(added.code, 0, added.err);
  assert.equal(JSON.parse(added.out).path, join(repo, 'snapshots', commits[1]));
  assert.equal(added.err, '');
});
