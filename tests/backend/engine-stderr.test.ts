// What the studio's engine processes (electron/backend/jobs/engine.ts) write to stderr reaches the
// host's stderr — serve's terminal, Electron's log — without Dawn's native "maxDynamic… artificially
// reduced" notices (native-runtime/runtime/native-stderr.ts); every other line passes, and so do the
// last words of an engine process that crashes. Each host here is a process of its own, so that its
// stderr can be read.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { webgpuReachable } from '../../native-runtime/runtime/session.ts';
import { LLAMA_FIXTURE, ROOT, tempDir } from './helpers.ts';

const NOTICE = /artificially reduced/;
const ENGINE = join(ROOT, 'electron', 'backend', 'jobs', 'engine.ts');

/** Runs `body` (an ES module's text, WorkerEngine imported) as a host process; its output. */
function host(dir: string, body: string): Promise<{ code: number | null; out: string; err: string }> {
  const file = join(dir, 'host.mjs');
  writeFileSync(file, `const { WorkerEngine } = await import(${JSON.stringify(ENGINE)});\n${body}`);
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

const why = await webgpuReachable();

test('an answer on WebGPU in an engine process leaves no Dawn notice on the host’s stderr', {
  skip: why ?? false,
  timeout: 180_000,
}, async () => {
  const dir = tempDir('engine-stderr-webgpu');
  const r = await host(
    dir,
    `const engine = new WorkerEngine({ dataDir: ${JSON.stringify(join(dir, 'data'))} });
const g = await engine.call('generate', {
  model: ${JSON.stringify(LLAMA_FIXTURE)}, adapter: null, prompts: ['hi'], maxNewTokens: 2,
  temperature: 0, device: 'webgpu',
});
console.log(JSON.stringify(g.device));
await engine.close();`,
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /webgpu/i, 'the answer came from WebGPU');
  assert.doesNotMatch(r.err, NOTICE);
});

test('an engine process’s other stderr lines and a crash’s last words reach the host’s stderr', {
  timeout: 60_000,
}, async () => {
  const dir = tempDir('engine-stderr-crash');
  // Loaded into the engine process only (the host sets NODE_OPTIONS after its own start): on the
  // first call it writes to fd 2 as native code does, the last line without a newline, and dies.
  const dying = join(dir, 'dying.mjs');
  writeFileSync(
    dying,
    `import { writeSync } from 'node:fs';
process.on('message', () => {
  writeSync(2, 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\\n');
  writeSync(2, 'Error: VK_ERROR_DEVICE_LOST\\n');
  writeSync(2, 'Segmentation fault in the driver');
  process.kill(process.pid, 'SIGKILL');
});`,
  );
  const r = await host(
    dir,
    `process.env.NODE_OPTIONS = ${JSON.stringify(`--import=${dying}`)};
const engine = new WorkerEngine({ dataDir: ${JSON.stringify(join(dir, 'data'))} });
try {
  await engine.call('processInfo', {});
} catch (e) {
  console.log(e.code);
}`,
  );
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), 'engine-crashed');
  assert.doesNotMatch(r.err, NOTICE);
  assert.deepEqual(r.err.split('\n'), ['Error: VK_ERROR_DEVICE_LOST', 'Segmentation fault in the driver']);
});
