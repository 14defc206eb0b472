// Text in, text out: tokenizer, chat template, an optional adapter (studio or pyreft folder) with its
// positions computed on the prompt as pyreft does, sampling, stop strings, streaming. Shared by the
// CLI's `generate` and the backend's playground.

import { ConfigError } from '../errors.ts';
import { readPyreftFolder, SIDECAR_FILE } from '../formats/pyreft.ts';
import { pyreftToStudio, readStudioAdapter, type StudioAdapter } from '../formats/studio-adapter.ts';
import { adapterStates, checkAdapterForModel } from '../adapters/apply.ts';
import { detectAdapterFolder } from '../adapters/folders.ts';
import type { ModelSpec } from '../models/config.ts';
import { openModelFolder } from '../models/model-folder.ts';
import type { DeviceChoice } from '../runtime/session.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { interventionLocations, isUntied, parsePositions } from '../training/positions.ts';
import { ReftModel } from '../training/reft-model.ts';
import { Generator, type FinishReason, type InterventionFeed } from './generator.ts';
import type { SamplingOptions } from './sampling.ts';

export interface LoadedAdapter {
  positions: string;
  shareWeights: boolean;
  baseFingerprint: string | null;
  model: ReftModel;
}

export interface TextModel {
  spec: ModelSpec;
  tokenizer: Tokenizer;
  generator: Generator;
  adapter: LoadedAdapter | null;
}

/** Loads a model folder and optionally an adapter folder (studio format or pyreft). */
export async function loadTextModel(
  modelDir: string,
  opts: { adapterDir?: string; positions?: string; device?: DeviceChoice; forceBase?: boolean } = {},
): Promise<TextModel> {
  const folder = openModelFolder(modelDir);
  if (!folder.tokenizer) throw new ConfigError('missing-tokenizer', `${folder.dir}: no tokenizer.json: cannot turn text into tokens`);
  if (!opts.adapterDir) {
    return { spec: folder.spec, tokenizer: folder.tokenizer, generator: await Generator.load(folder.spec, { device: opts.device }), adapter: null };
  }
  const dir = opts.adapterDir;
  // A pyreft folder without our side file says neither its positions nor its base model: positions
  // must be given, and the shapes (checked below) are all we can hold it to.
  let adapter: StudioAdapter;
  if (detectAdapterFolder(dir) === 'studio') adapter = readStudioAdapter(dir);
  else {
    const py = readPyreftFolder(dir);
    const positions = opts.positions ?? py.sidecar?.positions;
    if (!positions) {
      throw new ConfigError('missing-positions', `${dir}: the adapter does not record its positions (no ${SIDECAR_FILE}); pass --positions, e.g. f1+l1`);
    }
    adapter = pyreftToStudio(py, { positions, baseModel: py.sidecar?.baseModel ?? { arch: folder.spec.arch, fingerprint: folder.spec.fingerprint } });
  }
  const spec = folder.spec;
  checkAdapterForModel(adapter, { arch: spec.arch, fingerprint: spec.fingerprint, hiddenSize: spec.hiddenSize, numLayers: spec.numLayers, name: folder.dir }, { forceBase: opts.forceBase, adapterName: dir });
  const positions = opts.positions ?? adapter.manifest.positions;
  const shareWeights = adapter.manifest.shareWeights;
  const fp = adapter.manifest.baseModel.fingerprint;
  const model = await ReftModel.load(spec, adapterStates(adapter), { device: opts.device });
  return { spec: folder.spec, tokenizer: folder.tokenizer, generator: model.generator(), adapter: { positions, shareWeights, baseFingerprint: fp, model } };
}

export interface GenerateTextOptions extends SamplingOptions {
  prompt: string;
  /** Render the prompt as one user message with the model's chat template. */
  chat?: boolean;
  maxNewTokens?: number;
  seed?: number;
  stop?: string[];
  signal?: AbortSignal;
  onText?: (text: string) => void;
}

export interface GenerateTextResult {
  text: string;
  tokens: number[];
  promptTokens: number;
  finishReason: FinishReason;
}

/** Intervention positions for one prompt (pyreft's, computed on the prompt tokens). */
export function adapterFeed(adapter: LoadedAdapter, promptLen: number): InterventionFeed {
  const pos = parsePositions(adapter.positions);
  const n = adapter.model.states.length;
  const locs = interventionLocations(promptLen, pos, n, isUntied(pos, adapter.shareWeights));
  return { params: adapter.model.paramFeed(), locations: [locs] };
}

export async function generateText(m: TextModel, o: GenerateTextOptions): Promise<GenerateTextResult> {
  const ids = o.chat
    ? m.tokenizer.encodeChat([{ role: 'user', content: o.prompt }], { addGenerationPrompt: true })
    : m.tokenizer.encode(o.prompt, { addSpecialTokens: true });
  if (ids.length === 0) throw new ConfigError('empty-prompt', 'the prompt encodes to no tokens');
  const eos = [...new Set([...m.spec.eosTokenIds, ...(m.tokenizer.eosTokenId !== undefined && m.tokenizer.eosTokenId !== null ? [m.tokenizer.eosTokenId] : [])])];
  const stream = m.tokenizer.streamDecoder();
  let text = '';
  const r = await m.generator.generate([ids], {
    ...o,
    eosTokenIds: eos,
    interventions: m.adapter ? adapterFeed(m.adapter, ids.length) : undefined,
    onToken: (_row, id) => {
      if (eos.includes(id)) return;
      const piece = stream.push(id);
      if (piece) {
        text += piece;
        o.onText?.(piece);
      }
    },
    shouldStop: o.stop?.length ? () => o.stop!.some((s) => text.includes(s)) : undefined,
  });
  const tail = stream.flush();
  if (tail) {
    text += tail;
    o.onText?.(tail);
  }
  if (o.stop?.length) {
    const cut = Math.min(...o.stop.map((s) => text.indexOf(s)).filter((i) => i >= 0));
    if (Number.isFinite(cut)) text = text.slice(0, cut);
  }
  return { text, tokens: r.tokens[0], promptTokens: ids.length, finishReason: r.finishReasons[0] };
}
