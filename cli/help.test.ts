// `--help` and `--version`: every command lists each of its options on one line with a description,
// then the global options, an example and the exit codes; `reft-studio --version` names the version.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { appRoot } from '../electron/backend/paths.ts';
import { tempDir } from '../tests/helpers/temp.ts';
import { closestOption, GLOBAL_OPTIONS } from './args.ts';
import { commandHelp } from './help.ts';
import { COMMANDS, main } from './main.ts';

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

test('every command: usage, one line per option with its description, an example, exit codes', async () => {
  for (const c of COMMANDS) {
    const r = await run([...c.name.split(' '), '--help']);
    assert.equal(r.code, 0, c.name);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `usage: reft-studio ${c.usage}`);
    for (const [name, o] of Object.entries({ ...c.options, ...GLOBAL_OPTIONS })) {
      assert.ok(o.description.trim(), `${c.name} --${name} has a description`);
      const own = lines.filter((l) => new RegExp(`^ {2}(-\\w, )?--${name}( |$)`).test(l));
      assert.equal(own.length, 1, `${c.name}: one line for --${name}\n${r.stdout}`);
      assert.ok(own[0].endsWith(o.description), `${c.name} --${name}: ${own[0]}`);
      if (o.type === 'string') assert.match(own[0], new RegExp(`--${name} \\S`), 'a value placeholder');
    }
    const ex = lines.indexOf(c.examples.length > 1 ? 'examples:' : 'example:');
    assert.ok(ex > 0 && c.examples.length > 0, `${c.name} has an example`);
    for (const e of c.examples) {
      assert.ok(lines.includes(`  reft-studio ${e}`));
      assert.ok(e.startsWith(`${c.name} `) || e === c.name, `${c.name}'s example runs it: ${e}`);
    }
    assert.match(r.stdout, /^exit codes: 0 done, 1 error, 2 bad usage, 130 interrupted/m);
  }
});

test("a command's usage line names exactly the options it accepts", () => {
  // Before, `bench decode` accepted --steps that its usage line left out (shown as "--steps VALUE").
  for (const c of COMMANDS) {
    const named = new Set([...c.usage.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]));
    const accepted = Object.keys(c.options ?? {});
    assert.deepEqual(
      accepted.filter((o) => !named.has(o)),
      [],
      `${c.name}: accepted but not in its usage line`,
    );
    assert.deepEqual(
      [...named].filter((o) => !accepted.includes(o)),
      [],
      `${c.name}: in its usage line but not accepted`,
    );
  }
});

test('value placeholders: --rank R, --layers all|2;10;18; none for a switch', async () => {
  const r = await run(['train', '--help']);
  assert.match(r.stdout, /^ {2}--rank R +\S/m);
  assert.match(r.stdout, /^ {2}--layers all\|2;10;18 +\S/m);
  assert.match(r.stdout, /^ {2}--share-weights +[A-Za-z]/m);
  // A placeholder names what the flag takes, not one value of it (generate's was `--device cpu`).
  for (const name of ['train', 'generate', 'evaluate']) {
    const h = await run([name, '--help']);
    assert.match(h.stdout, /^ {2}--device cpu\|auto\|cuda\|webgpu\|dml\|coreml +\S/m, name);
  }
  assert.match(
    r.stdout,
    /With --json: the result as one JSON object on stdout, and the progress as JSON events/,
  );
});

test('--version: the package version, also as one JSON object', async () => {
  const { version } = JSON.parse(readFileSync(join(appRoot(), 'package.json'), 'utf8'));
  const r = await run(['--version']);
  assert.equal(r.code, 0);
  assert.match(
    r.stdout,
    new RegExp(
      `^reft-studio ${version.replaceAll('.', '\\.')} \\(onnxruntime-node \\d+\\.\\d+\\.\\d+, node v\\d+`,
    ),
  );
  const j = await run(['--version', '--json']);
  assert.equal(JSON.parse(j.stdout).version, version);
  assert.match((await run(['--help'])).stdout, /^ {2}--version +print the version and exit$/m);
});

