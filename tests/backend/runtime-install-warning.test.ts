// Settings' CUDA pack install through the studio's backend (`reft-studio serve`, its RPC and pushes),
// with the real installer on a local pack folder: what the installer warns of reaches the page.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RuntimeProgress } from '../../electron/backend/events.ts';
import { packDir, runtimesDir } from '../../native-runtime/runtime/cuda-pack.ts';
import {
  connectTo,
  exitOf,
  fakeRenderer,
  type RpcClient,
  rpc,
  spawnServe,
  tempDir,
  waitFor,
} from './helpers.ts';

const FAKE = fileURLToPath(new URL('../fixtures/cuda-pack/', import.meta.url));

// Root deletes a folder it may not write: the studio then runs as nobody (as cuda-pack.test.ts does).
const nobodyIds = (() => {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' });
  const [u, g] = [id('-u'), id('-g')];
  return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout), gid: Number(g.stdout) } : null;
})();

const stops: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const stop of stops) await stop();
});

test('Settings: a previous pack that cannot be deleted is installed over, with the warning the CLI gives', {
  timeout: 180_000,
  skip:
    process.platform !== 'linux' || process.arch !== 'x64'
      ? 'the CUDA pack is Linux x64 only'
      : process.getuid?.() === 0 && !nobodyIds
        ? 'root, and no user nobody to run as'
        : false,
}, async () => {
  // Bug: the studio's install did not pass the installer's onWarning, so the warning the CLI prints
  // (the old pack's folder left behind, and how to free its space) was never said in Settings.
  const root = tempDir('runtime-install-warning');
  chmodSync(root, 0o755);
  const data = join(root, 'data');
  mkdirSync(data);
  const dist = fakeRenderer(root);
  if (nobodyIds) chownSync(data, nobodyIds.uid, nobodyIds.gid);
  const s = await spawnServe(['--data-dir', data, '--renderer-dir', dist], nobodyIds ?? undefined);
  stops.push(() => (s.child.kill(), exitOf(s.child)));
  const c: RpcClient = await connectTo(s.url);
  stops.push(async () => c.close());
  const ends = () =>
    c.pushes
      .flatMap((m) =>
        m.type === 'push' && m.topic === 'runtime/progress' ? [m.data as RuntimeProgress] : [],
      )
      .filter((p) => p.state !== 'running');
  const install = async (n: number) => {
    await rpc(c, 'system/runtime-install', { name: 'cuda', from: FAKE });
    const end = await waitFor('the install to end', async () => ends()[n - 1], 120_000);
    assert.equal(end.state, 'done', JSON.stringify(end));
    return end;
  };
  const first = await install(1);
  assert.equal(first.warnings, undefined, 'nothing to warn of');
  for (const d of ['', 'ort']) chmodSync(join(packDir(data), d), 0o555);
  const second = await install(2);
  const aside = readdirSync(runtimesDir(data)).find((n) => n.endsWith('.old'));
  assert.ok(aside, 'the previous pack is left aside');
  assert.equal(second.warnings?.length, 1, JSON.stringify(second));
  assert.match(
    second.warnings?.[0] ?? '',
    new RegExp(
      `the previous pack could not be deleted \\(.*permission denied\\): delete ${join(runtimesDir(data), aside)} to free its space`,
    ),
  );
  for (const d of ['', 'ort']) chmodSync(join(runtimesDir(data), aside, d), 0o755);
});
