// `reft-studio models inspect DIR [--json]`: what a model folder is (architecture, sizes, dtype,
// parameter count, fingerprint, the base weights' automatic form on each device) without reading
// any weight bytes. Bad folders fail with the library's FormatError/UnsupportedError, whose message
// names the file and field.

import { deviceMemories } from '../../electron/backend/library/device-memory.ts';
import {
  type ModelSummary,
  openModelFolder,
  summarizeModel,
} from '../../native-runtime/models/model-folder.ts';
import { autoBaseForm, halfOnGpu, residentWeightBytes } from '../../native-runtime/quantize/memory.ts';
import { hasBf16Kernels } from '../../native-runtime/runtime/gpus.ts';
import { UsageError } from '../args.ts';
import { type Command, formatBytes, formatCount } from '../command.ts';

/** What the automatic base form (`--quantize auto`) picks for this model on one device, to chat. */
export interface AutoWeights {
  device: 'cpu' | 'cuda' | 'webgpu';
  /** none | int8 | int4 */
  form: string;
  /** The weights' bytes there in that form, and the device's memory. */
  bytes: number;
  memoryBytes: number;
  /** What the unquantized weights compute in there: the checkpoint's half dtype on CUDA, else float32. */
  dtype: string;
}

/**
 * The automatic base form on this computer's CPU and, when nvidia-smi reports one, on the NVIDIA
 * GPU runs would use (the engine's own rule, quantize/memory.ts autoBaseForm).
 */
export async function autoWeights(s: ModelSummary): Promise<AutoWeights[]> {
  const shape = { params: s.params, hiddenSize: s.hiddenSize, vocabSize: s.vocabSize, tied: s.tieEmbeddings };
  // On CUDA a bf16/fp16 checkpoint stays in its precision (--dtype auto; bf16 from Ampere on:
  // runtime/precision.ts); the CPU computes in float32.
  return (await deviceMemories()).map(({ device, memoryBytes, computeCapability }) => {
    const onGpu = device === 'cuda';
    const half =
      onGpu && halfOnGpu(s.dtype, { api: 'cuda', bf16: hasBf16Kernels(computeCapability ?? null) });
    const form = autoBaseForm(shape, 'chat', { device, memory: memoryBytes, full: half ? 'fp16' : 'none' });
    const bytes = residentWeightBytes(shape, form, 'chat', memoryBytes, { gpu: onGpu, half });
    return { device, form, bytes, memoryBytes, dtype: half ? s.dtype : 'float32' };
  });
}

/** "int8 on this computer's CPU (8.5 GB of 24 GB); bfloat16 on the GPU (15 GB of 24 GB)" */
function formatAutoWeights(auto: AutoWeights[]): string {
  return auto
    .map((a) => {
      const form = a.form !== 'none' ? a.form : a.dtype;
      const where = a.device === 'cpu' ? "this computer's CPU" : 'the GPU';
      return `${form} on ${where} (${formatBytes(a.bytes)} of ${formatBytes(a.memoryBytes)})`;
    })
    .join('; ');
}

export function formatSummary(s: ModelSummary, auto: AutoWeights[] = []): string {
  const sc = s.rope?.scaling;
  const scaling = !sc
    ? ''
    : sc.type === 'longrope'
      ? `, longrope from ${sc.originalMaxPositions} positions (attention ×${sc.attentionFactor.toFixed(4)})`
      : `, ${sc.type} ×${sc.factor}`;
  const rope = s.rope ? `theta ${s.rope.theta}${scaling}` : 'none (learned positions)';
  const rows: Array<[string, string]> = [
    ['folder', s.dir],
    ['architecture', `${s.arch} (${s.architectures.join(', ') || s.modelType})`],
    ['layers', String(s.layers)],
    ['hidden size', String(s.hiddenSize)],
    ['heads', `${s.heads} (kv ${s.kvHeads}, head dim ${s.headDim})`],
    ['mlp size', String(s.intermediateSize)],
    ['vocab', `${s.vocabSize}${s.tokenizer ? ` (tokenizer ${s.tokenizer.vocabSize})` : ''}`],
    ['context', String(s.maxPositions)],
    ['rope', rope],
    ['dtype', s.dtype],
    ['params', `${formatCount(s.params)} (${s.params})`],
    [
      'weights',
      `${s.weights.files.join(', ')}: ${s.weights.tensors} tensors, ${formatBytes(s.weights.bytes)}`,
    ],
    ['tied embeddings', s.tieEmbeddings ? 'yes' : 'no'],
    ['chat template', s.tokenizer?.chatTemplate ? 'yes' : 'no'],
    ...(auto.length ? [['base weights', `automatic: ${formatAutoWeights(auto)}`] as [string, string]] : []),
    ['fingerprint', s.fingerprint],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
  for (const warning of s.warnings) lines.push(`warning: ${warning}`);
  return lines.join('\n');
}

export const modelsInspectCommand: Command = {
  name: 'models inspect',
  summary:
    'architecture, layers, hidden size, heads, vocab, dtype, params, fingerprint of a model folder, and the base weights automatic picks',
  usage: 'models inspect DIR',
  examples: ['models inspect ./SmolLM2-135M', 'models inspect ./SmolLM2-135M --json'],
  async run(ctx) {
    if (ctx.args.length !== 1) throw new UsageError('models inspect: expected one model folder');
    const summary = summarizeModel(openModelFolder(ctx.args[0]));
    const auto = await autoWeights(summary);
    ctx.print({ ...summary, autoWeights: auto } as unknown as Record<string, unknown>, () =>
      formatSummary(summary, auto),
    );
    return 0;
  },
};
