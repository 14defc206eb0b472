// Closing the backend host leaves nothing behind that keeps the process alive: `serve` (and the
// Electron utility process) exit as soon as the host is closed. A close with no job in flight used to
// leave its 10-second "let jobs checkpoint" timer running, so every shutdown took 10 s.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createBackend } from '../../electron/backend/host.ts';
import { tempDir } from './helpers.ts';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('close() with no job running leaves no timer behind', async () => {
  const before = timers();
  const b = createBackend(join(tempDir('host-close'), 'data'), { seedDemo: false });
  await b.close();
  assert.equal(timers(), before, 'a timer outlived close()');
});
