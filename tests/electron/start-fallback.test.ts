// `npm start` (bin/start.js) where Electron cannot run — no binary (an offline install) or no display:
// one line says why, then the same studio is served for a browser.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../backend/helpers.ts';
import { FALLBACK_LINE, startWithoutElectron, stopStarted } from './start-script.ts';

test('npm start without an Electron binary says so in one line and serves the studio', {
  timeout: 300_000,
}, async () => {
  const started = await startWithoutElectron(join(ROOT, 'bin', 'start.js'));
  try {
    assert.match(started.err(), new RegExp(`${FALLBACK_LINE.source}$`));
    const page = await fetch(started.url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ReFT Studio<\/title>/);
  } finally {
    await stopStarted(started);
  }
});
