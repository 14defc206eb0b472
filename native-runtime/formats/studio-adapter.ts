// ReFT Studio's own adapter format: a folder with
//   adapter.safetensors  float32 tensors named `<key>/<param>` (canonical names, see pyreft.ts;
//                        R is stored itself, never through a parametrization)
//   manifest.json        { format: 'reft-studio-adapter', version: 1, interventions, layers,
//                          positions, shareWeights, rank, hiddenSize, baseModel: {arch, fingerprint},
//                          datasetVersion, runId, metrics, createdAt, … }
// plus conversion to and from PyreftAdapter, and the import/export flows that validate everything
// before a single byte reaches the destination folder.
// Left out: quantized or bf16 adapter tensors (training and export are float32).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, FormatError } from '../errors.ts';
import { isPrecision, type Precision } from '../runtime/precision-used.ts';
import { writeExportableFolder } from './export-marker.ts';
import { FILE_LIMITS, readJsonFile } from './json-file.ts';
import {
  checkAgainstModel,
  checkParams,
  type InterventionType,
  type ModelShape,
  type ParamTensor,
  PYREFT_CLASS_NAMES,
  type PyreftAdapter,
  type PyreftIntervention,
  parseInterventionKey,
  parseLineage,
  readPyreftFolder,
  type SidecarLineage,
  type StudioSidecar,
  validateAdapter,
  writePyreftFolder,
} from './pyreft.ts';
import { encodeSafetensors, loadSafetensors, type TensorToWrite } from './safetensors.ts';

export const MANIFEST_FILE = 'manifest.json';
export const TENSORS_FILE = 'adapter.safetensors';

export interface StudioManifest {
  format: 'reft-studio-adapter';
  version: 1;
  /** In application order; `key` names the tensors in adapter.safetensors. */
  interventions: Array<{
    key: string;
    layer: number;
    component: 'block_output';
    type: InterventionType;
    rank: number;
  }>;
  /** Distinct layers, ascending. */
  layers: number[];
  positions: string;
  shareWeights: boolean;
  /** The largest rank (all interventions share it in studio-trained adapters). */
  rank: number;
  hiddenSize: number;
  dropout: number;
  activation: string | null;
  promptTemplate: string | null;
  dtype: string;
  /**
   * The precision the base model computed in while training (fp32, fp16, bf16: runtime/precision-used.ts),
   * as the run records it; null where nobody recorded it (a pyreft folder, an adapter trained before
   * manifests kept it — absent there). `dtype` above is the adapter's own tensors', float32 always.
   */
  precision?: Precision | null;
  /** `form`: the base weights the adapter was trained on ('fp32', 'bf16', 'int8-b32', …; quantize/). */
  baseModel: { arch: string; fingerprint: string; form?: string };
  datasetVersion: string | null;
  runId: string | null;
  metrics: Record<string, number>;
  createdAt: string;
  /** An import's: the lineage its reft_studio.json carried (names from the library that exported it). */
  lineage?: SidecarLineage;
  /**
   * An import's: what its pyreft folder did not record and what was assumed instead, in one line for
   * people (folders.ts prepareImport); absent where nothing was assumed.
   */
  importAssumed?: string;
}

export interface StudioAdapter {
  manifest: StudioManifest;
  interventions: PyreftIntervention[];
}

/** What a pyreft folder does not say and the studio needs; the sidecar fills it when present. */
export type StudioAdapterMeta = Partial<
  Pick<
    StudioManifest,
    | 'positions'
    | 'shareWeights'
    | 'dropout'
    | 'activation'
    | 'promptTemplate'
    | 'dtype'
    | 'precision'
    | 'baseModel'
    | 'datasetVersion'
    | 'runId'
    | 'metrics'
    | 'createdAt'
    | 'importAssumed'
  >
>;

// ---------------------------------------------------------------------------------------------
// Manifest validation

const POSITIONS = /^(f\d+(\+l\d+)?|l\d+)$/;

