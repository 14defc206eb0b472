// `reft-studio serve` restarted on the same data folder comes back on the same port with the same
// token (kept in <data>/serve.json, owner-only), so open tabs reconnect by themselves; a busy port
// falls back to a free one with a new token (a tab on the old port would send the old one to whatever
// listens there now); /auth-check tells a tab whether its token is this server's.
// A second server on the folder is refused while the first lives (it would take over serve.json).

import assert from 'node:assert/strict';
import fs, { mkdirSync, readFileSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServer } from '../../electron/backend/serve.ts';
import { saveServeState } from '../../electron/backend/serve-state.ts';
import { connect, fakeRenderer, tempDir } from './helpers.ts';

const root = tempDir('serve-restart');
const dataDir = join(root, 'data');
const rendererDir = fakeRenderer(root);

const status = async (port: number, token: string) =>
  (await fetch(`http://127.0.0.1:${port}/auth-check?token=${encodeURIComponent(token)}`)).status;

test('a restart keeps the port and the token; /auth-check answers 204 or 401', async () => {
  const first = await startServer({ dataDir, rendererDir, seedDemo: false });
  const { port, token } = first;
  assert.ok(token);
  assert.equal(await status(port, token), 204);
  assert.equal(await status(port, 'wrong'), 401);
  await first.close();
  if (process.platform !== 'win32') assert.equal(statSync(join(dataDir, 'serve.json')).mode & 0o777, 0o600);

  const second = await startServer({ dataDir, rendererDir, seedDemo: false });
  try {
    assert.equal(second.port, port, 'same port');
    assert.equal(second.token, token, 'same token');
    const c = await connect(`ws://127.0.0.1:${port}/rpc?token=${token}`);
    c.close();
  } finally {
    await second.close();
  }
});

test('a busy port falls back to a free one with a new token; another data folder, another token', async () => {
  const third = await startServer({ dataDir, rendererDir, seedDemo: false });
  const { port, token } = third;
  await third.close();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
  let moved: Awaited<ReturnType<typeof startServer>> | null = null;
  try {
    moved = await startServer({ dataDir, rendererDir, seedDemo: false });
    assert.notEqual(moved.port, port);
    // The program now on the old port would get the old token from a tab left open there.
    assert.ok(moved.token && moved.token !== token, 'a new token on the new port');
    assert.equal(await status(moved.port, token as string), 401);
    assert.equal(await status(moved.port, moved.token), 204);
    assert.deepEqual(JSON.parse(readFileSync(join(dataDir, 'serve.json'), 'utf8')), {
      token: moved.token,
      port: moved.port,
    });
  } finally {
    await moved?.close(); // also when an assertion failed: an open server would hang the file
    await new Promise<void>((r) => blocker.close(() => r()));
  }
  // The next launch is where the last one was: the port and the token are kept again.
  const back = await startServer({ dataDir, rendererDir, seedDemo: false });
  assert.deepEqual([back.port, back.token], [moved.port, moved.token]);
  await back.close();
  // Another data folder is another library: another token.
  const other = await startServer({ dataDir: join(root, 'other'), rendererDir, seedDemo: false });
  assert.notEqual(other.token, token);
  assert.equal(await status(other.port, token as string), 401);
  await other.close();
});

test('serve.json is owner-only from its creation: its temp file is never readable by others', {
  skip: process.platform === 'win32',
}, () => {
  // Another local user watching the data folder could open the temp file while it was 0644 and read
  // the token once written (a chmod after the rename came too late). Record each temp file's mode
  // the moment it is opened.
  const dir = join(root, 'modes');
  mkdirSync(dir);
  const modes: number[] = [];
  const realOpen = fs.openSync;
  const oldMask = process.umask(0o022);
  fs.openSync = ((...args: Parameters<typeof fs.openSync>) => {
    const fd = realOpen(...args);
    if (/serve\.json\.[0-9a-f]+\.tmp$/.test(String(args[0]))) modes.push(fs.fstatSync(fd).mode & 0o777);
    return fd;
  }) as typeof fs.openSync;
  syncBuiltinESMExports();
  try {
    saveServeState(dir, { token: 'a'.repeat(32), port: 1 });
  } finally {
    fs.openSync = realOpen;
    syncBuiltinESMExports();
    process.umask(oldMask);
  }
  assert.deepEqual(modes, [0o600]);
  assert.equal(statSync(join(dir, 'serve.json')).mode & 0o777, 0o600);
});

test('a second serve on the data folder is refused, naming the first; the first keeps serve.json', async () => {
  const dir = join(root, 'twice');
  const first = await startServer({ dataDir: dir, rendererDir, seedDemo: false });
  try {
    const saved = readFileSync(join(dir, 'serve.json'), 'utf8');
    const second = await startServer({ dataDir: dir, rendererDir, seedDemo: false }).then(
      async (s) => {
        await s.close(); // started after all: closed, so the failure below is a failure, not a hang
        return null;
      },
      (e: unknown) => e as Error & { code?: string },
    );
    assert.equal(second?.code, 'already-serving');
    assert.equal(
      second?.message,
      `another reft-studio serve (pid ${process.pid}) is already serving this data folder at http://127.0.0.1:${first.port}/; open the link it printed (it holds the token), or stop it before starting another`,
    );
    assert.equal(readFileSync(join(dir, 'serve.json'), 'utf8'), saved);
    assert.equal(await status(first.port, first.token as string), 204);
  } finally {
    await first.close();
  }
  // Stopped, it makes way.
  const again = await startServer({ dataDir: dir, rendererDir, seedDemo: false });
  assert.equal(again.port, first.port);
  await again.close();
});

/** Runs fn with serve.json's temp file failing to be created, as on a disk with no room left. */
async function withServeJsonFull<T>(fn: () => Promise<T>): Promise<T> {
  const realOpen = fs.openSync;
  fs.openSync = ((...args: Parameters<typeof fs.openSync>) => {
    if (/serve\.json\.[0-9a-f]+\.tmp$/.test(String(args[0])))
      throw Object.assign(new Error(`ENOSPC: no space left on device, open '${args[0]}'`), {
        code: 'ENOSPC',
        syscall: 'open',
        path: String(args[0]),
      });
    return realOpen(...args);
  }) as typeof fs.openSync;
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    fs.openSync = realOpen;
    syncBuiltinESMExports();
  }
}

test('a disk too full for serve.json: the server says its link will not be kept; unchanged, nothing is said', async () => {
  // Bug: the failed write was swallowed, and after a restart open tabs held a dead link, unexplained.
  const dir = join(root, 'full');
  const first = await withServeJsonFull(() => startServer({ dataDir: dir, rendererDir, seedDemo: false }));
  await first.close();
  assert.equal(first.linkNotKept, `cannot write ${join(dir, 'serve.json')}: the disk is full`);
  const kept = await startServer({ dataDir: dir, rendererDir, seedDemo: false });
  await kept.close();
  assert.equal(kept.linkNotKept, null);
  // Back on the saved port with the saved token: serve.json already holds them, nothing to write.
  const again = await withServeJsonFull(() => startServer({ dataDir: dir, rendererDir, seedDemo: false }));
  await again.close();
  assert.deepEqual([again.port, again.token, again.linkNotKept], [kept.port, kept.token, null]);
});
