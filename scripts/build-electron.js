// Bundles the Electron entry points with esbuild into dist/electron/*.cjs: main (main process),
// preload (sandboxed preload), utility-entry (the backend's utilityProcess) and engine-worker (the
// engine's processes, forked from the file next to the bundle by electron/backend/jobs/engine.ts). Native modules and
// electron stay external (loaded from node_modules / the unpacked asar at run time): electron-bundle.js.
// `--outdir DIR` writes them elsewhere (tests/electron/packaged-app.ts stages a packaged app there).

import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from './electron-bundle.js';

// A path, not the URL's pathname ("%20" for a space, "/C:/…" on Windows).
const root = fileURLToPath(new URL('..', import.meta.url));
const at = process.argv.indexOf('--outdir');
const outdir =
  at >= 0 && process.argv[at + 1] ? resolve(process.argv[at + 1]) : join(root, 'dist', 'electron');
rmSync(outdir, { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: {
    main: 'electron/main.ts',
    preload: 'electron/preload.ts',
    'utility-entry': 'electron/backend/utility-entry.ts',
    'engine-worker': 'electron/backend/jobs/engine-worker.ts',
  },
  outdir,
  outExtension: { '.js': '.cjs' },
  ...BUNDLE_OPTIONS,
  sourcemap: true,
  logLevel: 'info',
});
