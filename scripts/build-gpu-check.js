// Bundles what scripts/gpu-check.sh runs on the GPU test machine, which has Node but no dev tools
// and only the packages gpu-bundle.sh carries (../shared/docs/device.md):
//   dist/gpu/cli.mjs            the CLI (bench, devices, runtime, debug …)
//   dist/gpu/build-model.mjs    a synthetic model written once (scripts/gpu/build-model.ts)
//   dist/gpu/placement.mjs      which nodes ORT leaves to the CPU (scripts/gpu/placement.ts)
//   dist/gpu/tests/*.test.mjs   the golden, half-precision, fused-decode, chunked-decoding and WebGPU tests
// onnxruntime-node and better-sqlite3 stay external (native; carried in .gpu/base's node_modules).
// Tests find their fixtures through import.meta.url: gpu-check.sh links dist/gpu/fixtures to them.

import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// A path, not the URL's pathname ("%20" for a space, "/C:/…" on Windows).
const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/gpu`;
rmSync(outdir, { recursive: true, force: true });

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  external: ['onnxruntime-node', 'better-sqlite3', 'electron'],
  // Bundled CommonJS dependencies call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: {
    cli: 'scripts/gpu/cli-entry.ts',
    'build-model': 'scripts/gpu/build-model.ts',
    placement: 'scripts/gpu/placement.ts',
  },
  outdir,
});
await build({
  ...common,
  entryPoints: {
    forward: 'tests/golden/forward.test.ts',
    'reft-parity': 'tests/golden/reft-parity.test.ts',
    'half-precision': 'tests/runtime/half-precision.test.ts',
    'chunked-decoding': 'tests/runtime/chunked-decoding.test.ts',
    'fused-decode': 'tests/runtime/fused-decode.test.ts',
    webgpu: 'tests/runtime/webgpu.test.ts',
  },
  outdir: `${outdir}/tests`,
  outExtension: { '.js': '.test.mjs' },
});
console.log('dist/gpu: cli.mjs and tests/*.test.mjs');
