// Several adapters on one base model at once, in one ReftModel (one ORT session, one copy of the
// weights): their interventions are concatenated in the order the adapters are given, with keys
// renamed pyvene-style (k counts earlier interventions on the same layer across all adapters) so
// they stay unique. Each adapter keeps its own positions (computed on each prompt as pyreft does,
// training/positions.ts) and can be, at inference:
//   off      its interventions get empty location lists: the model runs as if it were absent
//   scaled   h' = h + α·(f(h) − h) at its positions (graph input iv{j}.scale, interventions/graph.ts);
//            α = 0 is the base model, α = 1 the adapter as trained
// Interventions of different adapters on the same layer apply in order (the later one sees the
// earlier one's output at shared positions).
// Every adapter must be for this base model (fingerprint; `forceBase` for same-shape models), checked
// by checkComposition before any model is loaded. Adapters trained on differently formatted prompts
// (one through the chat template, one on plain text) have no format that suits both:
// promptTemplateConflict says so, and the runner refuses to pick one for them (runner.ts).
// Left out: training composed adapters (each is trained alone), per-row toggles.

import { ConfigError } from '../errors.ts';
import { canonicalKeys } from '../formats/pyreft.ts';
import type { StudioAdapter } from '../formats/studio-adapter.ts';
import { decodeLoopPays, type GenerateOptions, type GenerateResult } from '../generation/generator.ts';
import type { ModelSpec } from '../models/config.ts';
import { shouldPrepack } from '../quantize/base.ts';
import type { DeviceChoice, ort } from '../runtime/session.ts';
import { interventionLocations, isUntied, type Positions, parsePositions } from '../training/positions.ts';
import { type ReftBatch, ReftModel } from '../training/reft-model.ts';
import { adapterStates, checkAdapterForModel } from './apply.ts';

export interface ComposeInput {
  name: string;
  adapter: StudioAdapter;
  enabled?: boolean;
  /** α (default 1). */
  scale?: number;
}

export interface ComposedPart {
  name: string;
  /** Index of its first intervention in the composed model, and how many it has. */
  offset: number;
  count: number;
  /** The adapter's own keys and the composed model's keys, index for index. */
  originalKeys: string[];
  keys: string[];
  positions: Positions;
  untied: boolean;
  enabled: boolean;
  scale: number;
}

export interface ComposeOptions {
  device?: DeviceChoice;
  /** Skip the base-model fingerprint check (shapes are still checked). */
  forceBase?: boolean;
  /** For messages. */
  modelName?: string;
}

function checkScale(alpha: number): number {
  if (!Number.isFinite(alpha))
    throw new ConfigError('bad-scale', `an adapter's scale must be a finite number (got ${alpha})`);
  return alpha;
}

/**
 * Refuses a composition before anything is loaded: no adapters, one given twice, or one made for
 * another base model (or of another shape).
 */
export function checkComposition(spec: ModelSpec, inputs: ComposeInput[], opts: ComposeOptions = {}): void {
  if (inputs.length === 0) throw new ConfigError('no-adapters', 'give at least one adapter to compose');
  const names = new Set<string>();
  for (const i of inputs) {
    if (names.has(i.name)) throw new ConfigError('duplicate-adapter', `adapter "${i.name}" is given twice`);
    names.add(i.name);
    checkAdapterForModel(
      i.adapter,
      { ...spec, name: opts.modelName },
      { forceBase: opts.forceBase, adapterName: i.name },
    );
    checkScale(i.scale ?? 1);
  }
}

/**
 * Why the adapters' prompts cannot be formatted as each was trained (one through the chat template,
 * another on plain text), or null when they agree.
 */
export function promptTemplateConflict(inputs: Pick<ComposeInput, 'name' | 'adapter'>[]): string | null {
  const chat = inputs.filter((i) => i.adapter.manifest.promptTemplate === 'chat');
  const plain = inputs.filter((i) => i.adapter.manifest.promptTemplate !== 'chat');
  if (chat.length === 0 || plain.length === 0) return null;
  return `adapter "${chat[0].name}" was trained through the chat template and "${plain[0].name}" on plain prompts, so no prompt format suits both`;
}

export class ComposedAdapters {
  readonly model: ReftModel;
  readonly parts: ComposedPart[];

  private constructor(model: ReftModel, parts: ComposedPart[]) {
    this.model = model;
    this.parts = parts;
  }

