// Types of electron-bundle.js, for the TypeScript that imports it (engine-imports.test.ts).
import type { BuildOptions } from 'esbuild';

export declare const EXTERNALS: string[];
export declare const BUNDLE_OPTIONS: BuildOptions;
