// Exit codes agree across commands (cli/main.ts): 2 when the command line itself is wrong — a value
// an option or argument never takes, known before anything is opened — and 1 when a value is refused
// against the model, the library or the network. Each case is the real CLI in a child process, with
// one `error:` line on stderr and, with --json, the error (or the stream's error event) on stdout.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const root = tempDir('reft-exit-codes-');
const model = modelDir('llama'); // 4 layers, hidden size 64
const data = join(root, 'd.jsonl');
writeFileSync(data, '{"prompt":"Q1","completion":"A1"}\n{"prompt":"Q2","completion":"A2"}\n');

/** The CLI with its own data folder; a Hub that refuses connections (no test reaches the network). */
function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): {
  status: number | null;
  stderr: string;
  error: { type: string; code: string };
} {
  const r = spawnSync(process.execPath, [BIN, ...args, '--json', '--data-dir', join(root, 'home')], {
    encoding: 'utf8',
    env: { ...process.env, HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_CACHE: join(root, 'hub'), ...env },
    // A refusal takes a second or two; one that came only after building a synthetic model would not.
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? 'null');
  return { status: r.status, stderr: r.stderr, error: last?.error };
}

function expectExit(
  args: string[],
  status: number,
  code: string,
  message: RegExp,
  env: NodeJS.ProcessEnv = {},
): void {
  const r = cli(args, env);
  assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, /^error: [^\n]+\n$/, 'one error line');
  assert.match(r.stderr, message);
  assert.equal(r.error.code, code);
}

const train = ['train', '--model', model, '--data', data, '--max-steps', '1'];
const bench = ['bench', 'train', '--model', model, '--steps', '1', '--seq', '16', '--prompt', '8'];

describe('exit codes', () => {
  it('models download: a malformed id or revision is 2, before the Hub is asked; no Hub is 1', () => {
    expectExit(['models', 'download', 'notarepo'], 2, 'bad-repo-id', /"notarepo" is not a model id/);
    expectExit(['models', 'download', 'a/b', '--revision', '../x'], 2, 'bad-revision', /"\.\.\/x"/);
    expectExit(['models', 'download', 'a/b'], 1, 'unreachable', /cannot reach http:\/\/127\.0\.0\.1:9/);
    // HF_ENDPOINT that is no URL is said as such, not as a server that cannot be reached.
    const endpoint =
      /^error: HF_ENDPOINT must be an http\(s\) URL such as https:\/\/huggingface\.co \(got "notaurl"\)$/m;
    expectExit(['models', 'download', 'a/b'], 2, 'bad-endpoint', endpoint, { HF_ENDPOINT: 'notaurl' });
  });

  it('as the commands that always did: a malformed value is 2, an unknown id 1', () => {
    expectExit(['generate', '--model', model, '--prompt', 'hi', '--top-p', '2'], 2, 'usage', /--top-p/);
    expectExit(['runs', 'show', 'abc'], 2, 'usage', /ID must be a positive integer/);
    expectExit(['runs', 'show', '999'], 1, 'not-found', /no run with id 999/);
  });

  it('adapters tag: a tag no adapter could have is 2, as a missing one; an unknown adapter 1', () => {
    expectExit(['adapters', 'tag', '1', ',,'], 2, 'bad-tag', /a tag must be 1 to 64 characters/);
    expectExit(['adapters', 'tag', '1', 'x'.repeat(65)], 2, 'bad-tag', /is 65\)/);
    expectExit(['adapters', 'tag', '1'], 2, 'usage', /missing TAG/);
    expectExit(['adapters', 'tag', '999', 'pirate'], 1, 'not-found', /no adapter with id 999/);
  });

  it('import --tag: a tag no adapter could have is 2, as adapters tag says it, before the folder is read', () => {
    // No folder at all: the tag is refused first, as the command line alone shows it wrong.
    const gone = join(root, 'no-such-adapter');
    expectExit(['import', gone, '--tag', ',,'], 2, 'bad-tag', /a tag must be 1 to 64 characters/);
    expectExit(['import', gone, '--tag', 'x'.repeat(65)], 2, 'bad-tag', /is 65\)/);
    expectExit(['import', gone, '--tag', 'pirate'], 1, 'missing-file', /no such folder/);
  });

  it('export: a flag only the other --format takes is 2, not passed over; nothing is written', () => {
    const out = join(root, 'export-out');
    expectExit(
      ['export', '--adapter', '1', '--run', '1', '--out', out],
      2,
      'usage',
      /--run is for --format bundle/,
    );
    expectExit(
      ['export', '--format', 'bundle', '--run', '1', '--adapter', '1', '--out', out],
      2,
      'usage',
      /--adapter is for --format pyreft/,
    );
    assert.equal(existsSync(out), false, 'no folder written');
  });

  it('train: a value no model takes is 2; one this model does not take is 1', () => {
    expectExit([...train, '--rank', '0'], 2, 'bad-rank', /--rank must be an integer ≥ 1 \(got 0\)/);
    expectExit([...train, '--intervention', 'mega'], 2, 'unknown-intervention', /--intervention must be/);
    expectExit([...train, '--format', 'tsv'], 2, 'bad-format', /--format must be one of/);
    expectExit([...train, '--rank', '65'], 1, 'bad-rank', /at most the model's hidden size, 64/);
    expectExit(
      [...train, '--layers', '9'],
      1,
      'layer-out-of-range',
      /^error: --layers: layer 9 is out of range/,
    );
    // The layers and positions name their flag, as every other flag's refusal does.
    expectExit(
      [...train, '--layers', '1;x'],
      2,
      'bad-layers',
      /^error: --layers: "1;x": "x" is not a layer index/,
    );
    expectExit(
      [...train, '--positions', 'f0'],
      2,
      'bad-positions',
      /^error: --positions: "f0": f0 selects no token/,
    );
    expectExit(
      [...train, '--positions', 'banana'],
      2,
      'bad-positions',
      /^error: --positions: "banana" is not/,
    );
  });

  it('bench train: a malformed --layers or --positions is 2, before any model is built; a layer it lacks 1', () => {
    expectExit([...bench, '--positions', 'middle'], 2, 'bad-positions', /^error: --positions: "middle"/);
    expectExit([...bench, '--layers', '1;x'], 2, 'bad-layers', /^error: --layers: "1;x"/);
    expectExit(
      [...bench, '--layers', '9'],
      1,
      'layer-out-of-range',
      /^error: --layers: layer 9 .*the model has layers 0\.\.3/,
    );
    // Refused before the model is built: a synthetic TinyLlama takes minutes.
    const tiny = ['bench', 'train', '--synthetic', 'tinyllama-1.1b'];
    expectExit([...tiny, '--positions', 'middle'], 2, 'bad-positions', /^error: --positions: "middle"/);
  });

  it('bench train: a step no computer can hold is 1, refused as train refuses it, before loading', () => {
    // 10⁹ × 16 tokens: about a hundred terabytes of logits alone, on any machine.
    const huge = ['--batch', '1000000000'];
    const step =
      /^error: a training step of 1000000000 × 16 tokens needs about .+ \(REFT_STUDIO_MEMORY_CHECK=0 skips this check\)$/m;
    expectExit([...bench, ...huge], 1, 'batch-too-large', step);
    // A synthetic model is refused before it is built (its float32 weights fit in memory).
    const tiny = ['bench', 'train', '--synthetic', 'tinyllama-1.1b', '--seq', '16', '--prompt', '8'];
    expectExit([...tiny, ...huge], 1, 'batch-too-large', step);
  });
});
