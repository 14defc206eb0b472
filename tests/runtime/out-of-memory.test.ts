// ONNX Runtime's failures that another provider would not cure, as one line with the way out:
// a real allocation failure (a graph that asks for 4 PiB, more than any address space, so it fails at
// once on every machine and overcommit setting) is code 'out-of-memory', naming the memory and what to
// change instead of ORT's arena trace; an op without a kernel at the graph's types is 'missing-kernel'.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import { createSession, cudaReachable, ort, runSession } from '../../native-runtime/runtime/session.ts';

test('running out of memory in a session is one clear line with code out-of-memory', async () => {
  const b = new GraphBuilder('too-big');
  b.output(b.op('ConstantOfShape', [b.input('shape', 'int64', [1])]), 'y');
  const s = await createSession(b.graph, { device: 'cpu' });
  await assert.rejects(
    runSession(s, { shape: new ort.Tensor('int64', BigInt64Array.of(2n ** 50n), [1]) }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'out-of-memory');
      assert.match(
        e.message,
        /^the computer's memory ran out while running 'too-big' \(ONNX Runtime: (Failed to allocate memory for requested buffer of size \d+|(std::)?bad.alloc\w*)\): use a smaller batch/,
      );
      assert.doesNotMatch(e.message, /bfc_arena|onnxruntime::/);
      return true;
    },
  );
});

test('an op no provider has at the graph’s types is one line with the way out, not a CPU fallback', async () => {
  // ReduceMean has no bfloat16 kernel on the CPU (nor on CUDA): the half-precision graphs avoid it.
  const b = new GraphBuilder('bf16-reduce');
  const h = b.cast(b.input('x', 'float32', [1, 2]), 'bfloat16');
  b.output(b.cast(b.op('ReduceMean', [h], { keepdims: 1 }), 'float32'), 'y');
  await assert.rejects(createSession(b.graph, { device: 'cpu' }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'missing-kernel');
    assert.match(
      e.message,
      /^ONNX Runtime has no kernel for ReduceMean \(opset \d+, node [^)]+\) at the tensor types graph 'bf16-reduce' uses, on the CPU: in half precision, --dtype fp32 computes in float32$/,
    );
    return true;
  });
  // Asked for CUDA where it cannot start (no pack here): that reason comes first.
  if (cudaReachable() !== null)
    await assert.rejects(createSession(b.graph, { device: 'cuda' }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'missing-kernel');
      assert.match(
        e.message,
        /^device 'cuda' unavailable — cuda: .*; on cpu instead: ONNX Runtime has no kernel for ReduceMean/,
      );
      return true;
    });
});
