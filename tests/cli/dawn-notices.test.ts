// Dawn prints notices such as "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially
// reduced …" from native code straight to fd 2 (native-runtime/runtime/native-stderr.ts). A CLI
// command on WebGPU shows only its own one-line adapter warning; anything else written to fd 2 — a
// driver's real error — still reaches the terminal, and so does what the CLI itself says.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { appRoot } from '../../electron/backend/paths.ts';
import { filtersNativeStderr } from '../../native-runtime/runtime/launch.ts';
import { webgpuReachable } from '../../native-runtime/runtime/session.ts';
import { softwareAdapterLine, webgpuAdapter } from '../../native-runtime/runtime/webgpu-adapter.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const ROOT = appRoot();
const NOTICE = /artificially reduced/;

/** Runs node with `args`; its stderr is read only after `stderrAfterMs` (a slow reader). */
function run(args: string[], stderrAfterMs = 0): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.pause();
    setTimeout(() => c.stderr.on('data', (d) => (err += d)).resume(), stderrAfterMs);
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

/**
 * Runs `childSource` as the CLI that relaunchCli starts for `generate --device webgpu` (the filtered
 * case), from a launcher script as bin/reft-studio.js is one; `stderrAfterMs` as for run().
 */
function underLauncher(dir: string, childSource: string, stderrAfterMs = 0) {
  const child = join(dir, 'child.mjs');
  writeFileSync(child, childSource);
  const launcher = join(dir, 'launcher.mjs');
  const launch = join(ROOT, 'native-runtime', 'runtime', 'launch.ts');
  const argv = ['generate', '--device', 'webgpu', '--data-dir', join(dir, 'data')];
  writeFileSync(
    launcher,
    `const { relaunchCli } = await import(${JSON.stringify(launch)});
process.exitCode = await relaunchCli(${JSON.stringify(child)}, ${JSON.stringify(argv)});`,
  );
  return run(['--import', 'tsx', launcher], stderrAfterMs);
}

/** The child's first lines: as the CLI does, it writes process.stderr to the launcher's stderr. */
const USE_LAUNCHER_STDERR = `const { useLauncherStderr } = await import(${JSON.stringify(
  join(ROOT, 'native-runtime', 'runtime', 'native-stderr.ts'),
)});
useLauncherStderr();
`;

const why = await webgpuReachable();

test('generate --device webgpu prints no Dawn notice, only its own adapter line', {
  skip: why ?? false,
}, async () => {
  const data = tempDir('reft-dawn-');
  const r = await run([
    join(ROOT, 'bin', 'reft-studio.js'),
    ...['generate', '--model', modelDir('llama'), '--prompt', 'hi', '--greedy', '--max-new-tokens', '2'],
    ...['--device', 'webgpu', '--data-dir', data],
  ]);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.err, NOTICE);
  await saysSoftwareAdapterAsWarning(r.err);
});

/** On a software adapter: its one line, as a warning, as bench says it (gpu-bench.test.ts). */
async function saysSoftwareAdapterAsWarning(err: string): Promise<void> {
  const adapter = await webgpuAdapter();
  if (!adapter.software) return;
  assert.deepEqual(
    err.split('\n').filter((l) => l.includes('software adapter')),
    [`warning: ${softwareAdapterLine(adapter)}`],
  );
}

test('train --device webgpu, and its --resume, say the software adapter as a warning, and no Dawn notice', {
  skip: why ?? false,
  timeout: 240_000,
}, async () => {
  const dir = tempDir('reft-dawn-train-');
  const data = join(dir, 'data');
  const file = join(dir, 'train.jsonl');
  writeFileSync(file, '{"prompt":"1+1=","completion":"2"}\n{"prompt":"2+2=","completion":"4"}\n');
  const train = (...more: string[]) =>
    run([
      join(ROOT, 'bin', 'reft-studio.js'),
      ...['train', '--model', modelDir('llama'), '--data', file, '--batch-size', '1', '--layers', '1'],
      ...['--checkpoint-every', '1', '--device', 'webgpu', '--data-dir', data, ...more],
    ]);
  // In the library; then a checkpoint outside it resumed (the trainer's lines come another way).
  const r = await train('--checkpoint-dir', join(dir, 'ck'), '--out', join(dir, 'out1'));
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.err, NOTICE);
  await saysSoftwareAdapterAsWarning(r.err);
  const resumed = await train('--resume', join(dir, 'ck', 'step-000001'), '--out', join(dir, 'out2'));
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /resuming from/);
  assert.doesNotMatch(resumed.err, NOTICE);
  await saysSoftwareAdapterAsWarning(resumed.err);
});

