// The Hugging Face cache watcher (electron/backend/hub/watch.ts): a download links config.json first
// and the weights later, so the snapshot is pushed as added, then as changed once its weights are
// there — a scan between the two says the snapshot cannot be used, the one after it that it can.

import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BackendEvents, type CacheChange } from '../../electron/backend/events.ts';
import { scanForModels } from '../../electron/backend/hub/scan.ts';
import { watchHubCache } from '../../electron/backend/hub/watch.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';
import { writeCacheSnapshot } from './helpers.ts';

test('a snapshot is pushed when it appears, again when its weights arrive, and when it goes', async () => {
  const cache = tempDir('reft-watch-');
  const events = new BackendEvents();
  const pushes: CacheChange[] = [];
  events.onAny((topic, data) => {
    if (topic === 'models/cache-changed') pushes.push(data as CacheChange);
  });
  const watcher = watchHubCache(events, { cacheDir: cache, intervalMs: 3_600_000 });
  try {
    const files: Record<string, Buffer> = {};
    for (const f of readdirSync(modelDir('llama'))) files[f] = readFileSync(join(modelDir('llama'), f));
    const configOnly = { 'config.json': files['config.json'] };
    const snap = writeCacheSnapshot(cache, 'other/llama', configOnly);

    assert.deepEqual(await watcher.check(), [snap]);
    assert.deepEqual(pushes.at(-1), { cacheDir: cache, added: [snap], changed: [], removed: [] });
    const early = scanForModels({ dir: cache }).models.find((m) => m.name === 'other/llama');
    assert.equal(early?.supported, false, 'config.json alone is not a usable model');

    const { 'config.json': _, ...rest } = files;
    writeCacheSnapshot(cache, 'other/llama', rest, { commit: snap.split('/').at(-1) });
    assert.deepEqual(await watcher.check(), []);
    assert.deepEqual(pushes.at(-1), { cacheDir: cache, added: [], changed: [snap], removed: [] });
    assert.equal(scanForModels({ dir: cache }).models.find((m) => m.name === 'other/llama')?.supported, true);

    const count = pushes.length;
    await watcher.check();
    assert.equal(pushes.length, count, 'nothing new, nothing pushed');

    rmSync(join(cache, 'models--other--llama'), { recursive: true });
    await watcher.check();
    assert.deepEqual(pushes.at(-1), { cacheDir: cache, added: [], changed: [], removed: [snap] });
  } finally {
    watcher.stop();
  }
});

