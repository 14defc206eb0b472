// Notices models appearing in (or leaving) the Hugging Face cache while the studio runs — a download
// by huggingface_hub, transformers or `reft-studio models download` in a terminal — and tells every
// client with a 'models/cache-changed' push, so the Models page offers to add them. A cheap poll of
// the cache's snapshot folders (a readdir per repository), because fs.watch is not recursive on
// every platform and misses changes made through symlinked folders.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendEvents } from '../events.ts';
import { repoIdOfFolder } from './cache.ts';
import { hubCacheDir } from './cache-dir.ts';

/**
 * Complete-looking snapshot folders (config.json present) in a cache, each with the names of its
 * files: a download links config.json first and the weights minutes later, and the page must hear
 * of both (a scan between them says "no weights").
 */
function snapshots(cacheDir: string): Map<string, string> {
  const out = new Map<string, string>();
  let repos: string[];
  try {
    repos = readdirSync(cacheDir);
  } catch {
    return out;
  }
  for (const name of repos) {
    if (!repoIdOfFolder(name)) continue;
    const snaps = join(cacheDir, name, 'snapshots');
    try {
      for (const c of readdirSync(snaps)) {
        const snap = join(snaps, c);
        if (existsSync(join(snap, 'config.json'))) out.set(snap, readdirSync(snap).sort().join('\n'));
      }
    } catch {}
  }
  return out;
}

export interface CacheWatcher {
  /** The cache watched now: the one given, else the current HF_HUB_CACHE (Settings may change it). */
  readonly cacheDir: string;
  /** Checks now (also called by the timer); returns the snapshot folders that appeared. */
  check(): string[];
  stop(): void;
}

export function watchHubCache(
  events: BackendEvents,
  opts: { cacheDir?: string; intervalMs?: number } = {},
): CacheWatcher {
  let cacheDir = opts.cacheDir ?? hubCacheDir();
  let known = snapshots(cacheDir);
  const check = (): string[] => {
    // The cache folder changed in Settings: watch the new one from what it holds now (the Models
    // page scans it again on that change), else downloads into it went unnoticed until a restart.
    const current = opts.cacheDir ?? hubCacheDir();
    if (current !== cacheDir) {
      cacheDir = current;
      known = snapshots(cacheDir);
      return [];
    }
    const now = snapshots(cacheDir);
    const added = [...now.keys()].filter((k) => !known.has(k)).sort();
    const changed = [...now]
      .filter(([k, files]) => known.has(k) && known.get(k) !== files)
      .map(([k]) => k)
      .sort();
    const removed = [...known.keys()].filter((k) => !now.has(k)).sort();
    known = now;
    if (added.length || changed.length || removed.length)
      events.emit('models/cache-changed', { cacheDir, added, changed, removed });
    return added;
  };
  const interval = opts.intervalMs ?? (Number(process.env.REFT_STUDIO_CACHE_POLL_MS) || 5000);
  const timer = setInterval(check, interval);
  timer.unref();
  return {
    get cacheDir() {
      return cacheDir;
    },
    check,
    stop: () => clearInterval(timer),
  };
}
