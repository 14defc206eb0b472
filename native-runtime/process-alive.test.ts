import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { processAlive } from './process-alive.ts';

const linux = process.platform === 'linux';

test('a running process is alive; a zombie (exited, not yet collected) is not', {
  skip: !linux,
}, async () => {
  // sh starts a short job, prints its pid and becomes `sleep 30`, which never collects it: the
  // job stays a zombie until its parent is killed.
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const zombie = Number(
      await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(String(d)))),
    );
    const state = () => readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1]?.[0];
    for (let i = 0; i < 100 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(state(), 'Z');
    assert.equal(processAlive(zombie), false);
    assert.equal(processAlive(parent.pid as number), true);
    assert.equal(processAlive(process.pid), true);
  } finally {
    parent.kill('SIGKILL');
  }
});
