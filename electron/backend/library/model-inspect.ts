// What a model folder is, read without loading weights and without the library: its architecture,
// sizes, dtype, fingerprint, size on disk and the part of config.json the library keeps. Shared by
// `models add` (library/models.ts) and the scan of a cache or folder (hub/scan.ts), which runs in the
// engine's 'files' process and so must not pull in the database or the Hub client.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelSpecWithConfig } from '../../../native-runtime/models/config.ts';
import { resolveModelFolder } from '../../../native-runtime/models/model-folder.ts';

export interface ModelInfo {
  path: string;
  arch: string;
  modelType: string | null;
  hiddenSize: number | null;
  numLayers: number | null;
  vocabSize: number | null;
  params: number;
  dtype: string | null;
  /** The folder's size on disk (every file but hidden ones, see modelFolderBytes): what deleting it frees. */
  sizeBytes: number;
  fingerprint: string;
  config: Record<string, unknown>;
  /** How a cache repository's snapshot was chosen without a usable refs/main (model-folder.ts). */
  note?: string;
}

/**
 * Bytes of a model folder's files (a cache snapshot's blobs through its symlinks). Hidden entries
 * are left out: a git clone's .git holds a second copy of every LFS file, and a --local-dir download
 * keeps its bookkeeping in .cache, neither of which is the model.
 */
export function modelFolderBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    try {
      const p = join(dir, e.name);
      n += e.isDirectory() ? modelFolderBytes(p) : statSync(p).size;
    } catch {}
  }
  return n;
}

/** The most of a model's config.json the library keeps (a label map can be megabytes). */
export const STORED_CONFIG_BYTES = 32 * 1024;
/** A config entry larger than this (serialized) is left out of what is stored. */
const STORED_ENTRY_BYTES = 2 * 1024;
/** Kept first, so no number of other entries can crowd out what the model list shows. */
const FIRST_KEYS = [
  'model_type',
  'architectures',
  'hidden_size',
  'n_embd',
  'num_hidden_layers',
  'n_layer',
  'vocab_size',
  'torch_dtype',
  'dtype',
  'text_config',
];

/**
 * What the library stores of a config.json: the entries that describe the model (architecture,
 * sizes, dtype, nested *_config objects), each at most STORED_ENTRY_BYTES and all together at most
 * STORED_CONFIG_BYTES; big tables (id2label, vocabularies someone pasted in) are left out. The
 * engine reads the file itself whenever it needs more.
 */
export function storedConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let total = 2;
  const keep = (key: string, value: unknown): boolean => {
    const size = JSON.stringify(value)?.length ?? 0;
    if (size > STORED_ENTRY_BYTES || total + key.length + size + 4 > STORED_CONFIG_BYTES) return false;
    out[key] = value;
    total += key.length + size + 4;
    return true;
  };
  const keys = [...FIRST_KEYS.filter((k) => Object.hasOwn(config, k)), ...Object.keys(config)];
  for (const key of new Set(keys)) {
    const value = config[key];
    if (keep(key, value) || typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    // A nested config too big as a whole (a multimodal text_config with a label map): its small entries.
    const inner: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const size = JSON.stringify(v)?.length ?? 0;
      if (size <= STORED_ENTRY_BYTES) inner[k] = v;
    }
    keep(key, storedConfig(inner));
  }
  return out;
}

/**
 * Reads a Hugging Face model folder without loading weights. The engine's loadModelSpec does the
 * parsing and validation (unsupported architectures and broken headers are refused here, at add
 * time) and computes the fingerprint, so library models and trained adapters agree on it.
 */
export function inspectModelFolder(dir: string): ModelInfo {
  // A cache repository folder (models--ORG--NAME) stands for its main snapshot; a missing path or a
  // file is refused there, in the words every --model DIR uses.
  const { dir: folder, note } = resolveModelFolder(dir);
  // One capped read of config.json: what is stored is what was checked and fingerprinted.
  const { spec, config: raw } = loadModelSpecWithConfig(folder);
  const config = storedConfig(raw);
  return {
    path: folder,
    arch: spec.arch,
    modelType: spec.modelType,
    hiddenSize: spec.hiddenSize,
    numLayers: spec.numLayers,
    vocabSize: spec.vocabSize,
    params: spec.params,
    dtype: spec.dtype,
    // Disk usage: every file of the folder (a cache snapshot's blobs through its symlinks).
    sizeBytes: Math.max(
      modelFolderBytes(folder),
      spec.weights.headers.reduce((a, h) => a + h.fileSize, 0),
    ),
    fingerprint: spec.fingerprint,
    config,
    ...(note ? { note } : {}),
  };
}