export function validateManifest(json: unknown, where: string): StudioManifest {
  const bad = (m: string) => new FormatError('bad-manifest', `${where}: ${m}`);
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw bad('not a JSON object');
  const m = json as Record<string, unknown>;
  if (m.format !== 'reft-studio-adapter')
    throw bad(`format is ${JSON.stringify(m.format)}, expected "reft-studio-adapter"`);
  if (m.version !== 1)
    throw new FormatError(
      'unsupported-version',
      `${where}: manifest version ${String(m.version)} is not supported (this build reads version 1)`,
    );
  const int = (v: unknown, name: string, min = 0) => {
    if (!Number.isInteger(v) || (v as number) < min) throw bad(`${name} must be an integer ≥ ${min}`);
    return v as number;
  };
  if (!Array.isArray(m.interventions) || m.interventions.length === 0)
    throw bad('interventions must be a non-empty array');
  const keys = new Set<string>();
  for (const [i, iv] of (m.interventions as unknown[]).entries()) {
    const o = iv as Record<string, unknown>;
    if (!o || typeof o !== 'object') throw bad(`interventions[${i}] is not an object`);
    if (typeof o.key !== 'string' || !parseInterventionKey(o.key))
      throw bad(`interventions[${i}].key is not an intervention key`);
    if (keys.has(o.key)) throw bad(`intervention key ${o.key} appears twice`);
    keys.add(o.key);
    int(o.layer, `interventions[${i}].layer`);
    if (parseInterventionKey(o.key)?.layer !== o.layer)
      throw bad(`interventions[${i}]: key ${o.key} does not match layer ${String(o.layer)}`);
    if (o.component !== 'block_output') throw bad(`interventions[${i}].component must be "block_output"`);
    if (typeof o.type !== 'string' || !Object.hasOwn(PYREFT_CLASS_NAMES, o.type))
      throw bad(`interventions[${i}].type ${JSON.stringify(o.type)} is not a ReFT type`);
    int(o.rank, `interventions[${i}].rank`, 1);
  }
  const ivs = m.interventions as StudioManifest['interventions'];
  if (!Array.isArray(m.layers) || m.layers.some((l) => !Number.isInteger(l)))
    throw bad('layers must be an array of integers');
  const layers = [...new Set(ivs.map((iv) => iv.layer))].sort((a, b) => a - b);
  if (JSON.stringify(m.layers) !== JSON.stringify(layers))
    throw bad(
      `layers ${JSON.stringify(m.layers)} do not match the interventions' layers ${JSON.stringify(layers)}`,
    );
  if (typeof m.positions !== 'string' || !POSITIONS.test(m.positions))
    throw bad(`positions ${JSON.stringify(m.positions)} must look like "l1", "f3" or "f7+l7"`);
  if (typeof m.shareWeights !== 'boolean') throw bad('shareWeights must be a boolean');
  const rank = int(m.rank, 'rank', 1);
  if (rank !== Math.max(...ivs.map((iv) => iv.rank)))
    throw new FormatError(
      'rank-mismatch',
      `${where}: rank ${rank} is not the interventions' rank ${Math.max(...ivs.map((iv) => iv.rank))}`,
    );
  int(m.hiddenSize, 'hiddenSize', 1);
  if (typeof m.dropout !== 'number' || m.dropout < 0 || m.dropout >= 1)
    throw bad('dropout must be a number in [0, 1)');
  if (m.activation !== null && typeof m.activation !== 'string')
    throw bad('activation must be a string or null');
  if (m.promptTemplate !== null && typeof m.promptTemplate !== 'string')
    throw bad('promptTemplate must be a string or null');
  if (typeof m.dtype !== 'string') throw bad('dtype must be a string');
  if (m.precision !== undefined && m.precision !== null && !isPrecision(m.precision))
    throw bad(`precision ${JSON.stringify(m.precision)} must be fp32, fp16, bf16 or null`);
  const bm = m.baseModel as Record<string, unknown> | null;
  if (!bm || typeof bm !== 'object' || typeof bm.arch !== 'string' || typeof bm.fingerprint !== 'string')
    throw bad('baseModel must be {arch, fingerprint}');
  if (bm.form !== undefined && typeof bm.form !== 'string') throw bad('baseModel.form must be a string');
  if (m.datasetVersion !== null && typeof m.datasetVersion !== 'string')
    throw bad('datasetVersion must be a string or null');
  if (m.runId !== null && typeof m.runId !== 'string') throw bad('runId must be a string or null');
  if (
    !m.metrics ||
    typeof m.metrics !== 'object' ||
    Object.values(m.metrics).some((v) => typeof v !== 'number')
  )
    throw bad('metrics must map names to numbers');
  if (typeof m.createdAt !== 'string' || Number.isNaN(Date.parse(m.createdAt)))
    throw bad('createdAt must be an ISO date');
  if (m.lineage !== undefined) parseLineage(m.lineage, where);
  if (m.importAssumed !== undefined && typeof m.importAssumed !== 'string')
    throw bad('importAssumed must be a string');
  return m as unknown as StudioManifest;
}

