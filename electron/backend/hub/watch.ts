// Notices models appearing in (or leaving) the Hugging Face cache while the studio runs — a download
// by huggingface_hub, transformers or `reft-studio models download` in a terminal — and tells every
// client with a 'models/cache-changed' push, so the Models page offers to add them. A cheap poll of
// the cache's snapshot folders (a readdir per repository), because fs.watch is not recursive on
// every platform and misses changes made through symlinked folders. The poll runs on the RPC loop, so
// it lists asynchronously (libuv's threads do the reading) one folder at a time: listed at once, a
// cache of 300 repositories held every window's requests 15–40 ms per poll and ~80 ms at start.

import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackendEvents } from '../events.ts';
import { repoIdOfFolder } from './cache.ts';
import { hubCacheDir } from './cache-dir.ts';

/**
 * The names of a snapshot's files, one a line, or null where it has no config.json (yet) or cannot
 * be listed. access follows config.json's symlink: a link to a blob not yet there is no config.
 */
async function snapshotFiles(snap: string): Promise<string | null> {
  try {
    await access(join(snap, 'config.json'));
    return (await readdir(snap)).sort().join('\n');
  } catch {
    return null;
  }
}

/**
 * Complete-looking snapshot folders (config.json present) in a cache, each with the names of its
 * files: a download links config.json first and the weights minutes later, and the page must hear
 * of both (a scan between them says "no weights").
 */
async function snapshots(cacheDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let repos: string[];
  try {
    repos = await readdir(cacheDir);
  } catch {
    return out;
  }
  for (const name of repos) {
    if (!repoIdOfFolder(name)) continue;
    const snaps = join(cacheDir, name, 'snapshots');
    const commits = await readdir(snaps).catch(() => [] as string[]);
    // Each snapshot on its own: one that goes while the poll reads it (a cache cleaned meanwhile)
    // is gone, not its repository's other snapshots with it.
    for (const c of commits) {
      const snap = join(snaps, c);
      const files = await snapshotFiles(snap);
      if (files !== null) out.set(snap, files);
    }
  }
  return out;
}

export interface CacheWatcher {
  /** The cache watched now: the one given, else the current HF_HUB_CACHE (Settings may change it). */
  readonly cacheDir: string;
  /** Checks now (also called by the timer), after any check under way; the snapshot folders that appeared. */
  check(): Promise<string[]>;
  stop(): void;
}

export function watchHubCache(
  events: BackendEvents,
  opts: { cacheDir?: string; intervalMs?: number } = {},
): CacheWatcher {
  let cacheDir = opts.cacheDir ?? hubCacheDir();
  let stopped = false;
  // What the cache held at the last check; the first listing runs as the host starts, off the loop too.
  let known = snapshots(cacheDir);
  const once = async (): Promise<string[]> => {
    const before = await known;
    // The cache folder changed in Settings: watch the new one from what it holds now (the Models
    // page scans it again on that change), else downloads into it went unnoticed until a restart.
    const current = opts.cacheDir ?? hubCacheDir();
    if (current !== cacheDir) {
      cacheDir = current;
      known = snapshots(cacheDir);
      await known;
      return [];
    }
    const listing = snapshots(cacheDir);
    known = listing;
    const now = await listing;
    const added = [...now.keys()].filter((k) => !before.has(k)).sort();
    const changed = [...now]
      .filter(([k, files]) => before.has(k) && before.get(k) !== files)
      .map(([k]) => k)
      .sort();
    const removed = [...before.keys()].filter((k) => !now.has(k)).sort();
    if (!stopped && (added.length || changed.length || removed.length))
      events.emit('models/cache-changed', { cacheDir, added, changed, removed });
    return added;
  };
  // Checks run one after another, each diffing against the listing of the one before.
  let last: Promise<unknown> = known;
  let running = 0;
  const check = (): Promise<string[]> => {
    running++;
    const next = last.then(once, once).finally(() => running--);
    last = next.catch(() => {});
    return next;
  };
  const interval = opts.intervalMs ?? (Number(process.env.REFT_STUDIO_CACHE_POLL_MS) || 5000);
  // A poll still listing a slow disk when the timer fires again is not queued behind.
  const timer = setInterval(() => running || check().catch(() => {}), interval);
  timer.unref();
  return {
    get cacheDir() {
      return cacheDir;
    },
    check,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
