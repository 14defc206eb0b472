// `reft-studio models scan` on a Hugging Face cache built here (blobs + snapshot symlinks + refs, as
// huggingface_hub writes it) and plain model folders: every snapshot and folder listed, the supported
// ones with architecture, size, dtype and memory, the others with the reason; --add registers the
// supported ones in place; with no DIR the cache is found as huggingface_hub finds it.

import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { listCachedSnapshots } from '../../electron/backend/hub/cache.ts';
import { fractionalByteFields } from '../helpers/byte-fields.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';
import { runCli, writeCacheSnapshot } from './helpers.ts';

function folderFiles(arch: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const f of readdirSync(modelDir(arch)))
    if (!f.startsWith('golden_')) out[f] = readFileSync(join(modelDir(arch), f));
  return out;
}

interface Scanned {
  name: string;
  kind: string;
  path: string;
  supported: boolean;
  reason: { code: string; message: string } | null;
  arch: string | null;
  dtype: string | null;
  params: number | null;
  sizeBytes: number;
  modelId: number | null;
  added: boolean;
  fit: {
    rows: { precision: string; chatBytes: number; trainBytes: number; fits: { device: string }[] }[];
    devices: { device: string; memoryBytes: number }[];
  } | null;
}

describe('models scan', { timeout: 300_000 }, () => {
  let home = '';
  let hubDir = '';
  const env = () => ({ REFT_STUDIO_HOME: join(home, 'studio'), HF_HOME: join(home, 'hf') });

  before(() => {
    home = tempDir('reft-scan-');
    hubDir = join(home, 'hf', 'hub');
    writeCacheSnapshot(hubDir, 'tiny/llama', folderFiles('llama'));
    // Two revisions of one repository: main and an older commit that only a tag names.
    writeCacheSnapshot(hubDir, 'tiny/gpt2', folderFiles('gpt2'));
    writeCacheSnapshot(hubDir, 'tiny/gpt2', folderFiles('gpt2'), { ref: 'v0', commit: 'a'.repeat(40) });
    writeCacheSnapshot(hubDir, 'tiny/bert', {
      'config.json': Buffer.from('{"model_type":"bert","architectures":["BertModel"]}'),
    });
    writeCacheSnapshot(hubDir, 'tiny/half', folderFiles('qwen2'), { missing: ['model.safetensors'] });
    const noTok = folderFiles('gemma');
    delete noTok['tokenizer.json'];
    writeCacheSnapshot(hubDir, 'tiny/notok', noTok);
    // A tokenizer.json whose pattern loading refuses: listed with that reason, not as usable.
    const nested = folderFiles('llama');
    const tok = JSON.parse(nested['tokenizer.json'].toString('utf8'));
    tok.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false };
    nested['tokenizer.json'] = Buffer.from(JSON.stringify(tok, null, 2));
    writeCacheSnapshot(hubDir, 'tiny/nested', nested);
    // Plain folders next to the cache.
    mkdirSync(join(home, 'hf', 'mine'), { recursive: true });
    cpSync(modelDir('qwen3'), join(home, 'hf', 'mine', 'qwen3'), { recursive: true });
    mkdirSync(join(home, 'hf', 'mine', 'old'), { recursive: true });
    writeFileSync(
      join(home, 'hf', 'mine', 'old', 'config.json'),
      readFileSync(join(modelDir('llama'), 'config.json')),
    );
    writeFileSync(join(home, 'hf', 'mine', 'old', 'pytorch_model.bin'), 'x');
  });

  const scan = async (args: string[]) => {
    const r = await runCli(['models', 'scan', ...args, '--json'], env());
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { dir: string; cacheLayout: boolean; models: Scanned[] };
  };

  it('lists every snapshot and plain folder, supported or why not', async () => {
    const out = await scan([join(home, 'hf')]);
    assert.equal(out.cacheLayout, true);
    const by = new Map(out.models.map((m) => [m.name, m]));
    assert.deepEqual([...by.keys()].sort(), [
      'old',
      'qwen3',
      'tiny/bert',
      'tiny/gpt2',
      'tiny/gpt2@v0',
      'tiny/half',
      'tiny/llama',
      'tiny/nested',
      'tiny/notok',
    ]);
    for (const name of ['tiny/llama', 'tiny/gpt2', 'tiny/gpt2@v0', 'qwen3']) {
      const m = by.get(name) as Scanned;
      assert.equal(m.supported, true, `${name}: ${m.reason?.message}`);
      assert.ok(m.arch && m.dtype && (m.params ?? 0) > 0 && m.sizeBytes > 0, name);
      const fp32 = m.fit?.rows.find((r) => r.precision === 'fp32');
      const int4 = m.fit?.rows.find((r) => r.precision === 'int4');
      assert.ok(fp32 && int4 && fp32.chatBytes > int4.chatBytes && fp32.trainBytes > fp32.chatBytes, name);
    }
    assert.equal(by.get('tiny/llama')?.arch, 'llama');
    assert.equal(by.get('tiny/llama')?.kind, 'snapshot');
    assert.equal(by.get('qwen3')?.kind, 'folder');
    const why = (n: string) => by.get(n)?.reason?.message ?? '';
    assert.equal(by.get('tiny/bert')?.reason?.code, 'unsupported-architecture');
    assert.match(why('tiny/bert'), /model_type "bert".*is not supported/);
    assert.equal(by.get('tiny/half')?.reason?.code, 'incomplete-download');
    assert.match(
      why('tiny/half'),
      /model\.safetensors missing \(run `reft-studio models download tiny\/half`/,
    );
    assert.match(why('tiny/notok'), /no tokenizer\.json/);
    assert.equal(by.get('tiny/nested')?.reason?.code, 'tokenizer-pattern-refused');
    assert.match(
      why('tiny/nested'),
      /models--tiny--nested\/snapshots\/[0-9a-f]{40}\/tokenizer\.json: the pattern of pre_tokenizer repeats a group that itself repeats/,
    );
    assert.match(why('old'), /only pytorch_model\.bin found/);
    // Every byte count is whole (the 8-bit rows' training figure once read 28361120.32).
    assert.deepEqual(fractionalByteFields(out), []);
  });

  it('people output names the unsupported ones with the reason', async () => {
    const r = await runCli(['models', 'scan', join(home, 'hf')], env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^no\s+tiny\/bert .*model_type "bert"/m);
    assert.match(r.stdout, /^ok\s+tiny\/llama\s+llama/m);
    assert.match(r.stdout, /\n4 supported models not in the library yet: add them with `/);
  });

  it('--add registers the supported snapshots in place, once', async () => {
    const out = await scan([join(home, 'hf'), '--add']);
    const added = out.models
      .filter((m) => m.added)
      .map((m) => m.name)
      .sort();
    assert.deepEqual(added, ['qwen3', 'tiny/gpt2', 'tiny/gpt2@v0', 'tiny/llama']);
    assert.ok(out.models.filter((m) => !m.supported).every((m) => m.modelId === null));
    const list = JSON.parse((await runCli(['models', 'list', '--json'], env())).stdout) as {
      models: { name: string; path: string; hubRepo: string | null; downloaded: boolean; source: string }[];
    };
    const llama = list.models.find((m) => m.name === 'tiny/llama');
    assert.ok(llama);
    assert.match(llama.path, /models--tiny--llama\/snapshots\/[0-9a-f]{40}$/);
    assert.equal(llama.hubRepo, 'tiny/llama');
    assert.equal(llama.downloaded, false, 'found in the cache, not downloaded by the studio');
    assert.equal(llama.source, 'hf-cache');
    const again = await scan([join(home, 'hf'), '--add']);
    assert.equal(again.models.filter((m) => m.added).length, 0);
    assert.equal(
      again.models.find((m) => m.name === 'tiny/llama')?.modelId,
      out.models.find((m) => m.name === 'tiny/llama')?.modelId,
    );
  });

  it('without DIR scans the cache huggingface_hub would use (HF_HUB_CACHE, else HF_HOME/hub)', async () => {
    const viaHome = await scan([]);
    assert.equal(viaHome.dir, hubDir);
    assert.ok(viaHome.models.some((m) => m.name === 'tiny/llama'));
    assert.ok(
      !viaHome.models.some((m) => m.kind === 'folder'),
      'plain folders beside the cache are not in it',
    );
    const r = await runCli(['models', 'scan', '--json'], { ...env(), HF_HUB_CACHE: join(home, 'empty') });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).models, []);
  });

  it('one unreadable repository folder does not stop the listing of the others', () => {
    const cache = join(home, 'odd-cache');
    writeCacheSnapshot(cache, 'tiny/llama', folderFiles('llama'));
    mkdirSync(join(cache, 'models--x--snapfile'), { recursive: true });
    writeFileSync(join(cache, 'models--x--snapfile', 'snapshots'), 'not a folder');
    writeCacheSnapshot(cache, 'x/reffile', folderFiles('gpt2'), { ref: null });
    writeFileSync(join(cache, 'models--x--reffile', 'refs'), 'not a folder');
    assert.deepEqual(
      listCachedSnapshots(cache).map((s) => [s.repo, s.refs]),
      [
        ['tiny/llama', ['main']],
        ['x/reffile', []],
      ],
    );
  });

  it('the footer agrees with what it found: counts in words, nothing usable said as such', async () => {
    // Bug: a scan that found nothing usable said "every supported model is in the library", and
    // counts read "1 supported model(s)".
    const footer = async (dir: string, ...flags: string[]) => {
      const r = await runCli(['models', 'scan', dir, ...flags], env());
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim().split('\n').at(-1) ?? '';
    };
    const unusable = join(home, 'unusable');
    cpSync(join(home, 'hf', 'mine', 'old'), join(unusable, 'old'), { recursive: true });
    assert.equal(
      await footer(unusable),
      'none of these models is supported (the last column says why): nothing to add',
    );
    assert.equal(
      await footer(unusable, '--add'),
      'none of these models is supported (the last column says why): nothing to add',
    );
    const one = join(home, 'one');
    cpSync(modelDir('llama'), join(one, 'llama'), { recursive: true });
    assert.match(
      await footer(one),
      /^1 supported model not in the library yet: add it with `reft-studio models scan /,
    );
    assert.equal(await footer(one, '--add'), 'added 1 model to the library');
    assert.equal(await footer(one), 'every supported model found is in the library');
  });

  it('judges what fits against the GPU runs would use, as the studio does', async () => {
    // A stand-in nvidia-smi on PATH: one 24 GiB GPU (the studio's models/scan weighs it the same
    // way, handlers/models-hub.ts deviceMemories).
    const bin = join(home, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, 'nvidia-smi'),
      `#!/bin/sh
case "$1" in
  --query-gpu=index*) echo "0, NVIDIA GeForce RTX 4090, 24564, 580.95.05, 8.9";;
  *) echo "| NVIDIA-SMI 580.95.05   Driver Version: 580.95.05   CUDA Version: 13.0 |";;
esac
`,
    );
    chmodSync(join(bin, 'nvidia-smi'), 0o755);
    const r = await runCli(['models', 'scan', join(home, 'hf', 'mine'), '--json'], {
      ...env(),
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(r.code, 0, r.stderr);
    const qwen3 = (JSON.parse(r.stdout).models as Scanned[]).find((m) => m.name === 'qwen3');
    assert.deepEqual(qwen3?.fit?.devices, [
      { device: 'cpu', memoryBytes: totalmem() },
      { device: 'cuda', memoryBytes: 24564 * 1024 * 1024, computeCapability: '8.9' },
    ]);
    for (const row of qwen3?.fit?.rows ?? [])
      assert.deepEqual(
        row.fits.map((f) => f.device),
        ['cpu', 'cuda'],
        row.precision,
      );
  });

  it('a missing DIR is one clear line', async () => {
    const r = await runCli(['models', 'scan', join(home, 'nope')], env());
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `error: ${join(home, 'nope')}: no such folder`);
  });

  it('a file given as DIR is named as a file, not "no such folder"', async () => {
    const file = join(home, 'models.txt');
    writeFileSync(file, 'x');
    const r = await runCli(['models', 'scan', file], env());
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `error: ${file} is a file; give a folder to look for models in`);
  });
});