// ---------------------------------------------------------------------------------------------
// Read / write

/** Reads and validates a studio adapter folder (manifest and tensors agree in names and shapes). */
export function readStudioAdapter(dir: string): StudioAdapter {
  const mPath = join(dir, MANIFEST_FILE);
  if (!existsSync(mPath))
    throw new FormatError('missing-file', `${mPath}: missing; not a ReFT Studio adapter folder`);
  const manifest = validateManifest(readJsonFile(mPath, mPath, FILE_LIMITS.config, 'bad-manifest'), mPath);
  const tPath = join(dir, TENSORS_FILE);
  const tensors = loadSafetensors(tPath);
  const used = new Set<string>();
  const interventions = manifest.interventions.map((m): PyreftIntervention => {
    const params: Record<string, ParamTensor> = {};
    for (const [name, t] of tensors) {
      if (!name.startsWith(`${m.key}/`)) continue;
      if (t.dtype !== 'F32')
        throw new FormatError('bad-dtype', `${tPath}: ${name} is ${t.dtype}, expected F32`);
      params[name.slice(m.key.length + 1)] = { shape: t.shape, data: t.data as Float32Array };
      used.add(name);
    }
    checkParams(
      `${TENSORS_FILE} (${m.key})`,
      m.type,
      params,
      manifest.hiddenSize,
      m.rank,
      (c) => `${m.key}/${c}`,
    );
    return {
      key: m.key,
      layer: m.layer,
      component: 'block_output',
      type: m.type,
      embedDim: manifest.hiddenSize,
      rank: m.rank,
      params,
    };
  });
  for (const name of tensors.keys()) {
    if (!used.has(name))
      throw new FormatError(
        'unexpected-tensor',
        `${tPath}: tensor ${name} belongs to no intervention in the manifest`,
      );
  }
  return { manifest, interventions };
}

/** Writes a studio adapter folder, atomically; `asExport` marks it as an export (export-marker.ts). */
export function writeStudioAdapter(
  dir: string,
  adapter: StudioAdapter,
  opts: { asExport?: boolean } = {},
): void {
  writeExportableFolder(dir, studioAdapterFiles(adapter), opts.asExport ? 'studio' : undefined);
}

/**
 * The validated files of a studio adapter folder (name, bytes), for callers that write them together
 * with others in one atomic folder (training checkpoints).
 */
