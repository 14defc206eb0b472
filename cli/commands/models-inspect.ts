// `reft-studio models inspect DIR [--json]`: what a model folder is (architecture, sizes, dtype,
// parameter count, fingerprint) without reading any weight bytes. Bad folders fail with the
// library's FormatError/UnsupportedError, whose message names the file and field.

import {
  type ModelSummary,
  openModelFolder,
  summarizeModel,
} from '../../native-runtime/models/model-folder.ts';
import { UsageError } from '../args.ts';
import { type Command, formatBytes, formatCount } from '../command.ts';

export function formatSummary(s: ModelSummary): string {
  const rope = s.rope
    ? `theta ${s.rope.theta}${s.rope.scaling ? `, ${s.rope.scaling.type} ×${s.rope.scaling.factor}` : ''}`
    : 'none (learned positions)';
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
    ['fingerprint', s.fingerprint],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
  for (const warning of s.warnings) lines.push(`warning: ${warning}`);
  return lines.join('\n');
}

export const modelsInspectCommand: Command = {
  name: 'models inspect',
  summary: 'architecture, layers, hidden size, heads, vocab, dtype, params and fingerprint of a model folder',
  usage: 'models inspect DIR',
  examples: ['models inspect ./SmolLM2-135M', 'models inspect ./SmolLM2-135M --json'],
  run(ctx) {
    if (ctx.args.length !== 1) throw new UsageError('models inspect: expected one model folder');
    const summary = summarizeModel(openModelFolder(ctx.args[0]));
    ctx.print(summary as unknown as Record<string, unknown>, () => formatSummary(summary));
    return 0;
  },
};
