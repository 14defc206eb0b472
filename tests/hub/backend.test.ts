// The backend's Hugging Face methods against a local Hub: search results carry name, size,
// architecture, downloads, licence and gated state; a preview says what a download fetches and what
// fits; a download runs as a job whose progress pushes carry bytes and speed, ends with the model in
// the library and can be cancelled (a second download resumes); new cache snapshots are noticed;
// removing a downloaded model deletes its files only when asked, and never for a model the studio
// did not download.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PushTopics } from '../../electron/backend/events.ts';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { type LocalHub, startLocalHub } from '../helpers/local-hub.ts';
import { tempDir } from '../helpers/temp.ts';
import { fixtureRepoFiles, writeCacheSnapshot } from './helpers.ts';

describe('backend: models from the Hub and the cache', { timeout: 300_000 }, () => {
  let hub: LocalHub;
  let b: Backend;
  let home = '';
  const pushes: { topic: string; data: unknown }[] = [];
  const saved = { ...process.env };

  const call = async <T>(method: string, params: unknown = {}): Promise<T> => {
    const r = await b.handle({ type: 'request', id: 1, method, params });
    if (r.type === 'error') throw Object.assign(new Error(r.error.message), { code: r.error.code });
    return r.result as T;
  };
  const waitFor = async (pred: () => boolean, what: string, ms = 60_000) => {
    const t0 = Date.now();
    while (!pred()) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const jobPushes = (id: number) =>
    pushes
      .filter((p) => p.topic === 'jobs/progress' && (p.data as PushTopics['jobs/progress']).id === id)
      .map((p) => {
        const j = p.data as PushTopics['jobs/progress'];
        return { ...j, download: j.detail?.event === 'download-progress' ? j.detail : undefined };
      });

  const llamaConfig = (extra: Record<string, unknown>) =>
    JSON.stringify({ ...JSON.parse(readFileSync(join(modelDir('llama'), 'config.json'), 'utf8')), ...extra });

  before(async () => {
    home = tempDir('reft-hub-backend-');
    hub = await startLocalHub({
      'tiny/llama': { files: fixtureRepoFiles('llama'), downloads: 900, license: 'mit' },
      'tiny/gpt2': {
        files: fixtureRepoFiles('gpt2'),
        downloads: 10,
        gated: true,
        grantedTokens: ['hf_granted'],
      },
      'tiny/bert': { files: { 'config.json': '{"model_type":"bert","architectures":["BertModel"]}' } },
      // Refused from config.json alone: a rope the graphs do not build (a field the Hub's model info
      // leaves out), a quantized checkpoint (one it gives).
      'rope/yarn': {
        files: {
          ...fixtureRepoFiles('llama'),
          'config.json': llamaConfig({
            rope_parameters: { rope_theta: 10000, rope_type: 'yarn', factor: 4 },
          }),
        },
      },
      'rope/gptq': {
        files: {
          ...fixtureRepoFiles('llama'),
          'config.json': llamaConfig({ quantization_config: { quant_method: 'gptq', bits: 4 } }),
        },
      },
    });
    process.env.HF_ENDPOINT = hub.url;
    process.env.HF_HUB_CACHE = join(home, 'hub');
    process.env.REFT_STUDIO_CACHE_POLL_MS = '100';
    delete process.env.HF_TOKEN;
    delete process.env.HF_HOME;
    b = createBackend(join(home, 'studio'), { seedDemo: false });
    b.events.onAny((topic, data) => pushes.push({ topic, data }));
  });
  after(async () => {
    await b.close();
    await hub.stop();
    process.env = saved;
  });

  it('search lists name, size, architecture, downloads, licence and gated state', async () => {
    const res = await call<Record<string, unknown>[]>('models/search', { query: 'tiny' });
    assert.deepEqual(
      res.map((r) => r.repo),
      ['tiny/llama', 'tiny/gpt2', 'tiny/bert'],
    );
    const [llama, gpt2, bert] = res;
    assert.equal(llama.modelType, 'llama');
    assert.equal(llama.downloads, 900);
    assert.equal(llama.license, 'mit');
    assert.equal(llama.gated, false);
    assert.equal(llama.supported, true);
    assert.ok((llama.params as number) > 200_000);
    // From the Hub's count per dtype: float32 weights (and the golden file's few int64 ids).
    const size = llama.sizeBytes as number;
    const params = llama.params as number;
    assert.ok(size > 4 * params && size < 4.01 * params, `${size} bytes for ${params} parameters`);
    assert.equal(gpt2.gated, 'manual');
    assert.equal(bert.supported, false);
  });

  it('a missing token is asked for in Settings, not HF_TOKEN (the CLI says that)', async () => {
    await assert.rejects(call('models/hub-info', { repo: 'tiny/nope' }), {
      code: 'repo-not-found',
      message: `tiny/nope: no such model on ${hub.url} (if it is private, save a token in Settings › Hugging Face)`,
    });
  });

  it('a refused token is named by where it was set: Settings, or HF_TOKEN', async () => {
    try {
      await call('settings/environment-set', { hubToken: 'hf_expiredTokenABCD' });
      await assert.rejects(call('models/search', { query: 'tiny' }), {
        code: 'bad-token',
        message: `${hub.url} refused the token saved in Settings (invalid or expired): save a current token in Settings › Hugging Face, or remove it there`,
      });
      await call('settings/environment-set', { hubToken: null });
      process.env.HF_TOKEN = 'hf_exportedBogus';
      await assert.rejects(call('models/search', { query: 'tiny' }), {
        message: `${hub.url} refused HF_TOKEN (invalid or expired): set HF_TOKEN to a current token, or unset it`,
      });
    } finally {
      await call('settings/environment-set', { hubToken: null });
      delete process.env.HF_TOKEN;
    }
  });

  it('a preview lists the files, the bytes to fetch, the free disk and what fits', async () => {
    const p = await call<{
      files: { path: string; cached: boolean }[];
      totalBytes: number;
      missingBytes: number;
      freeBytes: number;
      cacheDir: string;
      supported: boolean;
      fit: { rows: { precision: string; chatBytes: number }[] };
    }>('models/hub-info', { repo: 'tiny/llama' });
    assert.equal(p.supported, true);
    assert.ok(p.files.some((f) => f.path === 'model.safetensors'));
    assert.ok(!p.files.some((f) => f.path === 'README.md'));
    assert.equal(p.missingBytes, p.totalBytes);
    assert.ok(p.freeBytes > 0);
    // A damaged blob (another size than the Hub lists) is fetched again, so it is not "cached": the
    // preview once said "already downloaded" while its remaining bytes counted the whole file.
    const weights = hub.repos.get('tiny/llama')?.files.find((f) => f.path === 'model.safetensors');
    const blob = join(p.cacheDir, 'models--tiny--llama', 'blobs', weights?.sha256 ?? '');
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(blob, 'truncated');
    try {
      const damaged = await call<typeof p>('models/hub-info', { repo: 'tiny/llama' });
      assert.equal(damaged.files.find((f) => f.path === 'model.safetensors')?.cached, false);
      assert.equal(damaged.missingBytes, damaged.totalBytes);
    } finally {
      rmSync(blob);
    }
    assert.deepEqual(
      p.fit.rows.map((r) => r.precision),
      ['fp32', 'fp16', 'bf16', 'int8', 'int4'],
    );
    const bert = await call<{ supported: boolean; reason: { code: string } }>('models/hub-info', {
      repo: 'tiny/bert',
    });
    assert.equal(bert.supported, false);
    assert.equal(bert.reason.code, 'unsupported-architecture');
    await assert.rejects(call('models/hub-info', { repo: 'tiny/none' }), /tiny\/none: no such model/);
  });

  it('a model the download refuses from config.json is not supported in the preview, and says why', async () => {
    // The rope is not among the fields the Hub's model info gives: the preview reads config.json.
    const yarn = await call<{ supported: boolean; reason: { code: string; message: string }; fit: unknown }>(
      'models/hub-info',
      { repo: 'rope/yarn' },
    );
    assert.equal(yarn.supported, false);
    assert.equal(yarn.reason.code, 'unsupported-rope');
    assert.match(yarn.reason.message, /^rope\/yarn: rope_parameters\.rope_type "yarn" is not supported/);
    assert.equal(yarn.fit, null, 'no "what fits" table for a model the download refuses');
    // The search judges on the fields it has: a quantized checkpoint is marked, with the reason.
    const found = await call<{ repo: string; supported: boolean; unsupported: { message: string } | null }[]>(
      'models/search',
      { query: 'rope' },
    );
    const gptq = found.find((r) => r.repo === 'rope/gptq');
    assert.equal(gptq?.supported, false);
    assert.match(
      gptq?.unsupported?.message ?? '',
      /^rope\/gptq: a quantized checkpoint \(quantization_config "gptq"\)/,
    );
    assert.equal(
      found.find((r) => r.repo === 'tiny/bert'),
      undefined,
    );
  });

  it('a download job pushes progress with bytes and speed and adds the model', async () => {
    hub.faults.push({ path: 'model.safetensors', kind: 'drop', afterBytes: 500_000 });
    const { jobId } = await call<{ jobId: number }>('models/download', { repo: 'tiny/llama' });
    await waitFor(
      () => jobPushes(jobId).some((p) => p.state === 'completed' || p.state === 'failed'),
      'the job',
    );
    const ps = jobPushes(jobId);
    const last = ps[ps.length - 1];
    assert.equal(last.state, 'completed', JSON.stringify(last.error));
    const transfers = ps.map((p) => p.download).filter((d) => d !== undefined);
    assert.ok(transfers.length >= 3);
    const final = transfers[transfers.length - 1];
    assert.equal(final.bytesDone, final.bytesTotal);
    assert.ok(transfers.every((d) => typeof d.bytesPerS === 'number'));
    const models = await call<{ id: number; name: string; downloaded: boolean }[]>('models/list');
    const m = models.find((x) => x.name === 'tiny/llama');
    assert.ok(m?.downloaded);
    assert.ok(pushes.some((p) => p.topic === 'library/changed'));
    const downloads = await call<{ id: number; repo: string; modelId: number }[]>('models/downloads');
    assert.equal(downloads[0].repo, 'tiny/llama');
    assert.equal(downloads[0].modelId, m?.id);
  });

  it('a gated download fails with its one line; cancel keeps the partial file', async () => {
    const { jobId } = await call<{ jobId: number }>('models/download', { repo: 'tiny/gpt2' });
    await waitFor(() => jobPushes(jobId).some((p) => p.state === 'failed'), 'the failure');
    const failed = jobPushes(jobId).find((p) => p.state === 'failed');
    // With no token at all, the studio asks for one in Settings (HF_TOKEN is the CLI's way).
    assert.equal(
      failed?.error?.message,
      `tiny/gpt2 is gated: accept its conditions at ${hub.url}/tiny/gpt2, then save a token of that account in Settings › Hugging Face`,
    );

    process.env.HF_TOKEN = 'hf_granted';
    hub.faults.push({ path: 'model.safetensors', kind: 'stall', afterBytes: 300_000 });
    const stalled = new Promise<void>((r) => {
      hub.onStall = () => r();
    });
    const second = await call<{ jobId: number }>('models/download', { repo: 'tiny/gpt2' });
    await stalled;
    await waitFor(
      () => jobPushes(second.jobId).some((p) => (p.download?.bytesDone ?? 0) >= 300_000),
      'the partial bytes',
    );
    // Another window asking for the same files gets this download; another revision is other files.
    // Before, any download of the repository was shared: a window asking for 'v2' got 'main'.
    const same = await call<{ jobId: number }>('models/download', { repo: 'tiny/gpt2', revision: 'main' });
    assert.equal(same.jobId, second.jobId);
    const other = await call<{ jobId: number }>('models/download', { repo: 'tiny/gpt2', revision: 'v2' });
    assert.notEqual(other.jobId, second.jobId);
    const listed = await call<{ id: number; revision: string }[]>('models/downloads');
    assert.deepEqual(
      listed.filter((r) => r.id === other.jobId || r.id === second.jobId).map((r) => r.revision),
      ['v2', 'main'],
    );
    assert.deepEqual(await call('models/download-cancel', { jobId: other.jobId }), { cancelled: true });
    assert.deepEqual(await call('models/download-cancel', { jobId: second.jobId }), { cancelled: true });
    hub.releaseStalled();
    hub.onStall = null;
    await waitFor(() => jobPushes(second.jobId).some((p) => p.state === 'cancelled'), 'the cancel');
    const blobs = join(home, 'hub', 'models--tiny--gpt2', 'blobs');
    await waitFor(() => readdirSync(blobs).some((f) => f.endsWith('.incomplete')), 'the partial file');
    // The preview counts the partial file as fetched: what a new download resumes is what is left.
    const p = await call<{ missingBytes: number; remainingBytes: number }>('models/hub-info', {
      repo: 'tiny/gpt2',
    });
    assert.ok(p.remainingBytes <= p.missingBytes - 300_000, JSON.stringify(p));
    const third = await call<{ jobId: number }>('models/download', { repo: 'tiny/gpt2' });
    await waitFor(() => jobPushes(third.jobId).some((p) => p.state === 'completed'), 'the resumed download');
    // The failed and the cancelled download that this one took over are no longer listed.
    const rows = await call<{ id: number; repo: string; revision: string }[]>('models/downloads');
    assert.deepEqual(
      rows.filter((r) => r.repo === 'tiny/gpt2' && r.revision === 'main').map((r) => r.id),
      [third.jobId],
    );
    const cdn = hub.requests.filter((q) => q.path.startsWith('/cdn/tiny/gpt2/'));
    assert.match(cdn[cdn.length - 1].range ?? '', /^bytes=\d{6}-$/);
    delete process.env.HF_TOKEN;
  });

  it('notices a snapshot that another tool writes into the cache and lists it in a scan', async () => {
    const files: Record<string, Buffer> = {};
    for (const f of readdirSync(modelDir('qwen2'))) files[f] = readFileSync(join(modelDir('qwen2'), f));
    const snap = writeCacheSnapshot(join(home, 'hub'), 'other/qwen2', files);
    await waitFor(
      () =>
        pushes.some(
          (p) => p.topic === 'models/cache-changed' && (p.data as { added: string[] }).added.includes(snap),
        ),
      'the cache push',
      10_000,
    );
    const scan = await call<{ models: { name: string; supported: boolean; modelId: number | null }[] }>(
      'models/scan',
    );
    const q = scan.models.find((m) => m.name === 'other/qwen2');
    assert.equal(q?.supported, true);
    assert.equal(q?.modelId, null);
    assert.ok(scan.models.find((m) => m.name === 'tiny/llama')?.modelId);
  });

  it('remove deletes files only of studio downloads, and only when asked', async () => {
    const list = await call<{ id: number; name: string; path: string }[]>('models/list');
    const added = await call<{ id: number; created: boolean }>('models/add', {
      path: join(home, 'hub', 'models--other--qwen2'),
    });
    assert.equal(added.created, true);
    await assert.rejects(
      call('models/remove', { id: added.id, deleteFiles: true }),
      /was not downloaded by the studio/,
    );
    assert.ok(existsSync(join(home, 'hub', 'models--other--qwen2')));
    const again = await call<{ id: number; created: boolean }>('models/add', {
      path: join(home, 'hub', 'models--other--qwen2'),
    });
    assert.deepEqual([again.id, again.created], [added.id, false]);

    const llama = list.find((m) => m.name === 'tiny/llama');
    assert.ok(llama);
    const r = await call<{ deletedBytes: number }>('models/remove', { id: llama.id, deleteFiles: true });
    assert.ok(r.deletedBytes > 1_000_000);
    assert.ok(
      !existsSync(join(home, 'hub', 'models--tiny--llama')),
      'the only snapshot went with its repo folder',
    );
    assert.ok(existsSync(join(home, 'hub', 'models--tiny--gpt2')), 'other repositories stay');
  });
});
