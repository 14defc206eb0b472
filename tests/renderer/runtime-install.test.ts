// The CUDA runtime card's install line: a page opened mid-install shows the install the devices
// report carries until a push is heard, and each phase reads as what it does — the last one said
// "Checking" for the pack being verified.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DevicesReport, PushTopics } from '../../renderer/src/lib/rpc/handlers.ts';
import {
  installPhaseText,
  shownInstall,
  spokenWithWarnings,
} from '../../renderer/src/lib/runtime-install.ts';

type Progress = PushTopics['runtime/progress'];
const verifying: Progress = {
  name: 'cuda',
  state: 'running',
  phase: 'verify',
  bytes: 0,
  total: null,
  elsewhere: true,
};

test("a page opened mid-install shows the report's install until a push is heard", () => {
  const report = { cudaInstall: verifying } as DevicesReport;
  assert.deepEqual(shownInstall(null, report), verifying);
  const done: Progress = { ...verifying, state: 'done' };
  assert.deepEqual(shownInstall(done, report), done, 'what was heard since wins');
  assert.equal(shownInstall(null, { cudaInstall: null } as DevicesReport), null);
  assert.equal(shownInstall(null, undefined), null, 'the report not read yet');
});

test('each phase in words, the verify phase as verifying; another program’s install says so', () => {
  assert.equal(installPhaseText(verifying), 'Verifying (another program is installing it)');
  assert.equal(installPhaseText({ phase: 'download' }), 'Downloading');
  assert.equal(installPhaseText({ phase: 'extract' }), 'Unpacking');
  assert.equal(installPhaseText({ phase: 'copy' }), 'Copying');
});

test('an install that warned is said with its warnings in one message (a second would cut the first off)', () => {
  const note = 'Installed. New training and generation use it; nothing to restart.';
  assert.equal(spokenWithWarnings(note, []), note);
  assert.equal(
    spokenWithWarnings(note, [
      'runtime install: installed; the previous pack could not be deleted (x: permission denied): delete x to free its space',
    ]),
    `${note} Warning: runtime install: installed; the previous pack could not be deleted (x: permission denied): delete x to free its space`,
  );
});
