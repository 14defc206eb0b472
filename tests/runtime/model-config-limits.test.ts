// Hostile model folders (issue 13): config.json numbers far beyond the weights, oversized or
// non-regular JSON files, symlinks to private files. Each must be refused with a specific code and a
// one-line message, quickly, without sizing anything by the hostile number and without quoting the
// file's contents. Runs through loadModelSpec, `models inspect` and the library's models/add path.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs, { readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../cli/main.ts';
import { inspectModelFolder } from '../../electron/backend/library/model-inspect.ts';
import { FormatError, type ReftError } from '../../native-runtime/errors.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { CONFIG_LIMITS } from '../../native-runtime/models/config-fields.ts';
import { openModelFolder } from '../../native-runtime/models/model-folder.ts';
import { MODELS } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));

function copyModel(arch: string): string {
  const dir = tempDir(`reft-limits-${arch}-`);
  for (const f of readdirSync(join(MODELS, arch)))
    if (!f.startsWith('golden_')) writeFileSync(join(dir, f), readFileSync(join(MODELS, arch, f)));
  return dir;
}

function withConfig(arch: string, edit: (c: Record<string, unknown>) => void): string {
  const dir = copyModel(arch);
  const p = join(dir, 'config.json');
  const c = JSON.parse(readFileSync(p, 'utf8'));
  edit(c);
  writeFileSync(p, JSON.stringify(c));
  return dir;
}

function refused(fn: () => unknown, code: string, mentions: string[] = []): ReftError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof FormatError, `expected a FormatError, got ${String(caught)}`);
  const e = caught as ReftError;
  assert.equal(e.code, code, e.message);
  assert.equal(e.message.split('\n').length, 1);
  for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" should mention "${m}"`);
  return e;
}

const SECRET = 'root:$6$s3cr3t-hash-that-must-never-be-echoed:19000:0:99999:7:::';

describe('config numbers are bounded and checked against the weights first', () => {
  test('num_hidden_layers 1e9 is refused as out of range (it used to exhaust memory)', () => {
    const dir = withConfig('llama', (c) => {
      c.num_hidden_layers = 1_000_000_000;
    });
    refused(() => loadModelSpec(dir), 'bad-field', ['config.json', 'num_hidden_layers=1000000000', 'range']);
  });

  test('a layer count within bounds but beyond the stored layers names what is stored', () => {
    // mistral: the sliding-window layer list is sized by num_hidden_layers too.
    const dir = withConfig('llama', (c) => {
      c.model_type = 'mistral';
      c.architectures = ['MistralForCausalLM'];
      c.sliding_window = 8;
      c.num_hidden_layers = CONFIG_LIMITS.numLayers;
    });
    refused(() => loadModelSpec(dir), 'config-weight-mismatch', [
      'model.safetensors',
      'model.layers.4.self_attn.q_proj.weight',
      `num_hidden_layers=${CONFIG_LIMITS.numLayers}`,
      'hold 4 layers',
    ]);
  });

  test('gpt2 names its own field (n_layer)', () => {
    const dir = withConfig('gpt2', (c) => {
      c.n_layer = 50;
    });
    refused(() => loadModelSpec(dir), 'config-weight-mismatch', [
      'transformer.h.3.ln_1.weight',
      'n_layer=50',
      'hold 3 layers',
    ]);
  });

  const huge: Array<[string, string, number]> = [
    ['llama', 'hidden_size', 1e9],
    ['llama', 'num_attention_heads', 1e7],
    ['llama', 'num_key_value_heads', 1e7],
    ['llama', 'head_dim', 1e7],
    ['llama', 'intermediate_size', 1e12],
    ['llama', 'vocab_size', 1e10],
    ['llama', 'max_position_embeddings', 2 ** 40],
    ['gpt2', 'n_embd', 1e9],
    ['gpt2', 'n_positions', 1e12],
  ];
  for (const [arch, field, value] of huge) {
    test(`${arch} ${field}=${value} is refused naming the field`, () => {
      const dir = withConfig(arch, (c) => {
        c[field] = value;
      });
      refused(() => loadModelSpec(dir), 'bad-field', [`${field}=${value}`, 'at most']);
    });
  }

  test('fractional, negative and string numbers are refused', () => {
    for (const v of [2.5, -4, '4', true]) {
      const dir = withConfig('llama', (c) => {
        c.num_hidden_layers = v;
      });
      refused(() => loadModelSpec(dir), 'bad-field', ['num_hidden_layers', 'positive integer']);
    }
  });

  test('a model_type named like a prototype property is unsupported, not a crash', () => {
    for (const t of ['constructor', '__proto__', 'toString']) {
      const dir = withConfig('llama', (c) => {
        c.model_type = t;
        c.architectures = [];
      });
      assert.throws(() => loadModelSpec(dir), { code: 'unsupported-architecture' });
    }
  });

  test('models inspect answers with the error instead of crashing', async () => {
    const dir = withConfig('llama', (c) => {
      c.num_hidden_layers = 1_000_000_000;
    });
    let out = '';
    let err = '';
    const code = await main(['models', 'inspect', dir, '--json', '--data-dir', tempDir('reft-cli-')], {
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
    });
    assert.equal(code, 1);
    assert.equal(JSON.parse(out).error.code, 'bad-field');
    assert.match(err, /num_hidden_layers/);
  });

  test('models/add (the library inspection) refuses it the same way', () => {
    const dir = withConfig('qwen3', (c) => {
      c.num_hidden_layers = 100_000;
    });
    refused(() => inspectModelFolder(dir), 'bad-field', ['num_hidden_layers']);
  });
});