export function studioAdapterFiles(adapter: StudioAdapter): Array<[string, string | Uint8Array]> {
  const manifest = validateManifest(adapter.manifest, 'manifest');
  validateAdapter({ interventions: adapter.interventions });
  const tensors: Record<string, TensorToWrite> = {};
  adapter.interventions.forEach((iv, i) => {
    const m = manifest.interventions[i];
    if (
      !m ||
      m.key !== iv.key ||
      m.type !== iv.type ||
      m.layer !== iv.layer ||
      m.rank !== iv.rank ||
      iv.embedDim !== manifest.hiddenSize
    ) {
      throw new FormatError('bad-adapter', `intervention ${iv.key} does not match manifest entry ${i}`);
    }
    for (const [name, t] of Object.entries(iv.params))
      tensors[`${iv.key}/${name}`] = { dtype: 'F32', shape: t.shape, data: t.data };
  });
  if (manifest.interventions.length !== adapter.interventions.length)
    throw new FormatError('bad-adapter', 'manifest and tensors list different interventions');
  return [
    [TENSORS_FILE, encodeSafetensors(tensors, { format: 'reft-studio-adapter' })],
    [MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`],
  ];
}

// ---------------------------------------------------------------------------------------------
// Conversion

/** Builds a studio adapter from a pyreft one; positions and baseModel come from the sidecar or `meta`. */
/** The manifest's list of interventions, in application order. */
export function manifestEntries(
  interventions: readonly PyreftIntervention[],
): StudioManifest['interventions'] {
  return interventions.map((iv) => ({
    key: iv.key,
    layer: iv.layer,
    component: 'block_output',
    type: iv.type,
    rank: iv.rank,
  }));
}

/**
 * Whether every layer has a prefix and then a suffix intervention, in pyreft's order (all the prefix
 * ones, then the suffix ones for the same layers): how pyreft saves untied first+last positions.
 */
export function pairedPerLayer(interventions: ReadonlyArray<{ layer: number }>): boolean {
  const layers = interventions.map((iv) => iv.layer);
  const half = layers.length / 2;
  return (
    layers.length % 2 === 0 &&
    layers.slice(0, half).every((l, i) => l === layers[half + i]) &&
    new Set(layers.slice(0, half)).size === half
  );
}

/**
 * Shared weights for a pyreft folder that does not record them: untied (pyreft's default) only where
 * both prefix and suffix positions are used and the folder holds a pair of interventions per layer;
 * one intervention per layer with first+last positions is one set of weights for both.
 */
export function inferredShareWeights(
  positions: string,
  interventions: ReadonlyArray<{ layer: number }>,
): boolean {
  return !(/^f\d+\+l\d+$/.test(positions) && pairedPerLayer(interventions));
}

export function pyreftToStudio(adapter: PyreftAdapter, meta: StudioAdapterMeta = {}): StudioAdapter {
  validateAdapter(adapter);
  const side = adapter.sidecar;
  const positions = meta.positions ?? side?.positions;
  const baseModel = meta.baseModel ?? side?.baseModel ?? undefined;
  const precision = meta.precision ?? side?.precision;
  const lineage = side?.lineage;
  const missing = [positions === undefined && 'positions', baseModel === undefined && 'baseModel'].filter(
    Boolean,
  );
  if (missing.length) {
    throw new ConfigError(
      'missing-metadata',
      `a pyreft folder does not record ${missing.join(' and ')}; give them when importing (no reft_studio.json found)`,
    );
  }
  const dims = new Set(adapter.interventions.map((iv) => iv.embedDim));
  if (dims.size !== 1)
    throw new FormatError(
      'shape-mismatch',
      `interventions disagree on the hidden size (${[...dims].join(', ')})`,
    );
  const interventions = adapter.interventions.map((iv) => ({
    ...iv,
    params: { ...iv.params },
    householder: undefined,
  }));
  const manifest: StudioManifest = {
    format: 'reft-studio-adapter',
    version: 1,
    interventions: manifestEntries(interventions),
    layers: [...new Set(interventions.map((iv) => iv.layer))].sort((a, b) => a - b),
    positions: positions as string,
    shareWeights:
      meta.shareWeights ?? side?.shareWeights ?? inferredShareWeights(positions as string, interventions),
    rank: Math.max(...interventions.map((iv) => iv.rank)),
    hiddenSize: [...dims][0],
    dropout: meta.dropout ?? side?.dropout ?? 0,
    activation: meta.activation ?? side?.activation ?? null,
    promptTemplate: meta.promptTemplate ?? side?.promptTemplate ?? null,
    dtype: meta.dtype ?? side?.dtype ?? 'float32',
    // Only what a studio export's sidecar recorded: pyreft itself keeps none, and none is guessed.
    // Absent rather than null, so a folder imported before manifests had it hashes as it did then
    // (folders.ts adapterContentHash: imported again, it is found already there).
    ...(precision ? { precision } : {}),
    baseModel: baseModel as { arch: string; fingerprint: string },
    // A studio export's lineage names the run and dataset; pyreft itself records neither.
    datasetVersion: meta.datasetVersion ?? lineage?.dataset?.hash ?? null,
    runId: meta.runId ?? lineage?.run?.id ?? null,
    metrics: meta.metrics ?? lineageMetrics(lineage),
    createdAt: meta.createdAt ?? new Date().toISOString(),
    ...(lineage ? { lineage } : {}),
    ...(meta.importAssumed ? { importAssumed: meta.importAssumed } : {}),
  };
  return { manifest: validateManifest(manifest, 'converted manifest'), interventions };
}

/** The steps and final loss a lineage records, as manifest metrics. */
function lineageMetrics(lineage: SidecarLineage | undefined): Record<string, number> {
  const metrics: Record<string, number> = {};
  if (lineage?.steps != null) metrics.steps = lineage.steps;
  if (lineage?.finalLoss != null) metrics.finalLoss = lineage.finalLoss;
  return metrics;
}

/**
 * The lineage a manifest alone can tell (no names: the library adds those, library/adapters.ts
 * exportLineage): an imported one's as it came, else the fingerprint, dataset hash, run id and metrics.
 */
export function manifestLineage(m: StudioManifest): SidecarLineage {
  if (m.lineage) return m.lineage;
  return {
    baseModel: { name: null, fingerprint: m.baseModel.fingerprint },
    dataset: m.datasetVersion === null ? null : { name: null, hash: m.datasetVersion },
    run: m.runId === null ? null : { id: m.runId, name: null, config: null },
    steps: Number.isInteger(m.metrics.steps) && m.metrics.steps >= 0 ? m.metrics.steps : null,
    finalLoss: Number.isFinite(m.metrics.finalLoss) ? m.metrics.finalLoss : null,
  };
}

/**
 * The pyreft view of a studio adapter, with a sidecar carrying what pyreft does not store; `lineage`
 * is the library's (with names), else the manifest's own (manifestLineage).
 */
export function studioToPyreft(adapter: StudioAdapter, lineage?: SidecarLineage): PyreftAdapter {
  const m = adapter.manifest;
  const sidecar: StudioSidecar = {
    format: 'reft-studio-sidecar',
    version: 1,
    positions: m.positions,
    shareWeights: m.shareWeights,
    dropout: m.dropout,
    activation: m.activation,
    promptTemplate: m.promptTemplate,
    baseModel: m.baseModel,
    dtype: m.dtype,
    ...(m.precision ? { precision: m.precision } : {}),
    lineage: lineage ?? manifestLineage(m),
  };
  return { interventions: adapter.interventions.map((iv) => ({ ...iv, params: { ...iv.params } })), sidecar };
}

export interface ImportOptions {
  /** When given, the adapter must fit this model (hidden size, layer range). */
  model?: ModelShape;
  meta?: StudioAdapterMeta;
}

/**
 * Imports a pyreft folder into a studio adapter folder at `dest`. Everything is read and checked
 * first; `dest` is only touched (atomically) once the adapter is known to be good.
 */
export function importPyreftFolder(src: string, dest: string, opts: ImportOptions = {}): StudioAdapter {
  const py = readPyreftFolder(src, { model: opts.model });
  const studio = pyreftToStudio(py, opts.meta);
  writeStudioAdapter(dest, studio);
  return studio;
}

/** Exports a studio adapter folder as a pyreft folder at `dest` (atomic). */
export function exportToPyreftFolder(
  src: string,
  dest: string,
  opts: { model?: ModelShape } = {},
): PyreftAdapter {
  const studio = readStudioAdapter(src);
  if (opts.model) checkAgainstModel(studio, opts.model);
  const py = studioToPyreft(studio);
  writePyreftFolder(dest, py);
  return py;
}
