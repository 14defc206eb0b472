// The launcher (bin/reft-studio.js) restarts the CLI as its child when the CUDA runtime pack is
// installed (native-runtime/runtime/launch.ts). When the launcher dies (SIGKILL, its terminal gone),
// the child must not run on orphaned: it stops as for a Ctrl-C — a training pauses at the end of
// its step with a checkpoint, serve shuts down. And the stop signals sent to the launcher reach the
// child. Real processes throughout: the fake pack (tests/fixtures/cuda-pack) is enough to relaunch.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { before, test } from 'node:test';
import { appRoot } from '../../electron/backend/paths.ts';
import { processAlive } from '../../native-runtime/process-alive.ts';
import { engineEnv } from '../../native-runtime/runtime/cuda-pack.ts';
import { installCudaPack } from '../../native-runtime/runtime/runtime-install.ts';
import { tempDir } from '../helpers/temp.ts';
import { type Json, jsonStream, stderrEvents } from './json-stream.ts';
import { longTrainArgs, writeLongRows } from './long-training.ts';

const ROOT = appRoot();
const BIN = join(ROOT, 'bin', 'reft-studio.js');
const dir = tempDir('reft-launch-orphan-');
const data = join(dir, 'data');
const rows = join(dir, 'rows.jsonl');

before(async () => {
  const src = join(dir, 'src');
  const fake = join(ROOT, 'tests', 'fixtures', 'cuda-pack');
  cpSync(join(fake, 'fake-provider'), src, { recursive: true });
  cpSync(join(fake, 'fake-cuda'), src, { recursive: true });
  await installCudaPack(data, { from: src });
  assert.ok(engineEnv(data, process.env), 'the pack makes the launcher restart the CLI');
  // Steps of 200 micro-batches, so that a step is in flight when the launcher goes.
  writeLongRows(rows);
});

/** The launcher, with its child's output coming through the same pipes. */
function launch(args: string[]) {
  const launcher = spawn(process.execPath, [BIN, ...args, '--data-dir', data], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  launcher.stderr.on('data', (d) => (stderr += d));
  launcher.stdout.on('data', (d) => (stdout += d));
  // Both pipes close once every process holding them (the orphaned child too) has ended.
  const closed = new Promise<void>((r) => launcher.on('close', () => r()));
  return { launcher, stderr: () => stderr, stdout: () => stdout, closed };
}

/** The pid of the process the launcher relaunched the CLI in. */
async function childOf(launcher: ChildProcess): Promise<number> {
  const file = `/proc/${launcher.pid}/task/${launcher.pid}/children`;
  let pid = 0;
  await until('the launcher to start its child', () => {
    pid = Number(readFileSync(file, 'utf8').trim().split(/\s+/)[0]) || 0;
    return pid > 0;
  });
  return pid;
}

async function until(what: string, ok: () => boolean, timeoutMs = 180_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TRAIN = longTrainArgs(rows);

/** Trains under the launcher; `stop` runs once step 1 is done (step 2 is then in flight). */
async function trainUntilStopped(stop: (launcher: ChildProcess, child: number) => void) {
  const { launcher, stderr, stdout, closed } = launch(TRAIN);
  const child = await childOf(launcher);
  createInterface({ input: launcher.stderr }).on('line', (l) => {
    const [e] = stderrEvents(l);
    if (e?.event === 'progress' && e.step === 1) stop(launcher, child);
  });
  const code = new Promise<number | null>((r) => launcher.on('exit', (c) => r(c)));
  try {
    await closed;
    await until('the child to end', () => !processAlive(child));
  } finally {
    if (processAlive(child)) process.kill(child, 'SIGKILL');
  }
  return { result: jsonStream(stdout(), stderr()).result, stderr: stderr(), code: await code };
}

/** The run's record in the library, as `runs show` reads it. */
async function shownRun(id: number): Promise<Json> {
  const { stdout, closed } = launch(['runs', 'show', String(id), '--json']);
  await closed;
  return JSON.parse(stdout()) as Json;
}

function assertPaused(r: { result: Json; stderr: string }, id: number) {
  const { result } = r;
  assert.equal(result.status, 'paused', r.stderr);
  assert.equal(result.runId, id);
  assert.equal(result.checkpoint.step, result.step);
  assert.ok(result.step < 100, 'it stopped well before the last step');
}

test('launcher killed during a training: the child pauses at the end of the step, resumable', async () => {
  const r = await trainUntilStopped((launcher) => launcher.kill('SIGKILL'));
  assertPaused(r, 1);
  const run = await shownRun(1);
  assert.equal(run.status, 'paused');
});

test('SIGINT and SIGTERM sent to the launcher reach the child', async () => {
  const r = await trainUntilStopped((launcher) => launcher.kill('SIGINT'));
  assert.equal(r.code, 130, r.stderr);
  assertPaused(r, 2);

  const serve = launch(['serve', '--port', '0', '--renderer-dir', join(dir, 'no-renderer')]);
  const child = await childOf(serve.launcher);
  let out = '';
  serve.launcher.stdout.on('data', (d) => (out += d));
  await until('serve to listen', () => /serving at/.test(out));
  serve.launcher.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => serve.launcher.on('exit', (c) => r(c)));
  await serve.closed;
  assert.equal(code, 0, serve.stderr());
  assert.match(serve.stderr(), /shutting down/);
  assert.ok(!processAlive(child));
});

test('launcher killed while serving: the child shuts down as on SIGTERM', async () => {
  const serve = launch(['serve', '--port', '0', '--renderer-dir', join(dir, 'no-renderer')]);
  const child = await childOf(serve.launcher);
  let out = '';
  serve.launcher.stdout.on('data', (d) => (out += d));
  try {
    await until('serve to listen', () => /serving at/.test(out));
    serve.launcher.kill('SIGKILL');
    await serve.closed;
    await until('the child to end', () => !processAlive(child));
    assert.match(serve.stderr(), /shutting down/);
  } finally {
    if (processAlive(child)) process.kill(child, 'SIGKILL');
  }
});
