// Exact forward passes of a frozen model (optionally with interventions): the engine behind
// `reft-studio debug forward` and the golden tests. Position ids run 0…T−1 along each row, padding
// included, as transformers does when a forward pass is given none (see reft-semantics.md).

import { GraphBuilder } from '../ir/builder.ts';
import type { ModelSpec } from '../models/config.ts';
import { buildDecoder, type DecoderOptions } from '../models/decoder.ts';
import { shouldPrepack } from '../quantize/base.ts';
import { createSession, type DeviceChoice, type EngineSession, ort, runSession } from './session.ts';

export interface ForwardModel {
  spec: ModelSpec;
  session: EngineSession;
  hiddenStates: boolean;
}

export async function loadForwardModel(
  spec: ModelSpec,
  opts: {
    device?: DeviceChoice;
    requireDevice?: boolean;
    hiddenStates?: boolean;
    decoder?: DecoderOptions;
  } = {},
): Promise<ForwardModel> {
  const b = new GraphBuilder(`${spec.arch}-forward`);
  const g = buildDecoder(b, spec, { ...opts.decoder, hiddenStates: opts.hiddenStates });
  b.output(g.logits!, 'logits');
  g.hidden.forEach((h, i) => {
    b.output(h, `hidden_states.${i}`);
  });
  const session = await createSession(b.graph, {
    device: opts.device,
    requireDevice: opts.requireDevice,
    weightsDir: g.weightsDir,
    prepack: shouldPrepack(spec, { training: false }),
  });
  return { spec, session, hiddenStates: !!opts.hiddenStates };
}

export function positionIdsFor(batch: number, seq: number): BigInt64Array {
  const p = new BigInt64Array(batch * seq);
  for (let i = 0; i < batch; i++) for (let t = 0; t < seq; t++) p[i * seq + t] = BigInt(t);
  return p;
}

export interface ForwardResult {
  logits: ort.Tensor;
  hidden: ort.Tensor[];
}

export async function runForward(
  m: ForwardModel,
  inputIds: BigInt64Array,
  attentionMask: BigInt64Array,
  dims: [number, number],
  extra: Record<string, ort.Tensor> = {},
): Promise<ForwardResult> {
  const [B, T] = dims;
  const out = await runSession(m.session, {
    input_ids: new ort.Tensor('int64', inputIds, [B, T]),
    attention_mask: new ort.Tensor('int64', attentionMask, [B, T]),
    position_ids: new ort.Tensor('int64', positionIdsFor(B, T), [B, T]),
    ...extra,
  });
  const hidden: ort.Tensor[] = [];
  for (let i = 0; out[`hidden_states.${i}`]; i++) hidden.push(out[`hidden_states.${i}`]);
  return { logits: out.logits, hidden };
}
