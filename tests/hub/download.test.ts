// `reft-studio models download` against a local Hub (tests/helpers/local-hub.ts), never the internet:
// the files land in the Hugging Face cache layout (blobs named by their hash, relative snapshot
// symlinks, refs/main), only the needed ones; a dropped connection is resumed with Range and a killed
// process picks its partial file up without fetching finished files again; a corrupt file is refused;
// gated, missing and unsupported repositories and bad tokens get one line; the disk is checked; the
// downloaded snapshot generates and trains exactly like the folder it came from.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
  truncateSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fetchModel } from '../../electron/backend/hub/fetch-model.ts';
import { CancelledError } from '../../native-runtime/errors.ts';
import {
  encodeSafetensors,
  type LoadedTensor,
  loadSafetensors,
  type TensorToWrite,
} from '../../native-runtime/formats/safetensors.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { waitFor } from '../backend/helpers.ts';
import { jsonStream } from '../cli/json-stream.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { type LocalHub, startLocalHub } from '../helpers/local-hub.ts';
import { tempDir } from '../helpers/temp.ts';
import { collect, fixtureRepoFiles, runCli, startCli, waitForFile } from './helpers.ts';

/** `models download --json`: its result, the one object on stdout (its progress events are on stderr). */
function resultOf(r: { stdout: string; stderr: string }) {
  return jsonStream(r.stdout, r.stderr).result;
}

const NEEDED = [
  'chat_template.jinja',
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
];
const DEMO_DATA = fileURLToPath(new URL('../../resources/demo/persona.jsonl', import.meta.url));

/**
 * The llama fixture as a sharded checkpoint: its tensors split over two files named `names`, with
 * an index naming `indexed` (default: those two).
 */
