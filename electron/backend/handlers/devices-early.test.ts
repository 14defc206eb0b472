// The studio's backend starts the devices probes when it starts, in the background: before, they
// started at the first page that asked (the Train wizard, Settings), which then waited for all of
// them — seconds, 16 s on a busy machine. Its own file: the probes' report is kept per process.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { createBackend } from '../host.ts';
import { devicesProbed } from './devices.ts';

test('a backend started with probeDevices probes before anyone asks, and answers with that report', async () => {
  assert.equal(devicesProbed(), null, 'nothing probed before the backend starts');
  const backend = createBackend(tempDir('reft-devices-early-'), { seedDemo: false, probeDevices: true });
  after(() => backend.close());
  const early = devicesProbed();
  assert.ok(early, 'the probes started with the backend');
  const found = await early;
  const r = await backend.handle({ type: 'request', id: 1, method: 'system/devices', params: {} });
  assert.equal(r.type, 'reply');
  assert.deepEqual((r as { result: { providers: unknown } }).result.providers, found.providers);
  assert.equal(devicesProbed(), early, 'the first ask took the early probes, not new ones');
});