test('a cache folder changed in Settings is watched from then on, without a restart', async () => {
  // Bug: the watcher kept polling the folder it started with, so a model downloaded into the new
  // cache (huggingface_hub in a terminal) was never offered until the studio restarted.
  const [first, second] = [tempDir('reft-watch-a-'), tempDir('reft-watch-b-')];
  const saved = process.env.HF_HUB_CACHE;
  process.env.HF_HUB_CACHE = first;
  const events = new BackendEvents();
  const pushes: CacheChange[] = [];
  events.onAny((topic, data) => {
    if (topic === 'models/cache-changed') pushes.push(data as CacheChange);
  });
  const watcher = watchHubCache(events, { intervalMs: 3_600_000 });
  try {
    const config = { 'config.json': readFileSync(join(modelDir('llama'), 'config.json')) };
    writeCacheSnapshot(second, 'other/already-there', config);
    process.env.HF_HUB_CACHE = second;
    // What the new folder held already is its starting point, not news (the Models page scans it).
    assert.deepEqual(await watcher.check(), []);
    assert.equal(watcher.cacheDir, second);
    const snap = writeCacheSnapshot(second, 'other/llama', config);
    assert.deepEqual(await watcher.check(), [snap]);
    assert.deepEqual(pushes, [{ cacheDir: second, added: [snap], changed: [], removed: [] }]);
  } finally {
    watcher.stop();
    if (saved === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = saved;
  }
});

test('a cache of 300 repositories is read off the RPC loop, folder by folder', async () => {
  // Bug: the watcher listed the whole cache with readdirSync on the RPC loop, at start and every
  // poll: 300 repositories held every window's requests 15–40 ms a poll, ~80 ms at start (shared
  // 2-core machine). Every folder is now read by libuv's threads, the loop only taking the names.
  // Counted as the asynchronous fs requests made (async_hooks), since a time would be flaky on a
  // loaded machine: two folders a repository at least (its snapshots/, the snapshot).
  const REPOS = 300;
  const cache = tempDir('reft-watch-many-');
  const files: Record<string, Buffer> = {};
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'README.md'])
    files[f] = Buffer.from(f);
  for (let i = 0; i < REPOS; i++) writeCacheSnapshot(cache, `stand-in/model-${i}`, files);
  let reads = 0;
  const hook = createHook({
    init: (_id, type) => {
      if (type === 'FSREQPROMISE' || type === 'FSREQCALLBACK') reads++;
    },
  });
  const readsDuring = async (work: () => Promise<unknown>) => {
    const from = reads;
    await work();
    return reads - from;
  };
  const events = new BackendEvents();
  let watcher: ReturnType<typeof watchHubCache> | undefined;
  hook.enable();
  try {
    // The first listing (as the host starts) and the first poll each read every repository.
    const atStart = await readsDuring(async () => {
      watcher = watchHubCache(events, { cacheDir: cache, intervalMs: 3_600_000 });
      assert.deepEqual(await watcher.check(), []);
    });
    const late = writeCacheSnapshot(cache, 'stand-in/late', files);
    let found: string[] = [];
    const inPoll = await readsDuring(async () => {
      found = (await watcher?.check()) ?? [];
    });
    assert.deepEqual(found, [late]);
    assert.ok(atStart >= 2 * 2 * REPOS, `${atStart} folders read off the loop at start`);
    assert.ok(inPoll >= 2 * REPOS, `${inPoll} folders read off the loop in a poll`);
  } finally {
    hook.disable();
    watcher?.stop();
  }
});

test('a snapshot that vanishes while its repository is listed takes none of its siblings with it', async () => {
  // Bug: one try around a repository's snapshots, so the second snapshot of a repository whose first
  // went between its config.json's check and its listing (a cache cleaned while the poll read it, now
  // that a poll spans many event-loop turns) was left out too: pushed as removed, then as added again.
  const cache = tempDir('reft-watch-vanish-');
  const files = { 'config.json': Buffer.from('{}'), 'model.safetensors': Buffer.from('w') };
  const [first, second] = ['a1'.repeat(20), 'b2'.repeat(20)].map((commit) =>
    writeCacheSnapshot(cache, 'org/two', files, { commit }),
  );
  const events = new BackendEvents();
  const pushes: CacheChange[] = [];
  events.onAny((topic, data) => {
    if (topic === 'models/cache-changed') pushes.push(data as CacheChange);
  });
  const watcher = watchHubCache(events, { cacheDir: cache, intervalMs: 3_600_000 });
  // The fs requests of a check, in order: the cache's listing, the repository's snapshots/, then per
  // snapshot (sorted) its config.json's check and its listing. The first snapshot goes as its listing
  // is asked for, its config.json found a moment before.
  let requests = 0;
  const hook = createHook({
    init: (_id, type) => {
      if (type === 'FSREQPROMISE' && ++requests === 4) rmSync(first, { recursive: true });
    },
  });
  try {
    assert.deepEqual(await watcher.check(), []);
    hook.enable();
    await watcher.check();
    hook.disable();
    assert.ok(requests >= 4, `${requests} fs requests`);
    assert.deepEqual(pushes, [{ cacheDir: cache, added: [], changed: [], removed: [first] }]);
    await watcher.check();
    assert.equal(pushes.length, 1, `${second} was there all along: ${JSON.stringify(pushes.slice(1))}`);
  } finally {
    hook.disable();
    watcher.stop();
  }
});