  /** Checks every adapter against `spec`, then builds one session for all of them. */
  static async load(
    spec: ModelSpec,
    inputs: ComposeInput[],
    opts: ComposeOptions = {},
  ): Promise<ComposedAdapters> {
    checkComposition(spec, inputs, opts);
    const states = inputs.flatMap((i) => adapterStates(i.adapter, { scalable: true }));
    const keys = canonicalKeys(states.map((s) => s.spec.layer));
    states.forEach((s, j) => {
      s.spec.key = keys[j];
    });
    let offset = 0;
    const parts = inputs.map((i): ComposedPart => {
      const count = i.adapter.interventions.length;
      const positions = parsePositions(i.adapter.manifest.positions);
      const p: ComposedPart = {
        name: i.name,
        offset,
        count,
        originalKeys: i.adapter.interventions.map((iv) => iv.key),
        keys: keys.slice(offset, offset + count),
        positions,
        untied: isUntied(positions, i.adapter.manifest.shareWeights),
        enabled: i.enabled ?? true,
        scale: checkScale(i.scale ?? 1),
      };
      offset += count;
      return p;
    });
    // Inference only: quantized weights are packed for the int8 kernels (quantize/base.ts).
    const model = await ReftModel.load(spec, states, {
      device: opts.device,
      prepack: shouldPrepack(spec, { training: false }),
      decodeLoop: await decodeLoopPays(opts.device),
    });
    const c = new ComposedAdapters(model, parts);
    c.#syncScales();
    return c;
  }

  #part(which: number | string): ComposedPart {
    const p = typeof which === 'number' ? this.parts[which] : this.parts.find((x) => x.name === which);
    if (!p)
      throw new ConfigError(
        'unknown-adapter',
        `no adapter ${JSON.stringify(which)} in this composition (have ${this.parts.map((x) => x.name).join(', ')})`,
      );
    return p;
  }

  #syncScales(): void {
    for (const p of this.parts)
      for (let j = p.offset; j < p.offset + p.count; j++) this.model.states[j].scale = p.scale;
  }

  setEnabled(which: number | string, on: boolean): void {
    this.#part(which).enabled = on;
  }

  setScale(which: number | string, alpha: number): void {
    this.#part(which).scale = checkScale(alpha);
    this.#syncScales();
  }

  /** Per composed intervention, its positions on a prompt of `promptLen` tokens (−1 = padding; [] = off). */
  locationsFor(promptLen: number): number[][] {
    return this.parts.flatMap((p) =>
      p.enabled
        ? interventionLocations(promptLen, p.positions, p.count, p.untied)
        : Array.from({ length: p.count }, () => []),
    );
  }

  /** A right-padded batch of whole sequences whose first `promptLens[r]` tokens are the prompt. */
  batch(rows: number[][], promptLens: number[] = rows.map((r) => r.length), padId = 0): ReftBatch {
    const B = rows.length;
    const T = Math.max(...rows.map((r) => r.length));
    const inputIds = new BigInt64Array(B * T).fill(BigInt(padId));
    const attentionMask = new BigInt64Array(B * T);
    rows.forEach((r, b) => {
      r.forEach((id, t) => {
        inputIds[b * T + t] = BigInt(id);
        attentionMask[b * T + t] = 1n;
      });
    });
    const locs = promptLens.map((L) => this.locationsFor(L));
    const locations = this.model.states.map((_s, j) => {
      const P = Math.max(...locs.map((l) => l[j].length));
      const data = new BigInt64Array(B * P).fill(-1n);
      locs.forEach((l, b) => {
        l[j].forEach((x, p) => {
          data[b * P + p] = BigInt(x);
        });
      });
      return { data, P };
    });
    return { inputIds, attentionMask, dims: [B, T], locations };
  }

  /** Logits (B, T, V) of right-padded rows (prompt = the whole row unless `promptLens`). */
  async forward(rows: number[][], promptLens?: number[]): Promise<ort.Tensor> {
    return (await this.model.forward(this.batch(rows, promptLens))).logits;
  }

  /** Generation with the prompt pass intervened by every enabled adapter at its scale. */
  async generate(
    prompts: number[][],
    opts: Omit<GenerateOptions, 'interventions'> = {},
  ): Promise<GenerateResult> {
    return this.model.generator().generate(prompts, {
      ...opts,
      interventions: {
        params: this.model.paramFeed(),
        locations: prompts.map((p) => this.locationsFor(p.length)),
        scales: this.model.states.map((s) => s.scale ?? 1),
      },
    });
  }

  async release(): Promise<void> {
    await this.model.session.session.release();
  }
}