test('bad usage exits 2 with one error line; an unknown flag is named', async () => {
  const r = await run(['models', 'list', '--frobnicate']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: unknown option --frobnicate\n');
});

test('a mistyped option names the one it most likely meant, and only when one is clear', async () => {
  const r = await run(['train', '--steps', '3']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: unknown option --steps (did you mean --max-steps?)\n');
  // In the CLI's words (lower case, the flag bare), as its other errors; not parseArgs' "Unknown option '--max-step'".
  const near = await run(['train', '--max-step', '3']);
  assert.equal(near.code, 2);
  assert.equal(near.stderr, 'error: unknown option --max-step (did you mean --max-steps?)\n');
  const flag = await run(['runs', 'list', '--json=yes']);
  assert.equal(flag.code, 2);
  assert.equal(flag.stderr, 'error: --json takes no value\n');
  const opt = { type: 'string', description: '' } as const;
  const spec = { 'max-steps': opt, 'data-dir': opt, quantize: opt };
  assert.equal(closestOption('--quantise', spec), '--quantize');
  assert.equal(closestOption('--data-dirr=x', spec), '--data-dir');
  assert.equal(closestOption('--frobnicate', spec), undefined);
  assert.equal(closestOption('--d', spec), undefined);
});

test('a placeholder is the value only: no stray ")" or a neighbouring "|--flag" from the usage line', () => {
  for (const c of COMMANDS) {
    for (const line of commandHelp(c)
      .split('\n')
      .filter((l) => /^ {2}(-\w, )?--/.test(l))) {
      const flag = /^ {2}(?:-\w, )?--[\w-]+(?: (\S+))?/.exec(line);
      const value = flag?.[1] ?? '';
      assert.doesNotMatch(value, /[()]|\|-/, `${c.name}: ${line}`);
    }
  }
});

test('no command word: an unknown flag or a missing command is bad usage, one line, JSON with --json', async () => {
  const bogus = await run(['--bogus']);
  assert.equal(bogus.code, 2);
  assert.equal(bogus.stdout, '');
  assert.equal(bogus.stderr, 'error: unknown option --bogus\n');
  const bare = await run(['--json', '--data-dir', '/tmp']);
  assert.equal(bare.code, 2);
  assert.equal(bare.stderr, 'error: missing command (see reft-studio --help)\n');
  assert.equal(JSON.parse(bare.stdout).error.code, 'usage');
});

test('a group with a word that is none of its commands names that word; a bare group says it is missing', async () => {
  const bogus = await run(['runs', 'bogus', '--data-dir', '/tmp']);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /\nerror: unknown runs command "bogus"\n$/);
  const bare = await run(['adapters', '--data-dir', '/tmp']);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /\nerror: missing adapters command\n$/);
});

test('a mistyped command names the one it most likely meant, as a mistyped option does', async () => {
  // Two letters swapped is one typo, not two: "trian", "modles", "--modle".
  const top = await run(['trian', '--data-dir', '/tmp']);
  assert.equal(top.code, 2);
  assert.equal(top.stderr, 'error: unknown command "trian" (did you mean train?)\n');
  const group = await run(['modles', 'list', '--data-dir', '/tmp']);
  assert.equal(group.stderr, 'error: unknown command "modles" (did you mean models?)\n');
  const sub = await run(['models', 'lst', '--data-dir', '/tmp', '--json']);
  assert.equal(sub.code, 2);
  // --json: the error line alone, as for any error; the group's command list is for people.
  assert.equal(sub.stderr, 'error: unknown models command "lst" (did you mean models list?)\n');
  assert.equal(
    JSON.parse(sub.stdout).error.message,
    'unknown models command "lst" (did you mean models list?)',
  );
  const debug = await run(['debug', 'forwrd']);
  assert.match(debug.stderr, /\nerror: unknown debug command "forwrd" \(did you mean debug forward\?\)\n$/);
  const flag = await run(['train', '--modle', 'x']);
  assert.equal(flag.stderr, 'error: unknown option --modle (did you mean --model?)\n');
  // Nothing near: the pointer to --help stays, and no guess.
  const far = await run(['frobnicate']);
  assert.equal(far.stderr, 'error: unknown command "frobnicate" (see reft-studio --help)\n');
  const farSub = await run(['runs', 'bogus']);
  assert.match(farSub.stderr, /\nerror: unknown runs command "bogus"\n$/);
});

test('summaries read alike: lower case first, unless a name or an acronym (LoReFT, GPUs, N) starts them', () => {
  for (const c of COMMANDS)
    assert.match(c.summary, /^([a-z]|[A-Z][A-Za-z]*[A-Z]|N )/, `${c.name}: ${c.summary}`);
});

