// Where interventions sit: the `--positions` and `--layers` options, the list of interventions they
// expand to, and the token positions each intervention sees on one prompt — exactly as pyreft's
// `get_intervention_locations` (pyreft/dataset.py at dafd099) computes them, minus its sink shift.
//
//   positions  "fN" (first N prompt tokens), "lM" (last M), "fN+lM" (both); N, M ≥ 1
//   clipping   with a prompt of L tokens: first = min(N, ⌊L/2⌋), last = min(M, ⌊L/2⌋)
//   untied     (both f and l given, share_weights off) two interventions per layer: every prefix
//              intervention first (one per layer, layer order), then every suffix one; the prefix
//              ones see [0 … first−1], the suffix ones [L−last … L−1], both padded to one length
//   tied       (share_weights, or only f or only l) one intervention per layer that sees
//              [0 … first−1, L−last … L−1] padded to N + M slots
//   quirk      untied, but clipping made first or last 0 (L < 2): every intervention gets the tied
//              list (pyreft's `if share_weights or (first_n == 0 or last_n == 0)`)
// Padding: pyreft pads with −1 and then shifts everything by +1 onto its sink token. Our batches have
// no sink, so a padding slot stays −1, which the graph treats as "no position" (interventions/graph.ts).
// Keys: layer_{l}_comp_block_output_unit_pos_nunit_1#{k}, k = earlier interventions on that layer.

import { ConfigError } from '../errors.ts';
import { interventionKey } from '../interventions/kinds.ts';

/**
 * A refusal of the layers or positions given: `message` in the studio's words (beside its field),
 * `cli` naming the flag the user typed (`--layers: …`), as the CLI's other flag errors do; the
 * CLI's failure line picks it (options.ts wordedFor).
 */
export class PlacementError extends ConfigError {
  constructor(
    code: string,
    message: string,
    readonly cli: string,
  ) {
    super(code, message);
    // A ConfigError to everyone else (the wire's `type`, the studio's checks).
    this.name = 'ConfigError';
  }

  forCli(): ConfigError {
    return new ConfigError(this.code, this.cli);
  }
}

/** `what` (the value, quoted, and what is wrong with it) refusing --layers or --positions. */
const placementError = (code: string, flag: 'layers' | 'positions', value: string | null, what: string) =>
  new PlacementError(
    code,
    value === null ? what : `${flag} ${value}${what}`,
    `--${flag}: ${value === null ? what : `${value}${what}`}`,
  );

export interface Positions {
  /** N of "fN" (0 when absent). */
  first: number;
  /** M of "lM" (0 when absent). */
  last: number;
  /** The canonical text ("f1+l1"). */
  text: string;
}

/** Parses "fN", "lM" or "fN+lM" (N, M ≥ 1, at most `max` each). Anything else is a ConfigError. */
export function parsePositions(s: string, max = 1024): Positions {
  const m = /^(?:f(\d+)(?:\+l(\d+))?|l(\d+))$/.exec(s);
  if (!m) {
    throw placementError(
      'bad-positions',
      'positions',
      `"${s}"`,
      ' is not understood: use "fN" (first N prompt tokens), "lM" (last M) or "fN+lM", e.g. "f1+l1"',
    );
  }
  const first = m[1] !== undefined ? Number(m[1]) : 0;
  const last = m[2] !== undefined ? Number(m[2]) : m[3] !== undefined ? Number(m[3]) : 0;
  for (const [name, v, given] of [
    ['f', first, m[1]],
    ['l', last, m[2] ?? m[3]],
  ] as const) {
    if (given === undefined) continue;
    if (v < 1)
      throw placementError(
        'bad-positions',
        'positions',
        `"${s}"`,
        `: ${name}${v} selects no token; use ${name}1 or more`,
      );
    if (v > max)
      throw placementError(
        'bad-positions',
        'positions',
        `"${s}"`,
        `: ${name}${v} is longer than ${max} tokens`,
      );
  }
  return { first, last, text: first && last ? `f${first}+l${last}` : first ? `f${first}` : `l${last}` };
}

