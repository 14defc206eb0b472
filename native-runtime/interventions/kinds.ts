// The six ReFT intervention types (reft-semantics.md): their trained tensors, named as in pyreft's
// state dicts, with shapes for hidden size n and rank r. R (`rotate_layer`) is the orthonormal n×r
// matrix itself; how it is kept orthonormal is the trainer's business (training/stiefel.ts).

export type InterventionType = 'loreft' | 'noreft' | 'direft' | 'nodireft' | 'consreft' | 'lobireft';
export type ActivationName = 'linear' | 'relu' | 'gelu' | 'tanh' | 'silu' | 'sigmoid';

export const INTERVENTION_TYPES: readonly InterventionType[] = [
  'loreft',
  'noreft',
  'direft',
  'nodireft',
  'consreft',
  'lobireft',
];

export const PYREFT_CLASS: Record<InterventionType, string> = {
  loreft: 'LoreftIntervention',
  noreft: 'NoreftIntervention',
  direft: 'DireftIntervention',
  nodireft: 'NodireftIntervention',
  consreft: 'ConsreftIntervention',
  lobireft: 'LobireftIntervention',
};

/**
 * One trained tensor of an intervention type. This table is the only declaration of the parameter
 * layouts: the engine (init, graph, trainer) and the adapter files (formats/pyreft-params.ts, which
 * calls R "R" in memory) both derive from it.
 */
export interface ParamDef {
  /** The name in pyreft's state dict (`rotate_layer` is R). */
  name: string;
  /** Shape in hidden size n and rank r, e.g. ['r', 'n'] for a Linear(n → r) weight. */
  dims: ReadonlyArray<'n' | 'r'>;
  /** The shape for hidden size n and rank r (from dims). */
  shape: (n: number, r: number) => number[];
  /** R: orthonormal columns, initialised by QR of a Gaussian matrix. */
  orthonormal?: boolean;
  /** Initialisation: uniform(±1/√n) like torch.nn.Linear, or uniform[0,1) like torch.rand. */
  init: 'orthonormal' | 'linear' | 'rand';
  /** In pyreft's state dict but never read by the forward pass (NodiReFT's proj_layer.bias). */
  unused?: boolean;
  /** pyreft leaves it out of saved files when the layer was built without it (add_bias=False). */
  optionalInFiles?: boolean;
}

function param(
  name: string,
  dims: ReadonlyArray<'n' | 'r'>,
  init: ParamDef['init'],
  extra: Partial<ParamDef> = {},
): ParamDef {
  return { name, dims, shape: (n, r) => dims.map((d) => (d === 'n' ? n : r)), init, ...extra };
}

const R = param('rotate_layer', ['n', 'r'], 'orthonormal', { orthonormal: true });
const lin = (name: string, w: boolean, extra: Partial<ParamDef> = {}): ParamDef =>
  param(name, w ? ['r', 'n'] : ['r'], 'linear', extra);

export const PARAMS: Record<InterventionType, ParamDef[]> = {
  loreft: [R, lin('weight', true), lin('bias', false)],
  noreft: [
    lin('learned_source.weight', true),
    lin('learned_source.bias', false),
    lin('proj_layer.weight', true),
    lin('proj_layer.bias', false, { optionalInFiles: true }),
  ],
  direft: [R, lin('learned_source.weight', true), lin('learned_source.bias', false)],
  nodireft: [
    lin('learned_source.weight', true),
    lin('learned_source.bias', false),
    lin('proj_layer.weight', true),
    lin('proj_layer.bias', false, { unused: true, optionalInFiles: true }),
  ],
  consreft: [R, param('learned_source', ['r'], 'rand')],
  lobireft: [R, param('learned_source', ['r'], 'rand')],
};

export interface InterventionSpec {
  /** pyvene key, e.g. layer_2_comp_block_output_unit_pos_nunit_1#0 */
  key: string;
  layer: number;
  type: InterventionType;
  rank: number;
  embedDim: number;
  act: ActivationName;
  dropout: number;
  /**
   * Opt-in: the graph gets a float32 scalar input `iv{j}.scale` multiplying this intervention's
   * change (h' = h + α·(f(h) − h) at its positions); adapter composition uses it. Off by default,
   * so graphs and feeds without it are unchanged.
   */
  scalable?: boolean;
}

export function interventionKey(layer: number, k: number): string {
  return `layer_${layer}_comp_block_output_unit_pos_nunit_1#${k}`;
}

/** Trainable parameter count, e.g. LoReFT 2·n·r + r. */
export function paramCount(spec: InterventionSpec): number {
  return PARAMS[spec.type].reduce(
    (s, p) => s + p.shape(spec.embedDim, spec.rank).reduce((a, b) => a * b, 1),
    0,
  );
}

export function isUnusedParam(type: InterventionType, name: string): boolean {
  return PARAMS[type].some((p) => p.name === name && p.unused);
}