test('train --help says what leaving an option out does, where that is not its declared value', async () => {
  const r = await run(['train', '--help']);
  // Unset, a run checkpoints about ten times (library/run-plan.ts); 0 means only at the end.
  assert.match(r.stdout, /^ {2}--checkpoint-every N .*default: about ten per run \(0 = only at the end\)$/m);
  // Unset, the length is 512 or the model's context when that is shorter.
  assert.match(r.stdout, /^ {2}--max-length T .*default: 512, or the model's context if shorter$/m);
});

test('a value starting with a dash: one line saying how to write it', async () => {
  const r = await run(['runs', 'list', '--status', '-x']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "error: --status needs a value; write one starting with '-' as --status=-VALUE\n");
});

test('an argument starting with a dash where one is expected: the error says to put it after --', async () => {
  for (const [args, msg] of [
    [
      ['adapters', 'tag', '1', '-x'],
      "unknown option -x; write an argument starting with '-' after --, as in: -- -x",
    ],
    [
      ['adapters', 'tag', '1', '--remove', '-x y'],
      `unknown option -x; write an argument starting with '-' after --, as in: -- "-x y"`,
    ],
    // No arguments to take, or a mistyped long option: the error alone (with the option it meant).
    [['models', 'list', '-x'], 'unknown option -x'],
    [['adapters', 'tag', '1', '--remve', '-x'], 'unknown option --remve (did you mean --remove?)'],
  ] as const) {
    const r = await run([...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr, `error: ${msg}\n`);
  }
  // As told: after --, it is the tag (an empty library has no adapter to tag, and says so).
  const told = await run(['adapters', 'tag', '1', '--data-dir', tempDir('cli-dash-tag-'), '--', '-x']);
  assert.equal(told.stderr, 'error: no adapter with id 1\n');
});

test('a negative number is a value, not an option: runs show -1 is a bad ID, --limit -5 a bad count', async () => {
  for (const args of [
    ['runs', 'show', '-1'],
    ['runs', 'show', '--data-dir', '/nonexistent-qa/x', '-1'],
  ]) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr, 'error: ID must be a positive integer (got "-1")\n');
  }
  const limit = await run(['evaluate', '--adapter', '1', '--data', '1', '--limit', '-5']);
  assert.equal(limit.stderr, 'error: --limit must be an integer ≥ 1 (got "-5")\n');
});