test('the launcher drops only the notices from a session command’s fd 2; other lines pass', async () => {
  // The relaunched "CLI": writes to fd 2 as native code does, and to process.stderr as the CLI does.
  const r = await underLauncher(
    tempDir('reft-dawn-launch-'),
    `import { writeSync } from 'node:fs';
${USE_LAUNCHER_STDERR}writeSync(2, 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\\n');
writeSync(2, 'Error: VK_ERROR_DEVICE_LOST\\n');
process.stderr.write('warning: our own line\\n');
writeSync(2, 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\\n');
writeSync(2, 'a last line without a newline');
process.exitCode = 3;`,
  );
  assert.equal(r.code, 3, 'the child’s exit code');
  assert.doesNotMatch(r.err, NOTICE);
  const lines = r.err.split('\n').sort();
  assert.deepEqual(lines, [
    'Error: VK_ERROR_DEVICE_LOST',
    'a last line without a newline',
    'warning: our own line',
  ]);
});

test('only a session command asked for --device webgpu on Linux pays for the filtering process', () => {
  const env = {};
  assert.equal(filtersNativeStderr(['generate', '--device', 'webgpu'], env, 'linux'), true);
  assert.equal(
    filtersNativeStderr(['--data-dir', 'd', 'bench', 'train', '--device=webgpu'], env, 'linux'),
    true,
  );
  assert.equal(filtersNativeStderr(['generate', '--device', 'cpu'], env, 'linux'), false);
  assert.equal(filtersNativeStderr(['generate'], env, 'linux'), false);
  assert.equal(filtersNativeStderr(['devices', '--device', 'webgpu'], env, 'linux'), false);
  assert.equal(filtersNativeStderr(['generate', '--device', 'webgpu'], env, 'win32'), false);
  // In the filtered child itself: never again.
  assert.equal(
    filtersNativeStderr(['generate', '--device', 'webgpu'], { REFT_STUDIO_STDERR_FD: '3' }, 'linux'),
    false,
  );
});

test('what the filtered CLI writes to stderr all arrives, past a full pipe its reader is slow to empty', async () => {
  // 300 kB, far more than a pipe holds (64 kB on Linux), written while nobody reads it.
  const r = await underLauncher(
    tempDir('reft-dawn-slow-'),
    `${USE_LAUNCHER_STDERR}for (let i = 0; i < 3000; i++) process.stderr.write(String(i).padStart(99, '.') + '\\n');`,
    1000,
  );
  assert.equal(r.code, 0, r.err.slice(-500));
  const lines = r.err.split('\n').filter(Boolean);
  assert.equal(lines.length, 3000);
  assert.deepEqual(
    lines.map((l) => Number(l.replace(/^\.+/, ''))),
    Array.from({ length: 3000 }, (_, i) => i),
  );
});

test('the launcher ends with its child even when a process the child started holds its stderr open', async () => {
  const dir = tempDir('reft-dawn-held-');
  const pidFile = join(dir, 'held.pid');
  const started = Date.now();
  try {
    // The grandchild keeps the child's fd 2, the launcher's pipe, open for a minute after the child exits.
    const r = await underLauncher(
      dir,
      `import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const g = spawn('sleep', ['60'], { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
writeFileSync(${JSON.stringify(pidFile)}, String(g.pid));
g.unref();
process.stderr.write('the child is done\\n');`,
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /the child is done/);
    assert.ok(Date.now() - started < 30_000, 'the launcher waited for the grandchild');
  } finally {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8')));
    } catch {}
  }
});