describe('JSON files are read bounded and never quoted', () => {
  test('a config.json larger than the cap is refused before it is read', () => {
    const dir = copyModel('llama');
    truncateSync(join(dir, 'config.json'), 50 * 1024 * 1024); // sparse: 50 MB on paper
    refused(() => loadModelSpec(dir), 'file-too-large', ['config.json', String(50 * 1024 * 1024)]);
  });

  test('config.json linked to a private file: the error quotes none of it', () => {
    const dir = copyModel('llama');
    const secret = join(tempDir('reft-secret-'), 'shadow');
    writeFileSync(secret, `${SECRET}\n`);
    const p = join(dir, 'config.json');
    rmSync(p);
    symlinkSync(secret, p);
    const e = refused(() => loadModelSpec(dir), 'bad-json', ['config.json', 'not valid JSON']);
    for (const piece of ['root', 's3cr3t', '$6$', '19000']) assert.ok(!e.message.includes(piece), e.message);
  });

  test('generation_config.json and the shard index are not quoted either', () => {
    const dir = copyModel('llama');
    writeFileSync(join(dir, 'generation_config.json'), `{"bos_token_id": ${SECRET}}`);
    const e1 = refused(() => loadModelSpec(dir), 'bad-json', ['generation_config.json']);
    assert.ok(!/root|s3cr3t/.test(e1.message), e1.message);
    const dir2 = copyModel('llama');
    writeFileSync(join(dir2, 'model.safetensors.index.json'), SECRET);
    const e2 = refused(() => loadModelSpec(dir2), 'bad-json', ['model.safetensors.index.json']);
    assert.ok(!/root|s3cr3t/.test(e2.message), e2.message);
  });

  test('config.json linked to a device is refused as not a regular file', () => {
    const dir = copyModel('llama');
    rmSync(join(dir, 'config.json'));
    symlinkSync('/dev/zero', join(dir, 'config.json'));
    refused(() => loadModelSpec(dir), 'not-a-file', ['config.json']);
  });

  test('tokenizer.json is not quoted either', () => {
    const dir = copyModel('llama');
    writeFileSync(join(dir, 'tokenizer.json'), SECRET);
    let msg = '';
    try {
      openModelFolder(dir);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, /tokenizer\.json/);
    assert.ok(!/root|s3cr3t/.test(msg), msg);
  });
});

test('models/add reads config.json once: the stored config is the capped, fingerprinted read', () => {
  const dir = copyModel('llama');
  const opened: string[] = [];
  const real = { openSync: fs.openSync, readFileSync: fs.readFileSync };
  const note = (p: unknown) => {
    if (String(p).endsWith('/config.json')) opened.push(String(p));
  };
  fs.openSync = ((...a: Parameters<typeof fs.openSync>) => {
    note(a[0]);
    return real.openSync(...a);
  }) as typeof fs.openSync;
  fs.readFileSync = ((...a: [fs.PathOrFileDescriptor]) => {
    note(a[0]);
    return real.readFileSync(...a);
  }) as typeof fs.readFileSync;
  syncBuiltinESMExports();
  try {
    const info = inspectModelFolder(dir);
    assert.deepEqual(info.config, JSON.parse(real.readFileSync(join(dir, 'config.json'), 'utf8')));
  } finally {
    Object.assign(fs, real);
    syncBuiltinESMExports();
  }
  assert.deepEqual(opened, [join(dir, 'config.json')]);
});

test('a FIFO for config.json or the weights is refused at once (opening it used to wait forever)', () => {
  for (const file of ['config.json', 'model.safetensors']) {
    const dir = copyModel('llama');
    rmSync(join(dir, file));
    execFileSync('mkfifo', [join(dir, file)]);
    // In a child with a time limit: a hang must fail the test, not stall the runner.
    const r = spawnSync(process.execPath, [BIN, 'models', 'inspect', dir, '--json'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.signal, null, `${file}: models inspect hung on a FIFO`);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).error.code, 'not-a-file', r.stdout);
    assert.match(r.stderr, new RegExp(`${file.replace('.', '\\.')}: not a regular file`));
  }
});
