// A real allocation failure in ONNX Runtime (a graph that asks for 4 PiB, more than any address space,
// so it fails at once on every machine and overcommit setting) reaches the caller as one line naming
// the memory and what to change, code 'out-of-memory', instead of ORT's arena trace.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import { createSession, ort, runSession } from '../../native-runtime/runtime/session.ts';

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
