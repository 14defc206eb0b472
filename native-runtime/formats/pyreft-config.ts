// pyreft's config.json (pyvene's IntervenableConfig, keys sorted, indent 2), the intervention keys it
// lists, and our side file reft_studio.json (pyvene ignores unknown files) for what pyreft does not
// store: positions, share_weights, dropout, activation, prompt template, base model, dtype, and the
// precision the studio trained in.
// Parsing bounds every number (hidden size, rank ≤ hidden size) so that the .bin files can be sized
// from the config before they are read (pyreft-bin.ts).
// Left out: components other than block_output, units other than "pos", subspaces.

import { FormatError } from '../errors.ts';
import { interventionKey } from '../interventions/kinds.ts';
import { CONFIG_LIMITS } from '../models/config-fields.ts';
import { isPrecision } from '../runtime/precision-used.ts';
import {
  type InterventionType,
  MAX_EMBED_DIM,
  PYREFT_CLASS_NAMES,
  type PyreftIntervention,
  type SidecarLineage,
  type StudioSidecar,
} from './pyreft-params.ts';

export { interventionKey };
export const SIDECAR_FILE = 'reft_studio.json';
export const DEFAULT_TRANSFORMERS_VERSION = '5.17.0';
const MAX_LAYERS = CONFIG_LIMITS.numLayers;

/** A value from the file for a message: JSON, cut short (messages never carry whole files). */
const show = (v: unknown): string => {
  const t = JSON.stringify(v) ?? String(v);
  return t.length > 60 ? `${t.slice(0, 60)}…` : t;
};

/** The string pyvene writes in config.json's intervention_types. */
export function pyreftClassString(type: InterventionType): string {
  return `<class 'pyreft.interventions.${PYREFT_CLASS_NAMES[type]}'>`;
}

/** Accepts "<class 'pyreft.interventions.LoreftIntervention'>", "pyreft.interventions.X" or "X". */
export function parseInterventionType(s: string): InterventionType | undefined {
  const m = /^(?:<class ')?(?:[\w.]+\.)?(\w+)(?:'>)?$/.exec(s.trim());
  if (!m) return undefined;
  const found = (Object.keys(PYREFT_CLASS_NAMES) as InterventionType[]).find(
    (t) => PYREFT_CLASS_NAMES[t] === m[1],
  );
  return found;
}

/** Parses both `layer_1_comp_block_output_unit_pos_nunit_1#0` and the older dotted form. */
export function parseInterventionKey(
  key: string,
): { layer: number; component: string; k: number } | undefined {
  const m = /^layer[._](\d+)[._]comp[._]([A-Za-z_]+?)[._]unit[._]pos[._]nunit[._](\d+)#(\d+)$/.exec(key);
  if (!m) return undefined;
  return { layer: Number(m[1]), component: m[2], k: Number(m[4]) };
}

/** Canonical keys in config order: k counts earlier interventions on the same layer. */
export function canonicalKeys(layers: number[]): string[] {
  const seen = new Map<number, number>();
  return layers.map((l) => {
    const k = seen.get(l) ?? 0;
    seen.set(l, k + 1);
    return interventionKey(l, k);
  });
}

// ---------------------------------------------------------------------------------------------
// Reading

const CONFIG_KEYS = [
  'intervention_constant_sources',
  'intervention_dimensions',
  'intervention_types',
  'mode',
  'representations',
  'sorted_keys',
  'transformers_version',
] as const;

export interface ParsedConfig {
  entries: Array<{ key: string; layer: number; type: InterventionType; embedDim: number; rank: number }>;
  transformersVersion: string;
}

