// Which model an adapter may be applied to. An adapter records the fingerprint of the base model it
// was trained on (models/config.ts: config + weight headers); applying it to any other model is
// refused with ConfigError 'base-model-mismatch' naming both. `forceBase` is the explicit override
// for a model of the same shape (a re-upload, another quantization of the same weights): the
// fingerprint check is skipped, the shape checks (hidden size, layer range) never are.
// Also: turning a checked adapter into engine state.
// Left out: deciding whether two different fingerprints are "close enough" (that is the user's call).

import { ConfigError, UnsupportedError } from '../errors.ts';
import { checkAgainstModel } from '../formats/pyreft.ts';
import type { StudioAdapter } from '../formats/studio-adapter.ts';
import type { ActivationName } from '../interventions/kinds.ts';
import { type InterventionState, statesFromPyreft } from '../training/reft-model.ts';

/** What the check needs to know about the target model. */
export interface TargetModel {
  arch: string;
  fingerprint: string;
  hiddenSize: number;
  numLayers: number;
  /** For messages: a library name or a folder. */
  name?: string;
}

export interface ApplyOptions {
  /** Skip the fingerprint check (shapes are still checked). */
  forceBase?: boolean;
  /** For messages: the adapter's name and its base model's library name, when known. */
  adapterName?: string;
  baseModelName?: string;
}

function short(fp: string): string {
  return fp.length > 16 ? `${fp.slice(0, 16)}…` : fp;
}

/**
 * Refuses `adapter` on `model` unless it was trained for it (same fingerprint) or `forceBase` is set;
 * shapes are checked either way (UnsupportedError 'hidden-size-mismatch' / 'layer-out-of-range').
 */
export function checkAdapterForModel(
  adapter: StudioAdapter,
  model: TargetModel,
  opts: ApplyOptions = {},
): void {
  const bm = adapter.manifest.baseModel;
  if (bm.fingerprint !== model.fingerprint && !opts.forceBase) {
    const who = opts.adapterName ? `adapter "${opts.adapterName}"` : 'this adapter';
    const base = `${opts.baseModelName ? `"${opts.baseModelName}" ` : ''}(${bm.arch}, fingerprint ${short(bm.fingerprint)})`;
    const target = `${model.name ? `"${model.name}" ` : ''}(${model.arch}, fingerprint ${short(model.fingerprint)})`;
    // --force-base skips only the fingerprint: suggest it only where the shapes fit, since forcing
    // an adapter onto a model of another shape fails anyway.
    const shape = shapeProblem(adapter, model);
    throw new ConfigError(
      'base-model-mismatch',
      `${who} was trained for base model ${base}, not for model ${target}; ${
        shape
          ? `it cannot be applied to that model (${shape})`
          : 'pass --force-base to apply it anyway to a model of the same shape'
      }`,
    );
  }
  checkAgainstModel(adapter, { hiddenSize: model.hiddenSize, numLayers: model.numLayers });
}

/** Why the adapter's shapes do not fit `model` (hidden size, layer range), or null when they do. */
function shapeProblem(adapter: StudioAdapter, model: TargetModel): string | null {
  try {
    checkAgainstModel(adapter, { hiddenSize: model.hiddenSize, numLayers: model.numLayers });
    return null;
  } catch (e) {
    if (e instanceof UnsupportedError) return e.message;
    throw e;
  }
}

/** Engine state (ReftModel.load) for a checked adapter; dropout is off at inference. */
export function adapterStates(
  adapter: StudioAdapter,
  opts: { scalable?: boolean } = {},
): InterventionState[] {
  const act = (adapter.manifest.activation ?? 'linear') as ActivationName;
  const states = statesFromPyreft({ interventions: adapter.interventions }, { act, dropout: 0 });
  if (opts.scalable) for (const s of states) s.spec.scalable = true;
  return states;
}