function shardedLlama(names: [string, string], indexed: string[] = names): Record<string, Buffer> {
  const files = fixtureRepoFiles('llama');
  delete files['model.safetensors'];
  const tensors = loadSafetensors(join(modelDir('llama'), 'model.safetensors'));
  const all = [...tensors.keys()].sort();
  const weightMap: Record<string, string> = {};
  names.forEach((name, i) => {
    const part: Record<string, TensorToWrite> = {};
    for (const n of all.filter((_, k) => k % 2 === i)) {
      const t = tensors.get(n) as LoadedTensor;
      part[n] = { dtype: 'F32', shape: t.shape, data: t.data };
      weightMap[n] = indexed[i];
    }
    files[name] = encodeSafetensors(part, { format: 'pt' });
  });
  files['model.safetensors.index.json'] = Buffer.from(
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  return files;
}

describe('models download from a local Hub', { timeout: 600_000 }, () => {
  let hub: LocalHub;
  const env = (extra: Record<string, string> = {}) => ({
    HF_ENDPOINT: hub.url,
    HF_HUB_CACHE: join(home, 'hub'),
    REFT_STUDIO_HOME: join(home, 'studio'),
    ...extra,
  });
  let home = '';

  before(async () => {
    home = tempDir('reft-hub-');
    hub = await startLocalHub({
      'tiny/llama': { files: fixtureRepoFiles('llama'), downloads: 50 },
      'tiny/llama-drop': { files: fixtureRepoFiles('llama') },
      'tiny/llama-kill': { files: fixtureRepoFiles('llama') },
      'tiny/llama-corrupt': { files: fixtureRepoFiles('llama') },
      'tiny/llama-twice': { files: fixtureRepoFiles('llama') },
      'tiny/llama-hf-lock': { files: fixtureRepoFiles('llama') },
      'tiny/gpt2': { files: fixtureRepoFiles('gpt2') },
      'tiny/gated': { files: fixtureRepoFiles('gpt2'), gated: true, grantedTokens: ['hf_granted'] },
      'tiny/bert': {
        files: {
          'config.json': '{"model_type":"bert","architectures":["BertModel"]}',
          'model.safetensors': 'x',
        },
      },
      'tiny/gptq': {
        files: {
          ...fixtureRepoFiles('llama'),
          'config.json': JSON.stringify({
            ...JSON.parse(readFileSync(join(modelDir('llama'), 'config.json'), 'utf8')),
            quantization_config: { quant_method: 'gptq', bits: 4 },
          }),
        },
      },
      // A rope type the graphs do not build: refused from config.json, before the weights.
      'tiny/yarn': {
        files: {
          ...fixtureRepoFiles('llama'),
          'config.json': JSON.stringify({
            ...JSON.parse(readFileSync(join(modelDir('llama'), 'config.json'), 'utf8')),
            rope_parameters: { rope_theta: 10000, rope_type: 'yarn', factor: 4 },
          }),
        },
      },
      // Shards named otherwise than model-0000N-of-0000M, beside a stale shard of an earlier upload.
      'tiny/sharded': {
        files: {
          ...shardedLlama(['weights-a.safetensors', 'weights-b.safetensors']),
          'model-00001-of-00003.safetensors': readFileSync(join(modelDir('llama'), 'model.safetensors')),
        },
      },
      'tiny/shard-missing': {
        files: shardedLlama(
          ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'],
          ['model-00001-of-00002.safetensors', 'model-00009-of-00002.safetensors'],
        ),
      },
      'tiny/bin-only': {
        files: {
          'config.json': readFileSync(join(modelDir('gpt2'), 'config.json')),
          'pytorch_model.bin': 'x',
        },
      },
    });
  });
  after(() => hub.stop());

  const snapshotOf = (repo: string) => {
    const root = join(home, 'hub', `models--${repo.replace('/', '--')}`);
    const commit = readFileSync(join(root, 'refs', 'main'), 'utf8');
    return { root, commit, snap: join(root, 'snapshots', commit) };
  };
  const gets = (match: string) => hub.requests.filter((r) => r.method === 'GET' && r.path.includes(match));

  it('fetches only the needed files into the cache layout and adds the model', async () => {
    const r = await runCli(['models', 'download', 'tiny/llama', '--json'], env());
    assert.equal(r.code, 0, r.stderr);
    const out = resultOf(r);
    // Its progress, for a program that follows it: the download's bytes as JSON events on stderr.
    const moved = jsonStream(r.stdout, r.stderr).events.filter(
      (e) => e.event === 'progress' && e.kind === 'transfer',
    );
    assert.ok(
      moved.at(-1)?.label === 'tiny/llama' && moved.at(-1)?.bytes === moved.at(-1)?.totalBytes,
      r.stderr,
    );
    const { root, commit, snap } = snapshotOf('tiny/llama');
    assert.equal(out.commit, commit);
    assert.equal(hub.repos.get('tiny/llama')?.commit, commit, 'refs/main holds the commit');
    assert.equal(out.path, snap);
    assert.deepEqual(readdirSync(snap).sort(), NEEDED, 'no README, ONNX export or golden files');
    for (const f of NEEDED) {
      const link = join(snap, f);
      assert.ok(lstatSync(link).isSymbolicLink(), `${f} is a symlink`);
      assert.ok(!readlinkSync(link).startsWith('/'), `${f} links relatively, as huggingface_hub does`);
      const data = readFileSync(link);
      assert.deepEqual(data, readFileSync(join(modelDir('llama'), f)));
      const blob = realpathSync(link);
      assert.equal(blob, join(realpathSync(root), 'blobs', blob.split('/').pop() as string));
      const name = blob.split('/').pop();
      const expected = f.endsWith('.safetensors')
        ? createHash('sha256').update(data).digest('hex')
        : createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
      assert.equal(
        name,
        expected,
        `${f}: blob named by its ${f.endsWith('.safetensors') ? 'sha256' : 'git sha1'}`,
      );
    }
    assert.equal(out.model.downloaded, true);
    assert.equal(out.model.name, 'tiny/llama');
    assert.equal(out.model.hubRepo, 'tiny/llama');
    assert.equal(out.model.arch, 'llama');
    assert.equal(gets('README').length + gets('onnx').length, 0);
  });

  it('a sharded checkpoint: the shards its index names, whatever their names, and no others', async () => {
    const r = await runCli(['models', 'download', 'tiny/sharded', '--json'], env());
    assert.equal(r.code, 0, r.stderr);
    const out = resultOf(r);
    const { snap } = snapshotOf('tiny/sharded');
    assert.deepEqual(
      readdirSync(snap).sort(),
      [
        ...NEEDED.filter((f) => f !== 'model.safetensors'),
        'model.safetensors.index.json',
        'weights-a.safetensors',
        'weights-b.safetensors',
      ].sort(),
      'the indexed shards, not the stale one',
    );
    assert.equal(gets('model-00001-of-00003').length, 0, 'the stale shard is never requested');
    assert.equal(out.model.params, loadModelSpec(modelDir('llama')).params);
  });

  it('an index naming a shard the repository lacks is refused before any file is fetched', async () => {
    const r = await runCli(['models', 'download', 'tiny/shard-missing'], env());
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      'error: tiny/shard-missing: model.safetensors.index.json names model-00009-of-00002.safetensors, which the repository does not have',
    );
    assert.ok(!existsSync(join(home, 'hub', 'models--tiny--shard-missing')), 'nothing written');
  });

  it('a second download of the same model fetches nothing', async () => {
    const before = hub.requests.length;
    const r = await runCli(['models', 'download', 'tiny/llama', '--json'], env());
    assert.equal(r.code, 0, r.stderr);
    const out = resultOf(r);
    assert.equal(out.bytesFetched, 0);
    assert.equal(out.reused.length, NEEDED.length);
    assert.equal(out.model.created, false);
    // (a HEAD of config.json checks access, as huggingface_hub does; no file is transferred)
    const transfers = hub.requests
      .slice(before)
      .filter((q) => q.method === 'GET' && (q.path.includes('/resolve/') || q.path.startsWith('/cdn/')));
    assert.equal(transfers.length, 0);
  });

  it('a damaged blob in the cache (not the size the Hub lists) is fetched again, not reused', async () => {
    const { snap } = snapshotOf('tiny/llama');
    const blob = realpathSync(join(snap, 'model.safetensors'));
    const good = readFileSync(blob);
    truncateSync(blob, 1000);
    const r = await runCli(['models', 'download', 'tiny/llama', '--json'], env());
    assert.equal(r.code, 0, r.stderr);
    const out = resultOf(r);
    assert.equal(out.bytesFetched, good.length);
    assert.ok(!out.reused.includes('model.safetensors'));
    assert.deepEqual(readFileSync(join(snap, 'model.safetensors')), good);
  });

  it('resumes with a Range request after the server drops the connection mid-file', async () => {
    // The server sends 300,000 bytes and drops the connection only once the client has written
    // them: a drop sent right behind the bytes raced them, and a reset that arrived first lost
    // them all (the client then rightly started over from 0, without a Range).
    hub.faults.push({ path: 'model.safetensors', kind: 'stall', afterBytes: 300_000 });
    const partial = join(home, 'hub', 'models--tiny--llama-drop', 'blobs');
    hub.onStall = () => {
      void waitForFile(partial, '.incomplete', 300_000).then(() => hub.releaseStalled());
    };
    const r = await runCli(['models', 'download', 'tiny/llama-drop', '--json'], env()).finally(() => {
      hub.onStall = null;
    });
    assert.equal(r.code, 0, r.stderr);
    const cdn = gets('/cdn/tiny/llama-drop/');
    assert.equal(cdn.length, 2, 'one dropped transfer and one resumed');
    assert.equal(cdn[0].range, null);
    assert.equal(cdn[1].range, 'bytes=300000-', 'resumed where the received bytes end');
    assert.equal(cdn[1].status, 206);
    // config.json is read once more before the download, to refuse what it alone rules out.
    for (const f of NEEDED.filter((x) => !x.endsWith('.safetensors')))
      assert.equal(
        gets(`tiny/llama-drop/resolve/`).filter((q) => q.path.endsWith(`/${f}`)).length,
        f === 'config.json' ? 2 : 1,
        `${f} once (config.json twice)`,
      );
    const { snap } = snapshotOf('tiny/llama-drop');
    assert.deepEqual(
      readFileSync(join(snap, 'model.safetensors')),
      readFileSync(join(modelDir('llama'), 'model.safetensors')),
    );
  });

  it('a killed download resumes where it stopped without fetching finished files again', async () => {
    hub.faults.push({ path: 'model.safetensors', kind: 'stall', afterBytes: 400_000 });
    const stalled = new Promise<void>((r) => {
      hub.onStall = () => r();
    });
    const child = startCli(['models', 'download', 'tiny/llama-kill', '--json'], env());
    const done = collect(child);
    await stalled;
    // The kill comes once the client has written what it received.
    await waitForFile(join(home, 'hub', 'models--tiny--llama-kill', 'blobs'), '.incomplete', 400_000);
    child.kill('SIGKILL');
    await done;
    hub.releaseStalled();
    hub.onStall = null;
    const blobs = join(home, 'hub', 'models--tiny--llama-kill', 'blobs');
    const partial = readdirSync(blobs).filter((f) => f.endsWith('.incomplete'));
    assert.equal(partial.length, 1, 'the partial weights file is kept');
    const have = lstatSync(join(blobs, partial[0])).size;
    assert.equal(have, 400_000, 'the partial file holds what was received');

    const mark = hub.requests.length;
    const r = await runCli(['models', 'download', 'tiny/llama-kill', '--json'], env());
    assert.equal(r.code, 0, r.stderr);
    const second = hub.requests
      .slice(mark)
      .filter((q) => q.method === 'GET' && (q.path.includes('/resolve/') || q.path.startsWith('/cdn/')));
    assert.deepEqual(
      second.map((q) => q.path.split('/').pop()),
      [
        'model.safetensors',
        hub.repos.get('tiny/llama-kill')?.files.find((f) => f.path === 'model.safetensors')?.sha256,
      ],
      'only the unfinished file is requested again',
    );
    assert.equal(second[1].range, `bytes=${have}-`);
    assert.equal(resultOf(r).bytesFetched, 1022128 - have);
    const { snap } = snapshotOf('tiny/llama-kill');
    assert.deepEqual(
      readFileSync(join(snap, 'model.safetensors')),
      readFileSync(join(modelDir('llama'), 'model.safetensors')),
    );
    assert.equal(readdirSync(blobs).filter((f) => f.endsWith('.incomplete')).length, 0);
  });

  it('refuses a file whose bytes do not match the Hub’s checksum', async () => {
    hub.faults.push({ path: 'model.safetensors', kind: 'corrupt' });
    try {
      const r = await runCli(['models', 'download', 'tiny/llama-corrupt'], env());
      assert.equal(r.code, 1);
      const lines = r.stderr.trim().split('\n');
      assert.match(
        lines[lines.length - 1],
        /^error: tiny\/llama-corrupt\/model\.safetensors: checksum mismatch \(expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}\)/,
      );
      const root = join(home, 'hub', 'models--tiny--llama-corrupt');
      const blobs = readdirSync(join(root, 'blobs'));
      assert.equal(
        blobs.filter((b) => b.endsWith('.incomplete')).length,
        0,
        'the bad partial file is deleted',
      );
      assert.equal(blobs.length, NEEDED.length - 1, 'every other file is kept');
      assert.ok(!existsSync(join(root, 'refs', 'main')));
      const list = JSON.parse((await runCli(['models', 'list', '--json'], env())).stdout);
      assert.ok(!list.models.some((m: { name: string }) => m.name === 'tiny/llama-corrupt'));
    } finally {
      hub.faults.length = 0;
    }
  });

  it('explains gated, missing and unsupported repositories and bad tokens in one line', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ['tiny/gated'],
        {},
        /^error: tiny\/gated is gated: accept its conditions at http:\/\/127\.0\.0\.1:\d+\/tiny\/gated, then set HF_TOKEN/,
      ],
      [
        ['tiny/gated'],
        { HF_TOKEN: 'hf_user' },
        /^error: tiny\/gated is gated and the account of HF_TOKEN has not been granted access/,
      ],
      [
        ['tiny/nope'],
        {},
        /^error: tiny\/nope: no such model on http:\/\/127\.0\.0\.1:\d+ \(if it is private, set HF_TOKEN\)$/,
      ],
      [
        ['tiny/llama'],
        { HF_TOKEN: 'hf_bogus' },
        /^error: http:\/\/127\.0\.0\.1:\d+ refused HF_TOKEN \(invalid or expired\): set HF_TOKEN to a current token, or unset it$/,
      ],
      [
        ['tiny/llama'],
        { HF_TOKEN: 'abc' },
        /^error: HF_TOKEN does not look like a Hugging Face access token/,
      ],
      [['tiny/llama', '--revision', 'v9'], {}, /^error: tiny\/llama has no revision "v9"/],
      [
        ['tiny/bert'],
        {},
        /^error: tiny\/bert is a "bert" model \(supported: Llama, Mistral, Qwen2, Qwen3, Gemma, GPT-2, Phi-3\)$/m,
      ],
      [
        ['tiny/bin-only'],
        {},
        /^error: tiny\/bin-only has no safetensors weights \(only pytorch_model\.bin\)/,
      ],
      [
        ['tiny/gptq'],
        {},
        /^error: tiny\/gptq: a quantized checkpoint \(quantization_config "gptq"\); the studio reads float32/,
      ],
      [['tiny/yarn'], {}, /^error: tiny\/yarn: rope_parameters\.rope_type "yarn" is not supported/],
    ];
    for (const [args, extra, re] of cases) {
      const r = await runCli(['models', 'download', ...args], env(extra));
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line, got ${r.stderr}`);
      assert.match(r.stderr.trim(), re);
    }
    // A malformed id is bad usage (exit 2), as every command's malformed argument.
    const malformed = await runCli(['models', 'download', 'not a repo'], env());
    assert.equal(malformed.code, 2);
    assert.equal(malformed.stderr, 'error: "not a repo" is not a model id of the form ORG/NAME\n');
    assert.ok(!existsSync(join(home, 'hub', 'models--tiny--bert')), 'nothing written for a refused repo');
    assert.ok(
      !existsSync(join(home, 'hub', 'models--tiny--gptq')),
      'a quantized repo is refused before any file',
    );
    assert.ok(
      !existsSync(join(home, 'hub', 'models--tiny--yarn')),
      'an unsupported rope is refused before any file',
    );
    const ok = await runCli(['models', 'download', 'tiny/gated', '--json'], env({ HF_TOKEN: 'hf_granted' }));
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(
      hub.requests.some((q) => q.path.includes('tiny/gated/resolve') && q.auth === 'Bearer hf_granted'),
    );
  });

  it('checks free disk space before the first byte', async () => {
    const cacheDir = join(home, 'small-disk');
    await assert.rejects(
      fetchModel('tiny/gpt2', {
        cacheDir,
        access: { endpoint: hub.url, token: null },
        freeBytes: () => 100_000,
      }),
      (e: Error & { code?: string }) =>
        e.code === 'no-disk-space' &&
        e.message === `tiny/gpt2 needs 816 KB more in ${cacheDir} but only 100 KB is free`,
    );
    assert.ok(!existsSync(cacheDir));
  });

  it('a disk that fills up during the download is said in one line, without retries', async () => {
    // /dev/full answers every write with ENOSPC: the weights' partial file points there.
    const cacheDir = join(home, 'full-disk');
    const weights = readFileSync(join(modelDir('gpt2'), 'model.safetensors'));
    const etag = createHash('sha256').update(weights).digest('hex');
    const blobs = join(cacheDir, 'models--tiny--gpt2', 'blobs');
    mkdirSync(blobs, { recursive: true });
    symlinkSync('/dev/full', join(blobs, `${etag}.incomplete`));
    const before = gets(etag).length;
    await assert.rejects(
      fetchModel('tiny/gpt2', { cacheDir, access: { endpoint: hub.url, token: null } }),
      (e: Error & { code?: string }) =>
        e.code === 'no-disk-space' &&
        /^tiny\/gpt2\/model\.safetensors: cannot write .*\.incomplete \(the disk is full\); the partial file is kept: free some space, then run the download again to resume$/.test(
          e.message,
        ),
    );
    assert.equal(gets(etag).length - before, 1, 'asked once, not retried as a lost connection');
  });

  it('cancels on abort and keeps the partial file for a later resume', async () => {
    const cacheDir = join(home, 'cancel');
    hub.faults.push({ path: 'model.safetensors', kind: 'stall', afterBytes: 200_000 });
    const abort = new AbortController();
    hub.onStall = () => setTimeout(() => abort.abort(), 200);
    try {
      await assert.rejects(
        fetchModel('tiny/gpt2', {
          cacheDir,
          access: { endpoint: hub.url, token: null },
          signal: abort.signal,
        }),
        CancelledError,
      );
    } finally {
      hub.onStall = null;
      hub.releaseStalled();
    }
    const blobs = readdirSync(join(cacheDir, 'models--tiny--gpt2', 'blobs'));
    assert.equal(blobs.filter((b) => b.endsWith('.incomplete')).length, 1);
    const res = await fetchModel('tiny/gpt2', { cacheDir, access: { endpoint: hub.url, token: null } });
    assert.equal(res.bytesFetched, 800688 - 200_000);
  });

  it('two downloads of one model at once: the second waits for the first, nothing is fetched twice', async () => {
    const cacheDir = join(home, 'twice');
    const access = { endpoint: hub.url, token: null };
    hub.faults.push({ path: 'model.safetensors', kind: 'stall', afterBytes: 300_000 });
    const stalled = new Promise<void>((r) => {
      hub.onStall = () => r();
    });
    let waited = false;
    try {
      const first = fetchModel('tiny/llama-twice', { cacheDir, access });
      await stalled;
      const cdnBefore = gets('/cdn/tiny/llama-twice/').length;
      const second = fetchModel('tiny/llama-twice', {
        cacheDir,
        access,
        onWait: () => {
          waited = true;
        },
      });
      // Either it waits for the first (right) or it sends its own request for the weights (wrong).
      await waitFor(
        'the second download to wait or to fetch',
        async () => waited || gets('/cdn/tiny/llama-twice/').length > cdnBefore,
      );
      assert.ok(waited, 'the second download waits for the blob being downloaded');
      hub.releaseStalled();
      const [a, b] = await Promise.all([first, second]);
      assert.equal(a.path, b.path);
      assert.equal(b.bytesFetched, 0, 'the second fetched nothing');
      assert.ok(b.reused.includes('model.safetensors'));
      assert.equal(gets('/cdn/tiny/llama-twice/').length, 2, 'the first transfer and its resume only');
      assert.deepEqual(
        readFileSync(join(a.path, 'model.safetensors')),
        readFileSync(join(modelDir('llama'), 'model.safetensors')),
      );
    } finally {
      hub.onStall = null;
      hub.releaseStalled();
    }
  });

  const hasFlock = !spawnSync('flock', ['--version']).error;
  it('waits while another program (huggingface_hub) holds the blob’s lock in .locks/', {
    skip: !hasFlock,
  }, async () => {
    const cacheDir = join(home, 'hf-lock');
    const sha = hub.repos
      .get('tiny/llama-hf-lock')
      ?.files.find((f) => f.path === 'model.safetensors')?.sha256;
    // huggingface_hub's lock for this blob: an exclusive flock(2) on .locks/models--ORG--NAME/<etag>.lock.
    const lock = join(cacheDir, '.locks', 'models--tiny--llama-hf-lock', `${sha}.lock`);
    mkdirSync(join(lock, '..'), { recursive: true });
    // The holder keeps the lock until its `cat` reads the end of its input.
    const holder = spawn('flock', ['--exclusive', '--close', lock, 'cat'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const release = () => {
      holder.stdin?.end();
    };
    try {
      await waitFor(
        'the other program to hold the lock',
        async () => spawnSync('flock', ['--exclusive', '--nonblock', lock, 'true']).status === 1,
      );
      let waited = false;
      const done = fetchModel('tiny/llama-hf-lock', {
        cacheDir,
        access: { endpoint: hub.url, token: null },
        onWait: () => {
          waited = true;
        },
      });
      await waitFor('the download to wait for the lock', async () => waited);
      assert.equal(gets('/cdn/tiny/llama-hf-lock/').length, 0, 'no byte of the locked blob fetched');
      release();
      const res = await done;
      assert.deepEqual(
        readFileSync(join(res.path, 'model.safetensors')),
        readFileSync(join(modelDir('llama'), 'model.safetensors')),
      );
      assert.equal(
        spawnSync('flock', ['--exclusive', '--nonblock', lock, 'true']).status,
        0,
        'the lock is released when the download ends',
      );
    } finally {
      release();
    }
  });

  it('the downloaded snapshot generates like its source folder and trains', async () => {
    const { snap } = snapshotOf('tiny/llama');
    const gen = async (model: string) => {
      const r = await runCli(
        [
          'generate',
          '--model',
          model,
          '--prompt',
          'Hello there',
          '--greedy',
          '--max-new-tokens',
          '6',
          '--json',
        ],
        env(),
      );
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout).tokens as number[];
    };
    assert.deepEqual(await gen(snap), await gen(modelDir('llama')));
    const r = await runCli(
      ['train', '--model', snap, '--data', DEMO_DATA, '--max-steps', '2', '--json'],
      env(),
    );
    assert.equal(r.code, 0, r.stderr);
    const out = resultOf(r);
    assert.equal(out.steps ?? out.step ?? out.totalSteps ?? 2, 2);
  });
});