/** Checks a parsed config.json; `where` names it in errors. */
export function parseConfig(json: unknown, where: string): ParsedConfig {
  const bad = (msg: string) => new FormatError('bad-config', `${where}: ${msg}`);
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw bad('not a JSON object');
  const c = json as Record<string, unknown>;
  for (const k of CONFIG_KEYS) if (!Object.hasOwn(c, k)) throw bad(`missing key "${k}"; not a pyreft config`);
  if (c.mode !== 'parallel')
    throw new FormatError(
      'unsupported-config',
      `${where}: mode ${show(c.mode)} is not supported (pyreft uses "parallel")`,
    );
  if (typeof c.transformers_version !== 'string') throw bad('transformers_version is not a string');
  const reps = c.representations;
  if (!Array.isArray(reps) || reps.length === 0) throw bad('representations must be a non-empty array');
  const n = reps.length;
  for (const k of [
    'intervention_constant_sources',
    'intervention_dimensions',
    'intervention_types',
    'sorted_keys',
  ] as const) {
    const v = c[k];
    if (!Array.isArray(v) || v.length !== n)
      throw bad(`${k} must be an array of ${n} entries, one per representation`);
  }
  const consts = c.intervention_constant_sources as unknown[];
  const dims = c.intervention_dimensions as unknown[];
  const types = c.intervention_types as unknown[];
  const keys = c.sorted_keys as unknown[];
  const entries: ParsedConfig['entries'] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const rep = reps[i];
    if (!Array.isArray(rep) || rep.length !== 14) {
      throw bad(
        `representations[${i}] must be a 14-element array [layer, component, unit, nunit, rank, …], got ${show(rep)}`,
      );
    }
    const [layer, component, unit, nunit, rank] = rep;
    if (!Number.isInteger(layer) || layer < 0 || layer >= MAX_LAYERS)
      throw bad(`representations[${i}][0] (layer) must be an integer from 0 to ${MAX_LAYERS - 1}`);
    if (component !== 'block_output') {
      throw new FormatError(
        'unsupported-config',
        `${where}: representations[${i}] intervenes on ${show(component)}; only block_output is supported`,
      );
    }
    if (unit !== 'pos' || nunit !== 1)
      throw new FormatError(
        'unsupported-config',
        `${where}: representations[${i}] uses unit ${show(unit)} × ${show(nunit)}; only "pos" × 1 is supported`,
      );
    if (rank === null || rank === undefined) {
      throw bad(
        `representations[${i}] has no rank (element 4, low_rank_dimension); pyreft cannot load such a folder either`,
      );
    }
    if (!Number.isInteger(rank) || rank <= 0)
      throw bad(`representations[${i}][4] (rank) must be a positive integer`);
    if (consts[i] !== true)
      throw new FormatError(
        'unsupported-config',
        `${where}: intervention ${i} is not a constant-source intervention`,
      );
    const dim = dims[i];
    if (!Number.isInteger(dim) || (dim as number) <= 0 || (dim as number) > MAX_EMBED_DIM)
      throw bad(`intervention_dimensions[${i}] must be a positive integer of at most ${MAX_EMBED_DIM}`);
    // R is n×r with orthonormal columns, so pyreft itself cannot hold a rank above the hidden size.
    if (rank > (dim as number))
      throw bad(`representations[${i}] has rank ${rank}, more than its hidden size ${dim as number}`);
    const typeStr = types[i];
    const type = typeof typeStr === 'string' ? parseInterventionType(typeStr) : undefined;
    if (!type)
      throw new FormatError(
        'unsupported-intervention',
        `${where}: intervention type ${show(typeStr)} is not one of pyreft's six`,
      );
    const key = keys[i];
    const parsed = typeof key === 'string' ? parseInterventionKey(key) : undefined;
    if (!parsed || typeof key !== 'string')
      throw bad(`sorted_keys[${i}] ${show(key)} is not a pyvene intervention key`);
    if (parsed.layer !== layer || parsed.component !== 'block_output') {
      throw bad(
        `sorted_keys[${i}] "${key}" does not match representations[${i}] (layer ${layer}, ${component})`,
      );
    }
    if (seen.has(key)) throw bad(`sorted_keys has "${key}" twice`);
    seen.add(key);
    entries.push({ key, layer, type, embedDim: dim as number, rank });
  }
  return { entries, transformersVersion: c.transformers_version };
}

/**
 * Checks reft_studio.json's text; `where` names it in errors, each naming the field. A bad `lineage`
 * is an error too, unless `onBadLineage` is given: then it is passed the error and the lineage left
 * out (an import goes on without it, saying so).
 */
