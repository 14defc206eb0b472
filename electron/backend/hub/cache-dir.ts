// Where the Hugging Face cache is, resolved as huggingface_hub does (HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE,
// HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub), through @huggingface/hub's own
// function. Apart from cache.ts so that reading the layout does not load the Hub client.

import { resolve } from 'node:path';
import { getHFHubCachePath } from '@huggingface/hub';

/** The Hugging Face hub cache folder as huggingface_hub resolves it from the environment. */
export function hubCacheDir(): string {
  return resolve(getHFHubCachePath());
}
