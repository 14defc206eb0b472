// The Layers option as the wizard edits it: a set of layer indices chosen on a diagram, written as
// the option's text ("all" or "2;10;18") for the backend. Parsing goes through the engine's own
// parseLayers, so the diagram and the trainer read the option the same way.

import { parseLayers } from '../../../../native-runtime/training/positions.ts';

/** The layer indices `layers` selects on a model of `numLayers` layers; null when it does not parse. */
export function layerSet(
  layers: string | readonly number[] | undefined,
  numLayers: number,
): Set<number> | null {
  try {
    return new Set(parseLayers(layers ?? 'all', numLayers));
  } catch {
    return null;
  }
}

/** The option's text for a selection: "all" when every layer is chosen, else ascending "a;b;c". */
export function layersText(selected: ReadonlySet<number>, numLayers: number): string {
  if (numLayers > 0 && selected.size === numLayers) return 'all';
  return [...selected].sort((a, b) => a - b).join(';');
}

/**
 * Layers at the given fractions of the depth (0 = first, 1 = last), distinct and ascending: a
 * recipe written for a 32-layer model ("layers 3;9;18;24") carried over to any depth.
 */
export function layersAt(fractions: readonly number[], numLayers: number): number[] {
  const picked = fractions.map((f) => Math.min(numLayers - 1, Math.max(0, Math.round(f * (numLayers - 1)))));
  return [...new Set(picked)].sort((a, b) => a - b);
}