export function parseSidecar(
  text: string,
  where: string,
  opts: { onBadLineage?: (e: FormatError) => void } = {},
): StudioSidecar {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new FormatError('bad-config', `${where}: not valid JSON`);
  }
  const bad = (m: string) => new FormatError('bad-config', `${where}: ${m}`);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('not a JSON object');
  const j = parsed as Record<string, unknown>;
  if (j.format !== 'reft-studio-sidecar' || j.version !== 1) throw bad('not a reft_studio.json of version 1');
  if (typeof j.positions !== 'string') throw bad('positions must be a string');
  if (typeof j.shareWeights !== 'boolean') throw bad('shareWeights must be a boolean');
  if (typeof j.dropout !== 'number') throw bad('dropout must be a number');
  if (j.activation !== null && typeof j.activation !== 'string')
    throw bad('activation must be a string or null');
  if (j.promptTemplate !== null && typeof j.promptTemplate !== 'string')
    throw bad('promptTemplate must be a string or null');
  const bm = j.baseModel as { arch?: unknown; fingerprint?: unknown } | null;
  if (
    bm !== null &&
    (typeof bm !== 'object' || typeof bm.arch !== 'string' || typeof bm.fingerprint !== 'string')
  ) {
    throw bad('baseModel must be {arch, fingerprint} or null');
  }
  if (typeof j.dtype !== 'string') throw bad('dtype must be a string');
  if (j.precision !== undefined && !isPrecision(j.precision))
    throw bad(`precision ${JSON.stringify(j.precision)} must be fp32, fp16 or bf16`);
  const { lineage, ...core } = j;
  if (lineage === undefined) return core as unknown as StudioSidecar;
  try {
    return { ...core, lineage: parseLineage(lineage, where) } as unknown as StudioSidecar;
  } catch (e) {
    if (!opts.onBadLineage || !(e instanceof FormatError)) throw e;
    opts.onBadLineage(e);
    return core as unknown as StudioSidecar;
  }
}

/** Checks a `lineage` (SidecarLineage) of reft_studio.json or a manifest; errors name `where` and the field. */
export function parseLineage(v: unknown, where: string): SidecarLineage {
  const bad = (field: string, m: string) => new FormatError('bad-config', `${where}: lineage${field} ${m}`);
  const isObject = (x: unknown): x is Record<string, unknown> =>
    x !== null && typeof x === 'object' && !Array.isArray(x);
  const strOrNull = (o: Record<string, unknown>, field: string, k: string) => {
    if (o[k] !== null && typeof o[k] !== 'string') throw bad(`${field}.${k}`, 'must be a string or null');
  };
  if (!isObject(v)) throw bad('', 'must be an object');
  const bm = v.baseModel;
  if (!isObject(bm)) throw bad('.baseModel', 'must be {name, fingerprint}');
  strOrNull(bm, '.baseModel', 'name');
  if (typeof bm.fingerprint !== 'string') throw bad('.baseModel.fingerprint', 'must be a string');
  if (v.dataset !== null) {
    if (!isObject(v.dataset)) throw bad('.dataset', 'must be {name, hash} or null');
    strOrNull(v.dataset, '.dataset', 'name');
    strOrNull(v.dataset, '.dataset', 'hash');
  }
  if (v.run !== null) {
    if (!isObject(v.run)) throw bad('.run', 'must be {id, name, config} or null');
    strOrNull(v.run, '.run', 'id');
    strOrNull(v.run, '.run', 'name');
    if (v.run.config !== null && !isObject(v.run.config))
      throw bad('.run.config', 'must be an object or null');
  }
  if (v.steps !== null && !(Number.isInteger(v.steps) && (v.steps as number) >= 0))
    throw bad('.steps', 'must be a whole number ≥ 0 or null');
  if (v.finalLoss !== null && !(typeof v.finalLoss === 'number' && Number.isFinite(v.finalLoss)))
    throw bad('.finalLoss', 'must be a number or null');
  const dataset = v.dataset as SidecarLineage['dataset'];
  const run = v.run as SidecarLineage['run'];
  // Only the fields it has: anything else in the file is not carried into the library.
  return {
    baseModel: { name: bm.name as string | null, fingerprint: bm.fingerprint },
    dataset: dataset && { name: dataset.name, hash: dataset.hash },
    run: run && { id: run.id, name: run.name, config: run.config },
    steps: v.steps as number | null,
    finalLoss: v.finalLoss as number | null,
  };
}

// ---------------------------------------------------------------------------------------------
// Writing

/** config.json exactly as transformers writes it: keys sorted, indent 2, trailing newline. */
export function encodePyreftConfig(
  interventions: PyreftIntervention[],
  transformersVersion = DEFAULT_TRANSFORMERS_VERSION,
): string {
  const keys = canonicalKeys(interventions.map((iv) => iv.layer));
  const cfg = {
    intervention_constant_sources: interventions.map(() => true),
    intervention_dimensions: interventions.map((iv) => iv.embedDim),
    intervention_types: interventions.map((iv) => pyreftClassString(iv.type)),
    mode: 'parallel',
    representations: interventions.map((iv) => [
      iv.layer,
      'block_output',
      'pos',
      1,
      iv.rank,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
    ]),
    sorted_keys: keys,
    transformers_version: transformersVersion,
  };
  return `${JSON.stringify(cfg, null, 2)}\n`;
}
