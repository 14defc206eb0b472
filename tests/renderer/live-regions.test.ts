// A screen reader hears what changes out of sight through live regions, and only through regions that
// were on the page before their text: a role=status element inserted already holding its text (the
// `{#if done}<p role="status">{done}</p>{/if}` each page had) is often not read at all, and an
// <output> (a live region too) beside a slider read its value a second time at every change. Notes
// say their text with `spoken` (lib/announce.svelte.ts) through the app's one region instead; the only
// live regions left are those present from the first render.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../renderer/src/', import.meta.url));

/** Every .svelte file under the renderer's sources. */
function svelteFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? svelteFiles(join(dir, e.name)) : e.name.endsWith('.svelte') ? [join(dir, e.name)] : [],
  );
}

/** The live regions that exist from the first render: the app's announcer and the connection badge. */
const PRESENT_FROM_THE_START = [
  'App.svelte: <div class="sr-only" role="status" aria-live="polite" data-testid="announcer">',
  'lib/components/ConnectionBadge.svelte: <div class="conn" data-state={status.state} data-testid="connection-status" role="status" title={status.detail}>',
];

test('the only live regions are the announcer and the connection badge; notes are spoken', () => {
  const found: string[] = [];
  for (const file of svelteFiles(src)) {
    const text = readFileSync(file, 'utf8').replace(/<!--[\s\S]*?-->/g, '');
    // Every opening tag that makes a live region: role=status/log, aria-live, or an <output>.
    for (const m of text.matchAll(
      /<[a-z][^<>]*?(?:role="(?:status|log)"|aria-live=)[^<>]*>|<output\b[^<>]*>/g,
    ))
      found.push(`${relative(src, file)}: ${m[0].replace(/\s+/g, ' ')}`);
  }
  assert.deepEqual(found.sort(), [...PRESENT_FROM_THE_START].sort());
});
