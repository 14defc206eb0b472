// What the backend runs on: versions, the data folder, ONNX Runtime's execution providers, the
// machine. Shown by 'system/info' and recorded with every run (library/run-plan.ts), so it lives here
// rather than in a handler that a job would have to import.

import { createRequire } from 'node:module';
import { arch, cpus, platform, totalmem } from 'node:os';
import { appVersion } from './paths.ts';

const require = createRequire(import.meta.url);

export interface ExecutionProvider {
  name: string;
  /** false: supported by this ORT build but its runtime pack is not installed (CUDA, TensorRT). */
  bundled: boolean;
}

export interface SystemInfo {
  version: string;
  dataDir: string;
  nodeVersion: string;
  electronVersion: string | null;
  ortVersion: string | null;
  executionProviders: ExecutionProvider[];
  platform: string;
  arch: string;
  cpuCount: number;
  totalMemBytes: number;
  /** Set when onnxruntime-node could not be loaded; the library still works without it. */
  ortError: string | null;
}

function ortInfo(): {
  ortVersion: string | null;
  executionProviders: ExecutionProvider[];
  ortError: string | null;
} {
  try {
    // Loaded lazily: the native binding is large and only this handler and the engine need it.
    const ort = require('onnxruntime-node') as {
      listSupportedBackends(): ExecutionProvider[];
      env: { versions?: { node?: string; common?: string } };
    };
    const ortVersion = ort.env.versions?.node ?? ort.env.versions?.common ?? null;
    const executionProviders = ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
    return { ortVersion, executionProviders, ortError: null };
  } catch (e) {
    return { ortVersion: null, executionProviders: [], ortError: (e as Error).message };
  }
}

export function systemInfo(dataDir: string): SystemInfo {
  return {
    version: appVersion(),
    dataDir,
    nodeVersion: process.versions.node,
    electronVersion: process.versions.electron ?? null,
    ...ortInfo(),
    platform: platform(),
    arch: arch(),
    cpuCount: cpus().length,
    totalMemBytes: totalmem(),
  };
}
