// --json on a short command (models add, import, tokenize, chat-template, debug; models list's read-only
// warning: tests/backend/read-only-library.test.ts):
// its notes and warnings on stderr are JSON events, one a line, as a long command's progress is
// (cli/progress/reporter.ts 'events'), so that a tool reading stderr line by line as JSON never meets
// a plain `warning:` or `note:` line. stdout stays the command's one object; without --json the
// lines stay for people.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliIn } from '../helpers/cli.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';
import { fixtureRepoFiles, startCli, writeCacheSnapshot } from '../hub/helpers.ts';
import { onlyEvents } from './json-stream.ts';

const dir = tempDir('reft-json-notes-');
const cli = (...argv: string[]) => cliIn(join(dir, 'data'), ...argv);

/** stdout as exactly one JSON object, and every stderr line as an event. */
function parsed(r: { code: number; out: string; err: string }, what: string) {
  assert.equal(r.code, 0, `${what}: ${r.err}`);
  assert.equal(r.out.trim().split('\n').length, 1, `${what}: one line on stdout: ${r.out}`);
  return { result: JSON.parse(r.out), events: onlyEvents(r.err) };
}

/** A Hugging Face cache repository of the Llama fixture without refs/main: its use is warned of. */
function repoWithoutRef(name: string, commit: string): string {
  const cache = join(dir, 'cache', name);
  writeCacheSnapshot(cache, 'org/tiny', fixtureRepoFiles('llama'), { commit });
  const repo = join(cache, 'models--org--tiny');
  rmSync(join(repo, 'refs', 'main'));
  return repo;
}

const warning = (message: string) => ({ event: 'log', level: 'warn', message });

test('models add --json: the missing-tokenizer warning is a warn event; without --json a warning line', async () => {
  const bare = join(dir, 'bare');
  mkdirSync(bare);
  for (const f of readdirSync(modelDir('llama')))
    if (!f.startsWith('tokenizer')) symlinkSync(join(modelDir('llama'), f), join(bare, f));
  const { result, events } = parsed(await cli('models', 'add', bare, '--json'), 'models add');
  assert.equal(result.created, true);
  assert.deepEqual(events, [warning('no tokenizer.json: generation and training need one')]);
  const people = await cli('models', 'add', bare);
  assert.equal(people.code, 0, people.err);
  assert.equal(people.err, 'warning: no tokenizer.json: generation and training need one\n');
});

test('import --json: the notes of a pyreft folder are log events, without their "note: " prefix', async () => {
  const src = join(REFT, 'llama-loreft-f2l2', 'pyreft_init');
  const r = await cli('import', src, '--model', modelDir('llama'), '--json');
  const { result, events } = parsed(r, 'import');
  const note =
    `${src} does not record its prompt format, positions, weight sharing, dropout or activation ` +
    '(no reft_studio.json); assuming prompts without a chat template, positions "f1+l1" ' +
    '(give --positions to change), untied weights, dropout 0 and no activation';
  assert.deepEqual(result.notes, [note]);
  assert.deepEqual(events, [{ event: 'log', message: note }]);
  // For people, the same note as a line.
  const again = await cli('import', src, '--model', modelDir('llama'), '--name', 'second');
  assert.equal(again.code, 0, again.err);
  assert.equal(again.err, `note: ${note}\n`);
});

test('tokenize, chat-template and debug forward --json: the snapshot taken is a warn event', async () => {
  const commit = 'c3'.repeat(20);
  const repo = repoWithoutRef('noref', commit);
  const said = warning(`${repo}: no refs/main; using its only snapshot, ${commit}`);
  const tokenized = parsed(await cli('tokenize', '--model', repo, '--text', 'hi', '--json'), 'tokenize');
  assert.ok(Array.isArray(tokenized.result.ids));
  assert.deepEqual(tokenized.events, [said], 'tokenize');

  const messages = join(dir, 'messages.json');
  writeFileSync(messages, JSON.stringify([{ role: 'user', content: 'hi' }]));
  const templated = parsed(
    await cli('chat-template', '--model', repo, '--messages', messages, '--json'),
    'chat-template',
  );
  assert.equal(typeof templated.result.text, 'string');
  assert.deepEqual(templated.events, [said], 'chat-template');

  const c = join(REFT, 'llama-loreft-f2l2');
  const out = join(dir, 'forward.safetensors');
  const forward = parsed(
    await cli(
      'debug',
      'forward',
      '--model',
      repo,
      '--adapter',
      join(c, 'pyreft_init'),
      '--batch',
      join(c, 'golden_reft.safetensors'),
      '--out',
      out,
      '--json',
    ),
    'debug forward',
  );
  assert.equal(forward.result.out, out);
  assert.deepEqual(forward.events, [said], 'debug forward');

  // Without --json: the same warning as a line for people.
  const people = await cli('tokenize', '--model', repo, '--text', 'hi');
  assert.equal(people.err, `warning: ${said.message}\n`);
});

/** `serve ARGS --json` started, then stopped by SIGTERM once its object is out: its result and events. */
async function serveJson(args: string[]) {
  const child = startCli(
    [
      'serve',
      '--json',
      ...args,
      '--renderer-dir',
      join(dir, 'no-renderer'),
      '--data-dir',
      join(dir, 'serve'),
    ],
    {},
  );
  let out = '';
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      out += d;
      if (out.endsWith('\n')) resolve();
    });
    child.on('exit', () => reject(new Error(`serve exited before its object: ${err}`)));
  });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, err);
  return parsed({ code: 0, out, err }, 'serve');
}

test('serve --json: its warnings and its shutting-down note are events; stdout the one object', async () => {
  // Bug: serve wrote `warning: …` and `shutting down …` lines on stderr itself, whatever --json said.
  const { result, events } = await serveJson(['--no-token']);
  assert.match(result.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.deepEqual(events, [
    warning(`${join(dir, 'no-renderer')} is missing: run \`npm run build:renderer\` to build the UI`),
    warning('--no-token: any local program can use the studio'),
    { event: 'log', message: 'shutting down (SIGINT or SIGTERM again to stop at once)' },
  ]);
});

test('serve --json --quiet: a warning of who can reach the studio is still an event; the notes are not', async () => {
  // Bug: --quiet silenced every event, the --no-token warning too (README: --quiet hides notes only).
  const { events } = await serveJson(['--quiet', '--no-token']);
  assert.deepEqual(events, [warning('--no-token: any local program can use the studio')]);
});
