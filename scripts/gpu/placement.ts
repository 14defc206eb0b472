// Which nodes ONNX Runtime leaves to the CPU in the engine's graphs on a provider (the GPU check's
// evidence that nothing but shape/index work falls back): the ReFT training graph and the generator's
// graph (decoding loop, and the fused step's where it applies: fused-decoding.ts) of a model, in a
// compute dtype, over the checkpoint's weights or a quantized base's codes. Prints one JSON object.
//   node dist/gpu/placement.mjs MODEL_DIR cuda|webgpu fp32|fp16|bf16 [int8|int4]

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fusedStepOptions } from '../../native-runtime/generation/fused-step.ts';
import { fusedDecodeProblem } from '../../native-runtime/generation/generator.ts';
import { interventionKey } from '../../native-runtime/interventions/kinds.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { prepareBaseLogged } from '../../native-runtime/quantize/base.ts';
import { nodePlacement } from '../../native-runtime/runtime/placement.ts';
import type { DeviceChoice } from '../../native-runtime/runtime/session.ts';
import { buildReftGraph } from '../../native-runtime/training/reft-graph.ts';

const [dir, ep, dt, quantize] = process.argv.slice(2);
const compute = ({ fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' } as const)[dt as 'fp32'] ?? 'float32';
// A quantized base as the trainer would have it on a small GPU: the codes, the backward dequantizing them.
const checkpoint = loadModelSpec(dir);
const base = quantize
  ? await prepareBaseLogged(checkpoint, quantize, {
      dataDir: mkdtempSync(join(tmpdir(), 'placement-')),
      device: ep,
    })
  : checkpoint;
const spec = { ...base, compute };
const ivs = [0, Math.floor(spec.numLayers / 2)].map((layer, k) => ({
  key: interventionKey(layer, k),
  layer,
  type: 'loreft' as const,
  rank: 8,
  embedDim: spec.hiddenSize,
  act: 'linear' as const,
  dropout: 0,
}));
const out: Record<string, unknown> = { model: dir, ep, dtype: dt, quantize: quantize ?? 'none' };
for (const [name, g] of [
  ['training', buildReftGraph(spec, ivs)],
  [
    'generation',
    buildReftGraph(spec, [], {
      decodeLoop: true,
      fusedDecode:
        (await fusedDecodeProblem(spec, ep as DeviceChoice)) === null
          ? fusedStepOptions(ep === 'cuda' ? 'cuda' : 'cpu')
          : null,
    }),
  ],
] as const) {
  const p = await nodePlacement(g.graph, ep, g.weightsDir);
  const counts: Record<string, Record<string, number>> = {};
  for (const [provider, nodes] of p.byProvider) {
    counts[provider] = {};
    for (const n of nodes) counts[provider][n.op] = (counts[provider][n.op] ?? 0) + 1;
  }
  out[name] = {
    counts,
    cpu: (p.byProvider.get('CPUExecutionProvider') ?? []).map((n) => `${n.op} ${n.name}`),
  };
}
console.log(JSON.stringify(out));