/** Parses "all", "2;10;18" or "2,10,18" into ascending distinct layer indices within 0..numLayers−1. */
export function parseLayers(s: string | readonly number[], numLayers: number): number[] {
  let layers: number[];
  if (typeof s !== 'string') layers = [...s];
  else if (s.trim() === 'all') return Array.from({ length: numLayers }, (_, i) => i);
  else {
    const parts = s.split(/[;,]/).map((p) => p.trim());
    for (const p of parts) {
      if (!/^\d+$/.test(p)) {
        throw placementError(
          'bad-layers',
          'layers',
          `"${s}"`,
          `: "${p}" is not a layer index (use "all" or e.g. "2;10;18")`,
        );
      }
    }
    layers = parts.map(Number);
  }
  if (layers.length === 0) throw placementError('bad-layers', 'layers', null, 'no layers given');
  const seen = new Set<number>();
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= numLayers) {
      throw placementError(
        'layer-out-of-range',
        'layers',
        null,
        `layer ${l} is out of range: the model has layers 0..${numLayers - 1}`,
      );
    }
    if (seen.has(l)) throw placementError('bad-layers', 'layers', null, `layer ${l} is listed twice`);
    seen.add(l);
  }
  return layers.sort((a, b) => a - b);
}

/**
 * The syntax of --layers and --positions alone, before any model is known (train's option check,
 * bench's flags): refused in parseLayers's and parsePositions's words.
 */
export const checkLayersSyntax = (s: string | readonly number[]): void => {
  if (!(typeof s === 'string' && s.trim() === 'all')) parseLayers(s, Number.MAX_SAFE_INTEGER);
};
export const checkPositionsSyntax = (s: string): void => {
  parsePositions(s, Number.MAX_SAFE_INTEGER);
};

/** Untied weights: both prefix and suffix positions and no weight sharing (pyreft's default then). */
export function isUntied(pos: Positions, shareWeights: boolean): boolean {
  return pos.first > 0 && pos.last > 0 && !shareWeights;
}

export interface PlannedIntervention {
  key: string;
  layer: number;
  /** Which positions it sees when untied (prefix/suffix), or both lists ('all'). */
  role: 'prefix' | 'suffix' | 'all';
}

/** The interventions in config order: untied → all prefix ones, then all suffix ones. */
export function planInterventions(
  layers: readonly number[],
  pos: Positions,
  shareWeights: boolean,
): PlannedIntervention[] {
  const untied = isUntied(pos, shareWeights);
  const expanded = untied ? [...layers, ...layers] : [...layers];
  const seen = new Map<number, number>();
  return expanded.map((layer, i) => {
    const k = seen.get(layer) ?? 0;
    seen.set(layer, k + 1);
    const role = !untied ? 'all' : i < layers.length ? 'prefix' : 'suffix';
    return { key: interventionKey(layer, k), layer, role };
  });
}

/**
 * Positions of each intervention for a prompt of `promptLen` tokens (pyreft's
 * get_intervention_locations with last_position = promptLen), padding slots −1.
 * Returns one list per intervention, in planInterventions order.
 */
export function interventionLocations(
  promptLen: number,
  pos: Positions,
  numInterventions: number,
  untied: boolean,
): number[][] {
  const L = promptLen;
  const firstN = Math.min(Math.floor(L / 2), pos.first);
  const lastN = Math.min(Math.floor(L / 2), pos.last);
  const pad = (n: number) => Array<number>(n).fill(-1);
  const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
  if (!untied || firstN === 0 || lastN === 0) {
    const padAmount = pos.first - firstN + (pos.last - lastN);
    const list = [...range(0, firstN), ...range(L - lastN, L), ...pad(padAmount)];
    return Array.from({ length: numInterventions }, () => [...list]);
  }
  const left = [...range(0, firstN), ...pad(pos.first - firstN)];
  const right = [...range(L - lastN, L), ...pad(pos.last - lastN)];
  // After padding the two may still differ in length; pyreft pads the shorter one.
  if (left.length > right.length) right.push(...pad(left.length - right.length));
  else left.push(...pad(right.length - left.length));
  const half = Math.floor(numInterventions / 2);
  return [
    ...Array.from({ length: half }, () => [...left]),
    ...Array.from({ length: half }, () => [...right]),
  ];
}

/**
 * Whether a prompt of `promptLen` tokens gets any intervention position: pyreft takes at most half
 * the prompt from each end, so a 1-token prompt gets none and its example trains nothing.
 */
export function placesInterventions(promptLen: number, pos: Positions): boolean {
  return interventionLocations(promptLen, pos, 1, false)[0].some((x) => x >= 0);
}
