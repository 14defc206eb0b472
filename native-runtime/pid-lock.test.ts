// The pid lock file: one holder at a time (in this process and across processes), the holder named
// to a loser, a dead holder's lock taken over (also when its pid now belongs to another process), and a takeover that lost the race to another
// process leaves that process's lock in place.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../tests/helpers/temp.ts';
import { acquirePidLock, type LockHolder, takeOverStale } from './pid-lock.ts';
import { processStartTime } from './process-alive.ts';

const dir = tempDir('reft-pid-lock-');
const busy = (h: LockHolder) => Object.assign(new Error(`held by ${h.pid} (${h.doing})`), { holder: h });
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid as number;

test('one holder at a time in this process; released, it can be taken again', () => {
  const lock = join(dir, 'a.lock');
  const release = acquirePidLock(lock, 'installing', busy);
  assert.equal(readFileSync(lock, 'utf8'), `${process.pid} ${processStartTime(process.pid)}\ninstalling\n`);
  assert.throws(() => acquirePidLock(lock, 'removing', busy), {
    message: `held by ${process.pid} (installing)`,
  });
  release();
  assert.equal(existsSync(lock), false);
  acquirePidLock(lock, 'removing', busy)();
  assert.deepEqual(readdirSync(dir), []);
});

test('a live process holding it is named; a dead or unreadable one is taken over', async () => {
  const lock = join(dir, 'b.lock');
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
  try {
    for (const first of [`${child.pid}`, `${child.pid} ${processStartTime(child.pid as number)}`]) {
      writeFileSync(lock, `${first}\ninstalling the CUDA pack\n`);
      assert.throws(() => acquirePidLock(lock, 'x', busy), {
        message: `held by ${child.pid} (installing the CUDA pack)`,
      });
    }
    // The pid of a holder that died, now another process's (it started at another time).
    writeFileSync(lock, `${child.pid} 1\ninstalling the CUDA pack\n`);
    acquirePidLock(lock, 'mine', busy)();
  } finally {
    child.kill();
  }
  for (const left of [`${deadPid()}\ninstalling\n`, '', `${process.pid}\n`]) {
    writeFileSync(lock, left);
    const release = acquirePidLock(lock, 'mine', busy);
    assert.match(
      readFileSync(lock, 'utf8'),
      new RegExp(`^${process.pid} \\d+\nmine\n$`),
      JSON.stringify(left),
    );
    release();
  }
  assert.deepEqual(readdirSync(dir), []);
});

test('a takeover that finds the dead lock already replaced by a live one puts it back', () => {
  // Two processes saw the same dead holder; the other one took the lock over first and holds it.
  const lock = join(dir, 'c.lock');
  const dead = deadPid();
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
  try {
    writeFileSync(lock, `${child.pid}\ninstalling\n`);
    assert.throws(() => takeOverStale(lock, { pid: dead, started: null, doing: 'installing' }, busy), {
      message: `held by ${child.pid} (installing)`,
    });
    assert.equal(readFileSync(lock, 'utf8'), `${child.pid}\ninstalling\n`);
    assert.deepEqual(readdirSync(dir), ['c.lock']);
  } finally {
    child.kill();
  }
});
