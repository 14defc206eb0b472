// The esbuild options every Electron bundle is built with: scripts/build-electron.js builds with them,
// and tests/backend/engine-imports.test.ts bundles engine-worker.ts with them to read what the
// engine's processes load. One list of what stays external, so the test checks the bundle that ships.

/**
 * Modules the bundles leave to require() at run time: electron itself, and the native modules,
 * loaded from node_modules (the unpacked asar in a packaged app).
 */
export const EXTERNALS = ['electron', 'better-sqlite3', 'onnxruntime-node'];

/** Everything but the entry points and where the output goes. */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  external: EXTERNALS,
  // The sources are ESM and use import.meta.url to find files (paths.ts); CJS has __filename.
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
};
