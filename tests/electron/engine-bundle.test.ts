// The packaged app's engine process: scripts/build-electron.js bundles engine-worker.ts into
// dist/electron/engine-worker.cjs (here in an app staged as electron-builder.yml packs it), which the
// utility process forks with Electron's binary acting as Node (ELECTRON_RUN_AS_NODE). The Electron
// binary cannot be downloaded here, so Node stands in for it:
// the bundle must start as a forked process, answer a call under the host's environment, report an
// unknown operation as an error, and exit when the host disconnects.

import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stagePackagedApp } from './packaged-app.ts';

test('the bundled engine process answers calls and exits when its host lets go', {
  timeout: 120_000,
}, async () => {
  const file = join(stagePackagedApp().app, 'dist/electron/engine-worker.cjs');
  assert.ok(existsSync(file), 'engine-worker.cjs is built');
  const child = fork(file, ['--lane=infer'], {
    serialization: 'advanced',
    execArgv: [],
    env: { ...process.env, NODE_OPTIONS: '', ELECTRON_RUN_AS_NODE: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const replies = new Map<number, { type: string; value?: { pid: number }; error?: { message: string } }>();
  const answered = (id: number) =>
    new Promise<void>((resolve) => {
      const on = () => {
        if (!replies.has(id)) return;
        child.off('message', on);
        resolve();
      };
      child.on('message', on);
      on();
    });
  child.on('message', (m: { type: string; id: number }) => {
    if (m.type === 'result' || m.type === 'error') replies.set(m.id, m as never);
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const env = { ...process.env, REFT_STUDIO_PROBE: 'x' };
  child.send({ type: 'call', id: 1, op: 'processInfo', args: {}, env });
  child.send({ type: 'call', id: 2, op: 'noSuchOp', args: {}, env });
  await Promise.all([answered(1), answered(2)]);
  assert.equal(replies.get(1)?.type, 'result');
  assert.equal(replies.get(1)?.value?.pid, child.pid);
  assert.equal(replies.get(2)?.type, 'error');
  assert.match(replies.get(2)?.error?.message ?? '', /unknown engine operation "noSuchOp"/);
  child.disconnect();
  assert.equal(await exited, 0);
});
