// The symbolic dims the IR gives the training graph's main-graph values ('B', 'T', 'S', 'N', 'g*T',
// …) against what ONNX Runtime computes. passes/hoist-shapes.ts rebuilds the shapes the backward
// needs from those names instead of reading the tensors, so a wrong name would be a wrong gradient
// shape; the autodiff walker also relies on them to decide where a gradient may be a broadcast.
// Two runs: training (no past, S = T) and a cached generation step (P = 3 past positions, S = P + T,
// logits of the last position only), so a value labelled T that is really S or 1 is caught.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { dimValue } from '../../native-runtime/ir/dims.ts';
import type { Dim, Value } from '../../native-runtime/ir/graph.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { createSession, runSession } from '../../native-runtime/runtime/session.ts';
import { buildReftGraph } from '../../native-runtime/training/reft-graph.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { loreftOnEveryLayer } from '../helpers/models.ts';

const B = 2;
const T = 5;

/** A feed for every graph input, its dims from env; ids, masks and positions that make sense. */
function feeds(
  inputs: Value[],
  env: Record<string, number>,
  train: boolean,
  lastOnly: boolean,
): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const v of inputs) {
    const dims = v.shape.map((d: Dim) => dimValue(d, (name) => env[name])!);
    const n = dims.reduce((a, x) => a * x, 1);
    const at = (i: number) => i % (dims.at(-1) ?? 1);
    if (v.dtype === 'bool')
      out[v.name] = new ort.Tensor(
        'bool',
        [v.name === 'train' ? train : v.name === 'last_only' && lastOnly],
        [],
      );
    else if (v.dtype === 'int64') {
      const value = (i: number): number => {
        if (v.name === 'attention_mask') return 1;
        if (v.name === 'position_ids') return env.P + at(i);
        if (v.name.endsWith('.loc')) return at(i) % T;
        return 3 + ((i * 7) % 50); // input_ids, labels
      };
      out[v.name] = new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: n }, (_, i) => BigInt(value(i))),
        dims,
      );
    } else
      out[v.name] = new ort.Tensor(
        'float32',
        Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.1),
        dims,
      );
  }
  return out;
}

describe('symbolic dims of the training graph', () => {
  for (const arch of ['llama', 'qwen2', 'qwen3', 'gemma', 'gpt2']) {
    it(`${arch}: every named dim of a main-graph value is the run's`, async () => {
      const spec = loadModelSpec(modelDir(arch));
      const ivs = loreftOnEveryLayer(spec);
      const { graph, weightsDir } = buildReftGraph(spec, ivs);
      // Every value the main graph computes becomes an output, so the run reports its shape.
      const known = new Set(graph.outputs);
      const checked = graph.nodes.flatMap((n) =>
        n.outputs.filter((v) => v.shape.some((d) => typeof d === 'string' && d !== '?')),
      );
      for (const v of checked) if (!known.has(v)) graph.outputs.push(v);
      const session = await createSession(graph, { device: 'cpu', weightsDir });
      const named = new Set<string>();
      for (const [P, train] of [
        [0, true],
        [3, false],
      ] as const) {
        const env: Record<string, number> = { B, T, P, S: P + T, M: B * (T - 1) };
        ivs.forEach((_, j) => {
          env[`P${j}`] = 2 + (j % 3);
        });
        const out = await runSession(
          session,
          feeds(graph.inputs, env, train, !train),
          checked.map((v) => v.name),
        );
        const wrong: string[] = [];
        for (const v of checked) {
          const real = out[v.name].dims;
          v.shape.forEach((d, i) => {
            const want = dimValue(d, (name) => env[name]);
            if (want === null) return;
            if (typeof d === 'string') named.add(d);
            if (real[i] !== want) wrong.push(`${v} (${v.producer?.op}): axis ${i} is ${real[i]}`);
          });
          if (real.length !== v.shape.length) wrong.push(`${v}: rank ${real.length}`);
        }
        assert.deepEqual(wrong, [], `P = ${P}`);
      }
      // The names hoist-shapes rebuilds were all seen (the check is not vacuous).
      for (const d of ['B', 'T', 'S', 'N']) assert.ok(named.has(d), `${d} checked`);
      if (spec.numHeads !== spec.numKvHeads)
        assert.ok(
          [...named].some((d) => /^\d+\*T$/.test(d)),
          'grouped queries checked',
        );
    });
  }
});