test('an option given no value says so, also when another option follows it', async () => {
  for (const [args, msg] of [
    [
      ['adapters', 'list', '--tag', '--data-dir', '/nonexistent-qa/x'],
      '--tag needs a value; --data-dir after it is an option',
    ],
    [['adapters', 'list', '--data-dir', '/nonexistent-qa/x', '--tag'], '--tag needs a value'],
    [['runs', 'list', '--status', '-q'], '--status needs a value; -q after it is an option'],
  ] as const) {
    const r = await run([...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr, `error: ${msg}\n`);
  }
});

test('a one-value option given twice with two values is refused, not read as the last one', async () => {
  const r = await run(['evaluate', '--adapter', '3', '--adapter=5', '--data', '1']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: --adapter is given twice ("3", then "5"); it takes one value\n');
  // The same value twice, a switch twice and a repeatable option are no conflict.
  const same = await run([
    'models',
    'list',
    '--json',
    '--json',
    '--data-dir',
    '/nonexistent-qa/x',
    '--data-dir=/nonexistent-qa/x',
    '--bogus',
  ]);
  assert.equal(same.stderr, 'error: unknown option --bogus\n');
  const stops = await run(['generate', '--prompt', 'hi', '--stop', 'a', '--stop', 'b']);
  assert.equal(
    stops.stderr,
    'error: generate: --model DIR|ID is required (or --adapter ID: a library adapter runs on its base model)\n',
  );
});

test('counts are checked: evaluate --limit=-5 is refused, not read as "all but the last five"', async () => {
  for (const [args, msg] of [
    [
      ['evaluate', '--adapter', '1', '--data', '1', '--limit=-5'],
      '--limit must be an integer ≥ 1 (got "-5")',
    ],
    [
      ['evaluate', '--adapter', '1', '--data', '1', '--limit', '0'],
      '--limit must be an integer ≥ 1 (got "0")',
    ],
    [
      ['evaluate', '--adapter', '1', '--data', '1', '--batch-size', '0'],
      '--batch-size must be an integer ≥ 1 (got "0")',
    ],
    [['datasets', 'show', '1', '--rows=-3'], '--rows must be an integer ≥ 0 (got "-3")'],
  ] as const) {
    const r = await run([...args, '--data-dir', '/nonexistent-qa']);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr, `error: ${msg}\n`);
  }
});

test('a refused flag value is worded one way in every command: "--X must be RULE (got VALUE)"', async () => {
  for (const [args, msg] of [
    [['train', '--rank', '0'], '--rank must be an integer ≥ 1 (got 0)'],
    [['bench', 'prefill', '--batch', '0'], '--batch must be an integer ≥ 1 (got "0")'],
    [
      ['train', '--format', 'bogus'],
      '--format must be one of auto, prompt-completion, alpaca, chat (got "bogus")',
    ],
    [
      ['datasets', 'import', 'x.jsonl', '--format', 'bogus'],
      '--format must be one of auto, prompt-completion, alpaca, chat (got "bogus")',
    ],
    [['evaluate', '--adapter', '1', '--data', '1', '--kind', 'x'], '--kind must be one of '],
    [
      ['generate', '--model', 'm', '--prompt', 'p', '--top-k', '-1'],
      'generate: --top-k must be a whole number ≥ 0 (got "-1")',
    ],
  ] as const) {
    const r = await run([...args, '--data-dir', '/nonexistent-qa']);
    assert.equal(r.code, 2, args.join(' '));
    assert.ok(r.stderr.startsWith(`error: ${msg}`), r.stderr);
    assert.match(r.stderr, /^error: [^\n]* must be [^\n]* \(got [^\n]*\)\n$/);
  }
});

test("README's command-line block names every command", () => {
  const readme = readFileSync(join(appRoot(), 'README.md'), 'utf8');
  const block = /## The command line[\s\S]*?```\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  // `bench train|prefill|decode` names three commands.
  const named = new Set<string>();
  for (const m of block.matchAll(/(?<![\w-])(?=([a-z-]+) ([a-z-]+(?:\|[a-z-]+)*))/g))
    for (const sub of m[2].split('|')) named.add(`${m[1]} ${sub}`);
  for (const m of block.matchAll(/reft-studio ([a-z-]+)/g)) named.add(m[1]);
  const missing = COMMANDS.map((c) => c.name).filter((n) => !named.has(n));
  assert.deepEqual(missing, [], `README.md's command block lacks: ${missing.join(', ')}`);
});

/** README's command block as segments, each one command's synopsis (`models list`, `bench train …`). */
function readmeSynopses(): { name: string; text: string }[] {
  const readme = readFileSync(join(appRoot(), 'README.md'), 'utf8');
  const block = /## The command line[\s\S]*?```\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const names = COMMANDS.map((c) => c.name).sort((a, b) => b.length - a.length);
  const out: { name: string; text: string }[] = [];
  for (const line of block.split('\n')) {
    const body = line.replace(/^reft-studio /, '').replace(/ {2,}#.*$/, '');
    // " | " between two commands; an alternative inside () or [] stays in its segment.
    let depth = 0;
    let from = 0;
    const segments: string[] = [];
    for (let i = 0; i < body.length; i++) {
      if ('([{'.includes(body[i])) depth++;
      else if (')]}'.includes(body[i])) depth--;
      else if (depth === 0 && body.startsWith(' | ', i)) {
        segments.push(body.slice(from, i));
        from = i + 3;
      }
    }
    segments.push(body.slice(from));
    for (const seg of segments) {
      // `bench train|prefill|decode …` is three commands.
      const m = /^([a-z-]+) ([a-z-]+(?:\|[a-z-]+)+)\b/.exec(seg);
      const words = m ? m[2].split('|').map((w) => `${m[1]} ${w}`) : [names.find((n) => seg.startsWith(n))];
      for (const name of words) if (name) out.push({ name, text: seg });
    }
  }
  return out;
}

test("README's command block gives every option of a command, or ends its synopsis with ...", () => {
  // Before, `export --format bundle`'s --config/--data/--force, `serve`'s --allow-remote/--no-token/
  // --renderer-dir and `datasets import`'s --into/--skip-bad-rows were nowhere in it.
  const synopses = readmeSynopses();
  for (const c of COMMANDS) {
    const mine = synopses.filter((s) => s.name === c.name);
    assert.ok(mine.length > 0, `README's command block has a synopsis of ${c.name}`);
    if (mine.some((s) => / \.\.\.\s*$/.test(s.text))) continue;
    const named = mine.map((s) => s.text).join(' ');
    const missing = Object.keys(c.options ?? {}).filter((o) => !new RegExp(`--${o}\\b`).test(named));
    assert.deepEqual(missing, [], `README's synopsis of ${c.name} lacks these options (or a closing ...)`);
  }
  // And names no option a command does not take.
  for (const s of synopses) {
    const c = COMMANDS.find((k) => k.name === s.name);
    for (const [, flag] of s.text.matchAll(/--([a-z][a-z-]*)/g))
      assert.ok(flag in (c?.options ?? {}), `README: ${s.name} has no --${flag}`);
  }
});

test('runtime install without a NAME says it is missing', async () => {
  const r = await run(['runtime', 'install', '--data-dir', '/nonexistent-qa']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: runtime install: missing NAME (known: cuda)\n');
});

test('file errors are said in words, not as errno codes, on the error line and in --json', async () => {
  const model = join(appRoot(), 'tests', 'fixtures', 'golden', 'models', 'llama');
  const args = ['chat-template', '--model', model, '--messages', '/nonexistent-qa/m.json'];
  const r = await run([...args, '--data-dir', '/nonexistent-qa']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: /nonexistent-qa/m.json: cannot read (no such file or folder)\n');
  const j = await run([...args, '--json', '--data-dir', '/nonexistent-qa']);
  assert.equal(
    JSON.parse(j.stdout).error.message,
    '/nonexistent-qa/m.json: cannot read (no such file or folder)',
  );
});

test('debug: a missing flag or a bad --lr is refused before any work, not after it', async () => {
  const model = join(appRoot(), 'tests', 'fixtures', 'golden', 'models', 'llama');
  // The batch does not exist: a command that ran before checking its flags would fail on reading it.
  const io = [
    '--model',
    model,
    '--adapter',
    '/nonexistent-qa/a',
    '--batch',
    '/nonexistent-qa/in.safetensors',
  ];
  for (const [args, msg] of [
    [['debug', 'forward', ...io], 'debug forward: --out is required'],
    [['debug', 'grad', ...io], 'debug grad: --out is required'],
    [['debug', 'train', ...io, '--steps', '1', '--lr', '0.01'], 'debug train: --out is required'],
    [
      ['debug', 'train', ...io, '--steps', '1', '--lr', 'Infinity', '--out', '/nonexistent-qa/o'],
      'debug train: --lr must be a positive number (got "Infinity")',
    ],
    [
      ['debug', 'train', ...io, '--steps', '1', '--lr', '1e999', '--out', '/nonexistent-qa/o'],
      'debug train: --lr must be a positive number (got "1e999")',
    ],
  ] as const) {
    const r = await run([...args, '--data-dir', '/nonexistent-qa']);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr, `error: ${msg}\n`);
  }
});

test('bench: every flag is checked before the model is prepared; a bad --quantize is bad usage', async () => {
  // The model does not exist: a flag read only once the model was loaded would never be reached.
  const missing = ['--model', '/nonexistent-qa/model', '--data-dir', '/nonexistent-qa'];
  for (const [args, msg] of [
    [['bench', 'train', '--rank', '0'], '--rank must be an integer ≥ 1 (got "0")'],
    [['bench', 'train', '--steps', '0'], '--steps must be an integer ≥ 1 (got "0")'],
    [
      ['bench', 'train', '--backward', 'sideways'],
      'bench train: --backward must be one of transposed, packed-dequantize, unpacked (got "sideways")',
    ],
    [['bench', 'prefill', '--batch', '0'], '--batch must be an integer ≥ 1 (got "0")'],
    [['bench', 'decode', '--chunk', '0'], '--chunk must be an integer ≥ 1 (got "0")'],
    [
      ['bench', 'prefill', '--quantize', 'int3'],
      'bench: --quantize must be none, int8 or int4 (optionally -b16|-b32|-b64|-b128 and -zp, e.g. int4-b64) (got "int3")',
    ],
    [
      ['debug', 'forward', '--batch', 'in.safetensors', '--out', 'o.safetensors', '--quantize', 'int3'],
      'debug forward: --quantize must be none, int8 or int4 (optionally -b16|-b32|-b64|-b128 and -zp, e.g. int4-b64) (got "int3")',
    ],
  ] as const) {
    const r = await run([...args, ...missing]);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr, `error: ${msg}\n`);
  }
});

test('serve --port out of range is bad usage that names the flag, like a port that is no number', async () => {
  for (const [port, msg] of [
    ['65536', '--port must be an integer from 0 to 65535 (got "65536")'],
    ['-1', '--port must be an integer from 0 to 65535 (got "-1")'],
    ['http', '--port must be an integer (got "http")'],
  ] as const) {
    const r = await run(['serve', '--port', port, '--data-dir', '/nonexistent-qa']);
    assert.equal(r.code, 2, port);
    assert.equal(r.stderr, `error: ${msg}\n`);
  }
});

test('serve on a port another program holds: one line in words, not the errno code', async () => {
  // Before: "cannot listen on 127.0.0.1:PORT: EADDRINUSE".
  const other = createServer();
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  const { port } = other.address() as AddressInfo;
  try {
    const r = await run(['serve', '--port', String(port), '--data-dir', tempDir('reft-serve-busy-')]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `error: cannot listen on 127.0.0.1:${port}: another program is listening on that port (choose another with --port)\n`,
    );
  } finally {
    other.close();
  }
});

test('serve on an address no interface has: names the port tried, or none when any free one was asked', async () => {
  // Before: "cannot listen on 192.0.2.1:0" without --port, as if port 0 had been tried.
  const why = 'no network interface of this computer has that address';
  const host = ['--host', '192.0.2.1', '--allow-remote']; // TEST-NET-1: never a local address
  const free = await run(['serve', ...host, '--data-dir', tempDir('reft-serve-host-')]);
  assert.equal(free.code, 1);
  assert.equal(free.stderr, `error: cannot listen on 192.0.2.1 (on any free port): ${why}\n`);
  // Without --port the last launch's port is tried first: that is the one named.
  const dataDir = tempDir('reft-serve-saved-');
  writeFileSync(join(dataDir, 'serve.json'), JSON.stringify({ token: 'a'.repeat(32), port: 8123 }));
  const saved = await run(['serve', ...host, '--data-dir', dataDir]);
  assert.equal(saved.stderr, `error: cannot listen on 192.0.2.1:8123: ${why}\n`);
});

test('generate --seed takes what the sampler keeps (0 to 2^32 − 1), as train and the Playground do', async () => {
  // Outside it a seed wrapped silently: --seed 4294967296 sampled exactly what --seed 0 samples.
  for (const seed of ['-1', '4294967296', '99999999999999999999']) {
    const r = await run(['generate', '--model', '/nonexistent-qa/m', '--prompt', 'hi', '--seed', seed]);
    assert.equal(r.code, 2, seed);
    assert.equal(
      r.stderr,
      `error: generate: --seed must be a whole number from 0 to 4294967295 (got "${seed}")\n`,
    );
  }
});

test("help COMMAND prints that command's help, help GROUP its list, bare help the overview", async () => {
  const overview = await run(['--help']);
  const bare = await run(['help']);
  assert.deepEqual([bare.code, bare.stdout, bare.stderr], [0, overview.stdout, '']);
  assert.match(overview.stdout, /reft-studio help <command>/);
  for (const words of [['train'], ['models', 'list'], ['bench', 'train']]) {
    const own = await run([...words, '--help']);
    const viaHelp = await run(['help', ...words]);
    assert.deepEqual([viaHelp.code, viaHelp.stdout, viaHelp.stderr], [0, own.stdout, ''], words.join(' '));
    assert.match(viaHelp.stdout, new RegExp(`^usage: reft-studio ${words.join(' ')}( |\n)`));
  }
  const group = await run(['help', 'models']);
  assert.deepEqual([group.code, group.stdout], [0, (await run(['models', '--help'])).stdout]);
  // Global flags may come first, as before any command.
  const withDir = await run(['--data-dir', '/nonexistent-qa', 'help', 'generate']);
  assert.equal(withDir.stdout, (await run(['generate', '--help'])).stdout);
  // A word that names no command is bad usage, as without help, with the one it most likely meant.
  const typo = await run(['help', 'trian']);
  assert.deepEqual([typo.code, typo.stderr], [2, 'error: unknown command "trian" (did you mean train?)\n']);
  // "help" as a command's argument is only that: a tag named help.
  const tag = await run(['adapters', 'tag', '1', 'help', '--data-dir', '/nonexistent-qa/x']);
  assert.doesNotMatch(tag.stdout, /^usage:/);
});
